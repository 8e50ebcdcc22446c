/** Decodes the addon's inventory entries (native/inventory_entry.h) into sockets for the core. */
import { AF_INET } from '../backends/native/record-layout.js';
import { INVENTORY_ENTRY_SIZE, INVENTORY_FIELDS as F, INVENTORY_NO_INFO } from '../backends/native/inventory-layout.js';
import { formatIPv4, formatIPv6 } from '../events/ip-address.js';
import { tcpStateName } from '../events/tcp-names.js';
import type { InventorySocket } from '../core/inventory-model.js';

/** How long Linux keeps a socket in TIME_WAIT (TCP_TIMEWAIT_LEN). */
const TIME_WAIT_MS = 60_000;

function hex64(view: DataView, offset: number): string {
  const lo = view.getUint32(offset, true);
  const hi = view.getUint32(offset + 4, true);
  return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
}

/**
 * The kernel does not record when a socket entered its state; some states leave a trace:
 * CLOSE_WAIT began with the peer's FIN, and every later ACK from the peer is newer, so the time since
 * the last ACK is a lower bound. TIME_WAIT runs a 60 s timer from its start.
 */
function ageLowerBound(state: string, view: DataView, base: number): number | null {
  if (state === 'CLOSE_WAIT') {
    const sinceAck = view.getUint32(base + F.last_ack_recv_ms.offset, true);
    return sinceAck === INVENTORY_NO_INFO ? null : sinceAck;
  }
  if (state === 'TIME_WAIT') {
    const left = view.getUint32(base + F.expires_ms.offset, true);
    return Math.max(0, TIME_WAIT_MS - left);
  }
  return null;
}

/**
 * The entries as sockets, decoded one at a time as they are read (each pass decodes anew): a caller
 * that applies and drops each one never holds them all, so they die young instead of filling the heap.
 */
export function inventoryEntries(buffer: ArrayBuffer, count: number): Iterable<InventorySocket> {
  const n = Math.min(count, Math.floor(buffer.byteLength / INVENTORY_ENTRY_SIZE));
  return {
    *[Symbol.iterator]() {
      const view = new DataView(buffer);
      const bytes = new Uint8Array(buffer);
      // A host's sockets share few IPv4 addresses: one string each (the core keeps them for every socket).
      const v4 = new Map<number, string>();
      const formatV4 = (at: number) => {
        const key = view.getUint32(at, false);
        let text = v4.get(key);
        if (text === undefined) v4.set(key, (text = formatIPv4(bytes, at)));
        return text;
      };
      const formatV6 = (at: number) => formatIPv6(bytes, at);
      for (let i = 0; i < n; i++) {
        const base = i * INVENTORY_ENTRY_SIZE;
        const family = view.getUint16(base + F.family.offset, true);
        const format = family === AF_INET ? formatV4 : formatV6;
        const state = tcpStateName(view.getUint8(base + F.state.offset));
        const socket: InventorySocket = {
          sock: hex64(view, base + F.cookie.offset),
          family: family === AF_INET ? 4 : 6,
          netns: view.getUint32(base + F.netns.offset, true),
          local: { addr: format(base + F.saddr.offset), port: view.getUint16(base + F.sport.offset, true) },
          peer: { addr: format(base + F.daddr.offset), port: view.getUint16(base + F.dport.offset, true) },
          state,
          inode: view.getUint32(base + F.inode.offset, true),
          uid: view.getUint32(base + F.uid.offset, true),
          owners: [],
          ageLowerBoundMs: ageLowerBound(state, view, base),
          // sock_diag reports a listener's accept queue and listen()'s limit in the queue fields, as ss -lnt.
          acceptQueue:
            state === 'LISTEN'
              ? { length: view.getUint32(base + F.rqueue.offset, true), limit: view.getUint32(base + F.wqueue.offset, true) }
              : null,
        };
        yield socket;
      }
    },
  };
}
