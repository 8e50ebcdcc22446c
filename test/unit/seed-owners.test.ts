import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InventorySocket, ProcessInfo } from '../../src/core/inventory-model.js';
import { SEED_RECORD_SIZE, seedRecords } from '../../src/inventory/seed-owners.js';

const procRoot = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
for (const [pid, comm] of [[42, 'api-server'], [43, 'worker']] as const) {
  mkdirSync(join(procRoot, String(pid)));
  writeFileSync(join(procRoot, String(pid), 'comm'), `${comm}\n`);
}
afterAll(() => rmSync(procRoot, { recursive: true, force: true }));

function sock(id: string, owners: number[], extra: Partial<InventorySocket> = {}): InventorySocket {
  return { sock: id, family: 4, netns: 1, local: { addr: '198.18.0.1', port: 80 }, peer: { addr: '198.18.0.2', port: 5000 }, state: 'ESTABLISHED', inode: 1, uid: 7, owners, ageLowerBoundMs: null, ...extra };
}

// native/owner_seeding.h's SeedRecord, field by field.
function record(buffer: ArrayBuffer, n: number) {
  const view = new DataView(buffer, n * SEED_RECORD_SIZE, SEED_RECORD_SIZE);
  const bytes = new Uint8Array(buffer, n * SEED_RECORD_SIZE, SEED_RECORD_SIZE);
  return {
    cookie: view.getBigUint64(0, true),
    start: view.getBigUint64(8, true),
    pid: view.getUint32(16, true),
    uid: view.getUint32(20, true),
    netns: view.getUint32(24, true),
    port: view.getUint16(28, true),
    family: view.getUint16(30, true),
    addr: [...bytes.subarray(32, 48)],
    comm: new TextDecoder().decode(bytes.subarray(48, 64)).replace(/\0+$/, ''),
  };
}

describe('seedRecords', () => {
  const processes: ProcessInfo[] = [
    { pid: 42, comm: 'api-server', cmdline: '', uid: 1000, fds: 3, fdLimit: null, startTicks: 2 ** 33 + 5 },
    { pid: 43, comm: 'worker', cmdline: '', uid: 1001, fds: 3, fdLimit: null, startTicks: 77 },
  ];

  it('writes one record per owned socket: cookie, first owner, its start time, uid and raw name', () => {
    const sockets = [sock('12340000abcd', [42]), sock('ff', []), sock('0', [42]), sock('fedcba9876543210', [42, 43])];
    for (const inventory of [
      { takenAtMs: 0, sockets, processes, problems: [] },
      { takenAtMs: 0, sockets: new Set(sockets), socketCount: sockets.length, processes, problems: [] }, // streamed: any iterable
    ]) {
      const buffer = seedRecords(inventory, procRoot);
      expect(buffer.byteLength).toBe(2 * SEED_RECORD_SIZE);
      expect(record(buffer, 0)).toMatchObject({ cookie: 0x12340000abcdn, start: 2n ** 33n + 5n, pid: 42, uid: 1000, comm: 'api-server', family: 0 });
      expect(record(buffer, 1)).toMatchObject({ cookie: 0xfedcba9876543210n, pid: 42 }); // shared: the first holder
    }
  });

  it('writes a listener with what it listens on, and a record for each further holder without a cookie', () => {
    const sockets = [
      sock('aa', [42, 43], { state: 'LISTEN', local: { addr: '127.0.0.2', port: 8080 }, peer: { addr: '0.0.0.0', port: 0 }, netns: 9 }),
      sock('bb', [43], { state: 'LISTEN', family: 6, local: { addr: '::ffff:127.0.0.1', port: 443 }, peer: { addr: '::', port: 0 } }),
    ];
    const buffer = seedRecords({ takenAtMs: 0, sockets, processes, problems: [] }, procRoot);
    expect(buffer.byteLength).toBe(3 * SEED_RECORD_SIZE);
    expect(record(buffer, 0)).toMatchObject({ cookie: 0xaan, pid: 42, netns: 9, port: 8080, family: 2 });
    expect(record(buffer, 0).addr.slice(0, 4)).toEqual([127, 0, 0, 2]);
    expect(record(buffer, 1)).toMatchObject({ cookie: 0n, pid: 43, start: 77n, port: 8080, family: 2 });
    expect(record(buffer, 2)).toMatchObject({ cookie: 0xbbn, pid: 43, port: 443, family: 10 });
    expect(record(buffer, 2).addr).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
  });

  it('grows past one record a socket when many processes share listeners', () => {
    const many = Array.from({ length: 300 }, (_, i) => 1000 + i);
    const sockets = [sock('cc', many, { state: 'LISTEN' })];
    const buffer = seedRecords({ takenAtMs: 0, sockets, processes, problems: [] }, procRoot);
    expect(buffer.byteLength).toBe(300 * SEED_RECORD_SIZE);
    expect(record(buffer, 299)).toMatchObject({ cookie: 0n, pid: 1299, port: 80 });
  });
});
