/**
 * Findings: each a diagnosis with its evidence and an explanation a tired on-call engineer can act on.
 * Thresholds come from CoreConfig.thresholds.
 */
import type { ActivityCounters } from './activity-counters.js';
import type { BoundedMap } from './bounded-map.js';
import type { CoreConfig } from './core-config.js';
import { mostRefused, type ListenOverflowTracker, type RefusedPeer } from './listen-overflows.js';
import { hasPeer } from './rollup-keys.js';
import type { Rollups } from './rollups.js';
import type { ConnectionStory, Finding, ProcessRollup } from './summary-model.js';
import type { TrackedSocket } from './tracked-socket.js';
import { linkIncidents } from './incidents.js';
import { impatientClients } from './impatient-clients.js';
import { closeWaitRising } from './close-wait-rising.js';
import { formatDuration } from './format-duration.js';

export { formatDuration };

export interface FindingSource {
  readonly config: CoreConfig;
  readonly sockets: { readonly size: number; values(): IterableIterator<TrackedSocket> };
  readonly byProcess: BoundedMap<number, ActivityCounters>;
  readonly listenOverflows: ListenOverflowTracker;
  story(sock: string): ConnectionStory | null;
}

function who(p: { pid: number; comm: string }): string {
  return `${p.comm || '?'} (pid ${p.pid})`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor((s.length - 1) / 2)]!;
}

function topCounts(values: Iterable<string>, n = 5): { value: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n).map(([value, count]) => ({ value, count }));
}

function closeWaitLeaks(core: FindingSource, processes: ProcessRollup[], nowMs: number): Finding[] {
  const t = core.config.thresholds;
  const minAgeMs = t.closeWaitAgeSeconds * 1000;
  const oldPeers = new Map<number, string[]>();
  for (const s of core.sockets.values()) {
    if (s.state !== 'CLOSE_WAIT' || nowMs - s.stateSinceMs < minAgeMs) continue;
    // Pushed, never copied: a leaking process holds tens of thousands of these (copying was quadratic).
    for (const o of s.owners) {
      const peers = oldPeers.get(o.pid);
      if (peers) peers.push(s.peer.addr);
      else oldPeers.set(o.pid, [s.peer.addr]);
    }
  }
  const findings: Finding[] = [];
  for (const p of processes) {
    const old = oldPeers.get(p.pid) ?? [];
    if (old.length < t.closeWaitMinSockets) continue;
    const oldest = p.closeWait.oldestSeconds ?? 0;
    const fdUse = p.fds !== null && p.fdLimit ? p.fds / p.fdLimit : null;
    const atLeast = p.closeWait.oldestIsLowerBound ? 'at least ' : '';
    findings.push({
      kind: 'close_wait_leak',
      severity: old.length >= 100 || (fdUse !== null && fdUse >= t.fdWarnRatio) ? 'critical' : 'warning',
      title: `CLOSE_WAIT leak: ${who(p)} holds ${old.length} connections its peers closed over ${formatDuration(t.closeWaitAgeSeconds)} ago`,
      explanation:
        `${who(p)} has ${old.length} sockets in CLOSE_WAIT for more than ${formatDuration(t.closeWaitAgeSeconds)} ` +
        `(the oldest for ${atLeast}${formatDuration(oldest)}). The peer closed each connection (its FIN arrived) ` +
        `but the application never called close() on its side. Each one keeps a file descriptor` +
        (p.fds !== null && p.fdLimit ? ` (${p.fds} of ${p.fdLimit} in use)` : '') +
        ` until the process runs out. Look for a code path that stops using a connection after read() ` +
        `returns 0 (EOF) or after an error or timeout without closing it; restarting the process only ` +
        `buys time.`,
      subject: { pid: p.pid, comm: p.comm },
      evidence: {
        closeWaitOverThreshold: old.length,
        closeWaitTotal: p.closeWait.count,
        oldestSeconds: Math.round(oldest),
        oldestIsLowerBound: p.closeWait.oldestIsLowerBound,
        ages: p.closeWait.ages,
        topPeers: topCounts(old),
        fds: p.fds,
        fdLimit: p.fdLimit,
      },
    });
  }
  return findings;
}

