/**
 * Kernel timestamps are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns); process.hrtime reads the same
 * clock, so one sample of both clocks converts them to wall time.
 */
export interface WallClock {
  toEpochMs(monotonicNs: bigint): number;
}

/** A clock from one sample, which says what it sampled (the native line maker converts times the same way). */
export interface SampledWallClock extends WallClock {
  readonly wallMs: number;
  readonly monoNs: bigint;
}

export function sampleWallClock(): SampledWallClock {
  const wallMs = Date.now();
  const monoNs = process.hrtime.bigint();
  return {
    wallMs,
    monoNs,
    toEpochMs(monotonicNs: bigint): number {
      return wallMs + Number(monotonicNs - monoNs) / 1e6;
    },
  };
}
