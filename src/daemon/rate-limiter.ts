/**
 * Folds storms of identical log records: per key, the first `maxPerKey` in a window are logged as they
 * come; the rest are counted and logged once, when the window closes, as one record with the count.
 * Nothing is dropped without a trace. Pure: time comes from the caller.
 */
export interface FoldedRecord<R> {
  /** The first record that was held back, standing for all of them. */
  sample: R;
  /** How many identical records were held back. */
  repeated: number;
  firstMs: number;
  lastMs: number;
}

/** A folded storm as the record logged for it: the sample, with how many it stands for and when. */
export function foldedRecordOf<R extends object>(folded: FoldedRecord<R>): R & { repeated: number; repeatedFrom: string; repeatedTo: string } {
  return {
    ...folded.sample,
    repeated: folded.repeated,
    repeatedFrom: new Date(folded.firstMs).toISOString(),
    repeatedTo: new Date(folded.lastMs).toISOString(),
  };
}

interface Window<R> {
  startMs: number;
  passed: number;
  held: number;
  sample: R | null;
  firstHeldMs: number;
  lastHeldMs: number;
}

export class RateLimiter<R> {
  private readonly windows = new Map<string, Window<R>>();
  private readonly ready: FoldedRecord<R>[] = [];

  constructor(
    private windowMs: number,
    private maxPerKey: number,
    private readonly maxKeys = 10_000,
  ) {}

  reconfigure(windowMs: number, maxPerKey: number): void {
    this.windowMs = windowMs;
    this.maxPerKey = maxPerKey;
  }

  /**
   * True: log it now. False: held back, to be reported by drain() with its count. `sample` makes the
   * record only when it is kept as the window's sample: in a storm most records are only counted.
   */
  admit(key: string, sample: () => R, atMs: number): boolean {
    let w = this.windows.get(key);
    if (w && atMs - w.startMs >= this.windowMs) {
      this.close(w);
      this.windows.delete(key);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= this.maxKeys) this.evictOldest();
      w = { startMs: atMs, passed: 0, held: 0, sample: null, firstHeldMs: 0, lastHeldMs: 0 };
      this.windows.set(key, w);
    }
    if (w.passed < this.maxPerKey) {
      w.passed++;
      return true;
    }
    if (w.held === 0) {
      w.sample = sample();
      w.firstHeldMs = atMs;
    }
    w.held++;
    w.lastHeldMs = atMs;
    return false;
  }

  /** Folded records of every window that has closed by nowMs (all of them with `everything`). */
  drain(nowMs: number, everything = false): FoldedRecord<R>[] {
    for (const [key, w] of this.windows) {
      if (everything || nowMs - w.startMs >= this.windowMs) {
        this.close(w);
        this.windows.delete(key);
      }
    }
    return this.ready.splice(0);
  }

  private close(w: Window<R>): void {
    if (w.held > 0 && w.sample !== null) {
      this.ready.push({ sample: w.sample, repeated: w.held, firstMs: w.firstHeldMs, lastMs: w.lastHeldMs });
    }
  }

  /** Too many distinct keys: the oldest window closes early (its count is still reported). */
  private evictOldest(): void {
    const first = this.windows.entries().next();
    if (first.done) return;
    this.close(first.value[1]);
    this.windows.delete(first.value[0]);
  }
}
