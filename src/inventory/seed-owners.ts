/**
 * Seeds the kernel's owner map with the inventory's owners, so events on sockets opened before
 * socktrace started (a FIN arriving in softirq, say) name their owner exactly like new ones.
 */
import { readFileSync } from 'node:fs';
import type { Inventory } from '../core/inventory-model.js';
import { COMM_LENGTH } from '../native/record-layout.js';

const SEED_RECORD_SIZE = 32;

/** The raw comm bytes (the kernel's own, not our escaped text): the decoder escapes them again later. */
function rawComm(pid: number, procRoot: string): Uint8Array {
  try {
    const bytes = readFileSync(`${procRoot}/${pid}/comm`);
    return bytes.subarray(0, Math.max(0, Math.min(bytes.length - 1, COMM_LENGTH - 1)));
  } catch {
    return new Uint8Array(0);
  }
}

/** Seed records for every inventoried socket with a known owner (its first, by pid). */
export function seedRecords(inventory: Inventory, procRoot = '/proc'): ArrayBuffer {
  const owned = inventory.sockets.filter((s) => s.owners.length > 0 && s.sock !== '0');
  const buffer = new ArrayBuffer(owned.length * SEED_RECORD_SIZE);
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  const uids = new Map(inventory.processes.map((p) => [p.pid, p.uid]));
  const comms = new Map<number, Uint8Array>();
  owned.forEach((s, i) => {
    const base = i * SEED_RECORD_SIZE;
    const pid = s.owners[0]!;
    view.setBigUint64(base, BigInt(`0x${s.sock}`), true);
    view.setUint32(base + 8, pid, true);
    view.setUint32(base + 12, uids.get(pid) ?? s.uid, true);
    let comm = comms.get(pid);
    if (!comm) comms.set(pid, (comm = rawComm(pid, procRoot)));
    bytes.set(comm, base + 16);
  });
  return buffer;
}
