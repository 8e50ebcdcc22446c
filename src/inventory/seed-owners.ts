/**
 * Seeds the kernel's owner map with the inventory's owners, so events on sockets opened before
 * socktrace started (a FIN arriving in softirq, say) name their owner exactly like new ones.
 */
import { readFileSync } from 'node:fs';
import type { Inventory, StreamedInventory } from '../core/inventory-model.js';
import { COMM_LENGTH } from '../native/record-layout.js';

const SEED_RECORD_SIZE = 32;
let scratch = new ArrayBuffer(0);

/** The raw comm bytes (the kernel's own, not our escaped text): the decoder escapes them again later. */
function rawComm(pid: number, procRoot: string): Uint8Array {
  try {
    const bytes = readFileSync(`${procRoot}/${pid}/comm`);
    return bytes.subarray(0, Math.max(0, Math.min(bytes.length - 1, COMM_LENGTH - 1)));
  } catch {
    return new Uint8Array(0);
  }
}

/** Seed records for every inventoried socket with a known owner (its first, by pid), in one pass. */
export function seedRecords(inventory: Inventory | StreamedInventory, procRoot = '/proc'): ArrayBuffer {
  const most = 'socketCount' in inventory ? inventory.socketCount : inventory.sockets.length;
  // Written into a scratch buffer kept between calls; only the records made are copied out.
  if (scratch.byteLength < most * SEED_RECORD_SIZE) scratch = new ArrayBuffer(Math.ceil(most * 1.25) * SEED_RECORD_SIZE);
  const view = new DataView(scratch);
  const bytes = new Uint8Array(scratch);
  const uids = new Map(inventory.processes.map((p) => [p.pid, p.uid]));
  const comms = new Map<number, Uint8Array>();
  let i = 0;
  for (const s of inventory.sockets) {
    if (s.owners.length === 0 || s.sock === '0' || i === most) continue;
    const base = i++ * SEED_RECORD_SIZE;
    const pid = s.owners[0]!;
    // The cookie's hex in two 32-bit halves: no BigInt per socket.
    view.setUint32(base, parseInt(s.sock.slice(-8), 16), true);
    view.setUint32(base + 4, s.sock.length > 8 ? parseInt(s.sock.slice(0, -8), 16) : 0, true);
    view.setUint32(base + 8, pid, true);
    view.setUint32(base + 12, uids.get(pid) ?? s.uid, true);
    let comm = comms.get(pid);
    if (!comm) comms.set(pid, (comm = rawComm(pid, procRoot)));
    bytes.set(comm, base + 16);
  }
  return scratch.slice(0, i * SEED_RECORD_SIZE);
}
