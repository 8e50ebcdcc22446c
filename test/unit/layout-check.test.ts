import { describe, expect, it } from 'vitest';
import type { NativeRecordLayout } from '../../src/backends/native/binding.js';
import { layoutMismatch } from '../../src/backends/native/layout-check.js';
import { FIELDS, FLAG_BITS, KIND_CODES, OWNER_SOURCE_CODES, RECORD_ABI, RECORD_SIZE, COMM_LENGTH, REASON_UNKNOWN, TRANSITION_SLOTS, TIMING_LAYOUT } from '../../src/backends/native/record-layout.js';

const matching: NativeRecordLayout = {
  abi: RECORD_ABI,
  size: RECORD_SIZE,
  commLength: COMM_LENGTH,
  reasonUnknown: REASON_UNKNOWN,
  transitionSlots: TRANSITION_SLOTS,
  fields: structuredClone(FIELDS) as NativeRecordLayout['fields'],
  kinds: { ...KIND_CODES },
  ownerSources: { ...OWNER_SOURCE_CODES },
  flags: { ...FLAG_BITS },
  timings: structuredClone(TIMING_LAYOUT) as NativeRecordLayout['timings'],
};

describe('layoutMismatch', () => {
  it('accepts the layout this socktrace reads', () => {
    expect(layoutMismatch(matching)).toBeNull();
  });

  it('refuses another ABI or size, naming both', () => {
    expect(layoutMismatch({ ...matching, abi: RECORD_ABI - 1, size: 120 })).toBe(
      `its event record is ABI ${RECORD_ABI - 1}, 120-byte records; this socktrace reads ABI ${RECORD_ABI}, ${RECORD_SIZE}-byte records: rebuild it (npm run build)`,
    );
  });

  it('refuses the same ABI with fields moved or kinds renumbered', () => {
    const moved = structuredClone(matching);
    moved.fields.ts_ns = { offset: 8, size: 8 };
    expect(layoutMismatch(moved)).toMatch(new RegExp(`numbers its fields differently .*ABI ${RECORD_ABI}, ${RECORD_SIZE}-byte records`));
    expect(layoutMismatch({ ...matching, kinds: { ...KIND_CODES, destroy: 9 } })).toMatch(/event kinds/);
    expect(layoutMismatch({ ...matching, timings: { ...TIMING_LAYOUT, buckets: 160 } })).toMatch(/answer-time histograms/);
  });
});
