/**
 * The record decoder on hostile input: random bytes, truncated and oversized batches, counts that lie.
 * It must never throw, account for every record it was told of (decoded or rejected), and hand on
 * nothing that could break a line of output.
 */
import { describe, expect, it } from 'vitest';
import { decodeBatch } from '../../src/events/decode-batch.js';
import { EVENT_KINDS } from '../../src/events/sock-event.js';
import { RECORD_SIZE } from '../../src/backends/native/record-layout.js';
import { eventLineMaker } from '../../src/output/event-line.js';
import { buildBatch } from '../support/record-builder.js';

/** xorshift32: the same "random" batches on every run, so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const lineOf = eventLineMaker({ toEpochMs: (ns) => Number(ns % 4_000_000_000_000_000n) / 1e6 });
// Anything below U+0020, DEL and C1 controls, and the bidirectional overrides must arrive escaped.
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function checkDecoded(buffer: ArrayBuffer, claimed: number): void {
  const { events, rejected } = decodeBatch(buffer, claimed);
  const whole = Math.floor(buffer.byteLength / RECORD_SIZE);
  // Every record it was told of is decoded or rejected; a partial record counts as one rejected.
  expect(events.length + rejected).toBeGreaterThanOrEqual(Math.min(claimed, whole));
  expect(events.length).toBeLessThanOrEqual(Math.min(claimed, whole));
  for (const e of events) {
    expect(EVENT_KINDS).toContain(e.kind);
    for (const text of [e.owner?.comm ?? '', e.task.comm, e.local.addr, e.peer.addr, e.sock, e.reason ?? '', e.errno ?? '']) {
      expect(text).not.toMatch(RAW_CONTROL);
    }
    const line = lineOf(e);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(() => JSON.parse(line) as unknown).not.toThrow();
  }
}

describe('decodeBatch under fuzzing', () => {
  it('survives random batches, whatever their counts claim', () => {
    const next = random(0x5eed);
    for (let round = 0; round < 300; round++) {
      const records = next() % 40;
      const extra = next() % 3 === 0 ? next() % RECORD_SIZE : 0; // sometimes a trailing partial record
      const bytes = new Uint8Array(records * RECORD_SIZE + extra);
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
      // Half the batches get plausible kinds and families, so decoding goes deep, not just to a reject.
      if (round % 2 === 0) {
        for (let r = 0; r < records; r++) {
          bytes[r * RECORD_SIZE + 78] = 1 + (next() % 6);
          new DataView(bytes.buffer).setUint16(r * RECORD_SIZE + 76, [0, 2, 10][next() % 3]!, true);
        }
      }
      const claims = [records, 0, records + 1 + (next() % 5), Math.max(0, records - 1)];
      for (const claimed of claims) checkDecoded(bytes.buffer, claimed);
    }
  });

  it('survives valid batches cut short or padded at any length', () => {
    const valid = buildBatch(
      Array.from({ length: 6 }, (_, i) => ({ kind: 'send_error' as const, ownerPid: 10 + i, ownerComm: Uint8Array.from([0x1b, 0x5b, 0x41 + i, 0xe2, 0x80, 0xae, 0xff, 0x0a]), err: 32 })),
    );
    for (let length = 0; length <= valid.byteLength + RECORD_SIZE; length += 7) {
      const cut = new Uint8Array(length);
      cut.set(new Uint8Array(valid).subarray(0, Math.min(length, valid.byteLength)));
      checkDecoded(cut.buffer, 6);
    }
  });

  it('counts what it rejects', () => {
    const two = buildBatch([{ kind: 'state_change' }, { kind: 'state_change' }]);
    new DataView(two).setUint16(RECORD_SIZE + 76, 99, true); // an unknown family
    expect(decodeBatch(two, 2).rejected).toBe(1);
    expect(decodeBatch(two.slice(0, RECORD_SIZE + 5), 2).rejected).toBe(2); // one bad, one partial
  });
});
