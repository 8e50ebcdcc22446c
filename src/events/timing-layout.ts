/**
 * The kernel's histograms of services' answer times and clients' waits (probes/socktrace_event.h:
 * enum socktrace_timing_kind, SOCKTRACE_TIMING_*, struct socktrace_timing_key), as TypeScript reads
 * them. test/unit/record-layout.test.ts compares it with what the addon was compiled with.
 */
export const TIMING_LAYOUT = {
  kinds: { answered: 1, late: 2, gave_up: 3, unanswered: 4 },
  subBits: 3,
  buckets: 152,
  keySize: 28,
} as const;