function writesAfterPeerClose(core: FindingSource, processes: ProcessRollup[], nowMs: number): Finding[] {
  const findings: Finding[] = [];
  for (const p of processes) {
    const samples = (core.byProcess.get(p.pid)?.writesAfterClose ?? []).filter((s) => nowMs - s.atMs <= 60_000);
    if (samples.length < core.config.thresholds.writeAfterCloseMin) continue;
    const delays = samples.map((s) => s.delayMs / 1000);
    const example = core.story(samples.at(-1)!.sock);
    const errors = p.activity.errors.byErrno;
    findings.push({
      kind: 'write_after_peer_close',
      severity: samples.length >= 10 ? 'critical' : 'warning',
      title: `Writes after the peer closed: ${who(p)}, ${samples.length} in the last minute (median ${formatDuration(median(delays))} after the peer's FIN)`,
      explanation:
        `${who(p)} wrote to ${samples.length} connections in the last minute after their peers had already ` +
        `closed them, a median of ${formatDuration(median(delays))} later (longest ${formatDuration(Math.max(...delays))}). ` +
        `The clients gave up waiting before the answer was ready: their timeout is shorter than this ` +
        `service's latency. The late writes draw an RST and fail with EPIPE ("broken pipe") or ECONNRESET, ` +
        `and the work behind them was wasted. Make the service answer within the clients' timeout, raise ` +
        `that timeout, or stop work on a request whose connection saw EOF.`,
      subject: { pid: p.pid, comm: p.comm },
      evidence: {
        lastMinute: samples.length,
        total: p.activity.writesAfterPeerClose,
        medianDelaySeconds: Number(median(delays).toFixed(3)),
        maxDelaySeconds: Number(Math.max(...delays).toFixed(3)),
        delaysAreLowerBounds: samples.some((s) => s.delayIsLowerBound),
        topPeers: topCounts(samples.map((s) => s.peer)),
        errorsByErrno: errors,
        example,
      },
    });
  }
  return findings;
}

function fdPressure(core: FindingSource, processes: ProcessRollup[]): Finding[] {
  const t = core.config.thresholds;
  const findings: Finding[] = [];
  for (const p of processes) {
    if (p.fds === null || !p.fdLimit) continue;
    const use = p.fds / p.fdLimit;
    if (use < t.fdWarnRatio) continue;
    // Sockets in its accept queue are not its files yet; the core's count of its files can run ahead of
    // the fds counted at the last inventory, but a part is never shown larger than the whole.
    const sockets = Math.min(p.totalSockets - p.queuedSockets, p.fds);
    const closeWaitFiles = Math.min(p.closeWait.count, sockets);
    const overLimit = p.fds > p.fdLimit; // its limit was lowered below what it had open
    findings.push({
      kind: 'fd_pressure',
      severity: use >= t.fdCriticalRatio ? 'critical' : 'warning',
      title: `File descriptors ${overLimit ? 'over' : 'near'} the limit: ${who(p)} uses ${p.fds} of ${p.fdLimit} (${Math.round(Math.min(use, 1) * 100)}%${overLimit ? '+' : ''})`,
      explanation:
        `${who(p)} has ${p.fds} files open against a limit of ${p.fdLimit} (ulimit -n)` +
        (overLimit ? ', more than the limit allows (it was lowered after they were opened)' : '') +
        `. At the limit, accept() and connect() fail with EMFILE ("too many open files") and the service stops taking ` +
        `connections. ${sockets} of its open files are TCP sockets` +
        (closeWaitFiles > 0 ? `, ${closeWaitFiles} of them in CLOSE_WAIT (closed by the peer, never by the application)` : '') +
        (p.queuedSockets > 0 ? `, and ${p.queuedSockets} more wait in its accept queue` : '') +
        `. Fix the leak first; raising LimitNOFILE only delays the outage.`,
      subject: { pid: p.pid, comm: p.comm },
      evidence: { fds: p.fds, fdLimit: p.fdLimit, ratio: Number(use.toFixed(3)), tcpSockets: sockets, queuedSockets: p.queuedSockets, closeWait: p.closeWait.count },
    });
  }
  return findings;
}

const ACCEPT_ERRNO_MEANING: Record<string, string> = {
  EMFILE: 'too many open files: the process is at its own limit, ulimit -n',
  ENFILE: 'too many open files in the system: the host is at fs.file-max',
  ENOBUFS: 'no buffer space: the kernel is short of socket memory',
  ENOMEM: 'out of memory',
};

