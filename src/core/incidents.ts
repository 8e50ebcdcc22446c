/**
 * One incident per service: findings about the same process are one outage seen from several sides
 * (clients that give up, the connections it never closes, the descriptors they use up, the accepts
 * that fail, the queue that overflows). They are linked into one chain in causal order, root cause
 * first, and told as one story; each finding of the chain carries it.
 */
import type { Finding, FindingKind, Incident } from './summary-model.js';

/** Causal order: what comes earlier in a cascade causes what comes later. */
const CASCADE: readonly FindingKind[] = [
  'impatient_clients',
  'write_after_peer_close',
  'close_wait_leak',
  'fd_pressure',
  'accept_failing',
  'accept_queue_overflow',
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

/** Links findings about one process into an incident (two or more of the cascade), in place. */
export function linkIncidents(findings: Finding[]): void {
  const byProcess = new Map<number, Finding[]>();
  for (const f of findings) {
    if (f.subject.pid === undefined || !CASCADE.includes(f.kind)) continue;
    byProcess.set(f.subject.pid, [...(byProcess.get(f.subject.pid) ?? []), f]);
  }
  for (const [pid, linked] of byProcess) {
    if (linked.length < 2) continue;
    linked.sort((a, b) => CASCADE.indexOf(a.kind) - CASCADE.indexOf(b.kind));
    const comm = linked[0]!.subject.comm ?? '?';
    const clauses = linked.map(clause);
    const incident: Incident = {
      id: `${comm}/${pid}`,
      chain: linked.map((f) => f.kind),
      story: `One outage of ${comm} (pid ${pid}), root cause first: ${clauses.join('; ')}.`,
      severity: linked.some((f) => f.severity === 'critical') ? 'critical' : 'warning',
    };
    for (const f of linked) f.incident = incident;
  }
}
