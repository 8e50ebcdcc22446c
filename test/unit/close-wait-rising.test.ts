/**
 * The early warning of a CLOSE_WAIT leak, from the sockets alone (as snapshot sees them: the inventory's
 * CLOSE_WAIT ages): a leak a few seconds old warns, healthy churn never does, an old leak is close_wait_leak.
 */
import { expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import type { InventorySocket } from '../../src/core/inventory-model.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { inventorySocket } from '../support/inventory-socket.js';

const T0 = 1_800_000_000_000;
const processes = [{ pid: 100, comm: 'api', cmdline: 'python3 api.py', uid: 0, fds: 60, fdLimit: 1024 }];

/** CLOSE_WAIT sockets of pid 100, their ages in ms, and their peers. */
function closeWaits(ages: number[], peer = (i: number) => '198.18.0.2'): InventorySocket[] {
  return ages.map((age, i) =>
    inventorySocket({ sock: (0x1000 + i).toString(16), state: 'CLOSE_WAIT', peer: { addr: peer(i), port: 40000 + i }, inode: 1000 + i, ageLowerBoundMs: age }),
  );
}

function findingsFor(sockets: InventorySocket[]) {
  const core = new SocketCore(coreConfig());
  core.applyInventory({ takenAtMs: T0, sockets, processes, problems: [] });
  return core.summarize(T0).findings.filter((f) => f.kind.startsWith('close_wait'));
}

it('warns of 40 CLOSE_WAITs in 12 s from one peer, a minute before the leak finding', () => {
  const [f, ...rest] = findingsFor(closeWaits(Array.from({ length: 40 }, (_, i) => 2000 + i * 250)));
  expect(rest).toEqual([]);
  expect(f).toMatchObject({ kind: 'close_wait_rising', severity: 'warning', subject: { pid: 100, comm: 'api' } });
  expect(f!.title).toBe('CLOSE_WAIT rising: api (pid 100), 40 in 12 s, none closed yet, all from 198.18.0.2');
  expect(f!.evidence).toMatchObject({ closeWaitYoung: 40, oldestSeconds: 12, topPeers: [{ value: '198.18.0.2', count: 40 }] });
  expect(f!.explanation).toMatch(/close\(\)|closing it/);
});

it('says nothing of healthy churn: many CLOSE_WAITs, each closed within a second', () => {
  expect(findingsFor(closeWaits(Array.from({ length: 200 }, (_, i) => (i * 7) % 900)))).toEqual([]);
});

it('says nothing under its minimum, and leaves an old leak to close_wait_leak', () => {
  expect(findingsFor(closeWaits(Array.from({ length: 9 }, () => 5000)))).toEqual([]);
  const old = findingsFor(closeWaits([...Array.from({ length: 6 }, () => 90_000), ...Array.from({ length: 20 }, () => 5000)]));
  expect(old.map((f) => f.kind)).toEqual(['close_wait_leak']);
});

it('names the peer most of them come from, or how many peers', () => {
  const mostly = findingsFor(closeWaits(Array.from({ length: 12 }, () => 3000), (i) => (i < 9 ? '198.18.0.2' : '198.18.0.3')));
  expect(mostly[0]!.title).toMatch(/12 in 3\.0 s, none closed yet, 9 from 198\.18\.0\.2$/);
  const spread = findingsFor(closeWaits(Array.from({ length: 12 }, () => 3000), (i) => `198.18.0.${i + 2}`));
  expect(spread[0]!.title).toMatch(/from 12 peers$/);
});