/** A service whose accept() fails: connections wait in its queue until it overflows and clients give up. */
function acceptFailing(core: FindingSource, processes: ProcessRollup[], nowMs: number): Finding[] {
  const findings: Finding[] = [];
  for (const p of processes) {
    const a = p.activity.acceptErrors;
    const lastMinute = Math.round(a.perSecond1m * 60);
    if (lastMinute < core.config.thresholds.acceptErrorsMin || a.lastAtMs === null) continue;
    const errnos = Object.entries(a.byErrno).sort((x, y) => y[1] - x[1]);
    const [topErrno] = errnos[0] ?? ['UNKNOWN'];
    const listeners = Object.entries(a.byListener).sort((x, y) => y[1] - x[1]);
    const where = listeners.map(([l]) => l).slice(0, 3).join(', ');
    const since = a.firstAtMs !== null ? Math.max(0, (nowMs - a.firstAtMs) / 1000) : 0;
    const held = p.closeWait.count;
    findings.push({
      kind: 'accept_failing',
      severity: 'critical',
      title: `accept() failing: ${who(p)} could not take ${lastMinute} connections in the last minute on ${where} (${topErrno})`,
      explanation:
        `${who(p)} called accept() on ${where} and it failed ${lastMinute} times in the last minute, ` +
        `for ${formatDuration(since)} now, with ${topErrno} (${ACCEPT_ERRNO_MEANING[topErrno] ?? 'a resource is exhausted'}). ` +
        `Each connection it cannot take stays in the listener's accept queue; when the queue is full the ` +
        `kernel drops new handshakes and clients time out on connect.` +
        (topErrno === 'EMFILE' && p.fds !== null && p.fdLimit
          ? ` It holds ${p.fds} of ${p.fdLimit} file descriptors` +
            (held > 0 ? `, ${held} of them sockets in CLOSE_WAIT that its peers closed and it never did: that leak is what uses them up` : '') +
            '.'
          : '') +
        (topErrno === 'EMFILE' ? ' Close what leaks (CLOSE_WAIT sockets first); raising LimitNOFILE only delays it.' : ''),
      subject: { pid: p.pid, comm: p.comm, local: listeners[0]?.[0], port: Number(listeners[0]?.[0].split(':').pop()) || undefined },
      evidence: {
        lastMinute,
        total: a.total,
        byErrno: Object.fromEntries(errnos),
        listeners: Object.fromEntries(listeners),
        sinceSeconds: Math.round(since),
        lastSecondsAgo: Math.round(Math.max(0, nowMs - a.lastAtMs) / 1000),
        fds: p.fds,
        fdLimit: p.fdLimit,
        closeWait: held,
      },
    });
  }
  return findings;
}

/** The clients the kernel named (a final ACK refused, 6.15+), most refused first; empty: it named none. */
function refusedText(peers: readonly RefusedPeer[]): string {
  if (peers.length === 0) return '';
  const shown = peers.slice(0, 5).map((p) => `${p.addr} (${p.count})`);
  const more = peers.length > shown.length ? ` and ${peers.length - shown.length} more` : '';
  return (
    `Clients refused at the handshake's last step, as the kernel named them: ${shown.join(', ')}${more} ` +
    `(a SYN dropped for a full queue names no client). `
  );
}

const QUEUE_ADVICE =
  'Accept faster (more workers or threads calling accept(), or find what blocks the accept loop), or give ' +
  'the queue more room: a larger backlog in listen(), which the kernel caps at net.core.somaxconn (raise ' +
  'both). If accept() itself fails, see accept_failing.';

/**
 * A listener whose accept queue overflows: handshakes are dropped, and clients retry their SYNs (1 s,
 * 3 s, 7 s...) or time out. Named only when its own drop counter accounts for the overflows its
 * namespace counted; otherwise the namespace's overflows are reported with their candidates.
 */
