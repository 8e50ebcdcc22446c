/**
 * The seed record (struct socktrace_seed, probes/socktrace_event.h) as TypeScript writes it. Checked
 * against the addon's seedLayout() by test/unit/record-layout.test.ts, like the event record.
 */
export const SEED_RECORD_SIZE = 64;

export const SEED_FIELDS = {
  cookie: { offset: 0, size: 8 },
  start: { offset: 8, size: 8 },
  pid: { offset: 16, size: 4 },
  uid: { offset: 20, size: 4 },
  netns: { offset: 24, size: 4 },
  port: { offset: 28, size: 2 },
  family: { offset: 30, size: 2 },
  addr: { offset: 32, size: 16 },
  comm: { offset: 48, size: 16 },
} as const;
