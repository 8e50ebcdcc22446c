/**
 * The live core: events and inventories in, socket state, rollups and findings out. Pure: no I/O, no
 * timers, no clock of its own (time comes with the inputs), so every view and every test drives it the
 * same way.
 */
import type { SockEvent } from '../events/sock-event.js';
import type { TcpState } from '../events/tcp-names.js';
import { ActivityCounters } from './activity-counters.js';
import { BoundedMap } from './bounded-map.js';
import { DEFAULT_CORE_CONFIG, type CoreConfig } from './core-config.js';
import { findFindings } from './findings.js';
import type { Inventory, InventorySocket, ProcessInfo, StreamedInventory } from './inventory-model.js';
import { ExchangeTimingTracker, type TimingReading } from './exchange-timings.js';
import { ListenOverflowTracker, type ListenerQueueNow, type ListenerReading, type ListenOverflow, type NetstatSample } from './listen-overflows.js';
import { buildRollups } from './rollups.js';
import { hasPeer, processPeerKey, serviceKey } from './rollup-keys.js';
import type { ConnectionStory, CoreSummary, SocketView } from './summary-model.js';
import type { OwnerRef, TimelineEntry, TimelineStep, TrackedSocket } from './tracked-socket.js';

/** Events older than this that an inventory contradicts were missed, not merely still in flight. */
const RECONCILE_GRACE_MS = 1000;

/** States a socket leaves by closing without RST into a kernel TIME_WAIT socket. */
const TIME_WAIT_ENTRIES: ReadonlySet<string> = new Set(['FIN_WAIT1', 'FIN_WAIT2', 'CLOSING', 'TIME_WAIT']);

export class SocketCore {
  readonly config: CoreConfig;
  readonly sockets: BoundedMap<string, TrackedSocket>;
  readonly processes = new Map<number, ProcessInfo>();
  /** Per inventory: the one-owner list shared by every socket a process holds alone (see ownerRefs). */
  private readonly soleOwners = new Map<number, OwnerRef[]>();
  readonly byProcess: BoundedMap<number, ActivityCounters>;
  readonly byPeer: BoundedMap<string, ActivityCounters>;
  readonly byProcessPeer: BoundedMap<string, ActivityCounters>;
  readonly byService: BoundedMap<string, ActivityCounters>;
  /** Listening sockets per service key: which local ports are services. */
  readonly listeners = new Map<string, Set<string>>();
  /** Accept-queue overflows sampled from the kernel's counters, per listener where attributable. */
  readonly listenOverflows = new ListenOverflowTracker();
  /** Services' answer times and clients' waits, from the kernel's histograms (read each second). */
  readonly exchangeTimings = new ExchangeTimingTracker();
  readonly stories: ConnectionStory[] = [];
  eventsApplied = 0;
  eventsLost = 0;
  reconciledAway = 0;

  constructor(
    config: CoreConfig = DEFAULT_CORE_CONFIG,
    private readonly toEpochMs: (tsNs: bigint) => number = (ns) => Number(ns / 1_000_000n),
  ) {
    this.config = config;
    this.sockets = new BoundedMap(config.maxSockets);
    this.byProcess = new BoundedMap(config.maxRollupKeys);
    this.byPeer = new BoundedMap(config.maxRollupKeys);
    this.byProcessPeer = new BoundedMap(config.maxRollupKeys);
    this.byService = new BoundedMap(config.maxRollupKeys);
  }

  // ---------- inputs ----------

