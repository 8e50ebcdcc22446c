/**
 * impatient_clients: clients of a service close their connections while a request is still
 * unanswered, because the service takes longer than they are willing to wait. The root of the cascade:
 * each abandoned request is wasted work, a late answer that meets an RST (broken pipe), and a
 * connection the service must still close (or it stays in CLOSE_WAIT and holds a descriptor).
 */
import type { FindingThresholds } from './core-config.js';
import { formatDuration } from './format-duration.js';
import type { Quantiles } from './exchange-timings.js';
import type { Finding, ServiceRollup } from './summary-model.js';

const pair = (q: Quantiles) => ({ p50: q.p50Seconds, p99: q.p99Seconds });

/** From the service rollups: their answer times over the last minute, listeners and CLOSE_WAITs. */
export function impatientClients(t: FindingThresholds, services: readonly ServiceRollup[]): Finding[] {
  const findings: Finding[] = [];
  for (const row of services) {
    const s = row.timings;
    const wait = s?.clientWait;
    if (!s || !wait || wait.count < t.impatientClientsMin) continue;
    const closeWaits = row.closeWait.count;
    // A service that answers nothing at all may speak a one-way protocol: it is impatient clients only
    // if it answers others, or holds the abandoned connections open.
    if (!s.latency && closeWaits < t.impatientClientsMin) continue;
    const owners = row.listeners;
    const owner = owners.length === 1 ? owners[0]! : null; // shared or unknown: no one is named
    const name = owner ? `${owner.comm || '?'} (pid ${owner.pid}) on port ${s.port}` : `the service on port ${s.port}`;
    const slower = s.latency ? `this service answers in ${formatDuration(s.latency.p50Seconds)}` : `this service has not answered them`;
    const topPeer = s.peers.find((p) => p.gaveUp);
    const story = topPeer?.gaveUp
      ? `clients from ${topPeer.peer} give up after ${formatDuration(topPeer.gaveUp.p50Seconds)}; ${slower}`
      : `clients give up after ${formatDuration(wait.p50Seconds)}; ${slower}`;
    findings.push({
      kind: 'impatient_clients',
      severity: wait.count >= 10 || closeWaits >= 10 ? 'critical' : 'warning',
      title: `Clients give up before ${name} answers: ${wait.count} requests abandoned in the last minute after ${formatDuration(wait.p50Seconds)} (p99 ${formatDuration(wait.p99Seconds)})`,
      explanation:
        `${story[0]!.toUpperCase()}${story.slice(1)}. In the last minute clients closed ${wait.count} connections to ` +
        `${name} with a request still unanswered, after waiting a median ${formatDuration(wait.p50Seconds)} ` +
        `(p99 ${formatDuration(wait.p99Seconds)}): that is their timeout. ` +
        (s.latency
          ? `The service takes a median ${formatDuration(s.latency.p50Seconds)} (p99 ${formatDuration(s.latency.p99Seconds)}) from a request to its answer` +
            (s.lateAnswers > 0 ? `, and ${s.lateAnswers} answers came after the client had gone (they meet an RST: broken pipe)` : '') +
            '. '
          : '') +
        (closeWaits > 0 ? `${closeWaits} of those connections are still open on its side (CLOSE_WAIT), each holding a descriptor. ` : '') +
        `Make the service answer within the clients' timeout (find what is slow: a dependency, a lock, a full ` +
        `worker pool), raise the clients' timeout, or stop work on a request whose connection saw EOF.`,
      subject: { ...(owner ? { pid: owner.pid, comm: owner.comm } : {}), port: s.port },
      evidence: {
        clientTimeoutSeconds: pair(wait),
        serviceLatencySeconds: s.latency ? pair(s.latency) : null,
        abandoned: wait.count,
        answered: s.latency?.count ?? 0,
        lateAnswers: s.lateAnswers,
        closedUnanswered: s.unanswered?.count ?? 0,
        closeWait: closeWaits,
        port: s.port,
        netns: s.netns,
        peers: s.peers.map((p) => ({
          peer: p.peer,
          abandoned: p.gaveUp?.count ?? 0,
          clientTimeoutSeconds: p.gaveUp ? pair(p.gaveUp) : null,
          serviceLatencySeconds: p.answered ? pair(p.answered) : null,
        })),
      },
    });
  }
  return findings;
}
