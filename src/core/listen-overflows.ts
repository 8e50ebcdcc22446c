/**
 * Accept-queue overflows, attributed to listeners. When a listener's accept queue is full the kernel
 * drops the SYN in tcp_conn_request (or the handshake's final ACK in tcp_v4_syn_recv_sock) and only
 * counts it, per network namespace: TcpExt ListenOverflows (/proc/<pid>/net/netstat). No tracepoint
 * and, for the SYN, no drop reason says which listener it was. So the counters are sampled, and what
 * grew is given to the listener whose queue is full at the sample, when it is the only one in its
 * namespace; with several, each is named as a candidate and none as certain. Pure: the caller reads
 * the counters and the queues and passes plain numbers.
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

/** A listener's accept queue at the sample (from the kernel's count, or the last inventory). */
export interface ListenerQueueNow {
  netns: number;
  /** Its owner, null when none is known. */
  proc: OwnerRef | null;
  local: Endpoint;
  queue: number;
  limit: number;
}

export type OverflowAttribution =
  | 'only full listener in its namespace'
  | 'several full listeners in its namespace'
  | 'no listener full at the sample';

/** What one sample found in one namespace: the `listen_overflow` event. */
export interface ListenOverflow {
  atMs: number;
  netns: number;
  /** ListenOverflows counted since the previous sample. */
  count: number;
  /** ListenDrops counted since the previous sample (overflows and other listen drops). */
  drops: number;
  /** The listener's owner and address when attribution is certain; null otherwise. */
  proc: OwnerRef | null;
  local: Endpoint | null;
  /** The dropped handshake's peer: the counters carry none. */
  peer: Endpoint | null;
  queue: number | null;
  limit: number | null;
  attribution: OverflowAttribution;
  /** The full listeners (every one when several; empty when none was full at the sample). */
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
}

/** The kernel's own test (sk_acceptq_is_full): a queue is full once it holds more than its limit. */
export function queueIsFull(q: { queue: number; limit: number }): boolean {
  return q.queue > q.limit;
}

export class ListenOverflowTracker {
  private readonly previous = new Map<number, NetstatSample>();
  /** Per listener (namespace, address, port, owner): certain overflows only. */
  readonly byListener: BoundedMap<string, ListenerOverflows>;
  /** Per namespace: overflows that could not be given to one listener (several full, or none at the sample). */
  readonly unattributed = new Map<number, { total: number; window: RateWindow; last: ListenOverflow }>();
  total = 0;

  constructor(maxListeners = 1024) {
    this.byListener = new BoundedMap(maxListeners);
  }

  /** Whether any namespace counted overflows since its previous sample (then the queues are worth reading). */
  grew(counters: readonly NetstatSample[]): boolean {
    return counters.some((c) => {
      const before = this.previous.get(c.netns);
      return before !== undefined && c.listenOverflows > before.listenOverflows;
    });
  }

  /**
   * Counters and queues sampled at `atMs`: the overflows each namespace counted since its previous
   * sample, attributed. A namespace's first sample is its baseline; a counter that went down (the
   * namespace was replaced under the same inode) starts a new one; namespaces not sampled are forgotten.
   */
  sample(atMs: number, counters: readonly NetstatSample[], queues: readonly ListenerQueueNow[]): ListenOverflow[] {
    const out: ListenOverflow[] = [];
    const seen = new Set<number>();
    for (const now of counters) {
      seen.add(now.netns);
      const before = this.previous.get(now.netns);
      this.previous.set(now.netns, now);
      if (!before || now.listenOverflows < before.listenOverflows) continue;
      const count = now.listenOverflows - before.listenOverflows;
      if (count === 0) continue;
      const drops = Math.max(0, now.listenDrops - before.listenDrops);
      const full = queues.filter((q) => q.netns === now.netns && queueIsFull(q));
      const candidates = full.map((q) => ({ proc: q.proc, local: q.local, queue: q.queue, limit: q.limit }));
      const sole = full.length === 1 ? full[0]! : null;
      const overflow: ListenOverflow = {
        atMs,
        netns: now.netns,
        count,
        drops,
        proc: sole?.proc ?? null,
        local: sole?.local ?? null,
        peer: null,
        queue: sole?.queue ?? null,
        limit: sole?.limit ?? null,
        attribution: sole ? 'only full listener in its namespace' : full.length > 1 ? 'several full listeners in its namespace' : 'no listener full at the sample',
        candidates,
      };
      out.push(overflow);
      this.total += count;
      if (sole) this.countFor(sole, count, atMs);
      else {
        const u = this.unattributed.get(now.netns) ?? { total: 0, window: new RateWindow(), last: overflow };
        u.total += count;
        u.window.add(atMs, count);
        u.last = overflow;
        this.unattributed.set(now.netns, u); // the candidates are named in the event, counted for none
      }
    }
    for (const netns of [...this.previous.keys()]) if (!seen.has(netns)) this.previous.delete(netns);
    for (const netns of [...this.unattributed.keys()]) if (!seen.has(netns)) this.unattributed.delete(netns);
    return out;
  }

  private countFor(q: ListenerQueueNow, count: number, atMs: number): void {
    const key = `${q.netns}|${q.local.addr}|${q.local.port}|${q.proc?.pid ?? 0}`;
    const l = this.byListener.upsert(key, () => ({
      netns: q.netns,
      proc: q.proc,
      local: q.local,
      total: 0,
      window: new RateWindow(),
      queue: q.queue,
      limit: q.limit,
      firstAtMs: atMs,
      lastAtMs: atMs,
    }));
    l.total += count;
    l.window.add(atMs, count);
    l.queue = q.queue;
    l.limit = q.limit;
    l.lastAtMs = atMs;
    if (q.proc) l.proc = q.proc;
  }
}
