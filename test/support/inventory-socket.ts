/** An inventory socket for core tests: pid 100's ESTABLISHED connection 198.18.0.1:8080 <- 198.18.0.2:40000 unless told otherwise. */
import type { InventorySocket } from '../../src/core/inventory-model.js';

export function inventorySocket(over: Partial<InventorySocket> & { sock: string }): InventorySocket {
  return {
    family: 4,
    netns: 1,
    local: { addr: '198.18.0.1', port: 8080 },
    peer: { addr: '198.18.0.2', port: 40000 },
    state: 'ESTABLISHED',
    inode: 1,
    uid: 0,
    owners: [100],
    ageLowerBoundMs: null,
    ...over,
  };
}
