/**
 * What `socktrace top` shows, as plain data: built from a core summary plus the tracer's own figures.
 * The components render this and nothing else, so they can be tested on synthetic snapshots.
 */
import { describePlacement } from '../core/describe-placement.js';
import type { ServiceTimings } from '../core/exchange-timings.js';
import { formatDuration } from '../core/format-duration.js';
import { acceptQueueFill, acceptQueueText, peerNetnsText, peerSeenText, peerSideText } from '../core/rollups.js';
import type { CoreSummary, Finding, ProcessRollup, RollupBase, StateCounts } from '../core/summary-model.js';
import { serviceFindings } from './detail-lines.js';

export interface AgeCell {
  seconds: number;
  lowerBound: boolean;
}

export interface RowBase {
  /** Stable across refreshes: what the selection follows. */
  key: string;
  closeWait: number;
  oldestCloseWait: AgeCell | null;
  established: number;
  timeWait: number;
  rstSentPerSec: number;
  rstReceivedPerSec: number;
  /** EPIPE + ECONNRESET per second (10 s). */
  brokenPerSec: number;
  openedPerSec: number;
  sockets: number;
  worstFinding: Finding['severity'] | null;
}

export interface ProcessRow extends RowBase {
  pid: number;
  comm: string;
  cmdline: string;
  fds: number | null;
  fdLimit: number | null;
  /** Its pod, container or systemd unit in a few words ('-': unknown). */
  where: string;
}

export interface PeerRow extends RowBase {
  peer: string;
  /** client (of a service here), server (called from here), both, or -; and the namespace(s) it is seen from. */
  side: string;
  netns: string;
  /** The same in words, per namespace, for the detail pane. */
  seenFrom: string;
}

export interface ServiceRow extends RowBase {
  port: number;
  netns: number;
  listeners: string;
  /** Accept queues as ss -lnt shows them ("5/4"), and the fullest one's fill, to sort by. */
  acceptQueue: string;
  acceptQueueFill: number;
  /** Its answer times and clients' waits over the last minute, in words ('' when none measured). */
  timings: string;
  /** pids holding its listeners. */
  listenerPids: number[];
}

export interface TopHeader {
  atMs: number;
  sockets: number;
  byState: StateCounts;
  eventsPerSecond: number;
  lostTotal: number;
  /** Backend and hook modes, e.g. "native (tp_btf)". */
  backend: string;
  problems: string[];
}

export interface TopSnapshot {
  header: TopHeader;
  processes: ProcessRow[];
  peers: PeerRow[];
  services: ServiceRow[];
  findings: Finding[];
  summary: Pick<CoreSummary, 'processPeers' | 'stories'>;
}

/** "answers in 1.5 s (p99 1.6 s, 10 late); 8 clients gave up after 494 ms (p99 500 ms)" */
export function timingsText(t: ServiceTimings): string {
  const parts: string[] = [];
  if (t.latency) parts.push(`answers in ${formatDuration(t.latency.p50Seconds)} (p99 ${formatDuration(t.latency.p99Seconds)}${t.lateAnswers ? `, ${t.lateAnswers} late` : ''})`);
  if (t.clientWait) parts.push(`${t.clientWait.count} clients gave up after ${formatDuration(t.clientWait.p50Seconds)} (p99 ${formatDuration(t.clientWait.p99Seconds)})`);
  if (t.unanswered) parts.push(`${t.unanswered.count} closed unanswered`);
  return parts.join('; ');
}

function worst(findings: Finding[]): Finding['severity'] | null {
  if (findings.some((f) => f.severity === 'critical')) return 'critical';
  return findings.length > 0 ? 'warning' : null;
}

function rowBase(key: string, r: RollupBase, findings: Finding[]): RowBase {
  const a = r.activity;
  return {
    key,
    closeWait: r.closeWait.count,
    oldestCloseWait:
      r.closeWait.oldestSeconds === null ? null : { seconds: r.closeWait.oldestSeconds, lowerBound: r.closeWait.oldestIsLowerBound },
    established: r.sockets.ESTABLISHED ?? 0,
    timeWait: r.sockets.TIME_WAIT ?? 0,
    rstSentPerSec: a.rstSent.perSecond10s,
    rstReceivedPerSec: a.rstReceived.perSecond10s,
    brokenPerSec: a.errors.epipeEconnresetPerSecond10s,
    openedPerSec: a.opened.perSecond10s,
    sockets: r.totalSockets,
    worstFinding: worst(findings),
  };
}

export interface TracerFigures {
  eventsPerSecond: number;
  lostTotal: number;
  backend: string;
  problems: string[];
}

/** Rows worth a line: something open now, or activity in the last minute. */
function current(r: RollupBase): boolean {
  const a = r.activity;
  const recent = a.rstSent.perSecond1m + a.rstReceived.perSecond1m + a.errors.perSecond1m + a.opened.perSecond1m + a.closed.perSecond1m;
  return r.totalSockets > 0 || recent > 0;
}

/**
 * Processes worth a line: live ones (the last inventory read their fds), and any still holding sockets.
 * One gone from /proc with nothing left would be an all-zero row until its minute of counters ran out.
 */
function currentProcess(p: ProcessRollup): boolean {
  return p.totalSockets > 0 || p.fds !== null;
}

export function buildTopSnapshot(summary: CoreSummary, tracer: TracerFigures): TopSnapshot {
  const findings = summary.findings;
  return {
    header: {
      atMs: summary.atMs,
      sockets: summary.totals.sockets,
      byState: summary.totals.byState,
      eventsPerSecond: tracer.eventsPerSecond,
      lostTotal: tracer.lostTotal,
      backend: tracer.backend,
      problems: tracer.problems,
    },
    processes: summary.processes.rows.filter(currentProcess).map((p) => ({
      ...rowBase(String(p.pid), p, findings.filter((f) => f.subject.pid === p.pid)),
      pid: p.pid,
      comm: p.comm,
      cmdline: p.cmdline,
      where: describePlacement(p.placement),
      fds: p.fds,
      fdLimit: p.fdLimit,
    })),
    peers: summary.peers.rows.filter(current).map((p) => ({
      ...rowBase(p.peer, p, findings.filter((f) => f.subject.peer === p.peer || f.subject.peer?.startsWith(`${p.peer}:`))),
      peer: p.peer,
      side: peerSideText(p.seenFrom),
      netns: peerNetnsText(p.seenFrom),
      seenFrom: peerSeenText(p.seenFrom),
    })),
    services: summary.services.rows.map((s) => ({
      ...rowBase(`${s.netns}|${s.port}`, s, serviceFindings(findings, { port: s.port, listenerPids: s.listeners.map((l) => l.pid) })),
      port: s.port,
      netns: s.netns,
      listeners: s.listeners.map((l) => `${l.comm}/${l.pid}`).join(','),
      acceptQueue: acceptQueueText(s.acceptQueues),
      acceptQueueFill: acceptQueueFill(s.acceptQueues),
      timings: s.timings ? timingsText(s.timings) : '',
      listenerPids: s.listeners.map((l) => l.pid),
    })),
    findings,
    summary: { processPeers: summary.processPeers, stories: summary.stories },
  };
}
