/**
 * Accept-queue overflows, attributed to listeners. When a listener's accept queue is full the kernel
 * drops the SYN in tcp_conn_request (or refuses the handshake's final ACK in tcp_v4/v6_syn_recv_sock)
 * and counts it per network namespace, TcpExt ListenOverflows (/proc/<pid>/net/netstat), and in the
 * listener's own drop counter: both paths end in tcp_listendrop(), which increments the listener's
 * sk_drops with LINUX_MIB_LISTENDROPS. No tracepoint and, for the SYN, no drop reason says which
 * listener it was.
 *
 * So the namespace's counters are sampled, and when they grew, every listener's drop counter is read
 * (the kernel's socket walk, `ss -lntm`'s d<N>) and compared with the previous reading. What the
 * namespace counted goes to the listener whose own counter grew, when it is the only one; several
 * grew, each gets its own growth only when that is exact (every listen drop was an overflow and every
 * listener drop a listen drop). A listener full at the sample is no evidence: it may be idle while
 * another one overflowed in a burst and drained between two samples. Where the counters cannot say, the
 * overflows are reported for nobody, with the reason. Pure: the caller reads the counters and the
 * listeners and passes plain numbers.
 *
 * Clients: a SYN dropped for a full queue carries no address anywhere. A final ACK refused for one is
 * freed with the drop reason TCP_LISTEN_OVERFLOW (6.15+), whose packet names the client; the kernel
 * side counts those per client (cumulative), read with the listeners, and each event lists the clients
 * refused since the previous reading at its listener's port (`peers`).
 */
import type { Endpoint } from '../events/sock-event.js';
import { BoundedMap } from './bounded-map.js';
import { RateWindow } from './rate-window.js';
import type { OwnerRef } from './tracked-socket.js';

/** One namespace's TcpExt counters at a sample. */
export interface NetstatSample {
  netns: number;
  /** ListenOverflows: handshakes dropped because a listener's accept queue was full. */
  listenOverflows: number;
  /** ListenDrops: every handshake a listener dropped (overflows included). */
  listenDrops: number;
}

/**
 * A listener (or the listeners sharing owner, namespace, address and port: SO_REUSEPORT) at the
 * sample: its accept queue, and what it dropped since listen().
 */
export interface ListenerQueueNow {
  netns: number;
  /** Its owner, null when none is known. */
  proc: OwnerRef | null;
  local: Endpoint;
  queue: number;
  limit: number;
  /** sk_drops, summed over the listeners here (modulo 2^32); null where the backend cannot read it. */
  drops: number | null;
  /** Listening sockets summed here; null where unknown. */
  listeners: number | null;
}

/** The listeners read from the kernel at a sample (the socket walk), or from the last inventory. */
export interface ListenerReading {
  queues: readonly ListenerQueueNow[];
  /** Whether `drops` was read for every listener (the kernel's walk); false: no drop counts. */
  dropsCounted: boolean;
  /**
   * Each namespace's counters read again right after the walk: overflows counted while it ran may be
   * in a listener's count already and not yet in the sample's (or the other way round).
   */
  after?: readonly NetstatSample[];
  /** Whether every listener is in `queues` (the walk's table did not fill). */
  complete?: boolean;
  /** Namespaces whose listeners could not be read (the walk failed there): none of theirs is in `queues`. */
  unread?: readonly number[];
  /** Clients whose final ACK a full queue refused, counted since start (absent: the kernel names none). */
  refusedAcks?: readonly RefusedAcksNow[];
}

/** A client's final ACKs refused by a full accept queue at an address and port of a namespace, since start. */
export interface RefusedAcksNow {
  netns: number;
  /** The address and port the client knocked at. */
  local: Endpoint;
  peer: string;
  count: number;
}

/** A client refused, and how many of its final ACKs. */
export interface RefusedPeer {
  addr: string;
  count: number;
}

/** Clients listed per event and kept per listener, the most refused first. */
export const REFUSED_PEERS_SHOWN = 16;

