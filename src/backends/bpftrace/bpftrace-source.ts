/**
 * The bpftrace backend: runs the script for this kernel (put together from probes/bpftrace/, see
 * bpftrace-script.ts) under bpftrace (through execa) and turns its output
 * into the same events as the native backend. bpftrace is started through `setpriv --pdeathsig KILL`,
 * so the kernel kills it when socktrace dies, however it dies; its BPF programs go with it.
 */
import { countProcfsSockets } from './procfs-socket-counts.js';
import { randomBytes } from 'node:crypto';
import { availableParallelism, release } from 'node:os';
import { execa, type ResultPromise } from 'execa';
import type { SockEvent } from '../../events/sock-event.js';
import type { KernelFilter } from '../event-source.js';
import { KIND_CODES, TRANSITION_SLOTS } from '../native/record-layout.js';
import { TCP_STATES } from '../../events/tcp-names.js';
import { kernelCountsTracepointMisses, tracepointMisses, uncountedMissesNote } from '../bpf-prog-misses.js';
import { parseBpftraceLine } from './bpftrace-lines.js';
import { bpftraceVersionProblem } from './bpftrace-requirements.js';
import { readScriptPlan, scriptText, type ScriptPlan } from './bpftrace-script.js';
import { DEFAULT_START_PATIENCE, watchStart, type StartPatience } from './start-patience.js';
import type { RunningSource, SourceHandlers, SourceInfo, SourceStats } from '../event-source.js';

export interface BpftraceSourceOptions {
  /** Total perf buffer size over all CPUs (default 8M): where bpftrace's losses happen and are counted. */
  ringBytes?: number;
  /** Sockets whose owner bpftrace keeps at once (default 262144). */
  ownerEntries?: number;
  emitKinds?: number;
  emitStates?: number;
  /** How long to wait for bpftrace to compile and attach (default DEFAULT_START_PATIENCE: while it works, up to a cap). */
  startPatience?: Partial<StartPatience>;
  /** Tracepoints (by name) to plan the script without, as if the kernel lacked them (tests of the other parts). */
  pretendMissing?: readonly string[];
}

/** How long bpftrace may take, after stop, to deliver what its buffers hold. */
const STOP_DRAIN_MS = 10_000;
/**
 * How long stop() lets bpftrace catch up with what happened before it, while it delivers (a slow
 * bpftrace, on a small or emulated CPU or a busy host, can be seconds behind its perf buffers).
 */
const STOP_CATCH_UP_MS = 30_000;
/** bpftrace delivering nothing for this long during stop() has nothing more to deliver, or is stuck. */
const STOP_QUIET_MS = 2_000;

export class BpftraceError extends Error {
  readonly code = 'ERR_SOCKTRACE_BPFTRACE';
}

/** The bpftrace to run: $SOCKTRACE_BPFTRACE, else `bpftrace` from PATH. */
export function bpftraceCommand(): string {
  return process.env.SOCKTRACE_BPFTRACE || 'bpftrace';
}

/** Checks bpftrace, setpriv and the tracepoints; returns the script's plan for this kernel, or throws saying what is missing. */
export async function checkBpftraceBackend(pretendMissing: readonly string[] = []): Promise<{ version: string; plan: ScriptPlan }> {
  const bpftrace = bpftraceCommand();
  const probe = await execa(bpftrace, ['--version'], { reject: false, timeout: 10_000 });
  if (probe.failed && probe.exitCode === undefined) {
    throw new BpftraceError(`bpftrace is not installed (ran "${bpftrace} --version": ${probe.shortMessage}); apt-get install bpftrace`);
  }
  const versionText = `${probe.stdout}${probe.stderr}`;
  const versionProblem = bpftraceVersionProblem(versionText);
  if (versionProblem) throw new BpftraceError(`${versionProblem}`);
  const setpriv = await execa('setpriv', ['--version'], { reject: false, timeout: 10_000 });
  if (setpriv.failed) {
    throw new BpftraceError('setpriv (util-linux) is needed to tie bpftrace\'s life to socktrace\'s; apt-get install util-linux');
  }
  const plan = readScriptPlan(pretendMissing);
  if (plan.problems.length > 0) throw new BpftraceError(`the bpftrace backend cannot run here: ${plan.problems.join('; ')}`);
  return { version: versionText.trim(), plan };
}