  /**
   * Reconciles with what exists now. Sockets the core did not know are added, with the age the kernel
   * can vouch for as a lower bound; known ones take the inventory's state and owners; ones the
   * inventory no longer has, and no event touched since, are gone.
   */
  applyInventory(inventory: Inventory | StreamedInventory): void {
    const at = inventory.takenAtMs;
    this.processes.clear();
    for (const p of inventory.processes) this.processes.set(p.pid, p);
    // Runs over every socket each reconcile: it allocates only for what changed (a daemon's resident
    // memory follows the peaks of this garbage).
    this.soleOwners.clear();
    for (const s of inventory.sockets) {
      const since = at - (s.ageLowerBoundMs ?? 0);
      const known = this.sockets.get(s.sock);
      if (known) {
        if (known.state !== s.state) this.enterState(known, s.state, since, true);
        if (s.owners.length > 0 && !this.sameOwners(known.owners, s.owners)) {
          known.owners = this.ownerRefs(s.owners);
          known.ownersFromEvents = false;
        }
        known.queued = waitsInAcceptQueue(s);
        known.acceptQueue = s.acceptQueue ?? null;
        known.lastSeenMs = Math.max(known.lastSeenMs, at);
        continue;
      }
      const tracked = newTrackedSocket(s, s.state, since, at, this.ownerRefs(s.owners));
      tracked.queued = waitsInAcceptQueue(s);
      tracked.acceptQueue = s.acceptQueue ?? null;
      if (s.state === 'CLOSE_WAIT') {
        tracked.peerClosedAtMs = since;
        tracked.peerCloseIsLowerBound = true;
      }
      this.sockets.set(s.sock, tracked);
      if (s.state === 'LISTEN') this.addListener(tracked);
    }
    // Every socket of the inventory was seen at `at` (or later, by an event): the rest are gone.
    const gone: TrackedSocket[] = [];
    for (const tracked of this.sockets.values()) if (tracked.lastSeenMs < at) gone.push(tracked);
    for (const tracked of gone) {
      this.forget(tracked);
      // Gone without an event saying so: missed or lost events (a destroy still in flight is not counted).
      if (tracked.lastSeenMs < at - RECONCILE_GRACE_MS) this.reconciledAway++;
    }
  }

  /**
   * Owner lists for an inventory's sockets. A process's sockets mostly have it as their only owner: they
   * share one list (a server with 100 000 sockets holds one, not 100 000), valid for this inventory.
   */
  private ownerRefs(pids: readonly number[]): OwnerRef[] {
    if (pids.length === 1) {
      const pid = pids[0]!;
      let sole = this.soleOwners.get(pid);
      if (!sole) this.soleOwners.set(pid, (sole = [{ pid, comm: this.processes.get(pid)?.comm ?? '' }]));
      return sole;
    }
    return pids.map((pid) => ({ pid, comm: this.processes.get(pid)?.comm ?? '' }));
  }

  /** Same pids in the same order, and the names still those of the processes now. */
  private sameOwners(refs: readonly OwnerRef[], pids: readonly number[]): boolean {
    if (refs.length !== pids.length) return false;
    for (let i = 0; i < pids.length; i++) {
      if (refs[i]!.pid !== pids[i] || refs[i]!.comm !== (this.processes.get(pids[i]!)?.comm ?? '')) return false;
    }
    return true;
  }

  /** Updates what is known of processes (fd counts move) without a full inventory. */
  applyProcesses(processes: readonly ProcessInfo[]): void {
    this.processes.clear();
    for (const p of processes) this.processes.set(p.pid, p);
  }

  applyEvents(events: readonly SockEvent[]): void {
    for (const e of events) this.applyEvent(e);
  }

  /** Losses reported by the source: shown in totals, so drift is never silent. */
  noteLost(count: number): void {
    this.eventsLost += count;
  }

  /** Drops TIME_WAIT sockets the kernel has let go of by now. */
  expire(nowMs: number): void {
    for (const s of [...this.sockets.values()]) {
      if (s.expiresAtMs !== null && s.expiresAtMs <= nowMs) this.forget(s);
    }
  }

