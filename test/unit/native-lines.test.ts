/**
 * watch's lines made by the addon (native/line_formatter.cc) are event-line.ts's, byte for byte: on
 * random records (hostile names, every kind and state, IPv4 and IPv6, unknown numbers), with the lines
 * of the records the addon leaves to JavaScript spliced back in order (src/output/native-lines.ts).
 */
import { expect, it } from 'vitest';
import { loadBinding } from '../../src/backends/native/binding.js';
import { nativeLineOptions } from '../../src/backends/native/line-options.js';
import { FIELDS as F, KIND_CODES, RECORD_SIZE } from '../../src/backends/native/record-layout.js';
import { decodeBatch } from '../../src/events/decode-batch.js';
import { sampleWallClock } from '../../src/events/monotonic-clock.js';
import type { Owner } from '../../src/events/sock-event.js';
import type { Placement } from '../../src/core/placement.js';
import { eventLineMaker, placementText } from '../../src/output/event-line.js';
import { spliceLines } from '../../src/output/native-lines.js';
import { writeRecord } from '../support/record-builder.js';
import { describeAddon } from '../support/kernel-gate.js';

/** A small deterministic generator (mulberry32): the same records every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PLACED: Placement = {
  cgroup: '/kubepods.slice/pod-"x"\\y/cri-containerd-' + 'ab'.repeat(32) + '.scope',
  unit: null,
  container: { runtime: 'containerd', id: 'ab'.repeat(32) },
  pod: { uid: '3f2b9a4e-1c7d-4e8f-9a0b-5d6c7e8f9a0b', name: 'api-7f9c', namespace: 'shop' },
};
const NAMES = ['nginx', 'a"b\\c', 'tab\there', '\x1b[31mred', 'caf\xc3\xa9', 'bidi\xe2\x80\xaeevil', 'bad\xff\xfe', '\xc2\x85nel', 'emoji\xf0\x9f\x98\x80', 'cut\xe2\x82'];
const ADDRESSES_6 = ['::1', '2001:2::5', '2001:db8:0:0:1:0:0:1', '::ffff:198.18.0.7', 'fe80::1:0:0:0', '1:0:0:2:0:0:0:3', '2001:2:0:1::'];

function records(count: number): ArrayBuffer {
  const next = random(42);
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const buffer = new ArrayBuffer(count * RECORD_SIZE);
  const kinds = Object.keys(KIND_CODES) as (keyof typeof KIND_CODES)[];
  for (let i = 0; i < count; i++) {
    const family = next() < 0.3 ? 6 : 4;
    const owned = next() < 0.8;
    writeRecord(buffer, i, {
      kind: pick(kinds),
      tsNs: BigInt(Math.floor(next() * 1e15)),
      sockId: next() < 0.1 ? 0n : BigInt(Math.floor(next() * 2 ** 32)) * BigInt(Math.floor(next() * 2 ** 32)),
      ownerPid: owned ? 100 + Math.floor(next() * 4) : 0,
      ownerStart: owned ? 7 : 0,
      ownerCgroup: owned ? BigInt(Math.floor(next() * 3)) : 0n,
      ownerUid: Math.floor(next() * 70000),
      ownerComm: Buffer.from(pick(NAMES), 'latin1'),
      ownerSource: owned ? Math.floor(next() * 6) : 0,
      taskPid: Math.floor(next() * 2 ** 32),
      taskComm: Buffer.from(pick(NAMES), 'latin1'),
      netns: Math.floor(next() * 2 ** 32),
      family,
      local: [family === 4 ? `198.18.${Math.floor(next() * 256)}.${Math.floor(next() * 256)}` : pick(ADDRESSES_6), Math.floor(next() * 65536)],
      peer: [family === 4 ? '0.0.0.0' : pick(ADDRESSES_6), Math.floor(next() * 65536)],
      oldState: Math.floor(next() * 16),
      state: next() < 0.2 ? 0 : Math.floor(next() * 16),
      reason: next() < 0.3 ? 0xffff : Math.floor(next() * 40),
      err: next() < 0.1 ? -Math.floor(next() * 10) : Math.floor(next() * 130),
      flags: Math.floor(next() * 64),
    });
    const view = new DataView(buffer, i * RECORD_SIZE, RECORD_SIZE);
    if (next() < 0.02) view.setUint8(F.kind.offset, 0); // not a kind
    if (next() < 0.02) view.setUint16(F.family.offset, next() < 0.5 ? 0 : 7, true); // none, or not one
  }
  return buffer;
}

describeAddon('native lines', () => {
  it("are event-line.ts's lines, byte for byte, with what JavaScript makes spliced back in order", () => {
    const clock = sampleWallClock();
    const options = nativeLineOptions(clock, ['accept_error']);
    // Owners 100 and 101 (cgroup 1) have their placement told; the others are left to JavaScript.
    const placementOf = (o: Owner) => (o.pid <= 101 && o.cgroupId === 1 ? PLACED : o.pid === 102 ? null : null);
    const told: [number, number, number, string][] = [
      [100, 7, 1, placementText(PLACED)],
      [101, 7, 1, placementText(PLACED)],
    ];
    const buffer = records(4000);
    const native = loadBinding().formatLines(buffer, options, told);
    const lineOf = eventLineMaker(clock, placementOf);

    const all = decodeBatch(buffer, 4000, { rstReasons: options.rstReasons });
    expect(all.rejected).toBeGreaterThan(0); // the corpus holds records that do not decode
    const expected = all.events.map(lineOf).join('');

    const raw = decodeBatch(native.raw, native.rawAt.length, { rstReasons: options.rstReasons });
    // Every record left to JavaScript either decodes or is rejected there, as before.
    expect(raw.events.length + raw.rejected).toBe(native.rawAt.length);
    const rawLines = rawLinesInOrder(native.raw, native.rawAt.length, lineOf, options.rstReasons);
    const spliced = spliceLines(native.text, native.rawAt, rawLines);
    const text = Buffer.concat(spliced.map((c) => (typeof c === 'string' ? Buffer.from(c) : Buffer.from(c)))).toString('utf8');
    expect(native.text.length).toBeGreaterThan(500_000); // most lines were made natively
    expect(text).toBe(expected);
  });

  it('leaves owners whose placement it was not told, or told too long ago, to JavaScript', () => {
    const options = { ...nativeLineOptions(sampleWallClock(), []), placementTtlMs: 0 };
    const buffer = new ArrayBuffer(2 * RECORD_SIZE);
    writeRecord(buffer, 0, { kind: 'state_change', ownerPid: 5, ownerStart: 1, ownerComm: 'api', state: 1, oldState: 2 });
    writeRecord(buffer, 1, { kind: 'state_change', state: 1, oldState: 2 }); // no owner: made natively
    const native = loadBinding().formatLines(buffer, options, [[5, 1, 0, placementText(null)]]);
    expect(native.rawAt).toEqual([0]);
    expect(native.text.toString()).toMatch(/^\{"level":"info".*"proc":null.*\}\n$/);
  });
});

/** One line (or null for a record that does not decode) per raw record, in order. */
function rawLinesInOrder(raw: ArrayBuffer, count: number, lineOf: (e: ReturnType<typeof decodeBatch>['events'][number]) => string, rstReasons: string[]): (string | null)[] {
  return Array.from({ length: count }, (_, i) => {
    const one = decodeBatch(raw.slice(i * RECORD_SIZE, (i + 1) * RECORD_SIZE), 1, { rstReasons });
    return one.events[0] ? lineOf(one.events[0]) : null;
  });
}
