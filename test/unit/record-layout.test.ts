import { expect, it } from 'vitest';
import { loadBinding } from '../../src/backends/native/binding.js';
import {
  COMM_LENGTH,
  FIELDS,
  FLAG_BITS,
  KIND_CODES,
  OWNER_SOURCE_CODES,
  RECORD_ABI,
  RECORD_SIZE,
  REASON_UNKNOWN,
  TRANSITION_SLOTS,
  TIMING_LAYOUT,
} from '../../src/backends/native/record-layout.js';
import { SEED_FIELDS, SEED_RECORD_SIZE } from '../../src/backends/native/seed-layout.js';
import { INVENTORY_ENTRY_SIZE, INVENTORY_FIELDS, INVENTORY_NO_INFO } from '../../src/backends/native/inventory-layout.js';
import { describeAddon } from '../support/kernel-gate.js';

describeAddon('the TypeScript record layout matches the one the addon was compiled with', () => {
  const native = () => loadBinding().recordLayout();

  it('has the same ABI version and record size', () => {
    expect(native().abi).toBe(RECORD_ABI);
    expect(native().size).toBe(RECORD_SIZE);
    expect(native().commLength).toBe(COMM_LENGTH);
    expect(native().reasonUnknown).toBe(REASON_UNKNOWN);
    expect(native().transitionSlots).toBe(TRANSITION_SLOTS);
    expect(native().timings).toEqual(TIMING_LAYOUT);
  });

  it('has every field at the same offset with the same size, and no others', () => {
    expect(native().fields).toEqual(FIELDS);
  });

  it('numbers event kinds, owner sources and flags the same way', () => {
    expect(native().kinds).toEqual(KIND_CODES);
    expect(native().ownerSources).toEqual(OWNER_SOURCE_CODES);
    expect(native().flags).toEqual(FLAG_BITS);
  });

  it('leaves no gap between fields: the record is fully described', () => {
    const fields = Object.values(FIELDS).sort((a, b) => a.offset - b.offset);
    let end = 0;
    for (const f of fields) {
      expect(f.offset).toBe(end);
      end = f.offset + f.size;
    }
    expect(RECORD_SIZE - end).toBe(0);
  });
});

describeAddon('the TypeScript inventory entry layout matches the addon', () => {
  it('has the same size, fields and no-info marker', () => {
    const native = loadBinding().inventoryLayout();
    expect(native.size).toBe(INVENTORY_ENTRY_SIZE);
    expect(native.fields).toEqual(INVENTORY_FIELDS);
    expect(native.noInfo).toBe(INVENTORY_NO_INFO);
  });
});

describeAddon('the TypeScript seed record layout matches the addon', () => {
  it('has the same size and fields', () => {
    const native = loadBinding().seedLayout();
    expect(native.size).toBe(SEED_RECORD_SIZE);
    expect(native.fields).toEqual(SEED_FIELDS);
  });
});
