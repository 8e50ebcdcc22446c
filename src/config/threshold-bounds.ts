/**
 * The range each finding threshold makes sense in, shared by `--threshold` and `core.thresholds`: a
 * value outside it could never fire (a ratio above 1) or would fire on everything (a minimum of 0).
 */
import type { FindingThresholds } from '../core/core-config.js';

export interface ThresholdBound {
  min: number;
  max: number;
  integer: boolean;
  /** What the value is, said when it is out of range. */
  what: string;
}

const ratio = (what: string): ThresholdBound => ({ min: 0.01, max: 1, integer: false, what });

export const THRESHOLD_BOUNDS: Record<keyof FindingThresholds, ThresholdBound> = {
  closeWaitAgeSeconds: { min: 0, max: 30 * 86_400, integer: false, what: 'seconds' },
  closeWaitMinSockets: { min: 1, max: 10_000_000, integer: true, what: 'sockets per process' },
  closeWaitRisingAgeSeconds: { min: 0.1, max: 30 * 86_400, integer: false, what: 'seconds' },
  closeWaitRisingMin: { min: 1, max: 10_000_000, integer: true, what: 'sockets per process' },
  writeAfterCloseMin: { min: 1, max: 10_000_000, integer: true, what: 'writes per minute' },
  fdWarnRatio: ratio('a share of RLIMIT_NOFILE'),
  fdCriticalRatio: ratio('a share of RLIMIT_NOFILE'),
  rstStormPerSecond: { min: 0.1, max: 10_000_000, integer: false, what: 'RSTs per second' },
  churnPerSecond: { min: 0.1, max: 10_000_000, integer: false, what: 'connections per second' },
  ephemeralPortShare: ratio('a share of the ephemeral port range'),
  acceptErrorsMin: { min: 1, max: 10_000_000, integer: true, what: 'failed accepts per minute' },
  connectTimeoutsMin: { min: 1, max: 10_000_000, integer: true, what: 'unanswered connects per minute' },
  retransmitsPerSecond: { min: 0.1, max: 10_000_000, integer: false, what: 'segments sent again per second' },
  listenOverflowsMin: { min: 1, max: 10_000_000, integer: true, what: 'dropped handshakes per minute' },
  impatientClientsMin: { min: 1, max: 10_000_000, integer: true, what: 'abandoned requests per minute' },
};

/** Why `value` is not a sensible `name`, or null when it is. */
export function thresholdProblem(name: keyof FindingThresholds, value: unknown): string | null {
  const b = THRESHOLD_BOUNDS[name];
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= b.min && value <= b.max && (!b.integer || Number.isInteger(value));
  return ok ? null : `${name} must be ${b.integer ? 'a whole number' : ''}${b.integer ? ' ' : ''}from ${b.min} to ${b.max} (${b.what})`;
}
