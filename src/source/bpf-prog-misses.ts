/**
 * Program runs the kernel skipped, read from a process's BPF program fds (/proc/<pid>/fdinfo, Linux
 * 5.12+). A classic tracepoint program does not run while another one runs on the same CPU (a softirq
 * interrupting a program, say): the event it would have written is lost, and only this count says so.
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
