/**
 * Rollups per process, peer, process-peer pair and service: sockets by state and CLOSE_WAIT ages from
 * the socket table, RSTs, errors and connection rates from the activity counters.
 */
import type { ActivityCounters } from './activity-counters.js';
import type { BoundedMap } from './bounded-map.js';
import type { AcceptQueue, ProcessInfo } from './inventory-model.js';
import { hasPeer, processPeerKey, serviceKey } from './rollup-keys.js';
import type {
  ActivityStats,
  CloseWaitStats,
  ListenerQueue,
  PeerRollup,
  PeerSide,
  ProcessPeerRollup,
  ProcessRollup,
  RollupBase,
  RollupList,
  ServiceRollup,
  StateCounts,
} from './summary-model.js';
import type { OwnerRef, TrackedSocket } from './tracked-socket.js';
import type { ServiceTimings } from './exchange-timings.js';

/** What rollups read from the core (a narrow view, so this file cannot change it). */
export interface RollupSource {
  readonly config: { rollupRows: number };
  readonly sockets: { values(): IterableIterator<TrackedSocket> };
  readonly processes: ReadonlyMap<number, ProcessInfo>;
  readonly byProcess: BoundedMap<number, ActivityCounters>;
  readonly byPeer: BoundedMap<string, ActivityCounters>;
  readonly byProcessPeer: BoundedMap<string, ActivityCounters>;
  readonly byService: BoundedMap<string, ActivityCounters>;
  readonly listeners: ReadonlyMap<string, Set<string>>;
  readonly exchangeTimings: { services(nowMs: number): ServiceTimings[] };
  serviceOf(s: TrackedSocket): string | null;
}

export interface Rollups {
  byState: StateCounts;
  processes: RollupList<ProcessRollup>;
  peers: RollupList<PeerRollup>;
  processPeers: RollupList<ProcessPeerRollup>;
  services: RollupList<ServiceRollup>;
  /** Every row, before the report limit: findings look at all of them. */
  all: { processes: ProcessRollup[]; peers: PeerRollup[]; processPeers: ProcessPeerRollup[]; services: ServiceRollup[] };
}

/** Accumulates one rollup key's sockets while the table is walked once. */
class SocketTally {
  readonly sockets: StateCounts = {};
  total = 0;
  queued = 0;
  closeWait: CloseWaitStats = {
    count: 0,
    oldestSeconds: null,
    oldestIsLowerBound: false,
    ages: { under10s: 0, under1m: 0, under10m: 0, over10m: 0 },
  };

  add(s: TrackedSocket, nowMs: number): void {
    this.sockets[s.state] = (this.sockets[s.state] ?? 0) + 1;
    this.total++;
    if (s.queued) this.queued++;
    if (s.state !== 'CLOSE_WAIT') return;
    const cw = this.closeWait;
    cw.count++;
    const age = Math.max(0, (nowMs - s.stateSinceMs) / 1000);
    if (cw.oldestSeconds === null || age > cw.oldestSeconds) {
      cw.oldestSeconds = age;
      cw.oldestIsLowerBound = s.stateSinceIsLowerBound;
    }
    if (age < 10) cw.ages.under10s++;
    else if (age < 60) cw.ages.under1m++;
    else if (age < 600) cw.ages.under10m++;
    else cw.ages.over10m++;
  }
}

const EMPTY_TALLY = new SocketTally();

/**
 * Listeners' accept queues as `ss -lnt` shows them, length/limit ("5/4"; "5/?" when the limit is
 * unknown), several listening sockets joined by commas; "-" when no inventory said.
 */
export function acceptQueueText(queues: readonly AcceptQueue[]): string {
  return queues.length === 0 ? '-' : queues.map((q) => `${q.length}/${q.limit ?? '?'}`).join(',');
}

/** The fullest of the queues, length over limit (0 when none has a known limit), to sort by. */
export function acceptQueueFill(queues: readonly AcceptQueue[]): number {
  return queues.reduce((m, q) => (q.limit ? Math.max(m, q.length / q.limit) : m), 0);
}

/** A peer's side for a table: "client" (of a service here), "server" (called from here), "both"; "-" unknown. */
export function peerSideText(seen: readonly PeerSide[]): string {
  const sides = new Set(seen.map((x) => x.side));
  return sides.size === 0 ? '-' : sides.size > 1 ? 'both' : [...sides][0]!;
}

/** The namespace it is seen from for a table, "4026531840"; "4026531840+1" when more; "-" unknown. */
export function peerNetnsText(seen: readonly PeerSide[]): string {
  const ns = [...new Set(seen.map((x) => x.netns))];
  return ns.length === 0 ? '-' : `${ns[0]}${ns.length > 1 ? `+${ns.length - 1}` : ''}`;
}

