import { describe, expect, it } from 'vitest';
import { decodeBatch } from '../../src/events/decode-batch.js';
import { toEventRecord, toLostRecord } from '../../src/output/event-record.js';
import { buildBatch } from '../support/record-builder.js';
import { loadRecordedStream } from '../support/fixture-stream.js';
import { eventLineMaker } from '../../src/output/event-line.js';

const clock = { toEpochMs: (ns: bigint) => Number(ns / 1_000_000n) };

describe('the JSON line contract', () => {
  it('state_change carries from/to, the owner as proc and the task as context', () => {
    const [e] = decodeBatch(
      buildBatch([
        {
          kind: 'state_change',
          tsNs: 1_700_000_000_123_000_000n,
          sockId: 0xabcn,
          ownerPid: 7,
          ownerComm: 'srv',
          taskPid: 8,
          taskComm: 'cli',
          local: ['127.0.0.1', 80],
          peer: ['127.0.0.1', 5000],
          oldState: 1,
          state: 8,
        },
      ]),
      1,
    ).events;
    expect(toEventRecord(e!, clock)).toEqual({
      time: '2023-11-14T22:13:20.123Z',
      event: 'state_change',
      proc: { pid: 7, comm: 'srv', uid: 0, via: 'socket' },
      local: { addr: '127.0.0.1', port: 80 },
      peer: { addr: '127.0.0.1', port: 5000 },
      sock: 'abc',
      from: 'ESTABLISHED',
      to: 'CLOSE_WAIT',
      task: { pid: 8, comm: 'cli' },
      netns: 4026531833,
    });
  });

  it('an RST with no socket has proc and sock null, and says so', () => {
    const [e] = decodeBatch(buildBatch([{ kind: 'rst_sent', reason: 1, flags: 1, sockId: 0n }]), 1).events;
    const r = toEventRecord(e!, clock);
    expect(r).toMatchObject({ event: 'rst_sent', proc: null, sock: null, reason: 'NO_SOCKET', no_socket: true });
    expect(r).not.toHaveProperty('from');
  });

  it('errors carry errno and the state the socket was in', () => {
    const [e] = decodeBatch(buildBatch([{ kind: 'send_error', ownerPid: 3, err: 32, state: 8 }]), 1).events;
    expect(toEventRecord(e!, clock)).toMatchObject({ event: 'send_error', errno: 'EPIPE', state: 'CLOSE_WAIT' });
  });

  it('a CLOSE_WAIT entry the kernel reported late says so, and keeps the time it happened', () => {
    const [e] = decodeBatch(
      buildBatch([{ kind: 'state_change', tsNs: 5_000_000n, ownerPid: 7, oldState: 1, state: 8, flags: 0x8, taskPid: 0, taskComm: '' }]),
      1,
    ).events;
    expect(e!.deferred).toBe(true);
    const r = toEventRecord(e!, clock);
    expect(r).toMatchObject({ time: '1970-01-01T00:00:00.005Z', from: 'ESTABLISHED', to: 'CLOSE_WAIT', deferred: true, task: { pid: 0, comm: '' } });
    const [live] = decodeBatch(buildBatch([{ kind: 'state_change', ownerPid: 7, oldState: 1, state: 8 }]), 1).events;
    expect(toEventRecord(live!, clock)).not.toHaveProperty('deferred');
  });

  it('lost records carry the count and the running total', () => {
    expect(toLostRecord(5, 12, 0)).toEqual({ time: '1970-01-01T00:00:00.000Z', event: 'lost', count: 5, total: 12 });
  });
});

describe('the hand-written event line', () => {
  // Every event of both recordings, plus the odd ones: no socket, deferred, hostile and quoting names.
  const recorded = ['sick-service', 'late-write-and-refused'].flatMap((name) => loadRecordedStream(name).events);
  const odd = decodeBatch(
    buildBatch([
      { kind: 'rst_sent', reason: 1, flags: 1, sockId: 0n },
      { kind: 'state_change', ownerPid: 5, oldState: 1, state: 8, flags: 8, ownerComm: 'a"b\\c' },
      { kind: 'send_error', ownerPid: 6, err: 32, state: 8, ownerComm: Uint8Array.from([0x1b, 0x5b, 0x32, 0x4a, 0x0a, 0xe2, 0x80, 0xae, 0xff]), taskComm: '\u00e9t\u00e9' },
      { kind: 'state_change', family: 6, local: ['2001:2::1', 443], peer: ['2001:2::2', 50000], oldState: 2, state: 1 },
      { kind: 'recv_error', err: -1 },
    ]),
    5,
  ).events;

  it('is exactly JSON.stringify of the record with its level, for every event', () => {
    const lineOf = eventLineMaker(clock);
    const all = [...recorded, ...odd];
    expect(all.length).toBeGreaterThan(100);
    for (const e of all) {
      const line = lineOf(e);
      expect(line).toBe(`${JSON.stringify({ level: 'info', ...toEventRecord(e, clock) })}\n`);
      expect(line.indexOf('\n')).toBe(line.length - 1); // one line, whatever the names hold
    }
  });
});
