/**
 * Every TCP socket counted by owner and state from /proc, as `ss -tanp` would count them: for a backend
 * without the addon's tcp iterator (bpftrace). Each namespace's /proc/<pid>/net/tcp{,6}, joined with the
 * inodes behind every process's fds; a socket no process holds (queued, orphaned, TIME_WAIT) counts
 * for nobody. Costs a walk of /proc per count: what the daemon pays at each scrape on that backend.
 */
import { listNetworkNamespaces } from '../../inventory/network-namespaces.js';
import { scanProcesses } from '../../inventory/process-scan.js';
import { readProcfsSockets } from '../../inventory/procfs-sockets.js';
import type { SocketCounts } from '../event-source.js';

export function countProcfsSockets(procRoot = '/proc'): SocketCounts {
  const { sockets, problems } = readProcfsSockets(listNetworkNamespaces(procRoot));
  const scan = scanProcesses(procRoot);
  const comms = new Map(scan.processes.map((p) => [p.pid, p.comm]));
  const counts = new Map<string, SocketCounts['rows'][number]>();
  for (const s of sockets) {
    const pid = (s.inode ? scan.socketOwners.get(s.inode)?.[0] : undefined) ?? null;
    const key = `${pid ?? ''}/${s.state}`;
    const row = counts.get(key);
    if (row) row.count++;
    else counts.set(key, { pid, comm: pid === null ? '' : (comms.get(pid) ?? ''), state: s.state, queued: false, count: 1 });
  }
  if (scan.unreadable > 0) problems.push(`${scan.unreadable} processes' fds could not be read: their sockets count for nobody`);
  return { rows: [...counts.values()], problems };
}