  /**
   * Listen counters sampled per namespace, with the listeners read from the kernel at that moment (their
   * queues and drop counters), 'inventory' where the backend cannot read them (the last inventory's
   * queues, without drop counts), or null when nothing grew and they were not read: the overflows since
   * the previous sample, attributed where the listeners' own drop counters say whose they were (see
   * listen-overflows.ts).
   */
  applyListenCounters(atMs: number, counters: readonly NetstatSample[], reading: ListenerReading | 'inventory' | null): ListenOverflow[] {
    const read = reading === 'inventory' ? { queues: this.inventoriedQueues(), dropsCounted: false } : reading;
    return this.listenOverflows.sample(atMs, counters, read);
  }

  /**
   * A reading of the kernel's answer-time histograms (cumulative) at `atMs`; tickSeconds is the kernel's
   * tick (1 / HZ), null when unknown. Returns the kernel keys gone quiet, for the kernel to forget.
   */
  applyExchangeTimings(atMs: number, tickSeconds: number | null, readings: readonly TimingReading[], misses?: { peer: number; lost: number; late: number }): Uint8Array[] {
    return this.exchangeTimings.apply(atMs, tickSeconds, readings, misses);
  }

  private inventoriedQueues(): ListenerQueueNow[] {
    const queues: ListenerQueueNow[] = [];
    for (const [, socks] of this.listeners) {
      for (const sock of socks) {
        const s = this.sockets.get(sock);
        if (!s?.acceptQueue || s.acceptQueue.limit === null) continue;
        queues.push({
          netns: s.netns,
          proc: s.owners.length === 1 ? s.owners[0]! : null,
          local: s.local,
          queue: s.acceptQueue.length,
          limit: s.acceptQueue.limit,
          drops: null,
          listeners: 1,
        });
      }
    }
    return queues;
  }

  // ---------- outputs ----------

  summarize(nowMs: number): CoreSummary {
    this.expire(nowMs);
    const rollups = buildRollups(this, nowMs);
    return {
      atMs: nowMs,
      totals: {
        sockets: this.sockets.size,
        byState: rollups.byState,
        eventsApplied: this.eventsApplied,
        eventsLost: this.eventsLost,
        socketEvictions: this.sockets.evictions,
        rollupEvictions:
          this.byProcess.evictions + this.byPeer.evictions + this.byProcessPeer.evictions + this.byService.evictions,
        reconciledAway: this.reconciledAway,
        timingMisses: { ...this.exchangeTimings.misses },
      },
      processes: rollups.processes,
      peers: rollups.peers,
      processPeers: rollups.processPeers,
      services: rollups.services,
      findings: findFindings(this, rollups, nowMs),
      stories: [...this.stories],
    };
  }

  socketViews(nowMs: number): SocketView[] {
    const views: SocketView[] = [];
    for (const s of this.sockets.values()) {
      const procs = s.owners.map((o) => ({ pid: o.pid, comm: o.comm }));
      views.push({
        sock: s.sock,
        state: s.state,
        proc: procs[0] ?? null,
        procs,
        local: s.local,
        peer: s.peer,
        netns: s.netns,
        acceptQueue: s.state === 'LISTEN' ? s.acceptQueue : null,
        stateAgeSeconds: Math.max(0, (nowMs - s.stateSinceMs) / 1000),
        stateAgeIsLowerBound: s.stateSinceIsLowerBound,
        rstSent: s.rstSent,
        rstReceived: s.rstReceived,
        errors: s.errors,
      });
    }
    return views;
  }

  /** The timeline of a connection, live or recently finished. */
  story(sock: string): ConnectionStory | null {
    const live = this.sockets.get(sock);
    if (live) return storyOf(live);
    return this.stories.find((s) => s.sock === sock) ?? null;
  }

  // ---------- event handling ----------

