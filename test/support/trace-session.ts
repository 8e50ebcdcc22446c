/** A running native tracer for kernel tests: collects every event and waits for the ones asked for. */
import type { SockEvent } from '../../src/events/sock-event.js';
import type { SourceStats, SweepStats } from '../../src/backends/event-source.js';
import { startNativeSource, type NativeSourceOptions } from '../../src/backends/native/native-source.js';
import { startBpftraceSource, type BpftraceSourceOptions } from '../../src/backends/bpftrace/bpftrace-source.js';
import type { RunningSource, SourceHandlers } from '../../src/backends/event-source.js';
import { BPFTRACE_START_MS } from './bpftrace-start.js';
import { startLiveSession } from '../../src/live/live-session.js';
import { DEFAULT_CORE_CONFIG } from '../../src/core/core-config.js';

export interface TraceSession {
  readonly events: SockEvent[];
  readonly lost: number;
  readonly info: RunningSource['info'];
  /** The first event (already seen or still to come) matching `predicate`. */
  waitFor(predicate: (e: SockEvent) => boolean, timeoutMs?: number, what?: string): Promise<SockEvent>;
  stop(): Promise<SourceStats>;
  /** Owners the kernel's owner table displaced since start. */
  ownerEvictions(): number;
  /** State changes since start by new state, crossed or not. */
  transitions(): number[];
  sweepStats(): SweepStats;
}

const running = new Set<TraceSession>();

/** Stops every session still running (for afterEach), as stopAllActors does for workloads. */
export async function stopAllTraces(): Promise<void> {
  await Promise.all([...running].map((t) => t.stop()));
  running.clear();
}

export function startTrace(options: NativeSourceOptions = {}): TraceSession {
  const collected = collect();
  return sessionOf(startNativeSource(options, collected.handlers), collected);
}

/**
 * As `watch` runs it: inventory, seeding of the owners of sockets that existed before, then events
 * (a live session that keeps no state of its own). Resolves once the kernel side is seeded.
 */
export async function startLiveTrace(options: NativeSourceOptions = {}): Promise<TraceSession> {
  const collected = collect();
  const session = await startLiveSession(
    { source: { ...options, backend: 'native' }, core: DEFAULT_CORE_CONFIG, trackState: false },
    { onEvents: collected.handlers.onEvents, onLost: (count, total) => collected.handlers.onLost(count, total) },
  );
  return sessionOf(session.source, collected);
}

/** The same, through the bpftrace backend (resolves once bpftrace has attached). */
export async function startBpftraceTrace(options: BpftraceSourceOptions = {}): Promise<TraceSession> {
  const collected = collect();
  // socktrace waits while bpftrace compiles; the cap turns a start beyond the test's budget into its error.
  const slow = { ...options, startPatience: { capMs: BPFTRACE_START_MS, ...options.startPatience } };
  return sessionOf(await startBpftraceSource(slow, collected.handlers), collected);
}

interface Collected {
  events: SockEvent[];
  lost: number;
  waiters: Set<() => void>;
  handlers: SourceHandlers;
}

function collect(): Collected {
  const collected: Collected = {
    events: [],
    lost: 0,
    waiters: new Set(),
    handlers: {
      onEvents(batch) {
        collected.events.push(...batch);
        for (const wake of [...collected.waiters]) wake();
      },
      onLost(count) {
        collected.lost += count;
      },
    },
  };
  return collected;
}

function sessionOf(source: RunningSource, collected: Collected): TraceSession {
  const { events, waiters } = collected;
  let stopped: Promise<SourceStats> | undefined;
  const session: TraceSession = {
    events,
    get lost() {
      return collected.lost;
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
