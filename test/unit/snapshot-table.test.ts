/** The readable snapshot's tables. */
import { expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import type { InventorySocket } from '../../src/core/inventory-model.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { renderSnapshotTable } from '../../src/output/snapshot-table.js';
import { inventorySocket } from '../support/inventory-socket.js';

const T0 = 1_800_000_000_000;

/** Socket n of pid 100's service on 198.18.0.1:8080 (its own peer port and inode). */
const sock = (n: number, over: Partial<InventorySocket>): InventorySocket =>
  inventorySocket({ sock: `s${n}`, peer: { addr: '198.18.1.1', port: 40000 + n }, inode: n, ...over });

it("PEERS says each peer's side and namespace, as top does", () => {
  const core = new SocketCore(coreConfig({}));
  core.applyInventory({
    takenAtMs: T0,
    sockets: [
      sock(0, { state: 'LISTEN', peer: { addr: '0.0.0.0', port: 0 } }),
      sock(1, {}),
      // netns 2: a client of the service, whose peer is the service's own address.
      sock(2, { netns: 2, owners: [500], local: { addr: '198.18.1.1', port: 41000 }, peer: { addr: '198.18.0.1', port: 8080 } }),
    ],
    processes: [
      { pid: 100, comm: 'api', cmdline: 'api', uid: 0, fds: 10, fdLimit: 1024 },
      { pid: 500, comm: 'client', cmdline: 'client', uid: 0, fds: 10, fdLimit: 1024 },
    ],
    problems: [],
  });
  const text = renderSnapshotTable(core.summarize(T0), []);
  const peers = text.slice(text.indexOf('\nPEERS\n'));
  expect(peers).toMatch(/PEER\s+SIDE\s+NETNS\s+SOCKETS/);
  expect(peers).toMatch(/198\.18\.0\.1\s+server\s+2\s+1\b/);
  expect(peers).toMatch(/198\.18\.1\.1\s+client\s+1\s+1\b/);
});
