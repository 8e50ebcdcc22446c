/**
 * When to watch the handshakes full accept queues refuse (the kernel names their clients, 6.15+): the
 * hook runs on every packet the host drops (about one per connection closed), so it is attached from a
 * namespace's first overflow until a minute without one, and never asked for again where it cannot be.
 */
export const REFUSALS_WATCH_MS = 60_000;

export class RefusalWatch {
  private watching = false;
  private lastOverflowMs = -Infinity;
  private unavailable = false;

  /** `attach(on)` attaches or detaches the hook and says whether it is attached now. */
  constructor(private readonly attach: (on: boolean) => boolean) {}

  /** At each sample: whether any namespace counted overflows since the previous one. */
  sample(nowMs: number, overflowsGrew: boolean): void {
    if (overflowsGrew) this.lastOverflowMs = nowMs;
    const wanted = nowMs - this.lastOverflowMs < REFUSALS_WATCH_MS;
    if (wanted === this.watching || this.unavailable) return;
    const attached = this.attach(wanted);
    if (wanted && !attached) this.unavailable = true; // this backend or kernel cannot
    this.watching = attached;
  }

  get active(): boolean {
    return this.watching;
  }
}
