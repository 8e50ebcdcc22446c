/**
 * How long services take to answer, and how long their clients wait before they give up, per service
 * (namespace, port) and client address, over the last minute. The kernel counts each exchange into
 * cumulative histograms (probes/lib/exchanges.bpf.h) in ticks; this takes a reading each second,
 * keeps the differences for a minute and gives quantiles in seconds. Pure: readings come in as
 * plain rows with their time.
 */
import { TIMING_LAYOUT } from '../events/timing-layout.js';

export type TimingKind = keyof typeof TIMING_LAYOUT.kinds;

/** One cumulative histogram as the kernel has it. */
export interface TimingReading {
  /** The kernel's key, opaque: handed back to forget a histogram. */
  key: Uint8Array;
  netns: number;
  port: number;
  /** The client's address ('0.0.0.0' / '::': clients the kernel's table had no room for). */
  peer: string;
  kind: TimingKind;
  buckets: ArrayLike<number>;
}

export interface Quantiles {
  count: number;
  p50Seconds: number;
  p99Seconds: number;
}

export interface PeerTimings {
  peer: string;
  /** Requests this client left unanswered, and how long it waited (null when none). */
  gaveUp: Quantiles | null;
  /** Answers it got (in time or late). */
  answered: Quantiles | null;
}

export interface ServiceTimings {
  netns: number;
  port: number;
  /** Request to answer, in time or not (answers sent after the client left included). */
  latency: Quantiles | null;
  /** Answers sent after the client had closed (they meet an RST: EPIPE, ECONNRESET). */
  lateAnswers: number;
  /** How long clients waited before closing on an unanswered request: the clients' timeout. */
  clientWait: Quantiles | null;
  /** Requests the service closed without ever answering, and their age then (lower bounds of its latency). */
  unanswered: Quantiles | null;
  /** Clients with requests left unanswered first, then the busiest; at most PEERS_SHOWN. */
  peers: PeerTimings[];
}

const SUB = 1 << TIMING_LAYOUT.subBits;
const PEERS_SHOWN = 5;

/** The bucket of a time in ticks: the kernel's timing_bucket(), in TypeScript. */
export function timingBucket(ticks: number): number {
  if (ticks < SUB) return ticks;
  const e = 31 - Math.clz32(ticks);
  const idx = SUB + (e - TIMING_LAYOUT.subBits) * SUB + ((ticks >>> (e - TIMING_LAYOUT.subBits)) & (SUB - 1));
  return Math.min(idx, TIMING_LAYOUT.buckets - 1);
}

/** A bucket's range in ticks: [low, high). */
export function bucketRange(idx: number): [number, number] {
  if (idx < SUB) return [idx, idx + 1];
  const e = Math.floor((idx - SUB) / SUB) + TIMING_LAYOUT.subBits;
  const sub = (idx - SUB) % SUB;
  const width = 2 ** (e - TIMING_LAYOUT.subBits);
  const low = (SUB + sub) * width;
  return [low, low + width];
}

/** A quantile of a histogram, as its bucket's middle (a tick is the kernel's resolution below 8 ticks). */
function quantile(counts: Map<number, number>, total: number, q: number, tickSeconds: number): number {
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const idx of [...counts.keys()].sort((a, b) => a - b)) {
    seen += counts.get(idx)!;
    if (seen >= rank) {
      const [low, high] = bucketRange(idx);
      return ((low + high - 1) / 2) * tickSeconds;
    }
  }
  return 0;
}

function quantilesOf(counts: Map<number, number>, tickSeconds: number): Quantiles | null {
  let total = 0;
  for (const c of counts.values()) total += c;
  if (total === 0) return null;
  const round = (s: number) => Number(s.toFixed(3));
  return { count: total, p50Seconds: round(quantile(counts, total, 0.5, tickSeconds)), p99Seconds: round(quantile(counts, total, 0.99, tickSeconds)) };
}

function addInto(into: Map<number, number>, from: Map<number, number>): void {
  for (const [idx, c] of from) into.set(idx, (into.get(idx) ?? 0) + c);
}

interface Histogram {
  reading: TimingReading;
  /** The cumulative counts at the last reading. */
  last: Uint32Array;
  changedAtMs: number;
  /** Per second with samples: what it added. */
  window: { atMs: number; added: Map<number, number> }[];
}

export class ExchangeTimingTracker {
  private readonly histograms = new Map<string, Histogram>();
  /** Samples the kernel had no room for (its counts, cumulative). */
  misses = { peer: 0, lost: 0, late: 0 };