  private applyEvent(e: SockEvent): void {
    this.eventsApplied++;
    const at = this.toEpochMs(e.tsNs);
    if (e.kind === 'rst_sent' && e.noSocket) {
      // No socket: the RST still counts toward the peer it went to.
      if (hasPeer(e)) this.peerCounters(e.peer.addr).rstSent(at, e.reason ?? 'UNKNOWN');
      return;
    }
    if (e.kind === 'connection_error' && e.sock === '0') {
      // The bpftrace backend could not tell the socket (nor so its owner): it counts toward the peer.
      if (hasPeer(e)) this.peerCounters(e.peer.addr).connectionFailed(at, e.errno ?? 'UNKNOWN', e.unanswered, e.peer.port);
      return;
    }
    const s = this.trackedFor(e, at);
    this.takeOwner(s, e);
    s.lastSeenMs = Math.max(s.lastSeenMs, at);

    switch (e.kind) {
      case 'state_change':
        this.onStateChange(s, e.oldState ?? 'UNKNOWN', e.state ?? 'UNKNOWN', at);
        break;
      case 'rst_sent':
        s.rstSent++;
        this.record(s, at, 'rst_sent', e.reason ?? undefined);
        for (const c of this.countersOf(s)) c.rstSent(at, e.reason ?? 'UNKNOWN');
        break;
      case 'rst_received':
        s.rstReceived++;
        this.record(s, at, 'rst_received', e.state ?? undefined);
        for (const c of this.countersOf(s)) c.rstReceivedAt(at);
        // In CLOSE_WAIT the peer's socket is gone: its RST answers data this side wrote after the FIN.
        if (s.state === 'CLOSE_WAIT') this.noteWriteAfterClose(s, at);
        break;
      case 'send_error':
      case 'recv_error':
        s.errors++;
        this.record(s, at, e.kind, e.errno ?? undefined);
        for (const c of this.countersOf(s)) c.error(at, e.errno ?? 'UNKNOWN');
        if (e.kind === 'send_error' && s.peerClosedAtMs !== null) this.noteWriteAfterClose(s, at);
        break;
      case 'destroy':
        this.onDestroy(s, at);
        break;
      case 'retransmit':
        this.record(s, at, 'retransmit', e.state ?? undefined);
        for (const c of this.countersOf(s)) c.retransmitted(at, e.state === 'SYN_SENT');
        break;
      case 'connection_error':
        s.errors++;
        this.record(s, at, 'connection_error', e.errno ?? undefined);
        for (const c of this.countersOf(s)) c.connectionFailed(at, e.errno ?? 'UNKNOWN', e.unanswered, e.peer.port);
        break;
      case 'accept_error': {
        // s is the listener; the event's owner is the process whose accept() failed.
        const listener = `${e.local.addr}:${e.local.port}`;
        for (const c of this.countersOf(s)) c.acceptFailed(at, e.errno ?? 'UNKNOWN', listener);
        break;
      }
    }
  }

  /**
   * The kernel's owner at the event. A process not among the known holders is the one using the socket
   * now (it was handed over, or its holders left): it replaces them. Holders an inventory found (a
   * socket shared after fork) stay while the events name one of them. An event naming nobody where an
   * earlier event named someone means that process is gone; TIME_WAIT sockets have no owner anyway.
   * Owner lists may be shared between sockets (see ownerRefs): replaced, never changed in place.
   */
  private takeOwner(s: TrackedSocket, e: SockEvent): void {
    const owner = e.owner;
    if (owner) {
      s.queued = owner.source === 'listener';
      const known = s.owners.find((o) => o.pid === owner.pid);
      if (known && known.comm === owner.comm) return;
      s.owners = known
        ? s.owners.map((o) => (o.pid === owner.pid ? { pid: o.pid, comm: owner.comm } : o))
        : [{ pid: owner.pid, comm: owner.comm }];
      if (!known) s.ownersFromEvents = true;
    } else if (s.ownersFromEvents && s.owners.length > 0 && e.state !== 'TIME_WAIT' && s.state !== 'TIME_WAIT') {
      s.owners = [];
    }
  }

