/**
 * `watch --summary` with filters: the summary's rows and findings are those the filters select (a row
 * or finding is kept when every filter it can be judged by matches), and the record says so; totals
 * stay the host's, as its `scope` says.
 */
import type { CoreSummary, Finding, RollupList } from '../core/summary-model.js';
import { cidrContains } from '../events/cidr.js';
import { isFilterEmpty, type EventFilter } from '../events/event-filter.js';

/** What a summary covers: the host, or the filters (by name, as given). */
export type SummaryScope = 'host' | { pids?: number[]; comms?: string[]; ports?: number[]; peers?: string[]; totals: 'host' };

export function summaryScope(f: EventFilter): SummaryScope {
  if (isFilterEmpty({ ...f, kinds: undefined })) return 'host';
  return {
    ...(f.pids?.length ? { pids: [...f.pids] } : {}),
    ...(f.comms?.length ? { comms: [...f.comms] } : {}),
    ...(f.ports?.length ? { ports: [...f.ports] } : {}),
    ...(f.peers?.length ? { peers: f.peers.map((c) => c.text) } : {}),
    totals: 'host',
  };
}

const byProcess = (f: EventFilter, pid: number | undefined, comm: string | undefined) =>
  (!f.pids?.length || (pid !== undefined && f.pids.includes(pid))) && (!f.comms?.length || (comm !== undefined && f.comms.includes(comm)));
const byPeer = (f: EventFilter, peer: string | undefined) => !f.peers?.length || (peer !== undefined && f.peers.some((c) => cidrContains(c, hostOf(peer))));
const byPort = (f: EventFilter, port: number | undefined) => !f.ports?.length || (port !== undefined && f.ports.includes(port));

/** A peer text may carry a port ("198.18.0.2:8080" or "[2001:2::2]:80"): the address alone. */
function hostOf(peer: string): string {
  const v6 = /^\[(.*)\]:\d+$/.exec(peer);
  if (v6) return v6[1]!;
  return /^[^:]+:\d+$/.test(peer) ? peer.slice(0, peer.lastIndexOf(':')) : peer;
}

function keep<T>(list: RollupList<T>, wanted: (row: T) => boolean): RollupList<T> {
  return { rows: list.rows.filter(wanted), omitted: list.omitted };
}

/**
 * A finding is kept when its subject matches every filter: by its own port and peer where it names
 * them, else by its process (one on the filtered port, or talking to the filtered peer).
 */
function findingWanted(f: EventFilter, finding: Finding, portPids: Set<number>, peerPids: Set<number>): boolean {
  const s = finding.subject;
  const port = s.port ?? (s.local ? Number(s.local.slice(s.local.lastIndexOf(':') + 1)) : undefined);
  const portOk = port !== undefined ? byPort(f, port) : !f.ports?.length || (s.pid !== undefined && portPids.has(s.pid));
  const peerOk = s.peer !== undefined ? byPeer(f, s.peer) : !f.peers?.length || (s.pid !== undefined && peerPids.has(s.pid));
  return byProcess(f, s.pid, s.comm) && portOk && peerOk;
}

export function scopedSummary(summary: CoreSummary, f: EventFilter): CoreSummary {
  if (summaryScope(f) === 'host') return summary;
  const services = keep(
    summary.services,
    (s) => byPort(f, s.port) && (!(f.pids?.length || f.comms?.length) || s.listeners.some((l) => byProcess(f, l.pid, l.comm))) && !f.peers?.length,
  );
  const stories = summary.stories.filter(
    (s) =>
      (!f.ports?.length || byPort(f, s.local.port) || byPort(f, s.peer.port)) &&
      byPeer(f, s.peer.addr) &&
      (!(f.pids?.length || f.comms?.length) || s.owners.some((o) => byProcess(f, o.pid, o.comm))),
  );
  // A process or pair has no port: under --port, those behind the services kept, or that owned a
  // connection on the port that ended badly (its listener may be gone by now).
  const onPort = new Set([...services.rows.flatMap((s) => s.listeners.map((l) => l.pid)), ...stories.flatMap((s) => s.owners.map((o) => o.pid))]);
  const portOk = (pid: number) => !f.ports?.length || onPort.has(pid);
  const processPeers = keep(summary.processPeers, (p) => byProcess(f, p.pid, p.comm) && byPeer(f, p.peer) && portOk(p.pid));
  const withPeer = new Set(processPeers.rows.map((p) => p.pid));
  return {
    ...summary,
    processes: keep(summary.processes, (p) => byProcess(f, p.pid, p.comm) && portOk(p.pid) && (!f.peers?.length || withPeer.has(p.pid))),
    peers: keep(summary.peers, (p) => byPeer(f, p.peer) && !f.pids?.length && !f.comms?.length && !f.ports?.length),
    processPeers,
    services,
    findings: summary.findings.filter((x) => findingWanted(f, x, onPort, withPeer)),
    stories,
  };
}
