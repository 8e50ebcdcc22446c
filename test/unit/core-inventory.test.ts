/** The core fed inventories: pre-existing sockets, shared owners, reconciliation, fd and port pressure. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import type { Inventory, InventorySocket, ProcessInfo } from '../../src/core/inventory-model.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { decodeBatch } from '../../src/events/decode-batch.js';
import { buildBatch } from '../support/record-builder.js';
import { inventorySocket } from '../support/inventory-socket.js';
import { parseEventText } from '../../src/backends/bpftrace/bpftrace-lines.js';

const T0 = 1_800_000_000_000;

const sock = inventorySocket;

function proc(over: Partial<ProcessInfo> & { pid: number }): ProcessInfo {
  return { comm: 'api', cmdline: 'api --serve', uid: 0, fds: 10, fdLimit: 1024, ...over };
}

function inventory(sockets: InventorySocket[], processes: ProcessInfo[], takenAtMs = T0): Inventory {
  return { takenAtMs, sockets, processes, problems: [] };
}

describe('the core seeded from an inventory', () => {
  it('reports pre-existing CLOSE_WAIT ages as lower bounds, and says so', () => {
    const core = new SocketCore(coreConfig({ thresholds: { closeWaitAgeSeconds: 60, closeWaitMinSockets: 2 } }));
    core.applyInventory(
      inventory(
        [
          sock({ sock: 'a1', state: 'LISTEN', peer: { addr: '0.0.0.0', port: 0 } }),
          sock({ sock: 'a2', state: 'CLOSE_WAIT', ageLowerBoundMs: 3_600_000, peer: { addr: '198.18.0.2', port: 40001 } }),
          sock({ sock: 'a3', state: 'CLOSE_WAIT', ageLowerBoundMs: 120_000, peer: { addr: '198.18.0.3', port: 40002 } }),
          sock({ sock: 'a4', state: 'CLOSE_WAIT', ageLowerBoundMs: null, peer: { addr: '198.18.0.3', port: 40003 } }),
        ],
        [proc({ pid: 100 })],
      ),
    );
    const summary = core.summarize(T0);
    const p = summary.processes.rows.find((r) => r.pid === 100)!;
    expect(p.closeWait).toMatchObject({ count: 3, oldestSeconds: 3600, oldestIsLowerBound: true });
    expect(p.closeWait.ages).toEqual({ under10s: 1, under1m: 0, under10m: 1, over10m: 1 });
    const service = summary.services.rows.find((s) => s.port === 8080)!;
    expect(service.listeners).toEqual([{ pid: 100, comm: 'api' }]);
    expect(service.closeWait.count).toBe(3);
    const leak = summary.findings.find((f) => f.kind === 'close_wait_leak')!;
    expect(leak.evidence).toMatchObject({ closeWaitOverThreshold: 2, oldestIsLowerBound: true });
    expect(leak.explanation).toMatch(/at least 1 h/);
    const views = core.socketViews(T0 + 1000);
    expect(views.find((v) => v.sock === 'a2')).toMatchObject({ stateAgeSeconds: 3601, stateAgeIsLowerBound: true });
  });

  it('names every process sharing a socket', () => {
    const core = new SocketCore();
    core.applyInventory(inventory([sock({ sock: 'b1', owners: [100, 101] })], [proc({ pid: 100 }), proc({ pid: 101, comm: 'worker' })]));
    const view = core.socketViews(T0)[0]!;
    expect(view.procs).toEqual([
      { pid: 100, comm: 'api' },
      { pid: 101, comm: 'worker' },
    ]);
    const rows = core.summarize(T0).processes.rows;
    expect(rows.map((r) => [r.pid, r.totalSockets])).toEqual(expect.arrayContaining([[100, 1], [101, 1]]));
  });

  it('joins events to inventoried sockets by cookie, and later inventories correct the table', () => {
    const core = new SocketCore(coreConfig(), (ns) => T0 + Number(ns / 1_000_000n));
    core.applyInventory(inventory([sock({ sock: 'c1' }), sock({ sock: 'c2' })], [proc({ pid: 100 })]));
    // The peer closes c1: an event, 5 s after the inventory.
    const { events } = decodeBatch(
      buildBatch([{ kind: 'state_change', tsNs: 5_000_000_000n, sockId: 0xc1n, ownerPid: 100, ownerComm: 'api', oldState: 1, state: 8, local: ['198.18.0.1', 8080], peer: ['198.18.0.2', 40000] }]),
      1,
    );
    core.applyEvents(events);
    let c1 = core.socketViews(T0 + 6000).find((v) => v.sock === 'c1')!;
    expect(c1).toMatchObject({ state: 'CLOSE_WAIT', stateAgeSeconds: 1, stateAgeIsLowerBound: false });

    // A later inventory no longer has c2, and nothing said it went: it is gone, and counted.
    core.applyInventory(inventory([sock({ sock: 'c1', state: 'CLOSE_WAIT' })], [proc({ pid: 100 })], T0 + 10_000));
    const summary = core.summarize(T0 + 10_000);
    expect(summary.totals.sockets).toBe(1);
    expect(summary.totals.reconciledAway).toBe(1);
    c1 = core.socketViews(T0 + 10_000).find((v) => v.sock === 'c1')!;
    expect(c1.stateAgeIsLowerBound).toBe(false); // the event's exact time survives the inventory
  });

  it('follows owners and names across inventories, and forgets sockets no longer there', () => {
    const core = new SocketCore(coreConfig());
    core.applyInventory(inventory([sock({ sock: 'b1' }), sock({ sock: 'b2', owners: [100, 101] })], [proc({ pid: 100 }), proc({ pid: 101, comm: 'worker' })]));
    const ownersOf = (id: string) => core.socketViews(T0).find((v) => v.sock === id)?.procs;
    expect(ownersOf('b2')).toEqual([{ pid: 100, comm: 'api' }, { pid: 101, comm: 'worker' }]);
    // Later: 100 renamed itself, b2 passed to 101 alone, b1 closed without an event.
    core.applyInventory(
      inventory([sock({ sock: 'b2', owners: [101] }), sock({ sock: 'b3', owners: [100] })], [proc({ pid: 100, comm: 'api-v2' }), proc({ pid: 101, comm: 'worker' })], T0 + 60_000),
    );
    expect(ownersOf('b1')).toBeUndefined();
    expect(ownersOf('b2')).toEqual([{ pid: 101, comm: 'worker' }]);
    expect(ownersOf('b3')).toEqual([{ pid: 100, comm: 'api-v2' }]);
    expect(core.summarize(T0 + 60_000).totals.reconciledAway).toBe(1);
    // Same owners again, renamed: the name follows.
    core.applyInventory(inventory([sock({ sock: 'b3', owners: [100] })], [proc({ pid: 100, comm: 'api-v3' })], T0 + 120_000));
    expect(ownersOf('b3')).toEqual([{ pid: 100, comm: 'api-v3' }]);
  });

  it("keeps each socket's owners its own, though sockets of one process share their list", () => {
    const core = new SocketCore(coreConfig());
    core.applyInventory(inventory([sock({ sock: 'c1', inode: 0 }), sock({ sock: 'c2', inode: 0 })], [proc({ pid: 100 })]));
    // A process the inventory did not know writes on c1 (it was handed over): c1 is its now, c2 stays.
    const [e] = decodeBatch(buildBatch([{ kind: 'send_error', sockId: 0xc1n, ownerPid: 101, ownerComm: 'child', err: 32, state: 1 }]), 1).events;
    core.applyEvents([e!]);
    const procsOf = (id: string) => core.socketViews(T0).find((v) => v.sock === id)?.procs.map((p) => p.pid);
    expect(procsOf('c1')).toEqual([101]);
    expect(procsOf('c2')).toEqual([100]);
  });

  it('follows the owner the kernel names: shared holders stay, a new user replaces them, nobody ends it', () => {
    const core = new SocketCore(coreConfig());
    core.applyInventory(inventory([sock({ sock: 'd1', owners: [100, 101] }), sock({ sock: 'd2', owners: [100] })], [proc({ pid: 100 }), proc({ pid: 101, comm: 'worker' })]));
    const event = (sockId: bigint, ownerPid: number, ownerComm: string) =>
      decodeBatch(buildBatch([{ kind: 'send_error', sockId, ownerPid, ownerComm, err: 32, state: 1 }]), 1).events[0]!;
    const ownersOf = (id: string) => core.socketViews(T0).find((v) => v.sock === id)?.procs;
    // Shared after fork: an event from one holder leaves both.
    core.applyEvents([event(0xd1n, 101, 'worker')]);
    expect(ownersOf('d1')!.map((p) => p.pid)).toEqual([100, 101]);
    // A renamed holder: the name follows.
    core.applyEvents([event(0xd1n, 101, 'worker-2')]);
    expect(ownersOf('d1')).toEqual([{ pid: 100, comm: 'api' }, { pid: 101, comm: 'worker-2' }]);
    // The kernel naming nobody does not undo what an inventory found (it may not know the socket)...
    core.applyEvents([event(0xd2n, 0, '')]);
    expect(ownersOf('d2')!.map((p) => p.pid)).toEqual([100]);
    // ...but ends an owner only an event named: its process has exited.
    core.applyEvents([event(0xd2n, 102, 'taker'), event(0xd2n, 0, '')]);
    expect(ownersOf('d2')).toEqual([]);
  });

  it('warns about fd pressure, critically near the limit', () => {
    const core = new SocketCore();
    core.applyInventory(inventory([], [proc({ pid: 7, fds: 850, fdLimit: 1000 }), proc({ pid: 8, fds: 990, fdLimit: 1000 }), proc({ pid: 9, fds: 10 })]));
    const findings = core.summarize(T0).findings.filter((f) => f.kind === 'fd_pressure');
    expect(findings.map((f) => [f.subject.pid, f.severity])).toEqual([
      [8, 'critical'],
      [7, 'warning'],
    ]);
    expect(findings[0]!.explanation).toMatch(/EMFILE/);
  });

  it("counts a service's queued sockets apart from its files, and never more files than it has", () => {
    const core = new SocketCore();
    // 100 fds, 58 of them CLOSE_WAIT sockets it accepted; 42 more wait in its accept queue (no inode).
    const accepted = Array.from({ length: 58 }, (_, i) => sock({ sock: `a${i}`, state: 'CLOSE_WAIT', owners: [7], inode: 1000 + i, peer: { addr: '198.18.0.2', port: 20000 + i } }));
    const queued = Array.from({ length: 42 }, (_, i) => sock({ sock: `f${i}`, state: 'CLOSE_WAIT', owners: [], inode: 0, peer: { addr: '198.18.0.2', port: 30000 + i } }));
    core.applyInventory(inventory([...accepted, ...queued], [proc({ pid: 7, fds: 100, fdLimit: 100 })]));
    // The kernel names the listener's owner for the queued ones.
    core.applyEvents(
      queued.map((q, i) =>
        decodeBatch(buildBatch([{ kind: 'rst_received', sockId: BigInt(`0x${q.sock}`), ownerPid: 7, ownerComm: 'api', ownerSource: 2, state: 8, local: ['198.18.0.1', 80], peer: ['198.18.0.2', 30000 + i] }]), 1).events[0]!,
      ),
    );
    const finding = core.summarize(T0).findings.find((f) => f.kind === 'fd_pressure')!;
    expect(finding.explanation).toMatch(/58 of its open files are TCP sockets, 58 of them in CLOSE_WAIT .*, and 42 more wait in its accept queue/);
    expect(finding.evidence).toMatchObject({ fds: 100, tcpSockets: 58, queuedSockets: 42 });
    expect(finding.title).toMatch(/uses 100 of 100 \(100%\)/);
  });

  it('warns when one local address holds most ephemeral ports toward one peer', () => {
    const core = new SocketCore(coreConfig({ ephemeralPorts: 100 }));
    const sockets = Array.from({ length: 60 }, (_, i) =>
      sock({ sock: `d${i}`, state: i < 40 ? 'TIME_WAIT' : 'ESTABLISHED', local: { addr: '198.18.0.1', port: 30000 + i }, peer: { addr: '198.18.5.5', port: 5432 }, owners: [] }),
    );
    core.applyInventory(inventory(sockets, []));
    const finding = core.summarize(T0).findings.find((f) => f.kind === 'ephemeral_port_pressure')!;
    expect(finding.evidence).toMatchObject({ sockets: 60, timeWait: 40 });
    expect(finding.subject).toEqual({ local: '198.18.0.1', peer: '198.18.5.5:5432' });
  });

  it('counts ephemeral ports per network namespace: two containers using the same addresses share none', () => {
    const core = new SocketCore(coreConfig({ ephemeralPorts: 100 }));
    // 30 connections in each of two namespaces from 127.0.0.1 to 127.0.0.1:6379: 60 together, 30 each.
    const sockets = Array.from({ length: 60 }, (_, i) =>
      sock({ sock: `n${i}`, netns: i < 30 ? 1 : 2, local: { addr: '127.0.0.1', port: 40000 + (i % 30) }, peer: { addr: '127.0.0.1', port: 6379 }, owners: [] }),
    );
    core.applyInventory(inventory(sockets, []));
    expect(core.summarize(T0).findings.filter((f) => f.kind === 'ephemeral_port_pressure')).toEqual([]);
  });
});

describe('src/core is pure', () => {
  it('imports no I/O: no node: modules, nothing from inventory, native, source, cli or output', () => {
    const dir = new URL('../../src/core/', import.meta.url);
    for (const file of readdirSync(dir)) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      for (const spec of imports) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(/^node:|\/(inventory|native|source|cli|output|live)\//);
      }
      expect(text, file).not.toMatch(/\b(setTimeout|setInterval|Date\.now|process\.)/);
    }
  });
});

describe('a connection error whose socket the bpftrace backend could not tell (sock "0")', () => {
  it('counts toward its peer without tracking a socket "0" or naming anyone', () => {
    const core = new SocketCore(coreConfig(), (ns) => Number(ns / 1_000_000n));
    const event = parseEventText(
      ['E', '5000000', '0', '0', '2', '40000', '9', 'c11212c6', '0', '0', '0', 'c21212c6', '0', '0', '0', '0', '0', '65535', '110', '0', '0', '0', '0', '77', '0', 'x', 'y'].join('\t'),
      { idSalt: 1n },
    )!;
    expect(event).toMatchObject({ kind: 'connection_error', sock: '0', owner: null, errno: 'ETIMEDOUT' });
    core.applyEvents([event, { ...event, tsNs: 6_000_000n }]);
    expect(core.sockets.size).toBe(0);
    expect(core.byPeer.get('198.18.18.194')?.connectionErrorsByErrno.get('ETIMEDOUT')).toBe(2);
    expect(core.byProcess.size).toBe(0);
  });
});

describe('summaries over many sockets', () => {
  it('counts a leak over every old CLOSE_WAIT of each owner, a shared socket in both', () => {
    const sockets: InventorySocket[] = [];
    for (let i = 0; i < 3000; i++) {
      const peer = { addr: `198.18.1.${i % 3}`, port: 30_000 + i };
      sockets.push(sock({ sock: `c${i}`, inode: 10 + i, state: 'CLOSE_WAIT', ageLowerBoundMs: 120_000, peer, owners: i < 10 ? [100, 101] : [100] }));
    }
    const core = new SocketCore(coreConfig({ maxSockets: 10_000 }));
    core.applyInventory(inventory(sockets, [proc({ pid: 100 }), proc({ pid: 101, comm: 'child' })]));
    const leaks = core.summarize(T0).findings.filter((f) => f.kind === 'close_wait_leak');
    expect(leaks.map((f) => [f.subject.pid, f.evidence.closeWaitOverThreshold])).toEqual([
      [100, 3000],
      [101, 10],
    ]);
    expect(leaks[0]!.evidence.topPeers).toEqual([
      { value: '198.18.1.0', count: 1000 },
      { value: '198.18.1.1', count: 1000 },
      { value: '198.18.1.2', count: 1000 },
    ]);
  });

  it('gives every row no event touched the same zeroed activity, which no one can change', () => {
    const core = new SocketCore();
    core.applyInventory(
      inventory(
        [sock({ sock: 'z1', peer: { addr: '198.18.2.1', port: 40001 } }), sock({ sock: 'z2', inode: 2, peer: { addr: '198.18.2.2', port: 40002 } })],
        [proc({ pid: 100 })],
      ),
    );
    const peers = core.summarize(T0).peers.rows;
    expect(peers).toHaveLength(2);
    expect(peers[0]!.activity).toBe(peers[1]!.activity);
    expect(peers[0]!.activity.errors).toMatchObject({ total: 0, perSecond10s: 0, perSecond1m: 0, byErrno: {} });
    expect(() => {
      (peers[0]!.activity.errors.byErrno as Record<string, number>).EPIPE = 1;
    }).toThrow(TypeError);
  });
});
