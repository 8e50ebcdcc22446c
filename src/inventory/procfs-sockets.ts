/**
 * TCP sockets read from /proc/<pid>/net/tcp and tcp6: the inventory where the native addon (sock_diag)
 * is not there. One process per network namespace shows that namespace's table. Less than sock_diag
 * gives: no socket cookies (ids are `inode:<n>`, or the 4-tuple for TIME_WAIT and unaccepted sockets),
 * no CLOSE_WAIT age, and namespaces that no process lives in (only bind-mounted by `ip netns`) cannot
 * be read this way; the problems say so.
 */
import { readFileSync } from 'node:fs';
import type { InventorySocket } from '../core/inventory-model.js';
import { formatIPv4, formatIPv6 } from '../events/ip-address.js';
import { tcpStateName } from '../events/tcp-names.js';
import type { NamespaceRef } from './network-namespaces.js';

/** How long Linux keeps a socket in TIME_WAIT (TCP_TIMEWAIT_LEN). */
const TIME_WAIT_MS = 60_000;

/** "0100007F:1F90" -> { addr: "127.0.0.1", port: 8080 }: the address as the kernel's words print it. */
function endpoint(text: string, family: 4 | 6): { addr: string; port: number } | null {
  const [hex, portHex] = text.split(':');
  const words = family === 4 ? 1 : 4;
  if (!hex || !portHex || hex.length !== words * 8 || !/^[0-9A-Fa-f]+$/.test(hex + portHex)) return null;
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  // Each 32-bit word is printed as a number, in the machine's byte order: back to memory order.
  for (let w = 0; w < words; w++) view.setUint32(w * 4, Number.parseInt(hex.slice(w * 8, w * 8 + 8), 16), true);
  return { addr: family === 4 ? formatIPv4(bytes) : formatIPv6(bytes), port: Number.parseInt(portHex, 16) };
}

/** Parses one /proc/net/tcp{,6} table; lines that do not parse are counted, not guessed at. */
export function parseProcNetTcp(text: string, family: 4 | 6, netns: number): { sockets: InventorySocket[]; unparsed: number } {
  const sockets: InventorySocket[] = [];
  // The kernel prints the table a bucket at a time: a read that races changes can list a socket twice.
  const seen = new Set<string>();
  let unparsed = 0;
  for (const line of text.split('\n').slice(1)) {
    if (line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    const local = endpoint(f[1] ?? '', family);
    const peer = endpoint(f[2] ?? '', family);
    const stateCode = Number.parseInt(f[3] ?? '', 16);
    const queues = (f[4] ?? '').split(':'); // tx_queue:rx_queue; a listener's rx_queue is its accept queue
    const timer = (f[5] ?? '').split(':'); // tr:tm->when, in jiffies-as-clock_t hex
    const uid = Number(f[7]);
    const inode = Number(f[9]);
    if (!local || !peer || !Number.isInteger(stateCode) || !Number.isInteger(uid) || !Number.isInteger(inode)) {
      unparsed++;
      continue;
    }
    const state = tcpStateName(stateCode);
    let ageLowerBoundMs: number | null = null;
    if (state === 'TIME_WAIT' && timer.length === 2) {
      const left = (Number.parseInt(timer[1]!, 16) * 1000) / 100; // USER_HZ ticks
      if (Number.isFinite(left)) ageLowerBoundMs = Math.max(0, TIME_WAIT_MS - left);
    }
    const sock = inode !== 0 ? `inode:${inode}` : `${netns}:${local.addr}:${local.port}-${peer.addr}:${peer.port}`;
    if (seen.has(`${sock} ${state}`)) continue;
    seen.add(`${sock} ${state}`);
    sockets.push({
      sock,
      family,
      netns,
      local,
      peer,
      state,
      inode,
      uid,
      owners: [],
      ageLowerBoundMs,
      // /proc/net/tcp has the accept queue's length but not listen()'s limit.
      acceptQueue: state === 'LISTEN' && queues.length === 2 ? { length: Number.parseInt(queues[1]!, 16), limit: null } : null,
    });
  }
  return { sockets, unparsed };
}

/** Every namespace's table, read through one of its processes. */
export function readProcfsSockets(namespaces: NamespaceRef[]): { sockets: InventorySocket[]; problems: string[] } {
  const sockets: InventorySocket[] = [];
  const problems: string[] = [];
  for (const ns of namespaces) {
    const pid = /^(.*\/\d+|\/proc\/self)\/ns\/net$/.exec(ns.path)?.[1];
    if (!pid) {
      problems.push(`network namespace ${ns.path}: no process lives in it, and /proc shows a namespace's sockets only through one`);
      continue;
    }
    for (const [file, family] of [['tcp', 4], ['tcp6', 6]] as const) {
      try {
        const parsed = parseProcNetTcp(readFileSync(`${pid}/net/${file}`, 'utf8'), family, ns.inode);
        sockets.push(...parsed.sockets);
        if (parsed.unparsed > 0) problems.push(`${pid}/net/${file}: ${parsed.unparsed} lines did not parse`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${pid}/net/${file}: ${(error as Error).message}`);
      }
    }
  }
  return { sockets, problems };
}