function acceptQueueOverflows(core: FindingSource, nowMs: number): Finding[] {
  const findings: Finding[] = [];
  for (const l of core.listenOverflows.byListener.values()) {
    const lastMinute = Math.round(l.window.perSecond(nowMs, 60) * 60);
    if (lastMinute < core.config.thresholds.listenOverflowsMin) continue;
    const owner = l.proc ? who(l.proc) : 'a process socktrace cannot name';
    const where = `${l.local.addr}:${l.local.port}`;
    const refused = mostRefused(l.refusedPeers);
    findings.push({
      kind: 'accept_queue_overflow',
      severity: 'critical',
      title: `accept queue full: ${owner} on ${where} (${l.queue}/${l.limit}), ${lastMinute} handshakes dropped in the last minute`,
      explanation:
        `The accept queue of ${owner}'s listener on ${where} overflowed: it held ${l.queue} connections ` +
        `against a limit of ${l.limit} when last read, established and waiting for accept(), which the ` +
        `process is not calling fast enough. While it is full the kernel drops new handshakes ` +
        `(${lastMinute} in the last minute, counted as ListenOverflows in its namespace and in this ` +
        `listener's own drop counter), and clients see slow or timed-out connects. ${refusedText(refused)}${QUEUE_ADVICE}`,
      subject: { ...(l.proc ? { pid: l.proc.pid, comm: l.proc.comm } : {}), port: l.local.port, local: where },
      evidence: {
        overflows: lastMinute,
        total: l.total,
        queue: l.queue,
        limit: l.limit,
        port: l.local.port,
        netns: l.netns,
        attribution: l.attribution,
        lastSecondsAgo: Math.round(Math.max(0, nowMs - l.lastAtMs) / 1000),
        refusedClients: refused,
      },
    });
  }
  for (const [netns, u] of core.listenOverflows.unattributed) {
    const lastMinute = Math.round(u.window.perSecond(nowMs, 60) * 60);
    if (lastMinute < core.config.thresholds.listenOverflowsMin) continue;
    const named = u.last.candidates.map((c) => `${c.proc ? who(c.proc) : 'unknown'} on ${c.local.addr}:${c.local.port} (${c.queue}/${c.limit})`);
    findings.push({
      kind: 'accept_queue_overflow',
      severity: 'critical',
      title: `accept queues overflowing in network namespace ${netns}: ${lastMinute} handshakes dropped in the last minute`,
      explanation:
        `The kernel dropped ${lastMinute} handshakes in the last minute in network namespace ${netns} because ` +
        `a listener's accept queue was full (ListenOverflows). That counter does not say which listener, ` +
        `and the listeners' own drop counters did not tell either (${u.last.attribution}). ` +
        (named.length > 0
          ? `It may be any of ${named.length === 1 ? 'this one' : `these ${named.length}`}: ${named.join('; ')}. `
          : '') +
        refusedText(u.last.peers) +
        QUEUE_ADVICE,
      subject: {},
      evidence: {
        overflows: lastMinute,
        total: u.total,
        queue: null,
        limit: null,
        port: null,
        netns,
        attribution: u.last.attribution,
        candidates: u.last.candidates.map((c) => ({ pid: c.proc?.pid ?? null, comm: c.proc?.comm ?? null, local: `${c.local.addr}:${c.local.port}`, queue: c.queue, limit: c.limit })),
        refusedClients: u.last.peers,
      },
    });
  }
  return findings;
}

function rstStorms(core: FindingSource, rollups: Rollups): Finding[] {
  const t = core.config.thresholds;
  const findings: Finding[] = [];
  for (const peer of rollups.all.peers) {
    const sent = peer.activity.rstSent.perSecond10s;
    const received = peer.activity.rstReceived.perSecond10s;
    if (sent + received < t.rstStormPerSecond) continue;
    const reasons = Object.entries(peer.activity.rstSent.byReason).sort((a, b) => b[1] - a[1]);
    const topReason = reasons[0]?.[0];
    const direction = sent >= received ? 'to' : 'from';
    const cause =
      direction === 'from'
        ? `${peer.peer} is resetting connections: it crashed or restarted, a load balancer or firewall ` +
          `dropped the flows, or it refuses what it is sent. Check that side's logs and its connection limits.`
        : topReason === 'NO_SOCKET'
          ? `Most are answers to packets for which no socket exists here: ${peer.peer} connects to a port ` +
            `nobody listens on (a service down or misconfigured), or keeps using connections this host ` +
            `already forgot.`
          : `This host resets connections to ${peer.peer}` +
            (topReason ? ` (mostly ${topReason})` : '') +
            `: aborted closes (SO_LINGER 0), unread data at close, or protocol errors.`;
    findings.push({
      kind: 'rst_storm',
      severity: sent + received >= t.rstStormPerSecond * 10 ? 'critical' : 'warning',
      title: `RST storm ${direction} ${peer.peer}: ${(sent + received).toFixed(1)}/s over 10 s`,
      explanation: `${(sent + received).toFixed(1)} TCP resets per second over the last 10 s (${sent.toFixed(1)}/s sent, ${received.toFixed(1)}/s received). ${cause}`,
      subject: { peer: peer.peer },
      evidence: {
        sentPerSecond10s: sent,
        receivedPerSecond10s: received,
        sentByReason: Object.fromEntries(reasons),
        sentTotal: peer.activity.rstSent.total,
        receivedTotal: peer.activity.rstReceived.total,
      },
    });
  }
  return findings;
}