export type OverflowAttribution =
  | 'only listener whose drop counter grew'
  | 'drop counters grew by exactly the overflows'
  | 'several listeners dropped'
  | 'no listener drop counted'
  | 'overflows counted while listeners were read'
  | 'listeners changed since the last reading'
  | 'not every listener was read'
  | 'no earlier drop counts'
  | 'no listener drop counts on this backend';

/** What one sample found in one namespace: the `listen_overflow` event. */
export interface ListenOverflow {
  atMs: number;
  netns: number;
  /** ListenOverflows counted since the previous sample (the part given to this event's listener, or to none). */
  count: number;
  /** ListenDrops the namespace counted since the previous sample (overflows and other listen drops). */
  drops: number;
  /** The listener's owner and address when its own drop counter says it overflowed; null otherwise. */
  proc: OwnerRef | null;
  local: Endpoint | null;
  /** The dropped handshake's peer: the counters carry none (see peers). */
  peer: Endpoint | null;
  /**
   * Clients whose final ACK the full queue refused since the previous reading, at this listener's port
   * (or, naming none, anywhere in the namespace): the only overflows the kernel names a client for
   * (6.15+). At most REFUSED_PEERS_SHOWN, the most refused first; `refused` counts them all.
   */
  peers: RefusedPeer[];
  refused: number;
  queue: number | null;
  limit: number | null;
  attribution: OverflowAttribution;
  /**
   * The listener named; when none is: the listeners whose drop counters grew (any of them may have
   * overflowed), or, without drop counts, those full at the sample. Empty when there is none.
   */
  candidates: { proc: OwnerRef | null; local: Endpoint; queue: number; limit: number }[];
}

/** A listener's overflows so far, for findings and counters. */
export interface ListenerOverflows {
  netns: number;
  proc: OwnerRef | null;
  local: Endpoint;
  total: number;
  window: RateWindow;
  /** Its queue and limit at the latest overflow. */
  queue: number;
  limit: number;
  firstAtMs: number;
  lastAtMs: number;
  /** How its latest overflows were attributed. */
  attribution: OverflowAttribution;
  /** Clients whose final ACK it refused, since start, per address (bounded). */
  refusedPeers: Map<string, number>;
}

/** The kernel's own test (sk_acceptq_is_full): a queue is full once it holds more than its limit. */
export function queueIsFull(q: { queue: number; limit: number }): boolean {
  return q.queue > q.limit;
}

/** One namespace's listeners at the last walk, and the counters read just before it. */
interface DropBaseline {
  counters: NetstatSample;
  /** Overflows the namespace counted while the walk ran (at most that many may be missing from the growth since). */
  overflowsDuringWalk: number;
  /** Listen drops counted while the walk ran. */
  dropsDuringWalk: number;
  listeners: Map<string, ListenerQueueNow>;
  complete: boolean;
}

const listenerKey = (q: ListenerQueueNow) => `${q.local.addr}|${q.local.port}|${q.proc?.pid ?? 0}`;
const candidate = (q: ListenerQueueNow) => ({ proc: q.proc, local: q.local, queue: q.queue, limit: q.limit });

export class ListenOverflowTracker {
  private readonly previous = new Map<number, NetstatSample>();
  private readonly baselines = new Map<number, DropBaseline>();
  /** Whether the last reading had drop counts (false: the backend has none; only overflows call for a reading). */
  private dropsCounted = true;
  /** Per listener (namespace, address, port, owner): overflows its own drop counter accounts for. */
  readonly byListener: BoundedMap<string, ListenerOverflows>;
  /** Per namespace: overflows no listener's drop counter accounts for. */
  readonly unattributed = new Map<number, { total: number; window: RateWindow; last: ListenOverflow }>();
  total = 0;
  /** Refused final ACKs per namespace, address, port and client at the last reading (cumulative). */
  private refusedBefore = new Map<string, number>();

  constructor(maxListeners = 1024) {
    this.byListener = new BoundedMap(maxListeners);
  }

  /** Whether any namespace counted overflows since its previous sample. */
  grew(counters: readonly NetstatSample[]): boolean {
    return counters.some((c) => {
      const before = this.previous.get(c.netns);
      return before !== undefined && c.listenOverflows > before.listenOverflows;
    });
  }

