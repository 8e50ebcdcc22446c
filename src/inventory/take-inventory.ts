/** Takes the host's inventory: every TCP socket in every network namespace, with its owners. */
import type { Inventory, InventorySocket } from '../core/inventory-model.js';
import { loadBinding } from '../native/binding.js';
import { decodeInventory } from './decode-inventory.js';
import { listNetworkNamespaces } from './network-namespaces.js';
import { readProcfsSockets } from './procfs-sockets.js';
import { scanProcesses } from './process-scan.js';

/**
 * Where socket tables come from: `sock_diag` through the native addon (cookies, CLOSE_WAIT ages, every
 * namespace), or `procfs`, /proc/<pid>/net/tcp{,6}, where the addon is missing (see procfs-sockets.ts).
 */
export type SocketTables = 'sock_diag' | 'procfs';

export function takeInventory(procRoot = '/proc', tables: SocketTables = 'sock_diag'): Inventory {
  const takenAtMs = Date.now();
  const namespaces = listNetworkNamespaces(procRoot);
  let sockets: InventorySocket[];
  const problems: string[] = [];
  if (tables === 'sock_diag') {
    const native = loadBinding().inventory(namespaces);
    sockets = decodeInventory(native.buffer, native.count);
    problems.push(...native.errors.map((e) => `network namespace ${e.path}: ${e.message}`));
  } else {
    const read = readProcfsSockets(namespaces);
    sockets = read.sockets;
    problems.push(...read.problems);
  }
  const scan = scanProcesses(procRoot);
  for (const s of sockets) {
    if (s.inode !== 0) s.owners = scan.socketOwners.get(s.inode) ?? [];
  }
  if (scan.unreadable > 0) problems.push(`${scan.unreadable} processes' file descriptors could not be read`);
  return { takenAtMs, sockets, processes: scan.processes, problems };
}