  /** Seconds per kernel tick (1 / HZ); null: unknown (or no reading yet), and no timing is shown. */
  tickSeconds: number | null = null;

  constructor(
    private readonly windowMs = 60_000,
    /** A histogram unchanged this long is forgotten (and the kernel asked to drop it). */
    private readonly idleMs = 120_000,
  ) {}

  /**
   * A reading of every histogram at `atMs`. Returns the kernel keys to forget: histograms quiet for
   * idleMs (their clients come back as new ones). A histogram that disappeared was forgotten.
   */
  apply(atMs: number, tickSeconds: number | null, readings: readonly TimingReading[], misses?: { peer: number; lost: number; late: number }): Uint8Array[] {
    this.tickSeconds = tickSeconds;
    if (misses) this.misses = { ...misses };
    const seen = new Set<string>();
    const forget: Uint8Array[] = [];
    for (const r of readings) {
      const id = `${r.netns}|${r.port}|${r.peer}|${r.kind}`;
      seen.add(id);
      let h = this.histograms.get(id);
      const now = Uint32Array.from(r.buckets);
      if (!h) {
        // First seen: everything counted so far is new since the previous reading (or since start).
        h = { reading: r, last: new Uint32Array(now.length), changedAtMs: atMs, window: [] };
        this.histograms.set(id, h);
      }
      const added = new Map<number, number>();
      for (let i = 0; i < now.length; i++) {
        const d = now[i]! - (h.last[i] ?? 0);
        if (d > 0) added.set(i, d);
      }
      h.last = now;
      h.reading = r;
      if (added.size > 0) {
        h.changedAtMs = atMs;
        h.window.push({ atMs, added });
      }
      while (h.window.length > 0 && atMs - h.window[0]!.atMs >= this.windowMs) h.window.shift();
      if (atMs - h.changedAtMs >= this.idleMs) {
        forget.push(r.key);
        this.histograms.delete(id);
      }
    }
    for (const id of [...this.histograms.keys()]) if (!seen.has(id)) this.histograms.delete(id);
    return forget;
  }

  /** Per service, the last minute (services with no sample in it are left out). */
  services(nowMs: number): ServiceTimings[] {
    if (this.tickSeconds === null) return [];
    const tick = this.tickSeconds;
    type Acc = { netns: number; port: number; byKind: Record<TimingKind, Map<number, number>>; peers: Map<string, Record<TimingKind, Map<number, number>>> };
    const fresh = (): Record<TimingKind, Map<number, number>> => ({ answered: new Map(), late: new Map(), gave_up: new Map(), unanswered: new Map() });
    const services = new Map<string, Acc>();
    for (const h of this.histograms.values()) {
      const recent = h.window.filter((w) => nowMs - w.atMs < this.windowMs);
      if (recent.length === 0) continue;
      const { netns, port, peer, kind } = h.reading;
      const key = `${netns}|${port}`;
      const acc = services.get(key) ?? { netns, port, byKind: fresh(), peers: new Map() };
      services.set(key, acc);
      const peerAcc = acc.peers.get(peer) ?? fresh();
      acc.peers.set(peer, peerAcc);
      for (const w of recent) {
        addInto(acc.byKind[kind], w.added);
        addInto(peerAcc[kind], w.added);
      }
    }
    return [...services.values()].map((acc) => {
      const latency = new Map<number, number>();
      addInto(latency, acc.byKind.answered);
      addInto(latency, acc.byKind.late);
      const late = quantilesOf(acc.byKind.late, tick);
      const peers = [...acc.peers].map(([peer, k]) => {
        const answered = new Map<number, number>();
        addInto(answered, k.answered);
        addInto(answered, k.late);
        return { peer, gaveUp: quantilesOf(k.gave_up, tick), answered: quantilesOf(answered, tick) };
      });
      peers.sort((a, b) => (b.gaveUp?.count ?? 0) - (a.gaveUp?.count ?? 0) || (b.answered?.count ?? 0) - (a.answered?.count ?? 0));
      return {
        netns: acc.netns,
        port: acc.port,
        latency: quantilesOf(latency, tick),
        lateAnswers: late?.count ?? 0,
        clientWait: quantilesOf(acc.byKind.gave_up, tick),
        unanswered: quantilesOf(acc.byKind.unanswered, tick),
        peers: peers.slice(0, PEERS_SHOWN),
      };
    });
  }
}
