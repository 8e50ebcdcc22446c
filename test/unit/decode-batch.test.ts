import { describe, expect, it } from 'vitest';
import { decodeBatch, decodeRecord } from '../../src/events/decode-batch.js';
import { RECORD_SIZE } from '../../src/backends/native/record-layout.js';
import { buildBatch, type RecordSpec } from '../support/record-builder.js';

describe('decodeBatch', () => {
  it('decodes a state change with its owner and the task that merely ran', () => {
    const buffer = buildBatch([
      {
        kind: 'state_change',
        sockId: 0x1234_0000_abcdn,
        ownerPid: 4242,
        ownerUid: 1000,
        ownerComm: 'api-server',
        ownerCgroup: 77n,
        ownerStart: 4_000_000_123,
        taskPid: 99,
        taskComm: 'curl',
        local: ['198.18.0.1', 8080],
        peer: ['198.18.0.2', 51000],
        oldState: 1,
        state: 8,
      },
    ]);
    const { events, rejected } = decodeBatch(buffer, 1);
    expect(rejected).toBe(0);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e.kind).toBe('state_change');
    expect(e.sock).toBe('12340000abcd');
    expect(e.owner).toEqual({ pid: 4242, comm: 'api-server', uid: 1000, cgroupId: 77, start: 4_000_000_123, source: 'socket' });
    expect(e.task).toEqual({ pid: 99, comm: 'curl' });
    expect(e.local).toEqual({ addr: '198.18.0.1', port: 8080 });
    expect(e.peer).toEqual({ addr: '198.18.0.2', port: 51000 });
    expect(e.oldState).toBe('ESTABLISHED');
    expect(e.state).toBe('CLOSE_WAIT');
    expect(e.family).toBe(4);
  });

  it('reports no owner when the kernel knew none', () => {
    const { events } = decodeBatch(buildBatch([{ kind: 'rst_sent', reason: 1, flags: 1, sockId: 0n }]), 1);
    expect(events[0]!.owner).toBeNull();
    expect(events[0]!.noSocket).toBe(true);
    expect(events[0]!.reason).toBe('NO_SOCKET');
  });

  it('names RST reasons from the running kernel when given, and numbers unknown ones', () => {
    const buffer = buildBatch([{ kind: 'rst_sent', reason: 3 }, { kind: 'rst_sent', reason: 200 }]);
    const { events } = decodeBatch(buffer, 2, { rstReasons: ['A', 'B', 'C', 'D_FROM_BTF'] });
    expect(events[0]!.reason).toBe('D_FROM_BTF');
    expect(events[1]!.reason).toBe('REASON_200');
  });

  it('leaves the reason out where the kernel has none (before Linux 6.10)', () => {
    const { events } = decodeBatch(buildBatch([{ kind: 'rst_sent' }]), 1);
    expect(events[0]!.reason).toBeNull();
  });

  it('names errnos on send and receive errors', () => {
    const { events } = decodeBatch(
      buildBatch([
        { kind: 'send_error', err: 32, state: 7 },
        { kind: 'recv_error', err: 104 },
      ]),
      2,
    );
    expect(events.map((e) => [e.kind, e.errno])).toEqual([
      ['send_error', 'EPIPE'],
      ['recv_error', 'ECONNRESET'],
    ]);
    expect(events[0]!.state).toBe('CLOSE');
  });

  it('prints IPv6 in standard form and IPv4-mapped IPv6 as IPv4', () => {
    const { events } = decodeBatch(
      buildBatch([
        { kind: 'rst_received', family: 6, local: ['2001:2:0:7::1', 443], peer: ['::ffff:198.18.3.4', 40000] },
      ]),
      1,
    );
    expect(events[0]!.local.addr).toBe('2001:2:0:7::1');
    expect(events[0]!.peer.addr).toBe('198.18.3.4');
    expect(events[0]!.family).toBe(6);
  });

  it('escapes hostile process names instead of passing them through', () => {
    const hostile = Uint8Array.from([0x1b, 0x5b, 0x32, 0x4a, 0x0a, 0xff, 0x41]); // ESC [2J \n <invalid> A
    const { events } = decodeBatch(buildBatch([{ kind: 'state_change', ownerPid: 1, ownerComm: hostile }]), 1);
    expect(events[0]!.owner!.comm).toBe('\\x1b[2J\\x0a\\xffA');
  });

  it('rejects and counts records it cannot decode, keeping the rest', () => {
    const buffer = buildBatch([{ kind: 'state_change' }, { kind: 'state_change' }]);
    new DataView(buffer).setUint8(RECORD_SIZE + 78, 99); // second record: unknown kind
    const { events, rejected } = decodeBatch(buffer, 2);
    expect(events).toHaveLength(1);
    expect(rejected).toBe(1);
  });

  it('counts a batch shorter or longer than its record count', () => {
    const two = buildBatch([{ kind: 'state_change' }, { kind: 'state_change' }]);
    expect(decodeBatch(two.slice(0, RECORD_SIZE + 10), 2)).toMatchObject({ rejected: 2 });
    expect(decodeBatch(two, 1).events).toHaveLength(1);
    expect(decodeBatch(two, 1).rejected).toBe(1);
    expect(decodeBatch(new ArrayBuffer(0), 0)).toEqual({ events: [], rejected: 0 });
  });

  it('decodes runs of repeated records (a storm) exactly as it decodes each record alone', () => {
    const epipe: RecordSpec = {
      kind: 'send_error', sockId: 0x77n, ownerPid: 4242, ownerComm: 'storm', taskPid: 4242, taskComm: 'storm',
      local: ['127.0.0.1', 40000], peer: ['127.0.0.1', 41000], state: 4, err: 32,
    };
    const specs: RecordSpec[] = [
      { ...epipe, tsNs: 1n },
      { ...epipe, tsNs: 2n },
      { ...epipe, tsNs: 3n, taskPid: 7, taskComm: 'ksoftirqd/0' }, // same event, another task
      { ...epipe, tsNs: 4n, err: 104 }, // ECONNRESET: not a repeat
      { ...epipe, tsNs: 5n, err: 104 },
      { ...epipe, tsNs: 6n, err: 104, peer: ['127.0.0.1', 41001] }, // another peer port
      { ...epipe, tsNs: 7n, err: 104, peer: ['127.0.0.1', 41001], ownerComm: 'storm2' }, // renamed owner
      { ...epipe, tsNs: 8n, err: 104, peer: ['127.0.0.1', 41001], ownerComm: 'storm2', flags: 4 },
    ];
    const buffer = buildBatch(specs);
    const { events, rejected } = decodeBatch(buffer, specs.length);
    expect(rejected).toBe(0);
    const view = new DataView(buffer);
    const bytes = new Uint8Array(buffer);
    const alone = specs.map((_, i) => decodeRecord(view, bytes, i * RECORD_SIZE));
    expect(events).toEqual(alone);
    expect(events.map((e) => e.tsNs)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
    expect(events[2]!.task).toEqual({ pid: 7, comm: 'ksoftirqd/0' });
    expect(events[1]!.owner).toBe(events[0]!.owner); // a repeat shares what it can
  });
});
