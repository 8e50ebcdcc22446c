/**
 * Accept-queue overflows on recorded inputs: TcpExt counters as this kernel (Linux 6.18) writes them,
 * and listeners' queues as ss -lnt shows them (5/4: a backlog of 4, full). The overflows a namespace
 * counted go to its only full listener; with several full, to none of them (each a candidate).
 */
import { describe, expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import type { InventorySocket } from '../../src/core/inventory-model.js';
import { ListenOverflowTracker, type ListenerQueueNow } from '../../src/core/listen-overflows.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { parseListenCounters } from '../../src/inventory/listen-counters.js';
import { inventorySocket } from '../support/inventory-socket.js';

const T0 = 1_800_000_000_000;
const NETNS = 4026531840;

// Recorded from /proc/<pid>/net/netstat here (the first two lines; IpExt and MPTcpExt follow).
const NETSTAT = `TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab BeyondWindow TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops TCPHPHits
TcpExt: 0 0 0 0 0 0 0 0 0 0 3566354 0 0 0 0 0 0 0 0 333805 116 343 2823 2823 713
IpExt: InNoRoutes InTruncatedPkts
IpExt: 0 0
`;

const api = { pid: 100, comm: 'api' };
const worker = { pid: 200, comm: 'worker' };
const full = (proc: ListenerQueueNow['proc'], port: number, queue = 5, limit = 4): ListenerQueueNow => ({
  netns: NETNS,
  proc,
  local: { addr: '198.18.0.1', port },
  queue,
  limit,
});
const counters = (overflows: number, drops = overflows) => [{ netns: NETNS, listenOverflows: overflows, listenDrops: drops }];

describe('listen counters', () => {
  it("reads TcpExt's ListenOverflows and ListenDrops from a netstat file", () => {
    expect(parseListenCounters(NETSTAT)).toEqual({ listenOverflows: 2823, listenDrops: 2823 });
    expect(parseListenCounters('IpExt: InNoRoutes\nIpExt: 0\n')).toBeNull();
  });
});

describe('attribution', () => {
  it("takes a namespace's first sample as its baseline, then gives what grew to its only full listener", () => {
    const t = new ListenOverflowTracker();
    expect(t.sample(T0, counters(2823), [full(api, 8080)])).toEqual([]);
    const [o] = t.sample(T0 + 1000, counters(2889, 2890), [full(api, 8080), full(worker, 9090, 4, 4)]);
    expect(o).toEqual({
      atMs: T0 + 1000,
      netns: NETNS,
      count: 66,
      drops: 67,
      proc: api,
      local: { addr: '198.18.0.1', port: 8080 },
      peer: null,
      queue: 5,
      limit: 4,
      attribution: 'only full listener in its namespace',
      candidates: [{ proc: api, local: { addr: '198.18.0.1', port: 8080 }, queue: 5, limit: 4 }],
    });
    // 4/4 is at its limit, not past it: the kernel still queues there (sk_acceptq_is_full is queue > limit).
    expect([...t.byListener.values()].map((l) => [l.proc?.pid, l.total])).toEqual([[100, 66]]);
  });

  it('names none when several listeners are full, and lists each as a candidate', () => {
    const t = new ListenOverflowTracker();
    t.sample(T0, counters(10), []);
    const [o] = t.sample(T0 + 1000, counters(50), [full(api, 8080), full(worker, 9090, 9, 8)]);
    expect(o).toMatchObject({ count: 40, proc: null, local: null, queue: null, limit: null, attribution: 'several full listeners in its namespace' });
    expect(o!.candidates.map((c) => c.proc?.pid)).toEqual([100, 200]);
    expect([...t.byListener.values()]).toEqual([]);
    expect(t.unattributed.get(NETNS)?.total).toBe(40);
  });

  it('names none when no listener is full at the sample, and ignores other namespaces', () => {
    const t = new ListenOverflowTracker();
    t.sample(T0, counters(10), []);
    const [o] = t.sample(T0 + 1000, counters(12), [{ ...full(api, 8080), netns: 4026532999 }]);
    expect(o).toMatchObject({ count: 2, proc: null, attribution: 'no listener full at the sample', candidates: [] });
  });

  it('reports nothing when the counters did not grow, and starts again when one went down', () => {
    const t = new ListenOverflowTracker();
    t.sample(T0, counters(10), [full(api, 8080)]);
    expect(t.grew(counters(10))).toBe(false);
    expect(t.sample(T0 + 1000, counters(10), [full(api, 8080)])).toEqual([]);
    expect(t.sample(T0 + 2000, counters(3), [full(api, 8080)])).toEqual([]); // a new namespace under the same inode
    expect(t.grew(counters(5))).toBe(true);
    expect(t.sample(T0 + 3000, counters(5), [full(api, 8080)])[0]?.count).toBe(2);
  });
});

describe('accept_queue_overflow', () => {
  const listener = (sock: string, port: number, owners: number[], queue: number, limit: number): InventorySocket =>
    inventorySocket({
      sock,
      netns: NETNS,
      local: { addr: '198.18.0.1', port },
      peer: { addr: '0.0.0.0', port: 0 },
      state: 'LISTEN',
      inode: Number.parseInt(sock, 16),
      owners,
      acceptQueue: { length: queue, limit },
    });
  const inventory = (sockets: InventorySocket[]) => ({
    takenAtMs: T0,
    sockets,
    problems: [],
    processes: [
      { pid: 100, comm: 'api', cmdline: 'python3 api.py', uid: 0, fds: 12, fdLimit: 1024 },
      { pid: 200, comm: 'worker', cmdline: 'worker', uid: 0, fds: 12, fdLimit: 1024 },
    ],
  });

  it("names the process whose queue is full (from the inventory's queues), with overflows, queue, limit and port", () => {
    const core = new SocketCore(coreConfig());
    core.applyInventory(inventory([listener('a1', 8080, [100], 5, 4), listener('a2', 9090, [200], 0, 128)]));
    core.applyListenCounters(T0, counters(100), null);
    const [o] = core.applyListenCounters(T0 + 1000, counters(166), null);
    expect(o).toMatchObject({ proc: api, local: { port: 8080 }, count: 66 });
    const findings = core.summarize(T0 + 2000).findings.filter((f) => f.kind === 'accept_queue_overflow');
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.subject).toMatchObject({ pid: 100, comm: 'api', port: 8080 });
    expect(f.evidence).toMatchObject({ overflows: 66, queue: 5, limit: 4, port: 8080, attribution: 'only full listener in its namespace' });
    expect(f.explanation).toMatch(/api \(pid 100\)/);
    expect(f.explanation).toMatch(/net\.core\.somaxconn/);
    expect(f.explanation).toMatch(/accept_failing/);
    // A minute without overflows: the finding is gone.
    expect(core.summarize(T0 + 62_000).findings.filter((x) => x.kind === 'accept_queue_overflow')).toEqual([]);
    // Under the threshold: no finding.
    const strict = new SocketCore(coreConfig({ thresholds: { listenOverflowsMin: 100 } }));
    strict.applyInventory(inventory([listener('a1', 8080, [100], 5, 4)]));
    strict.applyListenCounters(T0, counters(100), null);
    strict.applyListenCounters(T0 + 1000, counters(166), null);
    expect(strict.summarize(T0 + 2000).findings.filter((x) => x.kind === 'accept_queue_overflow')).toEqual([]);
  });

  it('names no process when two listeners are full: the finding lists both as candidates', () => {
    const core = new SocketCore(coreConfig());
    core.applyInventory(inventory([listener('a1', 8080, [100], 5, 4), listener('a2', 9090, [200], 9, 8)]));
    core.applyListenCounters(T0, counters(100), null);
    core.applyListenCounters(T0 + 1000, counters(140), null);
    const [f] = core.summarize(T0 + 2000).findings.filter((x) => x.kind === 'accept_queue_overflow');
    expect(f!.subject).toEqual({});
    expect(f!.evidence).toMatchObject({ overflows: 40, attribution: 'several full listeners in its namespace' });
    expect((f!.evidence.candidates as { pid: number }[]).map((c) => c.pid)).toEqual([100, 200]);
    expect(f!.explanation).toMatch(/may be any of them/);
  });

  it("names no process for a listener several processes hold (a pre-forked server's)", () => {
    const core = new SocketCore(coreConfig());
    core.applyInventory(inventory([listener('a1', 8080, [100, 200], 5, 4)]));
    core.applyListenCounters(T0, counters(100), null);
    const [o] = core.applyListenCounters(T0 + 1000, counters(110), null);
    expect(o).toMatchObject({ proc: null, local: { port: 8080 }, attribution: 'only full listener in its namespace' });
  });
});