  private onStateChange(s: TrackedSocket, from: TcpState | 'UNKNOWN', to: TcpState | 'UNKNOWN', at: number): void {
    if (to === 'UNKNOWN') return;
    if (to === 'ESTABLISHED' && (from === 'SYN_SENT' || from === 'SYN_RECV')) {
      this.record(s, at, 'opened');
      for (const c of this.countersOf(s)) c.openedAt(at);
    } else if (to === 'CLOSE_WAIT') {
      s.peerClosedAtMs = at;
      s.peerCloseIsLowerBound = false;
      this.record(s, at, 'peer_closed');
    } else if (to === 'FIN_WAIT1' || to === 'LAST_ACK') {
      this.record(s, at, 'app_closed', to);
    } else if (to === 'CLOSE') {
      // A clean active close leaves a TIME_WAIT socket behind; an RST or a refused connect does not.
      s.closedIntoTimeWait = TIME_WAIT_ENTRIES.has(from) && s.rstSent === 0 && s.rstReceived === 0;
      this.record(s, at, 'closed', from);
      if (from !== 'LISTEN' && from !== 'SYN_SENT' && from !== 'CLOSE') {
        for (const c of this.countersOf(s)) c.closedAt(at);
      }
    }
    if (to === 'LISTEN') this.addListener(s);
    if (from === 'LISTEN' && to === 'CLOSE') this.removeListener(s);
    this.enterState(s, to, at, false);
  }

  private onDestroy(s: TrackedSocket, at: number): void {
    if (s.closedIntoTimeWait) {
      // The kernel swaps in a TIME_WAIT socket with the same cookie; it lives timeWaitSeconds.
      this.enterState(s, 'TIME_WAIT', at, false);
      s.expiresAtMs = at + this.config.timeWaitSeconds * 1000;
      this.record(s, at, 'time_wait');
      return;
    }
    this.forget(s);
  }

  private noteWriteAfterClose(s: TrackedSocket, at: number): void {
    if (s.wroteAfterPeerClose || s.peerClosedAtMs === null) return;
    s.wroteAfterPeerClose = true;
    const sample = {
      atMs: at,
      delayMs: Math.max(0, at - s.peerClosedAtMs),
      delayIsLowerBound: s.peerCloseIsLowerBound,
      peer: s.peer.addr,
      sock: s.sock,
    };
    for (const o of s.owners) this.processCounters(o).wroteAfterClose(sample);
    if (hasPeer(s)) this.peerCounters(s.peer.addr).wroteAfterClose(sample);
  }

  // ---------- bookkeeping ----------

  private trackedFor(e: SockEvent, at: number): TrackedSocket {
    const known = this.sockets.get(e.sock);
    if (known) {
      // Ports can be 0 early (SYN_SENT before the port is chosen): keep the fullest view.
      if (known.local.port === 0 && e.local.port !== 0) known.local = e.local;
      if (known.peer.port === 0 && e.peer.port !== 0) known.peer = e.peer;
      return known;
    }
    // First seen now: it may have been in this state before, so the time is a lower bound.
    const tracked = newTrackedSocket(e, (e.kind === 'state_change' ? e.oldState : e.state) ?? 'UNKNOWN', at, at, []);
    this.sockets.set(e.sock, tracked);
    return tracked;
  }

  private enterState(s: TrackedSocket, state: TcpState, since: number, lowerBound: boolean): void {
    s.state = state;
    s.stateSinceMs = since;
    s.stateSinceIsLowerBound = lowerBound;
    if (state !== 'TIME_WAIT') s.expiresAtMs = null;
  }

  private record(s: TrackedSocket, atMs: number, step: TimelineStep, detail?: string): void {
    const last = s.timeline[s.timeline.length - 1];
    if (last !== undefined && last.step === step && last.detail === detail) {
      last.repeats = (last.repeats ?? 0) + 1;
      last.lastAtMs = atMs;
      return;
    }
    const entry: TimelineEntry = { atMs, step };
    if (detail) entry.detail = detail;
    if (s.peerClosedAtMs !== null && step !== 'peer_closed') entry.afterPeerCloseMs = Math.max(0, atMs - s.peerClosedAtMs);
    s.timeline.push(entry);
    if (s.timeline.length > this.config.maxTimelineEntries) s.timeline.shift();
  }

