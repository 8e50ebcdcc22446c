/**
 * Program runs the kernel skipped, read from a process's BPF program fds (/proc/<pid>/fdinfo, Linux
 * 5.12+). A classic tracepoint program does not run while another one runs on the same CPU (a softirq
 * interrupting a program, say): the event it would have written is lost, and only this count says so.
 * The kernel counts such skips of classic tracepoint programs only since 6.7; before, they are lost
 * without a trace, and a backend running classic tracepoint programs there must say so.
 */
import { readdirSync, readFileSync } from 'node:fs';

const PROG_TYPE_TRACEPOINT = 5;

/** Sum of recursion_misses over the tracepoint programs the process holds; 0 if it cannot be read. */
export function tracepointMisses(pid: number, procRoot = '/proc'): number {
  let total = 0;
  let fds: string[];
  try {
    fds = readdirSync(`${procRoot}/${pid}/fdinfo`);
  } catch {
    return 0;
  }
  for (const fd of fds) {
    let info: string;
    try {
      info = readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const type = /^prog_type:\s+(\d+)$/m.exec(info);
    const misses = /^recursion_misses:\s+(\d+)$/m.exec(info);
    if (type && Number(type[1]) === PROG_TYPE_TRACEPOINT && misses) total += Number(misses[1]);
  }
  return total;
}

/** Whether the running kernel counts skipped classic tracepoint program runs (6.7+), from its release. */
export function kernelCountsTracepointMisses(release: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 6 || (major === 6 && minor >= 7);
}

/** What a backend running classic tracepoint programs says on a kernel that does not count their skips. */
export function uncountedMissesNote(release: string): string {
  return `this kernel (${release}) does not count tracepoint program runs it skips while another BPF program runs on the same CPU (it does since 6.7): events lost that way are not in the lost count`;
}
