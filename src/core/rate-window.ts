/** A count per second over the last minute: rates over 10 s and 1 min without keeping every event. */
const SECONDS = 60;

export class RateWindow {
  /** Allocated at the first event: most rollup keys never see most kinds (480 bytes each). */
  private buckets: Float64Array | null = null;
  private newestSecond = -Infinity;

  add(atMs: number, count = 1): void {
    const second = Math.floor(atMs / 1000);
    this.buckets ??= new Float64Array(SECONDS);
    this.advance(second);
    if (second <= this.newestSecond - SECONDS) return; // older than the window: only totals keep it
    this.buckets[((second % SECONDS) + SECONDS) % SECONDS]! += count;
  }

  /** Events per second over the last `seconds` (<= 60) ending at nowMs. */
  perSecond(nowMs: number, seconds: number): number {
    const now = Math.floor(nowMs / 1000);
    if (this.buckets === null) return 0;
    this.advance(now);
    let sum = 0;
    for (let s = now - seconds + 1; s <= now; s++) sum += this.buckets[((s % SECONDS) + SECONDS) % SECONDS]!;
    return sum / seconds;
  }

  /** Moves the window to `second`, clearing the buckets it passes. */
  private advance(second: number): void {
    if (second <= this.newestSecond || this.buckets === null) return;
    const from = Math.max(this.newestSecond + 1, second - SECONDS + 1);
    for (let s = from; s <= second; s++) this.buckets[((s % SECONDS) + SECONDS) % SECONDS] = 0;
    this.newestSecond = second;
  }
}
