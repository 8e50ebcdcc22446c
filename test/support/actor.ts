// Spawn test/workloads/tcp_actor.py subcommands as separate processes and follow
// their JSON-lines protocol (one "ready" line, optional intermediate lines, then one
// {"done": true} or {"error": ...} line; see the docstring of tcp_actor.py).
//
//   const srv = startActor(['server-leak', '--host', '127.0.0.1', '--count', '2', '--hold', '5']);
//   const { port } = await srv.ready;             // srv.pid is the python pid the tracer will see
//   startActor(['client-connect-close', '--host', '127.0.0.1', '--port', String(port), '--count', '2']);
//   await srv.next((l) => 'accepted' in l);       // both sockets now in CLOSE_WAIT
//   ...
//   afterEach(() => stopAllActors());
//
// With a prefix, e.g. NetnsPeer.execPrefix, the actor runs inside a network namespace.
// `ip netns exec` execs the command (no fork), so the spawned pid is the python pid;
// `ready` verifies that and rejects if some wrapper forked instead.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { scaled } from './time-scale.js';

export const TCP_ACTOR_PATH = fileURLToPath(new URL('../workloads/tcp_actor.py', import.meta.url));
/** Workloads whose sockets change hands or wait in accept queues (same protocol). */
export const OWNER_CHANGES_PATH = fileURLToPath(new URL('../workloads/owner_changes.py', import.meta.url));
export const PEER_TROUBLE_PATH = fileURLToPath(new URL('../workloads/peer_trouble.py', import.meta.url));
export const SLOW_SERVICE_PATH = fileURLToPath(new URL('../workloads/slow_service.py', import.meta.url));

export type ActorLine = Record<string, unknown>;

export interface ActorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ActorOptions {
  /** argv prefix, e.g. NetnsPeer.execPrefix (['ip', 'netns', 'exec', name]). */
  prefix?: string[];
  /**
   * Lifetime backstop in ms (default 30 000, stretched by the time scale): an actor still running
   * after this is stopped, and whatever is still pending rejects. Also the default timeout of next(),
   * and the workload's own watchdog (its --timeout) unless the arguments give one.
   */
  timeoutMs?: number;
  /** Interpreter; default $SOCKTRACE_PYTHON or 'python3'. */
  python?: string;
  /** The workload script; default tcp_actor.py. */
  script?: string;
}

