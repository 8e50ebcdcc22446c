/**
 * Kernel timestamps are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns); process.hrtime reads the same
 * clock, so one sample of both clocks converts them to wall time.
 */
export interface WallClock {
  toEpochMs(monotonicNs: bigint): number;
}

export function sampleWallClock(): WallClock {
  const wallMs = Date.now();
  const monoNs = process.hrtime.bigint();
  return {
    toEpochMs(monotonicNs: bigint): number {
      return wallMs + Number(monotonicNs - monoNs) / 1e6;
    },
  };
}
