/** Takes the host's inventory: every TCP socket in every network namespace, with its owners. */
import type { Inventory } from '../core/inventory-model.js';
import { loadBinding } from '../native/binding.js';
import { decodeInventory } from './decode-inventory.js';
import { listNetworkNamespaces } from './network-namespaces.js';
import { scanProcesses } from './process-scan.js';

export function takeInventory(procRoot = '/proc'): Inventory {
  const takenAtMs = Date.now();
  const namespaces = listNetworkNamespaces(procRoot);
  const native = loadBinding().inventory(namespaces);
  const sockets = decodeInventory(native.buffer, native.count);
  const scan = scanProcesses(procRoot);
  for (const s of sockets) {
    if (s.inode !== 0) s.owners = scan.socketOwners.get(s.inode) ?? [];
  }
  const problems = native.errors.map((e) => `network namespace ${e.path}: ${e.message}`);
  if (scan.unreadable > 0) problems.push(`${scan.unreadable} processes' file descriptors could not be read`);
  return { takenAtMs, sockets, processes: scan.processes, problems };
}
