/** A running native tracer for kernel tests: collects every event and waits for the ones asked for. */
import type { SockEvent } from '../../src/events/sock-event.js';
import type { SourceStats } from '../../src/source/event-source.js';
import { startNativeSource, type NativeSourceOptions } from '../../src/source/native-source.js';

export interface TraceSession {
  readonly events: SockEvent[];
  readonly lost: number;
  readonly info: ReturnType<typeof startNativeSource>['info'];
  /** The first event (already seen or still to come) matching `predicate`. */
  waitFor(predicate: (e: SockEvent) => boolean, timeoutMs?: number, what?: string): Promise<SockEvent>;
  stop(): Promise<SourceStats>;
  /** Owners the kernel's owner table displaced since start. */
  ownerEvictions(): number;
  /** State changes since start by new state, crossed or not. */
  transitions(): number[];
  sweepStats(): { runs: number; failures: number; seconds: number };
}

const running = new Set<TraceSession>();

/** Stops every session still running (for afterEach), as stopAllActors does for workloads. */
export async function stopAllTraces(): Promise<void> {
  await Promise.all([...running].map((t) => t.stop()));
  running.clear();
}

export function startTrace(options: NativeSourceOptions = {}): TraceSession {
  const events: SockEvent[] = [];
  let lost = 0;
  const waiters = new Set<() => void>();
  const source = startNativeSource(options, {
    onEvents(batch) {
      events.push(...batch);
      for (const wake of [...waiters]) wake();
    },
    onLost(count) {
      lost += count;
    },
  });
  let stopped: Promise<SourceStats> | undefined;
  const session: TraceSession = {
    events,
    get lost() {
      return lost;
    },
    info: source.info,
    waitFor(predicate, timeoutMs = 5000, what = 'a matching event') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(predicate);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${what} within ${timeoutMs} ms; saw ${events.length} events:\n${describe(events)}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    ownerEvictions: () => source.ownerEvictions(),
    transitions: () => source.transitions(),
    sweepStats: () => source.sweepStats(),
    stop() {
      running.delete(session);
      stopped ??= source.stop();
      return stopped;
    },
  };
  running.add(session);
  return session;
}

/** The last events, one line each, for failure messages. */
export function describe(events: SockEvent[], last = 40): string {
  return events
    .slice(-last)
    .map(
      (e) =>
        `  ${e.kind} ${e.oldState ?? ''}${e.oldState ? '->' : ''}${e.state ?? ''} owner=${e.owner?.pid ?? '-'}/${e.owner?.comm ?? '-'} ` +
        `task=${e.task.pid}/${e.task.comm} ${e.local.addr}:${e.local.port} -> ${e.peer.addr}:${e.peer.port} ` +
        `${e.reason ?? ''}${e.errno ?? ''}`,
    )
    .join('\n');
}
