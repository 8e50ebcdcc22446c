/**
 * The inventory entry (native/inventory_entry.h) as TypeScript reads it. Checked against the addon's
 * inventoryLayout() by test/unit/record-layout.test.ts, like the event record.
 */
export const INVENTORY_ENTRY_SIZE = 88;
export const INVENTORY_NO_INFO = 0xffffffff;

export const INVENTORY_FIELDS = {
  cookie: { offset: 0, size: 8 },
  inode: { offset: 8, size: 4 },
  uid: { offset: 12, size: 4 },
  netns: { offset: 16, size: 4 },
  expires_ms: { offset: 20, size: 4 },
  last_ack_recv_ms: { offset: 24, size: 4 },
  last_data_recv_ms: { offset: 28, size: 4 },
  last_data_sent_ms: { offset: 32, size: 4 },
  rqueue: { offset: 36, size: 4 },
  wqueue: { offset: 40, size: 4 },
  saddr: { offset: 44, size: 16 },
  daddr: { offset: 60, size: 16 },
  sport: { offset: 76, size: 2 },
  dport: { offset: 78, size: 2 },
  family: { offset: 80, size: 2 },
  state: { offset: 82, size: 1 },
  timer: { offset: 83, size: 1 },
} as const;
