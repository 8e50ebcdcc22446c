import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InventorySocket } from '../../src/core/inventory-model.js';
import { seedRecords } from '../../src/inventory/seed-owners.js';

const procRoot = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
mkdirSync(join(procRoot, '42'));
writeFileSync(join(procRoot, '42', 'comm'), 'api-server\n');
afterAll(() => rmSync(procRoot, { recursive: true, force: true }));

function sock(id: string, owners: number[]): InventorySocket {
  return { sock: id, family: 4, netns: 1, local: { addr: '198.18.0.1', port: 80 }, peer: { addr: '198.18.0.2', port: 5000 }, state: 'ESTABLISHED', inode: 1, uid: 7, owners, ageLowerBoundMs: null };
}

describe('seedRecords', () => {
  const sockets = [sock('12340000abcd', [42]), sock('ff', []), sock('0', [42]), sock('fedcba9876543210', [42, 43])];
  const processes = [{ pid: 42, comm: 'api-server', cmdline: '', uid: 1000, fds: 3, fdLimit: null }];

  it('writes one record per owned socket: cookie, first owner, its uid and raw name', () => {
    for (const inventory of [
      { takenAtMs: 0, sockets, processes, problems: [] },
      { takenAtMs: 0, sockets: new Set(sockets), socketCount: sockets.length, processes, problems: [] }, // streamed: any iterable
    ]) {
      const buffer = seedRecords(inventory, procRoot);
      expect(buffer.byteLength).toBe(2 * 32);
      const view = new DataView(buffer);
      expect(view.getBigUint64(0, true)).toBe(0x12340000abcdn);
      expect(view.getUint32(8, true)).toBe(42);
      expect(view.getUint32(12, true)).toBe(1000);
      expect(new TextDecoder().decode(new Uint8Array(buffer, 16, 10))).toBe('api-server');
      expect(view.getBigUint64(32, true)).toBe(0xfedcba9876543210n);
    }
  });
});
