/**
 * One incident per service: findings about the same process are one outage seen from several sides
 * (clients that give up, the connections it never closes, the descriptors they use up, the accepts
 * that fail, the queue that overflows), and its clients' connects that time out. They are linked into
 * one chain in causal order, root cause first, and told as one story; each finding of the chain carries it.
 */
import type { Finding, FindingKind, Incident } from './summary-model.js';

/** Causal order: what comes earlier in a cascade causes what comes later. */
const CASCADE: readonly FindingKind[] = [
  'impatient_clients',
  'write_after_peer_close',
  'close_wait_leak',
  'close_wait_rising', // never beside close_wait_leak: the same step, earlier
  'fd_pressure',
  'accept_failing',
  'accept_queue_overflow',
  'connect_timeouts',
];

const n = (v: unknown) => (typeof v === 'number' ? v : 0);

/** One clause per step, from the finding's evidence. */
function clause(f: Finding): string {
  const e = f.evidence;
  switch (f.kind) {
    case 'impatient_clients': {
      const wait = e.clientTimeoutSeconds as { p50: number } | undefined;
      const latency = e.serviceLatencySeconds as { p50: number } | null | undefined;
      return `its clients give up after ${wait?.p50 ?? '?'} s` + (latency ? `, before it answers (in ${latency.p50} s)` : ', before it answers');
    }
    case 'write_after_peer_close':
      return `it writes answers after its clients have gone (${n(e.lastMinute)} in the last minute, a median ${n(e.medianDelaySeconds)} s after the client closed): they fail with broken pipe`;
    case 'close_wait_leak':
      return `it never closes the connections its clients closed (${n(e.closeWaitTotal)} in CLOSE_WAIT)`;
    case 'close_wait_rising':
      return `the connections its clients closed pile up unclosed (${n(e.closeWaitYoung)} in CLOSE_WAIT within ${n(e.oldestSeconds)} s)`;
    case 'fd_pressure':
      return `its file descriptors run out (${n(e.fds)} of ${n(e.fdLimit)} in use)`;
    case 'accept_failing':
      return `so accept() fails (${n(e.lastMinute)} times in the last minute: ${Object.keys((e.byErrno as object) ?? {}).join(', ')})`;
    case 'accept_queue_overflow':
      return `its accept queue overflows and the kernel drops new handshakes (${n(e.overflows)})`;
    default:
      return f.title;
  }
}

/** "198.18.0.1:8080" or "[::]:8080" / ":::8080" into its address and port. */
function splitLocal(local: string | undefined): { addr: string; port: number } | null {
  if (!local) return null;
  const cut = local.lastIndexOf(':');
  return cut > 0 ? { addr: local.slice(0, cut).replace(/^\[|\]$/g, ''), port: Number(local.slice(cut + 1)) } : null;
}

/**
 * The service a client's connect timeouts are about: one whose queue overflows or whose accept fails on
 * the very address and port the client connected to. A listener on the wildcard links nothing: the
 * address could be another host's, and a wrong link would tell a wrong story.
 */
function serviceOf(timeouts: Finding, services: Map<number, Finding[]>): number | null {
  const ports = Object.keys((timeouts.evidence.byPort as Record<string, number> | undefined) ?? {}).map(Number);
  for (const [pid, linked] of services) {
    for (const f of linked) {
      if (f.kind !== 'accept_queue_overflow' && f.kind !== 'accept_failing') continue;
      const l = splitLocal(f.subject.local);
      if (l && ports.includes(l.port) && l.addr === timeouts.subject.peer) return pid;
    }
  }
  return null;
}

/**
 * Links findings about one process into an incident (two or more of the cascade), in place; clients'
 * connect timeouts join the incident of the service they could not reach.
 */
export function linkIncidents(findings: Finding[]): void {
  const byProcess = new Map<number, Finding[]>();
  for (const f of findings) {
    if (f.subject.pid === undefined || !CASCADE.includes(f.kind) || f.kind === 'connect_timeouts') continue;
    byProcess.set(f.subject.pid, [...(byProcess.get(f.subject.pid) ?? []), f]);
  }
  const clients = new Map<number, Finding[]>();
  for (const f of findings) {
    if (f.kind !== 'connect_timeouts') continue;
    const pid = serviceOf(f, byProcess);
    if (pid !== null) clients.set(pid, [...(clients.get(pid) ?? []), f]);
  }
  for (const [pid, own] of byProcess) {
    const linked = [...own].sort((a, b) => CASCADE.indexOf(a.kind) - CASCADE.indexOf(b.kind));
    const theirs = clients.get(pid) ?? [];
    if (linked.length + theirs.length < 2) continue;
    const comm = linked[0]!.subject.comm ?? '?';
    const clauses = [...linked.map(clause), ...theirs.map(clientClause)];
    const incident: Incident = {
      id: `${comm}/${pid}`,
      chain: [...linked.map((f) => f.kind), ...(theirs.length > 0 ? ['connect_timeouts' as const] : [])],
      story: `One outage of ${comm} (pid ${pid}), root cause first: ${clauses.join('; ')}.`,
      severity: [...linked, ...theirs].some((f) => f.severity === 'critical') ? 'critical' : 'warning',
    };
    for (const f of [...linked, ...theirs]) f.incident = incident;
  }
}

/** A client of the service whose connects time out (linked by the address and port it connected to). */
function clientClause(f: Finding): string {
  const ports = Object.keys((f.evidence.byPort as Record<string, number> | undefined) ?? {}).join(', ');
  return `so connects to it time out (${f.subject.comm ?? '?'} (pid ${f.subject.pid ?? '?'}) got no answer from ${f.subject.peer}:${ports} ${n(f.evidence.lastMinute)} times in the last minute)`;
}
