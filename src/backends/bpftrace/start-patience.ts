/**
 * How long socktrace waits for bpftrace to compile and attach its script. That takes ~11 s on a
 * 2-core machine, minutes on a small or emulated CPU, and longer still while the host is busy (128 s
 * to 450 s in an emulated 6.1 guest): no fixed bound fits both a hang and a slow host. So the wait lasts
 * while bpftrace keeps using CPU (utime + stime in /proc/<pid>/stat grow), and ends at a stall (no CPU
 * time for stallMs: it hangs) or at the cap (still working, but beyond any reasonable start).
 */
import { readFileSync } from 'node:fs';

export interface StartPatience {
  /** Give up once the process has used no CPU for this long. */
  stallMs: number;
  /** Give up after this long in all, however busy the process is. */
  capMs: number;
  /** How often to look at the process's CPU time. */
  pollMs?: number;
}

export const DEFAULT_START_PATIENCE: Readonly<StartPatience> = {
  // Compiling and attaching is CPU work from end to end; a minute without any is no slow host.
  stallMs: 60_000,
  capMs: 20 * 60_000,
};

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on every Linux architecture socktrace runs on). */
const TICKS_PER_SECOND = 100;

/**
 * The CPU time a process has used, in clock ticks: its own (all threads) and its waited-for
 * children's. null once it is gone.
 */
export function cpuTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime are fields 14-17, here 11-14 (fields 3.. start at index 0).
  const times = fields.slice(11, 15).map(Number);
  if (times.length < 4 || times.some((t) => !Number.isFinite(t))) return null;
  return times.reduce((a, b) => a + b, 0);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Watches a starting process: calls giveUp once with why (a stall or the cap, with how long it waited
 * and the CPU time used) unless the returned cancel() comes first. Stops by itself when the process is gone
 * (its exit is its caller's to report).
 */
export function watchStart(pid: number, patience: StartPatience, giveUp: (why: string) => void): () => void {
  const startedAt = Date.now();
  const firstTicks = cpuTicks(pid) ?? 0;
  let lastTicks = firstTicks;
  let progressAt = startedAt;
  const used = () => seconds(((lastTicks - firstTicks) * 1000) / TICKS_PER_SECOND);
  const check = () => {
    const now = Date.now();
    const ticks = cpuTicks(pid);
    if (ticks === null) return cancel();
    if (ticks > lastTicks) {
      lastTicks = ticks;
      progressAt = now;
    }
    if (now - progressAt >= patience.stallMs) {
      cancel();
      giveUp(`it stalled: no CPU time for ${seconds(now - progressAt)} (after ${seconds(now - startedAt)} in all, ${used()} of CPU)`);
    } else if (now - startedAt >= patience.capMs) {
      cancel();
      giveUp(`it was still working after ${seconds(now - startedAt)} (${used()} of CPU), the most socktrace waits`);
    }
  };
  const timer = setInterval(check, patience.pollMs ?? Math.min(1000, Math.max(10, patience.stallMs / 4)));
  const cancel = () => clearInterval(timer);
  return cancel;
}