export interface Actor {
  /** pid of the python process itself (also through `ip netns exec`, which execs). */
  pid: number;
  /** The full argv that was spawned. */
  argv: string[];
  /** Every JSON line received so far, in order. */
  lines: readonly ActorLine[];
  /** The {"ready": true} line. Rejects on an error line, early exit, pid mismatch or timeout. */
  ready: Promise<ActorLine>;
  /** The {"done": true} line. Rejects on an error line, exit without it, or timeout. */
  done: Promise<ActorLine>;
  /** Exit status once the process has exited and its output is fully read; never rejects. */
  exited: Promise<ActorExit>;
  /**
   * The first line matching `predicate`, including lines that arrived before this call
   * (so there is no race between an event and the call that waits for it). Rejects
   * if the actor exits first or after `timeoutMs` (default: the actor's timeoutMs).
   */
  next(predicate: (line: ActorLine) => boolean, timeoutMs?: number): Promise<ActorLine>;
  /** stderr received so far. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after 2 s; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

/** Rejection reason of every Actor promise; carries the actor's stderr. */
export class ActorError extends Error {
  constructor(
    message: string,
    readonly argv: string[],
    readonly stderr: string,
    readonly lines: readonly ActorLine[],
    readonly exit?: ActorExit,
  ) {
    super(message);
    this.name = 'ActorError';
  }
}

const DEFAULT_TIMEOUT_MS = scaled(30_000);
const TERM_GRACE_MS = 2_000;
const MAX_STDERR = 16_384;

const registry = new Set<Actor>();

/** Stop every actor that is still running (for afterEach). */
export async function stopAllActors(): Promise<void> {
  await Promise.all([...registry].map((a) => a.stop()));
}

interface Waiter {
  predicate: (line: ActorLine) => boolean;
  resolve: (line: ActorLine) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

const noop = () => undefined;

export function startActor(args: string[], opts: ActorOptions = {}): Actor {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const python = opts.python ?? process.env.SOCKTRACE_PYTHON ?? 'python3';
  // The workloads' own watchdog defaults to 10 s, counted from their start; a tracer starting between
  // an actor and its peer (seconds on a loaded host, more under emulation) must not run it out first.
  const watchdog = args.includes('--timeout') ? [] : ['--timeout', String(timeoutMs / 1000)];
  const argv = [...(opts.prefix ?? []), python, opts.script ?? TCP_ACTOR_PATH, ...args, ...watchdog];
  const [cmd, ...cmdArgs] = argv as [string, ...string[]];

  // stdin stays an open pipe: tcp_actor.py treats EOF on it as "parent gone".
  const child: ChildProcess = spawn(cmd, cmdArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.on('error', noop); // EPIPE after the actor exited is not interesting

  const lines: ActorLine[] = [];
  const waiters = new Set<Waiter>();
  let stderrText = '';
  let noise = ''; // stdout that was not JSON, for error messages
  let exitInfo: ActorExit | undefined;
  let spawnError: Error | undefined;
  let finished = false;

  const describe = (reason: string): ActorError => {
    const exit = exitInfo ? ` (exit code=${exitInfo.code} signal=${exitInfo.signal})` : '';
    const last = lines.slice(-5).map((l) => `    ${JSON.stringify(l)}`).join('\n');
    const msg =
      `tcp_actor ${args.join(' ')} [pid ${child.pid ?? '?'}]: ${reason}${exit}` +
      (last ? `\n  last lines:\n${last}` : '') +
      (noise ? `\n  other stdout:\n${noise.trimEnd()}` : '') +
      (stderrText ? `\n  stderr:\n${stderrText.trimEnd()}` : '\n  stderr: (empty)');
    return new ActorError(msg, argv, stderrText, lines, exitInfo);
  };

  const settleWaiter = (w: Waiter, result: { line?: ActorLine; err?: Error }) => {
    if (w.timer) clearTimeout(w.timer);
    waiters.delete(w);
    if (result.err) w.reject(result.err);
    else w.resolve(result.line!);
  };

  const offer = (w: Waiter, line: ActorLine): boolean => {
    let hit: boolean;
    try {
      hit = w.predicate(line);
    } catch (e) {
      settleWaiter(w, { err: e instanceof Error ? e : new Error(String(e)) });
      return true;
    }
    if (hit) settleWaiter(w, { line });
    return hit;
  };

  const next = (predicate: (line: ActorLine) => boolean, waitMs = timeoutMs): Promise<ActorLine> =>
    new Promise<ActorLine>((resolve, reject) => {
      const w: Waiter = { predicate, resolve, reject };
      for (const line of lines) if (offer(w, line)) return;
      if (finished) {
        reject(describe('exited without printing the awaited line'));
        return;
      }
      waiters.add(w);
      w.timer = setTimeout(
        () => settleWaiter(w, { err: describe(`no matching line within ${waitMs} ms`) }),
        waitMs,
      );
    });

  // An error line is one with "error" that is not a ready/done line (the done lines of
  // client-hold and client-closed-port carry "error": <errno name> as a result).
  const isErrorLine = (l: ActorLine) => 'error' in l && l.ready !== true && l.done !== true;

  const exited = new Promise<ActorExit>((resolve) => {
    child.once('close', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once('error', (err) => {
      spawnError = err;
      // A failed spawn emits no 'exit', only 'close' (in some versions not even that).
      if (child.pid === undefined) {
        exitInfo = { code: null, signal: null };
        resolve(exitInfo);
      }
    });
  });

  const expect = (key: 'ready' | 'done'): Promise<ActorLine> =>
    // Bounded by the lifetime backstop (which stops the actor), plus slack for stop().
    // ready/done also match an error line, so they can fail fast; the rejection itself
    // waits for the process to finish, so that stderr (e.g. a traceback) is complete.
    next((l) => l[key] === true || isErrorLine(l), timeoutMs + 3 * TERM_GRACE_MS).then(
      async (line) => {
        if (line[key] !== true) {
          await exited;
          throw describe(`reported error: ${String(line.error)}`);
        }
        if (key === 'ready' && line.pid !== child.pid) {
          throw describe(
            `ready line reports pid ${String(line.pid)} but the spawned pid is ${child.pid}; ` +
              `something in "${[...(opts.prefix ?? []), python].join(' ')}" forked instead of exec'ing`,
          );
        }
        return line;
      },
      (err: unknown) => {
        // At exit the message is rebuilt to say which line was missing; a timeout
        // (actor still running) keeps its own message.
        if (!finished) throw err;
        throw describe(spawnError ? `failed to start: ${spawnError.message}` : `exited before its "${key}" line`);
      },
    );

  const ready = expect('ready');
  const done = expect('done');
  ready.catch(noop); // callers may not await both; never an unhandled rejection
  done.catch(noop);

  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      line = undefined;
    }
    if (line === null || typeof line !== 'object' || Array.isArray(line)) {
      noise += `${text}\n`;
      return;
    }
    lines.push(line as ActorLine);
    for (const w of [...waiters]) offer(w, line as ActorLine);
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderrText = (stderrText + chunk).slice(-MAX_STDERR);
  });

