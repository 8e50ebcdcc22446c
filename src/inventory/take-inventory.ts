/** Takes the host's inventory: every TCP socket in every network namespace, with its owners. */
import type { Inventory, InventorySocket, StreamedInventory } from '../core/inventory-model.js';
import { loadBinding } from '../backends/native/binding.js';
import { inventoryEntries } from './decode-inventory.js';
import { listNetworkNamespaces } from './network-namespaces.js';
import { readProcfsSockets } from './procfs-sockets.js';
import { scanProcesses } from './process-scan.js';

/**
 * Where socket tables come from: `sock_diag` through the native addon (cookies, CLOSE_WAIT ages, every
 * namespace), or `procfs`, /proc/<pid>/net/tcp{,6}, where the addon is missing (see procfs-sockets.ts).
 */
export type SocketTables = 'sock_diag' | 'procfs';

export function takeInventory(procRoot = '/proc', tables: SocketTables = 'sock_diag'): Inventory {
  const streamed = takeStreamedInventory(procRoot, tables);
  return { ...streamed, sockets: Array.from(streamed.sockets) };
}

/**
 * The addon's entries buffer, refilled by the next streamed inventory: a live session reconciling every
 * few seconds would otherwise leave a buffer of the whole table for the GC each time. A streamed
 * inventory is read before the next one is taken (takeInventory copies its sockets out at once).
 */
let reusable: ArrayBuffer | undefined;

/** No owner known: shared, never mutated (owners are replaced, not pushed to). */
const NO_OWNERS: number[] = [];

/**
 * The same inventory, its sockets decoded as they are read (see StreamedInventory): what a live
 * session reconciles with every few seconds. Owners come from one scan of /proc, made up front.
 */
export function takeStreamedInventory(procRoot = '/proc', tables: SocketTables = 'sock_diag'): StreamedInventory {
  const takenAtMs = Date.now();
  const namespaces = listNetworkNamespaces(procRoot);
  let sockets: Iterable<InventorySocket>;
  let socketCount: number;
  const problems: string[] = [];
  if (tables === 'sock_diag') {
    const native = loadBinding().inventory(namespaces, reusable);
    reusable = native.buffer;
    sockets = inventoryEntries(native.buffer, native.count);
    socketCount = native.count;
    problems.push(...native.errors.map((e) => `network namespace ${e.path}: ${e.message}`));
  } else {
    const read = readProcfsSockets(namespaces);
    sockets = read.sockets;
    socketCount = read.sockets.length;
    problems.push(...read.problems);
  }
  const scan = scanProcesses(procRoot);
  if (scan.unreadable > 0) problems.push(`${scan.unreadable} processes' file descriptors could not be read`);
  const withOwners: Iterable<InventorySocket> = {
    *[Symbol.iterator]() {
      for (const s of sockets) {
        if (s.inode !== 0) s.owners = scan.socketOwners.get(s.inode) ?? NO_OWNERS;
        yield s;
      }
    },
  };
  return { takenAtMs, sockets: withOwners, socketCount, processes: scan.processes, problems };
}