  /**
   * Whether the listeners are worth reading at this sample: a namespace counted overflows, or (where
   * drops can be counted) one has no reading of its listeners' drops yet, or its listen counters moved
   * since that reading (so the next overflow compares with a reading taken when they last moved).
   */
  wantsReading(counters: readonly NetstatSample[]): boolean {
    if (this.grew(counters)) return true;
    if (!this.dropsCounted) return false;
    return counters.some((c) => {
      const base = this.baselines.get(c.netns);
      return !base || !sameCounters(base.counters, c);
    });
  }

  /**
   * Counters sampled at `atMs`, with the listeners read at that moment (null: not read, nothing
   * grew): the overflows each namespace counted since its previous sample, attributed. A namespace's
   * first sample is its baseline; a counter that went down (the namespace was replaced under the same
   * inode) starts a new one; namespaces not sampled are forgotten.
   */
  sample(atMs: number, counters: readonly NetstatSample[], reading: ListenerReading | null): ListenOverflow[] {
    const out: ListenOverflow[] = [];
    const seen = new Set<number>();
    if (reading) this.dropsCounted = reading.dropsCounted;
    const refused = reading?.refusedAcks ? this.refusedSince(reading.refusedAcks) : [];
    const told = new Set<number>(); // namespaces whose refused clients went into an event (or a baseline)
    for (const now of counters) {
      seen.add(now.netns);
      const before = this.previous.get(now.netns);
      this.previous.set(now.netns, now);
      if (!before) told.add(now.netns); // a baseline: what was refused before it is never reported
      const base = this.baselines.get(now.netns);
      const listeners = reading?.dropsCounted && !reading.unread?.includes(now.netns) ? listenersIn(reading.queues, now.netns) : null;
      if (before && now.listenOverflows > before.listenOverflows) {
        const overflows = this.attribute(atMs, now, before, base, listeners, reading);
        givePeers(overflows, refused.filter((r) => r.netns === now.netns));
        told.add(now.netns);
        for (const o of overflows) this.count(o);
        out.push(...overflows);
      }
      if (listeners) {
        const after = reading!.after?.find((a) => a.netns === now.netns);
        this.baselines.set(now.netns, {
          counters: now,
          overflowsDuringWalk: after ? Math.max(0, after.listenOverflows - now.listenOverflows) : Infinity,
          dropsDuringWalk: after ? Math.max(0, after.listenDrops - now.listenDrops) : Infinity,
          listeners,
          complete: reading!.complete ?? false,
        });
      } else if (base && !sameCounters(base.counters, now)) {
        this.baselines.delete(now.netns); // the counters moved unread: the reading no longer matches them
      }
    }
    // Refusals read before their namespace's counters showed them: kept for its next event.
    for (const r of refused) if (!told.has(r.netns)) this.refusedBefore.set(refusedKey(r), (this.refusedBefore.get(refusedKey(r)) ?? r.count) - r.count);
    for (const netns of [...this.previous.keys()]) if (!seen.has(netns)) this.previous.delete(netns);
    for (const netns of [...this.baselines.keys()]) if (!seen.has(netns)) this.baselines.delete(netns);
    for (const netns of [...this.unattributed.keys()]) if (!seen.has(netns)) this.unattributed.delete(netns);
    return out;
  }

