/**
 * The event record, as TypeScript reads it: a mirror of probes/socktrace_event.h.
 * test/unit/record-layout.test.ts compares every number here with the layout the addon reports,
 * so the two cannot drift apart unnoticed.
 */
export const RECORD_ABI = 9;
export const RECORD_SIZE = 128;
export const COMM_LENGTH = 16;
export const ADDR_LENGTH = 16;
export const REASON_UNKNOWN = 0xffff;
/** State changes are counted per new state: one slot per TCP state number. */
export const TRANSITION_SLOTS = 16;

export const FIELDS = {
  ts_ns: { offset: 0, size: 8 },
  sock_id: { offset: 8, size: 8 },
  owner_cgroup: { offset: 16, size: 8 },
  owner_pid: { offset: 24, size: 4 },
  owner_uid: { offset: 28, size: 4 },
  task_pid: { offset: 32, size: 4 },
  netns: { offset: 36, size: 4 },
  saddr: { offset: 40, size: 16 },
  daddr: { offset: 56, size: 16 },
  sport: { offset: 72, size: 2 },
  dport: { offset: 74, size: 2 },
  family: { offset: 76, size: 2 },
  kind: { offset: 78, size: 1 },
  owner_source: { offset: 79, size: 1 },
  old_state: { offset: 80, size: 1 },
  state: { offset: 81, size: 1 },
  reason: { offset: 82, size: 2 },
  err: { offset: 84, size: 4 },
  flags: { offset: 88, size: 4 },
  owner_comm: { offset: 92, size: 16 },
  task_comm: { offset: 108, size: 16 },
  owner_start: { offset: 124, size: 4 },
} as const;

export type FieldName = keyof typeof FIELDS;

export const KIND_CODES = {
  state_change: 1,
  rst_sent: 2,
  rst_received: 3,
  send_error: 4,
  recv_error: 5,
  destroy: 6,
  accept_error: 7,
  retransmit: 8,
  connection_error: 9,
} as const;

export const OWNER_SOURCE_CODES = {
  none: 0,
  socket: 1,
  listener: 2,
  seeded: 3,
  closed: 4,
} as const;

export const FLAG_BITS = {
  noSocket: 0x1,
  idFallback: 0x2,
  fromSyscall: 0x4,
  deferred: 0x8,
  fromDrop: 0x10,
  unanswered: 0x20,
} as const;

export { TIMING_LAYOUT } from '../../events/timing-layout.js';

export const AF_INET = 2;
export const AF_INET6 = 10;
