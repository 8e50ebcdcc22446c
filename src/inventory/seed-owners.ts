/**
 * Seeds the kernel's owner maps with the inventory's owners, so events on sockets opened before
 * socktrace started (a FIN arriving in softirq, say) name their owner exactly like new ones, and
 * sockets still queued on a listener that existed before name that listener's owner. Each record is
 * struct socktrace_seed (probes/socktrace_event.h).
 */
import { readFileSync } from 'node:fs';
import type { Inventory, StreamedInventory } from '../core/inventory-model.js';
import { parseIP } from '../events/ip-address.js';
import { AF_INET, AF_INET6, COMM_LENGTH } from '../backends/native/record-layout.js';
import { SEED_FIELDS as F, SEED_RECORD_SIZE } from '../backends/native/seed-layout.js';

export { SEED_RECORD_SIZE };

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

/** A listener's address as the kernel keeps it: IPv4 in 4 bytes, IPv6 (IPv4-mapped too) in 16. */
function listenerAddress(family: 4 | 6, text: string): Uint8Array | null {
  const bytes = parseIP(text);
  if (!bytes || family === 4) return bytes;
  if (bytes.length === 16) return bytes;
  const mapped = new Uint8Array(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped.set(bytes, 12);
  return mapped;
}

/**
 * Seed records for every inventoried socket with a known owner, in one pass. A socket several
 * processes hold is seeded with the first of them; a listener several hold makes its group mixed
 * in the kernel, so what waits in its queue names nobody (any of them may accept it).
 */
export function seedRecords(inventory: Inventory | StreamedInventory, procRoot = '/proc'): ArrayBuffer {
  const most = 'socketCount' in inventory ? inventory.socketCount : inventory.sockets.length;
  // Written into a scratch buffer kept between calls (grown when shared listeners need more than one
  // record a socket); only the records made are copied out.
  if (scratch.byteLength < most * SEED_RECORD_SIZE) scratch = new ArrayBuffer(Math.ceil(most * 1.25 + 64) * SEED_RECORD_SIZE);
  let view = new DataView(scratch);
  let bytes = new Uint8Array(scratch);
  const processes = new Map(inventory.processes.map((p) => [p.pid, p]));
  const comms = new Map<number, Uint8Array>();
  let i = 0;
  const write = (cookie: string | null, pid: number, uid: number): number => {
    if ((i + 1) * SEED_RECORD_SIZE > scratch.byteLength) {
      const grown = new ArrayBuffer(scratch.byteLength * 2 + 64 * SEED_RECORD_SIZE);
      new Uint8Array(grown).set(bytes);
      scratch = grown;
      view = new DataView(scratch);
      bytes = new Uint8Array(scratch);
    }
    const base = i++ * SEED_RECORD_SIZE;
    bytes.fill(0, base, base + SEED_RECORD_SIZE);
    // The cookie's hex in two 32-bit halves: no BigInt per socket. None: a listener's further holders.
    if (cookie) {
      view.setUint32(base + F.cookie.offset, parseInt(cookie.slice(-8), 16), true);
      view.setUint32(base + F.cookie.offset + 4, cookie.length > 8 ? parseInt(cookie.slice(0, -8), 16) : 0, true);
    }
    const start = processes.get(pid)?.startTicks ?? 0;
    view.setUint32(base + F.start.offset, start % 2 ** 32, true);
    view.setUint32(base + F.start.offset + 4, Math.floor(start / 2 ** 32), true);
    view.setUint32(base + F.pid.offset, pid, true);
    view.setUint32(base + F.uid.offset, processes.get(pid)?.uid ?? uid, true);
    let comm = comms.get(pid);
    if (!comm) comms.set(pid, (comm = rawComm(pid, procRoot)));
    bytes.set(comm, base + F.comm.offset);
    return base;
  };
  for (const s of inventory.sockets) {
    if (s.owners.length === 0 || s.sock === '0') continue;
    const address = s.state === 'LISTEN' ? listenerAddress(s.family, s.local.addr) : null;
    s.owners.forEach((pid, nth) => {
      if (nth > 0 && !address) return;
      const base = write(nth === 0 ? s.sock : null, pid, s.uid);
      if (!address) return;
      view.setUint32(base + F.netns.offset, s.netns, true);
      view.setUint16(base + F.port.offset, s.local.port, true);
      view.setUint16(base + F.family.offset, s.family === 4 ? AF_INET : AF_INET6, true);
      bytes.set(address, base + F.addr.offset);
    });
  }
  return scratch.slice(0, i * SEED_RECORD_SIZE);
}