function churn(core: FindingSource, rollups: Rollups): Finding[] {
  const t = core.config.thresholds;
  const findings: Finding[] = [];
  for (const pp of rollups.all.processPeers) {
    const rate = pp.activity.opened.perSecond1m;
    if (rate < t.churnPerSecond) continue;
    const timeWait = pp.sockets.TIME_WAIT ?? 0;
    findings.push({
      kind: 'connection_churn',
      severity: 'warning',
      title: `Connection churn: ${who(pp)} opens ${rate.toFixed(1)} connections/s to ${pp.peer} (1 min)`,
      explanation:
        `${who(pp)} opens a new TCP connection to ${pp.peer} ${rate.toFixed(1)} times per second and closes ` +
        `it again instead of reusing it. Every close leaves a TIME_WAIT socket for ${core.config.timeWaitSeconds} s ` +
        `(${timeWait} now) and uses up an ephemeral port; at scale, connect() fails with EADDRNOTAVAIL. ` +
        `Use keep-alive or a connection pool for this peer.`,
      subject: { pid: pp.pid, comm: pp.comm, peer: pp.peer },
      evidence: { openedPerSecond1m: rate, openedTotal: pp.activity.opened.total, timeWait, sockets: pp.sockets },
    });
  }
  return findings;
}

/** A map's entry for `key`, made by `make` when absent. */
function entryOf<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

interface PortUse {
  netns: number;
  local: string;
  peerAddr: string;
  peerPort: number;
  timeWait: number;
  total: number;
}

/** One local address holding most ephemeral ports toward one remote address and port, in one namespace. */
function ephemeralPortPressure(core: FindingSource): Finding[] {
  const t = core.config.thresholds;
  const limit = core.config.ephemeralPorts * t.ephemeralPortShare;
  // No tuple can reach the limit with fewer sockets in the table (most hosts): no walk at all.
  if (core.sockets.size < limit) return [];
  // Ports are a namespace's own. Keyed level by level on the socket's own values: a summary of a busy
  // host walks every socket, and a key string made for each cost more than the rest of the walk.
  const uses = new Map<number, Map<number, Map<string, Map<string, PortUse>>>>();
  for (const s of core.sockets.values()) {
    if (!hasPeer(s) || s.state === 'LISTEN') continue;
    const byPeerAddr = entryOf(entryOf(uses, s.netns, () => new Map()), s.peer.port, () => new Map());
    const use = entryOf(entryOf(byPeerAddr, s.peer.addr, () => new Map()), s.local.addr, () => ({
      netns: s.netns,
      local: s.local.addr,
      peerAddr: s.peer.addr,
      peerPort: s.peer.port,
      timeWait: 0,
      total: 0,
    }));
    use.total++;
    if (s.state === 'TIME_WAIT') use.timeWait++;
  }
  const crowded: (PortUse & { peer: string })[] = [];
  for (const byPort of uses.values())
    for (const byPeerAddr of byPort.values())
      for (const byLocal of byPeerAddr.values())
        for (const u of byLocal.values()) if (u.total >= limit) crowded.push({ ...u, peer: `${u.peerAddr}:${u.peerPort}` });
  return crowded.map((e) => ({
      kind: 'ephemeral_port_pressure' as const,
      severity: e.total >= core.config.ephemeralPorts * 0.9 ? ('critical' as const) : ('warning' as const),
      title: `Ephemeral ports running out: ${e.total} sockets from ${e.local} to ${e.peer}`,
      explanation:
        `${e.total} sockets (${e.timeWait} in TIME_WAIT) go from ${e.local} to ${e.peer}, out of ` +
        `${core.config.ephemeralPorts} ephemeral ports. When they are all taken, new connections to that ` +
        `peer fail with EADDRNOTAVAIL. Reuse connections (keep-alive, pooling), spread across more ` +
        `destination addresses, or widen net.ipv4.ip_local_port_range.`,
      subject: { local: e.local, peer: e.peer },
      evidence: { sockets: e.total, timeWait: e.timeWait, ephemeralPorts: core.config.ephemeralPorts, netns: e.netns },
    }));
}