  /** One namespace's overflows since `before`, given to the listeners whose own drop counters explain them. */
  private attribute(
    atMs: number,
    now: NetstatSample,
    before: NetstatSample,
    base: DropBaseline | undefined,
    listeners: Map<string, ListenerQueueNow> | null,
    reading: ListenerReading | null,
  ): ListenOverflow[] {
    const count = now.listenOverflows - before.listenOverflows;
    const drops = Math.max(0, now.listenDrops - before.listenDrops);
    const event = (n: number, attribution: OverflowAttribution, named: ListenerQueueNow | null, candidates: ListenerQueueNow[]): ListenOverflow => ({
      atMs,
      netns: now.netns,
      count: n,
      drops,
      proc: named?.proc ?? null,
      local: named?.local ?? null,
      peer: null,
      peers: [],
      refused: 0,
      queue: named?.queue ?? null,
      limit: named?.limit ?? null,
      attribution,
      candidates: (named ? [named] : candidates).map(candidate),
    });
    if (!listeners && reading?.dropsCounted) return [event(count, 'not every listener was read', null, [])];
    if (!listeners) {
      const full = (reading?.queues ?? []).filter((q) => q.netns === now.netns && queueIsFull(q));
      return [event(count, 'no listener drop counts on this backend', null, full)];
    }
    if (!base || !sameCounters(base.counters, before)) return [event(count, 'no earlier drop counts', null, [])];
    // A listener left out of either reading (the walk's table full) may be the one that overflowed.
    if (!base.complete || reading?.complete === false) return [event(count, 'not every listener was read', null, [])];
    const grown: { q: ListenerQueueNow; by: number }[] = [];
    let changed = false;
    for (const [key, q] of listeners) {
      const was = base.listeners.get(key);
      if (!was) {
        // Made since the last reading: a socket's sk_drops starts at 0 (the reading was whole, and a
        // listener that changed owner leaves its former row, which makes `changed` below).
        if (q.drops! > 0) grown.push({ q, by: q.drops! });
      } else if (q.drops! < was.drops! || (q.listeners ?? 0) < (was.listeners ?? 0)) {
        changed = true; // one of a SO_REUSEPORT group closed (or moved): its drops left the sum
      } else if (q.drops! > was.drops!) {
        grown.push({ q, by: q.drops! - was.drops! });
      }
    }
    for (const key of base.listeners.keys()) if (!listeners.has(key)) changed = true;
    const candidates = grown.map((g) => g.q);
    // A listener that closed or changed owner since the last reading may be the one that overflowed.
    if (changed) return [event(count, 'listeners changed since the last reading', null, candidates)];
    if (grown.length === 0) return [event(count, 'no listener drop counted', null, [])];
    if (grown.length === 1) {
      // Overflows counted while the last walk ran may sit in a listener's reading already (so in no
      // growth since): at most that many may be another listener's. The rest are this one's.
      const named = Math.max(0, count - base.overflowsDuringWalk);
      const out: ListenOverflow[] = [];
      if (named > 0) out.push(event(named, 'only listener whose drop counter grew', grown[0]!.q, []));
      if (count > named) out.push(event(count - named, 'overflows counted while listeners were read', null, candidates));
      return out;
    }
    // Several grew: each by exactly its overflows when every listen drop was an overflow, every listener
    // drop a listen drop, and nothing moved while the last walk ran.
    const sum = grown.reduce((n, g) => n + g.by, 0);
    if (base.dropsDuringWalk === 0 && sum === drops && drops === count) {
      return grown.map((g) => event(g.by, 'drop counters grew by exactly the overflows', g.q, []));
    }
    return [event(count, 'several listeners dropped', null, candidates)];
  }

  /** Each client's refused final ACKs since the previous reading (one evicted and back counts from 0). */
  private refusedSince(now: readonly RefusedAcksNow[]): RefusedAcksNow[] {
    const grown: RefusedAcksNow[] = [];
    const next = new Map<string, number>();
    for (const r of now) {
      const key = refusedKey(r);
      next.set(key, r.count);
      const before = this.refusedBefore.get(key) ?? 0;
      const by = r.count >= before ? r.count - before : r.count;
      if (by > 0) grown.push({ ...r, count: by });
    }
    this.refusedBefore = next; // bounded by the kernel's table
    return grown;
  }

  private count(o: ListenOverflow): void {
    this.total += o.count;
    if (o.proc !== null || o.local !== null) {
      this.countFor(o);
      return;
    }
    const u = this.unattributed.get(o.netns) ?? { total: 0, window: new RateWindow(), last: o };
    u.total += o.count;
    u.window.add(o.atMs, o.count);
    u.last = o;
    this.unattributed.set(o.netns, u); // the candidates are named in the event, counted for none
  }