  let stopping: Promise<void> | undefined;
  const isRunning = () => child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  const waitExit = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (!isRunning()) return resolve(true);
      const t = setTimeout(() => resolve(false), ms);
      child.once('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });

  const actor: Actor = {
    pid: child.pid ?? -1,
    argv,
    lines,
    ready,
    done,
    exited,
    next,
    stderr: () => stderrText,
    stop() {
      stopping ??= (async () => {
        if (isRunning()) {
          child.kill('SIGTERM');
          if (!(await waitExit(TERM_GRACE_MS))) {
            child.kill('SIGKILL');
            await waitExit(TERM_GRACE_MS);
          }
        }
        // Output drained and 'close' seen (bounded: a leaked grandchild could hold stdio).
        await Promise.race([exited, new Promise((r) => setTimeout(r, 1_000).unref())]);
      })();
      return stopping;
    },
  };

  registry.add(actor);
  const lifetime = setTimeout(() => {
    if (isRunning()) void actor.stop();
  }, timeoutMs);
  lifetime.unref();

  void exited.then(() => {
    finished = true;
    clearTimeout(lifetime);
    registry.delete(actor);
    const reason = spawnError ? `failed to start: ${spawnError.message}` : 'exited';
    for (const w of [...waiters]) settleWaiter(w, { err: describe(`${reason} without printing the awaited line`) });
  });

  return actor;
}

/** An actor's [addr, port] pair (as in its "local" or "peer" fields) as an {addr, port} endpoint. */
export function endpointOf(pair: unknown): { addr: string; port: number } {
  const [addr, port] = pair as [string, number];
  return { addr, port };
}

/** An actor started by `start` whose pid is `pid` (the kernel's next pid set through ns_last_pid), or throws. */
export async function startActorWithPid(pid: number, start: () => Actor): Promise<Actor> {
  for (let attempt = 0; attempt < 50; attempt++) {
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const actor = start();
    if (actor.pid === pid) return actor;
    await actor.stop(); // another task took the pid first: try again
  }
  throw new Error(`could not start a process with pid ${pid}`);
}

/** Whether a process lives (a zombie does not count). */
export function processExists(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') Z ');
  } catch {
    return false;
  }
}