/** A peer that does not answer one process: its connects time out, or what it sends goes again. */
function unansweredPeers(core: FindingSource, rollups: Rollups): Finding[] {
  const t = core.config.thresholds;
  const findings: Finding[] = [];
  for (const pp of rollups.all.processPeers) {
    const timeouts = Math.round(pp.activity.connectTimeouts.perSecond1m * 60);
    const resent = pp.activity.retransmits;
    if (timeouts >= t.connectTimeoutsMin) {
      findings.push({
        kind: 'connect_timeouts',
        severity: timeouts >= 10 ? 'critical' : 'warning',
        title: `Connects time out: ${who(pp)} got no answer from ${pp.peer} ${timeouts} times in the last minute`,
        explanation:
          `${who(pp)} tried to connect to ${pp.peer} and got no answer at all: the kernel sent the SYN again ` +
          `(${resent.syn} times in all) and gave up with ETIMEDOUT, ${timeouts} times in the last minute. ` +
          `The peer is down, a firewall drops the packets, the route leads nowhere, or the service's accept ` +
          `queue is full and its kernel drops new handshakes (on that host: accept_queue_overflow, ` +
          `accept_failing). Clients that retry make a full queue worse.`,
        subject: { pid: pp.pid, comm: pp.comm, peer: pp.peer },
        evidence: {
          lastMinute: timeouts,
          total: pp.activity.connectTimeouts.total,
          byPort: pp.activity.connectTimeouts.byPort,
          synRetransmits: resent.syn,
          errorsByErrno: pp.activity.connectionErrors.byErrno,
        },
      });
    }
    if (resent.perSecond1m >= t.retransmitsPerSecond) {
      findings.push({
        kind: 'retransmits',
        severity: 'warning',
        title: `Retransmissions: ${who(pp)} sends ${resent.perSecond1m.toFixed(1)} segments/s again to ${pp.peer} (1 min)`,
        explanation:
          `${who(pp)} had to send ${resent.perSecond1m.toFixed(1)} segments per second to ${pp.peer} again over the ` +
          `last minute (${resent.syn} of ${resent.total} in all were SYNs of connects): packets are lost on the ` +
          `way, or the peer is too slow to acknowledge them. Expect latency in steps of the retransmission ` +
          `timeout (200 ms and up); look at the path (drops, MTU) and at the peer's load.`,
        subject: { pid: pp.pid, comm: pp.comm, peer: pp.peer },
        evidence: { perSecond1m: resent.perSecond1m, total: resent.total, syn: resent.syn },
      });
    }
  }
  return findings;
}

export function findFindings(core: FindingSource, rollups: Rollups, nowMs: number): Finding[] {
  const processes = rollups.all.processes;
  const leaks = closeWaitLeaks(core, processes, nowMs);
  const leaking = new Set(leaks.map((f) => f.subject.pid!));
  const findings = [
    ...impatientClients(core.config.thresholds, rollups.all.services),
    ...leaks,
    ...closeWaitRising(core.config.thresholds, core.sockets.values(), processes, leaking, nowMs),
    ...acceptFailing(core, processes, nowMs),
    ...acceptQueueOverflows(core, nowMs),
    ...writesAfterPeerClose(core, processes, nowMs),
    ...fdPressure(core, processes),
    ...rstStorms(core, rollups),
    ...churn(core, rollups),
    ...ephemeralPortPressure(core),
    ...unansweredPeers(core, rollups),
  ];
  linkIncidents(findings);
  // An alert names the culprit by its container or pod too, not only by a pid.
  const placements = new Map(processes.map((p) => [p.pid, p.placement]));
  for (const f of findings) {
    const where = f.subject.pid === undefined ? null : placements.get(f.subject.pid);
    if (where) f.subject.where = where;
  }
  return findings.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1));
}