  private countFor(o: ListenOverflow): void {
    const local = o.local!;
    const key = `${o.netns}|${local.addr}|${local.port}|${o.proc?.pid ?? 0}`;
    const l = this.byListener.upsert(key, () => ({
      netns: o.netns,
      proc: o.proc,
      local,
      total: 0,
      window: new RateWindow(),
      queue: o.queue ?? 0,
      limit: o.limit ?? 0,
      firstAtMs: o.atMs,
      lastAtMs: o.atMs,
      attribution: o.attribution,
      refusedPeers: new Map(),
    }));
    for (const p of o.peers) l.refusedPeers.set(p.addr, (l.refusedPeers.get(p.addr) ?? 0) + p.count);
    if (l.refusedPeers.size > REFUSED_PEERS_SHOWN) l.refusedPeers = new Map(mostRefused(l.refusedPeers).map((p) => [p.addr, p.count]));
    l.attribution = o.attribution;
    l.total += o.count;
    l.window.add(o.atMs, o.count);
    l.queue = o.queue ?? l.queue;
    l.limit = o.limit ?? l.limit;
    l.lastAtMs = o.atMs;
    if (o.proc) l.proc = o.proc;
  }
}

const refusedKey = (r: RefusedAcksNow) => `${r.netns}|${r.local.addr}|${r.local.port}|${r.peer}`;

/** Whether a client knocking at `at` reached this listener (bound there, or to every address of its family or both). */
function reaches(listener: Endpoint, at: Endpoint): boolean {
  if (listener.port !== at.port) return false;
  if (listener.addr === at.addr || listener.addr === '::') return true;
  return listener.addr === '0.0.0.0' && !at.addr.includes(':');
}

/**
 * The clients refused in one namespace go to the events naming their listener; the rest to the event
 * naming none (there is one at most per sample: the overflows no drop counter accounted for).
 */
function givePeers(events: ListenOverflow[], refused: RefusedAcksNow[]): void {
  const left = new Set(refused);
  for (const e of events) {
    if (!e.local) continue;
    const mine = refused.filter((r) => left.has(r) && reaches(e.local!, r.local));
    for (const r of mine) left.delete(r);
    setPeers(e, mine);
  }
  const unnamed = events.find((e) => !e.local);
  if (unnamed) setPeers(unnamed, [...left]);
}

function setPeers(e: ListenOverflow, refused: RefusedAcksNow[]): void {
  const byAddr = new Map<string, number>();
  for (const r of refused) byAddr.set(r.peer, (byAddr.get(r.peer) ?? 0) + r.count);
  e.peers = mostRefused(byAddr);
  e.refused = refused.reduce((n, r) => n + r.count, 0);
}

/** The most refused clients first (then by address, for a stable order), at most REFUSED_PEERS_SHOWN. */
export function mostRefused(byAddr: ReadonlyMap<string, number>): RefusedPeer[] {
  return [...byAddr]
    .map(([addr, count]) => ({ addr, count }))
    .sort((a, b) => b.count - a.count || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0))
    .slice(0, REFUSED_PEERS_SHOWN);
}

function sameCounters(a: NetstatSample, b: NetstatSample): boolean {
  return a.listenOverflows === b.listenOverflows && a.listenDrops === b.listenDrops;
}

/** A namespace's listeners by address, port and owner (a reading's rows are already summed that way). */
function listenersIn(queues: readonly ListenerQueueNow[], netns: number): Map<string, ListenerQueueNow> {
  const out = new Map<string, ListenerQueueNow>();
  for (const q of queues) {
    if (q.netns !== netns) continue;
    const key = listenerKey(q);
    const had = out.get(key);
    // The same address in both families' tables (rare: a v4-mapped listener) is summed like the kernel's rows.
    out.set(
      key,
      had
        ? { ...had, queue: had.queue + q.queue, limit: had.limit + q.limit, drops: (had.drops ?? 0) + (q.drops ?? 0), listeners: (had.listeners ?? 0) + (q.listeners ?? 0) }
        : q,
    );
  }
  return out;
}
