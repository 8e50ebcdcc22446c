/**
 * The early warning of a CLOSE_WAIT leak, before its sockets are old enough for close_wait_leak: a
 * process holding many CLOSE_WAIT sockets that have stayed there a couple of seconds already, younger
 * than the leak's age. A healthy server closes its side within milliseconds of the peer's FIN, so
 * churn alone never holds sockets there for seconds. Works from the sockets alone (ages from events,
 * or from the inventory's lower bounds), so snapshot warns as early as the live views.
 */
import type { FindingThresholds } from './core-config.js';
import { formatDuration } from './format-duration.js';
import type { Finding, ProcessRollup } from './summary-model.js';
import type { TrackedSocket } from './tracked-socket.js';

export function closeWaitRising(
  thresholds: FindingThresholds,
  sockets: Iterable<TrackedSocket>,
  processes: readonly ProcessRollup[],
  leaking: ReadonlySet<number>,
  nowMs: number,
): Finding[] {
  const minAgeMs = thresholds.closeWaitRisingAgeSeconds * 1000;
  const leakAgeMs = thresholds.closeWaitAgeSeconds * 1000;
  const young = new Map<number, { peers: string[]; oldestMs: number }>();
  for (const s of sockets) {
    if (s.state !== 'CLOSE_WAIT') continue;
    const age = nowMs - s.stateSinceMs;
    if (age < minAgeMs || age >= leakAgeMs) continue;
    for (const o of s.owners) {
      if (leaking.has(o.pid)) continue; // close_wait_leak says it already
      const y = young.get(o.pid) ?? { peers: [], oldestMs: 0 };
      y.peers.push(s.peer.addr);
      y.oldestMs = Math.max(y.oldestMs, age);
      young.set(o.pid, y);
    }
  }
  const findings: Finding[] = [];
  for (const p of processes) {
    const y = young.get(p.pid);
    if (!y || y.peers.length < thresholds.closeWaitRisingMin) continue;
    const peers = countPeers(y.peers);
    const top = peers[0]!;
    const from =
      peers.length === 1 ? `all from ${top.peer}` : top.count * 2 > y.peers.length ? `${top.count} from ${top.peer}` : `from ${peers.length} peers`;
    const who = `${p.comm || '?'} (pid ${p.pid})`;
    const span = formatDuration(y.oldestMs / 1000);
    findings.push({
      kind: 'close_wait_rising',
      severity: 'warning',
      title: `CLOSE_WAIT rising: ${who}, ${y.peers.length} in ${span}, none closed yet, ${from}`,
      explanation:
        `${who} holds ${y.peers.length} connections in CLOSE_WAIT that entered it in the last ${span} and are ` +
        `still there: their peers closed (a FIN arrived), this process has not closed its side, and a healthy ` +
        `server does within milliseconds. If they keep piling up this becomes a CLOSE_WAIT leak ` +
        `(close_wait_leak, at ${formatDuration(thresholds.closeWaitAgeSeconds)}). Look now for a code path that ` +
        `stops using a connection after read() returns 0 (EOF), or after a timeout, without closing it.`,
      subject: { pid: p.pid, comm: p.comm },
      evidence: {
        closeWaitYoung: y.peers.length,
        closeWaitTotal: p.closeWait.count,
        oldestSeconds: Math.round(y.oldestMs / 1000),
        topPeers: peers.slice(0, 5).map((x) => ({ value: x.peer, count: x.count })),
        fds: p.fds,
        fdLimit: p.fdLimit,
      },
    });
  }
  return findings;
}

function countPeers(peers: string[]): { peer: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const peer of peers) counts.set(peer, (counts.get(peer) ?? 0) + 1);
  return [...counts].map(([peer, count]) => ({ peer, count })).sort((a, b) => b.count - a.count);
}
