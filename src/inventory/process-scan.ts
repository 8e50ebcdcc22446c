/**
 * Who holds which socket, as `ss -p` finds out: the socket inode behind each /proc/<pid>/fd link,
 * plus what the core needs per process (name, command line, fds against RLIMIT_NOFILE).
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { ProcessInfo } from '../core/inventory-model.js';
import { decodeKernelText } from '../events/kernel-text.js';
import { readPlacement, withPodNames, type PodNames } from './process-placement.js';
import { podNames } from './pod-names.js';

export interface ProcessScan {
  processes: ProcessInfo[];
  /** socket inode -> pids holding it, in pid order */
  socketOwners: Map<number, number[]>;
  /** Processes whose fds could not be read (not root); not those that went away mid-scan. */
  unreadable: number;
}

const CMDLINE_MAX = 256;

function readText(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

/** Soft "Max open files" from /proc/<pid>/limits; null if absent or unlimited. */
export function parseFdLimit(limits: string): number | null {
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  return soft && /^\d+$/.test(soft) ? Number(soft) : null;
}

/** Field 22 of /proc/<pid>/stat, the start time in clock ticks; the name before it may hold anything. */
export function parseStartTicks(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = fields[22 - 3];
  return start && /^\d+$/.test(start) ? Number(start) : undefined;
}

/** Joins NUL-separated arguments with spaces, escaped, at most CMDLINE_MAX bytes of them. */
function cmdlineOf(raw: Buffer | null): string {
  if (!raw) return '';
  const cut = raw.subarray(0, CMDLINE_MAX);
  const spaced = Buffer.from(cut.map((b) => (b === 0 ? 0x20 : b)));
  const text = decodeKernelText(spaced).trimEnd();
  return raw.length > CMDLINE_MAX ? `${text}…` : text;
}

export function scanProcesses(procRoot = '/proc', pods: PodNames | null = podNames()): ProcessScan {
  const processes: ProcessInfo[] = [];
  const socketOwners = new Map<number, number[]>();
  let unreadable = 0;
  const pids = readdirSync(procRoot)
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .sort((a, b) => a - b);

  for (const pid of pids) {
    const dir = `${procRoot}/${pid}`;
    let fds: string[];
    let uid = 0;
    try {
      fds = readdirSync(`${dir}/fd`);
      uid = statSync(dir).uid;
    } catch (error) {
      // Gone since /proc was listed (ENOENT; ESRCH from a pid being torn down): no sockets to own, and
      // nothing this user was refused. Counted, it read as a permission problem ("this user may not
      // read"), and a host that starts short-lived processes often showed one.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ESRCH') unreadable++;
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${dir}/fd/${fd}`);
      } catch {
        continue; // closed between readdir and readlink
      }
      if (!target.startsWith('socket:[')) continue;
      const inode = Number(target.slice(8, -1));
      const owners = socketOwners.get(inode);
      if (!owners) socketOwners.set(inode, [pid]);
      else if (owners.at(-1) !== pid) owners.push(pid); // one entry per process, even with dup'ed fds
    }
    const comm = readText(`${dir}/comm`);
    processes.push({
      pid,
      comm: comm ? decodeKernelText(comm.subarray(0, comm.length - 1)) : '',
      cmdline: cmdlineOf(readText(`${dir}/cmdline`)),
      uid,
      fds: fds.length,
      fdLimit: parseFdLimit(readText(`${dir}/limits`)?.toString('latin1') ?? ''),
      startTicks: parseStartTicks(readText(`${dir}/stat`)?.toString('latin1') ?? ''),
      placement: withPodNames(readPlacement(pid, procRoot), pods),
    });
  }
  return { processes, socketOwners, unreadable };
}