/** In words: "a client of a service here in netns 1 (3 sockets); a server called from netns 2 (4 sockets)". */
export function peerSeenText(seen: readonly PeerSide[]): string {
  return seen
    .map((x) => `${x.side === 'client' ? 'a client of a service here in' : 'a server called from'} netns ${x.netns} (${x.sockets} socket${x.sockets === 1 ? '' : 's'})`)
    .join('; ');
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Deep-frozen: shared by every row, so a change to one would be a change to all. */
function deepFreeze<T>(o: T): T {
  for (const v of Object.values(o as object)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  return Object.freeze(o);
}

/**
 * The stats of a row no event touched (on a big host, most peers and process-peer pairs): one object
 * shared by all of them, not fifteen new ones a row each summary (2.5 of 4.7 s of a summary of 100,000
 * sockets over 10,000 processes went to building zeros).
 */
const NO_ACTIVITY = deepFreeze(countedActivity(undefined, 0));

export function activityStats(c: ActivityCounters | undefined, nowMs: number): ActivityStats {
  return c ? countedActivity(c, nowMs) : NO_ACTIVITY;
}

function countedActivity(c: ActivityCounters | undefined, nowMs: number): ActivityStats {
  const rate = (w: { perSecond(now: number, s: number): number } | undefined, total: number) => ({
    total,
    perSecond10s: w ? round(w.perSecond(nowMs, 10)) : 0,
    perSecond1m: w ? round(w.perSecond(nowMs, 60)) : 0,
  });
  return {
    rstSent: { ...rate(c?.rstSentWindow, c?.rstSentTotal ?? 0), byReason: Object.fromEntries(c?.rstSentByReason ?? []) },
    rstReceived: rate(c?.rstReceivedWindow, c?.rstReceived ?? 0),
    errors: {
      ...rate(c?.errorWindow, [...(c?.errorsByErrno.values() ?? [])].reduce((a, b) => a + b, 0)),
      byErrno: Object.fromEntries(c?.errorsByErrno ?? []),
      epipeEconnresetPerSecond10s: c ? round(c.brokenWindow.perSecond(nowMs, 10)) : 0,
    },
    opened: rate(c?.openedWindow, c?.opened ?? 0),
    closed: rate(c?.closedWindow, c?.closed ?? 0),
    writesAfterPeerClose: c?.writesAfterCloseTotal ?? 0,
    acceptErrors: {
      ...rate(c?.acceptErrorWindow, [...(c?.acceptErrorsByErrno.values() ?? [])].reduce((a, b) => a + b, 0)),
      byErrno: Object.fromEntries(c?.acceptErrorsByErrno ?? []),
      byListener: Object.fromEntries(c?.acceptErrorsByListener ?? []),
      firstAtMs: c?.acceptErrorsFirstMs ?? null,
      lastAtMs: c?.acceptErrorsLastMs ?? null,
    },
    retransmits: { ...rate(c?.retransmitWindow, c?.retransmits ?? 0), syn: c?.synRetransmits ?? 0 },
    connectionErrors: {
      total: [...(c?.connectionErrorsByErrno.values() ?? [])].reduce((a, b) => a + b, 0),
      byErrno: Object.fromEntries(c?.connectionErrorsByErrno ?? []),
    },
    connectTimeouts: { ...rate(c?.connectTimeoutWindow, c?.connectTimeouts ?? 0), byPort: Object.fromEntries(c?.connectTimeoutsByPort ?? []) },
  };
}

function base(t: SocketTally, c: ActivityCounters | undefined, nowMs: number): RollupBase {
  return { sockets: t.sockets, totalSockets: t.total, queuedSockets: t.queued, closeWait: t.closeWait, activity: activityStats(c, nowMs) };
}

function tally<K>(map: Map<K, SocketTally>, key: K): SocketTally {
  let t = map.get(key);
  if (!t) map.set(key, (t = new SocketTally()));
  return t;
}

/** Worst first: CLOSE_WAIT, then problems per second, then size. */
function byConcern(a: RollupBase, b: RollupBase): number {
  const trouble = (r: RollupBase) =>
    r.activity.rstSent.perSecond1m + r.activity.rstReceived.perSecond1m + r.activity.errors.perSecond1m + r.activity.acceptErrors.perSecond1m +
    r.activity.retransmits.perSecond1m + r.activity.connectTimeouts.perSecond1m;
  return b.closeWait.count - a.closeWait.count || trouble(b) - trouble(a) || b.totalSockets - a.totalSockets;
}

function limit<T extends RollupBase>(rows: T[], max: number): RollupList<T> {
  rows.sort(byConcern);
  return { rows: rows.slice(0, max), omitted: Math.max(0, rows.length - max) };
}

export function buildRollups(core: RollupSource, nowMs: number): Rollups {
  const byState: StateCounts = {};
  const processes = new Map<number, SocketTally>();
  const peers = new Map<string, SocketTally>();
  const processPeers = new Map<string, SocketTally>();
  const services = new Map<string, SocketTally>();
  const names = new Map<number, string>();
  const serviceListeners = new Map<string, OwnerRef[]>();
  const serviceQueues = new Map<string, ListenerQueue[]>();
  const peerSides = new Map<string, Map<string, PeerSide>>();

  for (const s of core.sockets.values()) {
    byState[s.state] = (byState[s.state] ?? 0) + 1;
    const peer = hasPeer(s) ? s.peer.addr : null;
    for (const o of s.owners) {
      if (o.comm) names.set(o.pid, o.comm);
      tally(processes, o.pid).add(s, nowMs);
      if (peer) tally(processPeers, processPeerKey(o.pid, peer)).add(s, nowMs);
    }
    const service = core.serviceOf(s);
    if (peer) {
      tally(peers, peer).add(s, nowMs);
      // A socket on a listening port was accepted: its peer is a client; any other socket connected out.
      const side = service ? 'client' : 'server';
      const sides = peerSides.get(peer) ?? new Map<string, PeerSide>();
      const entry = sides.get(`${s.netns}|${side}`) ?? { netns: s.netns, side, sockets: 0 };
      entry.sockets++;
      sides.set(`${s.netns}|${side}`, entry);
      peerSides.set(peer, sides);
    }
    if (service) {
      tally(services, service).add(s, nowMs);
      if (s.state === 'LISTEN') {
        const listeners = serviceListeners.get(service);
        if (listeners) listeners.push(...s.owners);
        else serviceListeners.set(service, [...s.owners]);
        if (s.acceptQueue) {
          const queues = serviceQueues.get(service) ?? [];
          queues.push({ local: s.local, owners: s.owners, ...s.acceptQueue });
          serviceQueues.set(service, queues);
        }
      }
    }
  }
  // Processes and peers with activity but no socket left still deserve a row.
  for (const [pid] of core.byProcess.entries()) if (!processes.has(pid)) processes.set(pid, EMPTY_TALLY);
  for (const [peer] of core.byPeer.entries()) if (!peers.has(peer)) peers.set(peer, EMPTY_TALLY);
  for (const [key] of core.byProcessPeer.entries()) if (!processPeers.has(key)) processPeers.set(key, EMPTY_TALLY);
  for (const [key] of core.byService.entries()) if (!services.has(key) && core.listeners.has(key)) services.set(key, EMPTY_TALLY);

  const processRows: ProcessRollup[] = [...processes].map(([pid, t]) => {
    const info = core.processes.get(pid);
    return {
      pid,
      // The name events carried is newer than the last inventory's (a process may exec after it).
      comm: names.get(pid) ?? info?.comm ?? core.byProcess.get(pid)?.name ?? '',
      cmdline: info?.cmdline ?? '',
      fds: info?.fds ?? null,
      fdLimit: info?.fdLimit ?? null,
      placement: info?.placement ?? null,
      ...base(t, core.byProcess.get(pid), nowMs),
    };
  });
  // Processes near their fd limit matter even with no socket trouble.
  for (const info of core.processes.values()) {
    if (!processes.has(info.pid) && info.fdLimit && info.fds >= info.fdLimit * 0.5) {
      processRows.push({
        pid: info.pid,
        comm: info.comm,
        cmdline: info.cmdline,
        fds: info.fds,
        fdLimit: info.fdLimit,
        placement: info.placement ?? null,
        ...base(EMPTY_TALLY, undefined, nowMs),
      });
    }
  }
  const peerRows: PeerRollup[] = [...peers].map(([peer, t]) => ({
    peer,
    seenFrom: [...(peerSides.get(peer)?.values() ?? [])].sort((a, b) => b.sockets - a.sockets || a.netns - b.netns || a.side.localeCompare(b.side)),
    ...base(t, core.byPeer.get(peer), nowMs),
  }));
  const processPeerRows: ProcessPeerRollup[] = [...processPeers].map(([key, t]) => {
    const cut = key.indexOf('|');
    const pid = Number(key.slice(0, cut));
    return {
      pid,
      comm: core.processes.get(pid)?.comm ?? names.get(pid) ?? core.byProcessPeer.get(key)?.name ?? '',
      peer: key.slice(cut + 1),
      ...base(t, core.byProcessPeer.get(key), nowMs),
    };
  });
  const timings = new Map(core.exchangeTimings.services(nowMs).map((s) => [serviceKey(s.netns, s.port), s]));
  for (const key of timings.keys()) if (!services.has(key)) services.set(key, EMPTY_TALLY);
  const serviceRows: ServiceRollup[] = [...services].map(([key, t]) => {
    const [netns, port] = key.split('|').map(Number) as [number, number];
    const seen = new Set<number>();
    const listeners = (serviceListeners.get(key) ?? []).filter((o) => !seen.has(o.pid) && seen.add(o.pid));
    const acceptQueues = (serviceQueues.get(key) ?? []).sort((a, b) => (a.local.addr < b.local.addr ? -1 : a.local.addr > b.local.addr ? 1 : 0));
    return { netns, port, listeners, acceptQueues, timings: timings.get(key) ?? null, ...base(t, core.byService.get(serviceKey(netns, port)), nowMs) };
  });

  const rows = core.config.rollupRows;
  return {
    byState,
    processes: limit([...processRows], rows),
    peers: limit([...peerRows], rows),
    processPeers: limit([...processPeerRows], rows),
    services: limit([...serviceRows], rows),
    all: { processes: processRows, peers: peerRows, processPeers: processPeerRows, services: serviceRows },
  };
}