  /** Leaves the table; a connection that ended badly keeps its story. */
  private forget(s: TrackedSocket): void {
    this.sockets.delete(s.sock);
    if (s.state === 'LISTEN') this.removeListener(s);
    if (s.rstSent + s.rstReceived + s.errors > 0) {
      this.stories.push(storyOf(s));
      if (this.stories.length > this.config.maxStories) this.stories.shift();
    }
  }

  private addListener(s: TrackedSocket): void {
    const key = serviceKey(s.netns, s.local.port);
    const set = this.listeners.get(key) ?? new Set<string>();
    set.add(s.sock);
    this.listeners.set(key, set);
  }

  private removeListener(s: TrackedSocket): void {
    const key = serviceKey(s.netns, s.local.port);
    const set = this.listeners.get(key);
    set?.delete(s.sock);
    if (set && set.size === 0) this.listeners.delete(key);
  }

  /** The service a socket belongs to: a listening port in its namespace, if it is one. */
  serviceOf(s: { netns: number; local: { port: number } }): string | null {
    const key = serviceKey(s.netns, s.local.port);
    return this.listeners.has(key) ? key : null;
  }

  private processCounters(owner: OwnerRef): ActivityCounters {
    const c = this.byProcess.upsert(owner.pid, () => new ActivityCounters());
    if (owner.comm) c.name = owner.comm;
    return c;
  }

  private peerCounters(peer: string): ActivityCounters {
    return this.byPeer.upsert(peer, () => new ActivityCounters());
  }

  /** Every rollup a socket's activity counts toward. */
  private countersOf(s: TrackedSocket): ActivityCounters[] {
    const out: ActivityCounters[] = [];
    const peer = hasPeer(s) ? s.peer.addr : null;
    for (const o of s.owners) {
      out.push(this.processCounters(o));
      if (peer) {
        const pair = this.byProcessPeer.upsert(processPeerKey(o.pid, peer), () => new ActivityCounters());
        if (o.comm) pair.name = o.comm;
        out.push(pair);
      }
    }
    if (peer) out.push(this.peerCounters(peer));
    const service = this.serviceOf(s);
    if (service && s.state !== 'LISTEN') out.push(this.byService.upsert(service, () => new ActivityCounters()));
    return out;
  }
}

function storyOf(s: TrackedSocket): ConnectionStory {
  return {
    sock: s.sock,
    owners: s.owners.map((o: OwnerRef) => ({ ...o })),
    local: s.local,
    peer: s.peer,
    state: s.state,
    timeline: s.timeline.map((t) => ({ ...t })),
  };
}

/** A socket as first seen (by an inventory or an event): in `state` since at most `sinceMs`. */
/** A connected socket no process holds as a file (no inode) is still in its listener's queue. */
function waitsInAcceptQueue(s: InventorySocket): boolean {
  return s.inode === 0 && (s.state === 'ESTABLISHED' || s.state === 'CLOSE_WAIT' || s.state === 'SYN_RECV');
}

function newTrackedSocket(
  from: Pick<TrackedSocket, 'sock' | 'family' | 'netns' | 'local' | 'peer'>,
  state: TcpState,
  sinceMs: number,
  seenMs: number,
  owners: OwnerRef[],
): TrackedSocket {
  return {
    sock: from.sock,
    family: from.family,
    netns: from.netns,
    local: from.local,
    peer: from.peer,
    state,
    stateSinceMs: sinceMs,
    stateSinceIsLowerBound: true,
    owners,
    ownersFromEvents: false,
    queued: false,
    acceptQueue: null,
    peerClosedAtMs: null,
    peerCloseIsLowerBound: false,
    wroteAfterPeerClose: false,
    rstSent: 0,
    rstReceived: 0,
    errors: 0,
    closedIntoTimeWait: false,
    expiresAtMs: null,
    lastSeenMs: seenMs,
    timeline: [],
  };
}