/** Filters as the native kernel side applies them: the rules of probes/lib/rules.bpf.h (a unit test holds them equal). */
export function passes(e: SockEvent, filter: Required<KernelFilter>): boolean {
  const kind = KIND_CODES[e.kind];
  if (!(filter.emitKinds & (1 << kind))) return false;
  if (e.kind !== 'state_change') return true;
  const code = (s: string | null) => (s ? (TCP_STATES as readonly string[]).indexOf(s) : -1);
  const oldBit = e.oldState === 'LISTEN' && e.state !== 'CLOSE' ? 0 : 1 << code(e.oldState);
  return (filter.emitStates & (oldBit | (1 << code(e.state)))) !== 0;
}

export async function startBpftraceSource(options: BpftraceSourceOptions, handlers: SourceHandlers): Promise<RunningSource> {
  const { version, plan } = await checkBpftraceBackend(options.pretendMissing);
  const { rstReasons } = plan;
  let text: string;
  try {
    text = scriptText(plan);
  } catch (error) {
    throw new BpftraceError((error as Error).message);
  }
  const ringBytes = options.ringBytes ?? 8 << 20;
  // bpftrace's perf buffers are per CPU, a power of two of pages each.
  let pages = 8;
  while (pages * 2 * 4096 * availableParallelism() <= ringBytes) pages *= 2;
  const filter: Required<KernelFilter> = { emitKinds: options.emitKinds ?? 0xffffffff, emitStates: options.emitStates ?? 0xffffffff };
  const stats: SourceStats = { events: 0, batches: 0, lost: 0, rejected: 0, produced: 0 };
  let transitions = new Array<number>(TRANSITION_SLOTS).fill(0);
  const context = { idSalt: randomBytes(8).readBigUInt64LE(), rstReasons };
  const stderrLines: string[] = [];
  let stopping = false;
  // Event lines received (filtered or not), and the script's own count of those it produced, which
  // it prints at exit: the difference is what was dropped without a lost-report.
  let received = 0;
  // Each CPU's last heartbeat: when it was written (kernel CLOCK_MONOTONIC) and when it arrived, the
  // time any line last arrived, and a waiter stop() sets to learn of each heartbeat.
  const lastBeatNs = new Map<number, bigint>();
  const lastBeatAt = new Map<number, number>();
  let lastLineAt = Date.now();
  let onBeat: (() => void) | null = null;
  let sent: number | undefined;
  // Losses three ways: bpftrace's lost-event reports, the reckoning at exit, and program runs the
  // kernel skipped (tracepoint programs do not nest on a CPU), which produced no line at all. A
  // skipped run may have been for an event the filter would have dropped: counted as lost all the same.
  let reportedLost = 0;
  let misses = 0;
  const countLost = (count: number) => {
    if (count <= 0) return;
    stats.lost += count;
    handlers.onLost(count, stats.lost);
  };
  const readMisses = () => {
    if (child.pid === undefined) return;
    const now = tracepointMisses(child.pid);
    if (now > misses) countLost(now - misses);
    misses = Math.max(misses, now);
  };

  // What crosses is fixed when bpftrace compiles the script (its $1 and $2); setFilter() can only narrow it.
  // $3 is 0 when no part reads it (bpftrace would take -1 for an option).
  const startFilter = { ...filter };
  const positional = [startFilter.emitKinds >>> 0, startFilter.emitStates >>> 0, Math.max(plan.noSocketDropReason, 0)];
  const script = ['-e', text, ...positional.map(String)];
  const child: ResultPromise = execa('setpriv', ['--pdeathsig', 'KILL', '--', bpftraceCommand(), '-f', 'json', ...script], {
    env: {
      BPFTRACE_MAP_KEYS_MAX: String(options.ownerEntries ?? 262_144),
      BPFTRACE_PERF_RB_PAGES: String(pages),
      BPFTRACE_STRLEN: '16',
    },
    stdin: 'ignore',
    buffer: false,
    reject: false,
    cleanup: true,
  });

  let attached!: () => void;
  let failedToStart!: (error: Error) => void;
  const ready = new Promise<void>((resolveReady, rejectReady) => {
    attached = resolveReady;
    failedToStart = rejectReady;
  });
  let started = false;
  const why = () => stderrLines.filter((l) => !/RLIMIT_MEMLOCK/.test(l)).join('\n').trim() || 'no message';

  let partial = '';
  // The process can be gone while its last output still waits in the pipe: stop() waits for both.
  const outputEnded = new Promise<void>((resolveEnded) => child.stdout!.once('end', () => resolveEnded()));
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    lastLineAt = Date.now();
    const batch: SockEvent[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      const parsed = parseBpftraceLine(line, context);
      if (parsed.type === 'event') {
        received++;
        const e = parsed.event;
        if (passes(e, filter)) batch.push(e);
      } else if (parsed.type === 'lost') {
        reportedLost += parsed.count;
        countLost(parsed.count);
      } else if (parsed.type === 'transitions') {
        transitions = parsed.counts;
      } else if (parsed.type === 'tick') {
        readMisses();
        // bpftrace reports "attached" before it attaches; the first tick, a second after the last
        // probe of the script, is the sign that every hook is live.
        if (!started) {
          started = true;
          attached();
        }
      } else if (parsed.type === 'sent') {
        sent ??= parsed.count; // END prints it; bpftrace then prints its maps, the cleared count as 0

      } else if (parsed.type === 'heartbeat') {
        // Makes each CPU's perf buffer report its drops promptly, and tells stop() how far bpftrace has
        // delivered what each CPU wrote.
        lastBeatNs.set(parsed.cpu, parsed.ns);
        lastBeatAt.set(parsed.cpu, Date.now());
        onBeat?.();
      } else if (parsed.type === 'attached') {
        // not yet: see 'tick'
      } else if (parsed.type !== 'ignored') {
        stats.rejected++;
      }
    }
    if (batch.length > 0) {
      stats.batches++;
      stats.events += batch.length;
      handlers.onEvents(batch);
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderrLines.push(...chunk.split('\n').filter((l) => l.trim() !== ''));
    if (stderrLines.length > 200) stderrLines.splice(0, stderrLines.length - 200);
  });
  const exited = child.then((result) => {
    if (!started) {
      failedToStart(new BpftraceError(`bpftrace failed to start (exit ${result.exitCode ?? result.signal}): ${why()}`));
    } else if (!stopping) {
      handlers.onError?.(new BpftraceError(`bpftrace stopped unexpectedly (exit ${result.exitCode ?? result.signal}): ${why()}`));
    }
    return result;
  });
  const stopWatching =
    child.pid === undefined
      ? () => {}
      : watchStart(child.pid, { ...DEFAULT_START_PATIENCE, ...options.startPatience }, (whyNot) => {
          if (started) return;
          child.kill('SIGKILL');
          failedToStart(new BpftraceError(`bpftrace did not attach, and was killed: ${whyNot}; it said: ${why()}`));
        });
  try {
    await ready;
  } finally {
    stopWatching();
  }

  const info: SourceInfo = {
    backend: 'bpftrace',
    pid: child.pid,
    // Each tracepoint once, named with the first part that reads it.
    hooks: plan.parts
      .flatMap((part) => Object.keys(part.reads).map((t) => ({ name: t.split('/')[1]!, mode: 'tracepoint' as const, why: `bpftrace (${version}), ${part.file}` })))
      .filter((hook, i, all) => all.findIndex((h) => h.name === hook.name) === i),
    // Every bpftrace probe here is a classic tracepoint program.
    notes: [...plan.notes, ...(kernelCountsTracepointMisses(release()) ? [] : [uncountedMissesNote(release())])],
    ringBytes: pages * 4096 * availableParallelism(),
    closeWaitDelayMs: 0,
    rstReasons,
  };
  /**
   * Waits until bpftrace has delivered everything written before `since` (CLOCK_MONOTONIC, as the
   * script's nsecs): a CPU's heartbeat comes after all that CPU wrote before it, so each CPU is done
   * once a heartbeat written after `since` has arrived. A CPU whose heartbeats stopped arriving while
   * another is done has nothing waiting (bpftrace reads every buffer that has data in each round).
   * Gives up when bpftrace delivers nothing for STOP_QUIET_MS (stuck) or after
   * STOP_CATCH_UP_MS: what it had not delivered by then is lost, and counted at exit.
   */
  const caughtUp = (since: bigint) =>
    new Promise<void>((resolve) => {
      const began = Date.now();
      const finish = () => {
        clearInterval(timer);
        onBeat = null;
        resolve();
      };
      const check = () => {
        const now = Date.now();
        const done = [...lastBeatNs].filter(([, ns]) => ns >= since).map(([cpu]) => cpu);
        const idle = (cpu: number) => done.length > 0 && now - (lastBeatAt.get(cpu) ?? 0) >= STOP_QUIET_MS;
        if ([...lastBeatNs.keys()].every((cpu) => done.includes(cpu) || idle(cpu))) finish();
        else if (now - lastLineAt >= STOP_QUIET_MS || now - began >= STOP_CATCH_UP_MS) finish();
      };
      const timer = setInterval(check, 50);
      onBeat = check;
      check();
      void exited.then(finish);
    });
  let final: Promise<SourceStats> | undefined;
  return {
    info,
    // bpftrace tells its own count only at exit (@sent, reconciled into lost there): produced is what
    // arrived, filtered here or not, plus everything counted lost.
    stats: () => ({ ...stats, produced: received + stats.lost }),
    stop() {
      final ??= (async () => {
        child.stdout!.resume(); // a paused consumer still gets what bpftrace delivers at exit
        // bpftrace 0.17 drops every event it reads after SIGTERM until it has detached (it finalizes
        // at the first one): what it had not delivered by then would be lost (and counted at exit).
        // So first let it deliver what happened before stop(), however far behind it is.
        lastLineAt = Date.now();
        await caughtUp(process.hrtime.bigint());
        stopping = true;
        readMisses(); // while bpftrace still holds its programs
        // bpftrace detaches, delivers what its perf buffers still hold, clears its maps (END) and
        // exits. A long backlog takes a while; one it cannot finish is cut, and said so, since
        // what was still buffered cannot be counted.
        child.kill('SIGTERM');
        let cut = false;
        const killer = setTimeout(() => {
          cut = true;
          child.kill('SIGKILL');
        }, STOP_DRAIN_MS);
        await Promise.all([exited, outputEnded]);
        clearTimeout(killer);
        if (cut) {
          handlers.onError?.(new BpftraceError(`bpftrace had not delivered its backlog ${STOP_DRAIN_MS / 1000} s after stop and was killed; events still in its buffers were not delivered`));
        } else if (sent === undefined) {
          handlers.onError?.(new BpftraceError('bpftrace exited without its count of events sent; losses at the end cannot be told'));
        } else {
          countLost(sent - received - reportedLost);
        }
        return { ...stats, produced: received + stats.lost };
      })();
      return final;
    },
    // bpftrace learns owners only from what it sees; sockets opened before it started have none.
    seedOwners: () => 0,
    // A paused pipe fills, bpftrace blocks on it, and its perf buffers drop and report what does not fit.
    pause: () => stopping || child.stdout!.pause(),
    resume: () => stopping || child.stdout!.resume(),
    setFilter(next) {
      if (next.emitKinds !== undefined) filter.emitKinds = next.emitKinds;
      if (next.emitStates !== undefined) filter.emitStates = next.emitStates;
    },
    transitions: () => [...transitions],
    ownerEvictions: () => 0,
    sweepStats: () => ({ runs: 0, failures: 0, seconds: 0 }),
    countSockets: () => countProcfsSockets(), // no tcp iterator in bpftrace: /proc, as ss reads it
    exchangeTimings: () => null, // the kernel's histograms are the addon's (README: backends compared)
    watchRefusedHandshakes: () => false, // the counts are the addon's, like the socket walk
    setLinePlacement: () => undefined, // its lines are always made in JavaScript
    forgetExchangeTimings: () => {},
  };
}
