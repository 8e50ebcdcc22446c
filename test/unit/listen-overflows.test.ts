/**
 * Accept-queue overflows on recorded inputs: TcpExt counters as this kernel (Linux 6.18) writes them,
 * and listeners as the kernel's walk reads them: queue and limit as ss -lnt shows them (5/4: a backlog
 * of 4, full), drops as ss -lntm's d<N> (sk_drops, which tcp_listendrop raises on every overflow). The
 * overflows a namespace counted go to the listener whose own drop counter grew, never to one only
 * because its queue is full at the sample.
 */
import { describe, expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import type { InventorySocket } from '../../src/core/inventory-model.js';
import { ListenOverflowTracker, type ListenerQueueNow, type ListenerReading, type NetstatSample } from '../../src/core/listen-overflows.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { parseListenCounters } from '../../src/inventory/listen-counters.js';
import { matchesOverflowFilter } from '../../src/events/event-filter.js';
import { parseCidr } from '../../src/events/cidr.js';
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
/** A listener as the walk reads it: queue/limit, and its drop counter. */
const listener = (proc: ListenerQueueNow['proc'], port: number, drops: number, queue = 0, limit = 4, listeners = 1): ListenerQueueNow => ({
  netns: NETNS,
  proc,
  local: { addr: '198.18.0.1', port },
  queue,
  limit,
  drops,
  listeners,
});
const counters = (overflows: number, drops = overflows): NetstatSample[] => [{ netns: NETNS, listenOverflows: overflows, listenDrops: drops }];
/** The walk's reading; by default nothing moved while it ran. */
const read = (queues: ListenerQueueNow[], after?: NetstatSample[]): ListenerReading => ({ queues, dropsCounted: true, after, complete: true });
/** The counters read before the walk, the walk, the counters after it: one sample as the live session takes it. */
const sampleAt = (t: ListenOverflowTracker, at: number, c: NetstatSample[], queues: ListenerQueueNow[], after = c) => t.sample(at, c, read(queues, after));

describe('listen counters', () => {
  it("reads TcpExt's ListenOverflows and ListenDrops from a netstat file", () => {
    expect(parseListenCounters(NETSTAT)).toEqual({ listenOverflows: 2823, listenDrops: 2823 });
    expect(parseListenCounters('IpExt: InNoRoutes\nIpExt: 0\n')).toBeNull();
  });
});

describe('attribution', () => {
  it("takes a namespace's first sample as its baseline, then gives what grew to the listener whose drop counter grew", () => {
    const t = new ListenOverflowTracker();
    expect(t.wantsReading(counters(2823))).toBe(true); // no reading yet: the first sample reads the listeners
    expect(sampleAt(t, T0, counters(2823), [listener(api, 8080, 40, 5, 4), listener(worker, 9090, 3)])).toEqual([]);
    expect(t.wantsReading(counters(2823))).toBe(false); // nothing moved since
    const [o, ...rest] = sampleAt(t, T0 + 1000, counters(2889, 2890), [listener(api, 8080, 107, 5, 4), listener(worker, 9090, 3)]);
    expect(rest).toEqual([]);
    expect(o).toEqual({
      atMs: T0 + 1000,
      netns: NETNS,
      count: 66,
      drops: 67,
      proc: api,
      local: { addr: '198.18.0.1', port: 8080 },
      peer: null,
      peers: [],
      refused: 0,
      queue: 5,
      limit: 4,
      attribution: 'only listener whose drop counter grew',
      candidates: [{ proc: api, local: { addr: '198.18.0.1', port: 8080 }, queue: 5, limit: 4 }],
    });
    expect([...t.byListener.values()].map((l) => [l.proc?.pid, l.total])).toEqual([[100, 66]]);
  });

  it('names the listener that overflowed in a burst and drained, not the idle one full at the sample', () => {
    // Recorded as the kernel test makes it: "idle" accepts nothing and is full (5/4) but no SYN reaches
    // it; "burst" overflowed 40 times between two samples and accepted everything before the second.
    const idle = { pid: 300, comm: 'idle' };
    const burst = { pid: 400, comm: 'burst' };
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(500), [listener(idle, 7000, 12, 5, 4), listener(burst, 7001, 0, 0, 4)]);
    const out = sampleAt(t, T0 + 1000, counters(540), [listener(idle, 7000, 12, 5, 4), listener(burst, 7001, 40, 0, 4)]);
    expect(out).toMatchObject([{ count: 40, proc: burst, local: { port: 7001 }, queue: 0, limit: 4, attribution: 'only listener whose drop counter grew' }]);
    expect([...t.byListener.values()].map((l) => l.proc?.pid)).toEqual([400]);
    // The old rule (the only full listener at the sample) would have named pid 300: it never is.
    expect(out.filter((o) => o.proc?.pid === 300)).toEqual([]);
  });

  it('names nobody when no listener drop counter grew (one gone unread, or a listener made and closed between samples)', () => {
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(10), [listener(api, 8080, 7, 5, 4)]);
    const [o] = sampleAt(t, T0 + 1000, counters(12), [listener(api, 8080, 7, 5, 4)]);
    expect(o).toMatchObject({ count: 2, proc: null, local: null, queue: null, limit: null, attribution: 'no listener drop counted', candidates: [] });
    expect([...t.byListener.values()]).toEqual([]);
    expect(t.unattributed.get(NETNS)?.total).toBe(2);
  });

  it('names nobody when several drop counters grew and they do not add up to the overflows exactly', () => {
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(10, 10), [listener(api, 8080, 0), listener(worker, 9090, 0)]);
    // 40 overflows and 5 other listen drops (a full SYN queue): which listener had which is not known.
    const [o, ...rest] = sampleAt(t, T0 + 1000, counters(50, 55), [listener(api, 8080, 30, 5, 4), listener(worker, 9090, 15, 9, 8)]);
    expect(rest).toEqual([]);
    expect(o).toMatchObject({ count: 40, drops: 45, proc: null, local: null, attribution: 'several listeners dropped' });
    expect(o!.candidates.map((c) => c.proc?.pid)).toEqual([100, 200]);
    expect([...t.byListener.values()]).toEqual([]);
  });

  it('gives each of several listeners its own growth when every drop was an overflow', () => {
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(10), [listener(api, 8080, 4), listener(worker, 9090, 0)]);
    const out = sampleAt(t, T0 + 1000, counters(50), [listener(api, 8080, 34, 5, 4), listener(worker, 9090, 10, 9, 8)]);
    expect(out).toMatchObject([
      { count: 30, proc: api, local: { port: 8080 }, attribution: 'drop counters grew by exactly the overflows' },
      { count: 10, proc: worker, local: { port: 9090 }, attribution: 'drop counters grew by exactly the overflows' },
    ]);
    // Not when the counters moved while the previous walk ran: a drop may sit on the wrong side of it.
    const u = new ListenOverflowTracker();
    sampleAt(u, T0, counters(10), [listener(api, 8080, 4), listener(worker, 9090, 0)], counters(11));
    expect(sampleAt(u, T0 + 1000, counters(50), [listener(api, 8080, 34), listener(worker, 9090, 10)])).toMatchObject([{ count: 40, proc: null, attribution: 'several listeners dropped' }]);
  });

  it('leaves unnamed the overflows counted while the previous walk ran: they may be in another listener\'s reading', () => {
    const t = new ListenOverflowTracker();
    // 3 overflows counted during the walk: one listener's reading may hold them already.
    sampleAt(t, T0, counters(10), [listener(api, 8080, 3), listener(worker, 9090, 0)], counters(13));
    const out = sampleAt(t, T0 + 1000, counters(30), [listener(api, 8080, 3), listener(worker, 9090, 17)]);
    expect(out).toMatchObject([
      { count: 17, proc: worker, attribution: 'only listener whose drop counter grew' },
      { count: 3, proc: null, attribution: 'overflows counted while listeners were read', candidates: [{ proc: worker }] },
    ]);
    expect(out.reduce((n, o) => n + o.count, 0)).toBe(20);
  });

  it('names nobody when a listener closed or changed owner since the previous reading', () => {
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(10), [listener(api, 8080, 0), listener(worker, 9090, 2)]);
    // api's listener is gone: it may have overflowed before it closed.
    expect(sampleAt(t, T0 + 1000, counters(20), [listener(worker, 9090, 12)])).toMatchObject([
      { count: 10, proc: null, attribution: 'listeners changed since the last reading', candidates: [{ proc: worker }] },
    ]);
    // One of a SO_REUSEPORT pair closed: its drops left the sum.
    sampleAt(t, T0 + 2000, counters(20), [listener(worker, 9090, 12, 0, 8, 2)]);
    expect(sampleAt(t, T0 + 3000, counters(25), [listener(worker, 9090, 14, 0, 4, 1)])).toMatchObject([{ count: 5, proc: null, attribution: 'listeners changed since the last reading' }]);
    // The listener now under another owner (passed over a UNIX socket), its count from long ago: its former row is gone.
    expect(sampleAt(t, T0 + 4000, counters(26), [listener(api, 9090, 15, 0, 4, 1)])).toMatchObject([{ count: 1, proc: null, attribution: 'listeners changed since the last reading' }]);
  });

  it('counts a listener made since the previous reading from zero', () => {
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(10), [listener(api, 8080, 0)]);
    expect(sampleAt(t, T0 + 1000, counters(16), [listener(api, 8080, 0), listener(worker, 9090, 6)])).toMatchObject([{ count: 6, proc: worker, attribution: 'only listener whose drop counter grew' }]);
  });

  it('names nobody when a walk left listeners out (its table full, or its namespace unread)', () => {
    const t = new ListenOverflowTracker();
    t.sample(T0, counters(10), { ...read([listener(api, 8080, 0)], counters(10)), complete: false });
    expect(sampleAt(t, T0 + 1000, counters(16), [listener(api, 8080, 6)])).toMatchObject([{ count: 6, proc: null, attribution: 'not every listener was read' }]);
    // The namespace's walk failed: its listeners are not in the reading, and they are not "gone".
    const u = new ListenOverflowTracker();
    sampleAt(u, T0, counters(10), [listener(api, 8080, 0), listener(worker, 9090, 0)]);
    expect(u.sample(T0 + 1000, counters(12), { ...read([], counters(12)), unread: [NETNS] })).toMatchObject([{ count: 2, proc: null, attribution: 'not every listener was read' }]);
    // ...nor, when read again with counts from long ago, new.
    expect(sampleAt(u, T0 + 2000, counters(13), [listener(api, 8080, 0), listener(worker, 9090, 900)])).toMatchObject([{ count: 1, proc: null, attribution: 'no earlier drop counts' }]);
  });

  it('names nobody without drop counts (the bpftrace backend), the full listeners only candidates', () => {
    const t = new ListenOverflowTracker();
    const noDrops = (queues: ListenerQueueNow[]): ListenerReading => ({ queues: queues.map((q) => ({ ...q, drops: null })), dropsCounted: false });
    t.sample(T0, counters(10), noDrops([]));
    expect(t.wantsReading(counters(10))).toBe(false); // only a growth calls for a reading then
    const [o] = t.sample(T0 + 1000, counters(12), noDrops([listener(api, 8080, 0, 5, 4), listener(worker, 9090, 0)]));
    expect(o).toMatchObject({ count: 2, proc: null, attribution: 'no listener drop counts on this backend', candidates: [{ proc: api, queue: 5, limit: 4 }] });
  });

  it('names nobody when the counters moved since the last reading and the listeners were not read then', () => {
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(10, 10), [listener(api, 8080, 0)]);
    expect(t.wantsReading(counters(10, 11))).toBe(true); // a listen drop: read again, to compare from there
    t.sample(T0 + 1000, counters(10, 11), null); // ...but not read (the walk failed)
    expect(sampleAt(t, T0 + 2000, counters(14, 15), [listener(api, 8080, 5)])).toMatchObject([{ count: 4, proc: null, attribution: 'no earlier drop counts' }]);
    // The reading just taken is the baseline for the next one.
    expect(sampleAt(t, T0 + 3000, counters(16, 17), [listener(api, 8080, 7)])).toMatchObject([{ count: 2, proc: api }]);
  });

  it('reports nothing when the counters did not grow, and starts again when one went down', () => {
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(10), [listener(api, 8080, 0)]);
    expect(t.grew(counters(10))).toBe(false);
    expect(t.sample(T0 + 1000, counters(10), null)).toEqual([]);
    expect(sampleAt(t, T0 + 2000, counters(3), [listener(api, 8080, 0)])).toEqual([]); // a new namespace under the same inode
    expect(t.grew(counters(5))).toBe(true);
    expect(sampleAt(t, T0 + 3000, counters(5), [listener(api, 8080, 2)])[0]).toMatchObject({ count: 2, proc: api });
  });

  it('ignores other namespaces\' listeners', () => {
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(10), [{ ...listener(api, 8080, 0), netns: 4026532999 }]);
    const [o] = sampleAt(t, T0 + 1000, counters(12), [{ ...listener(api, 8080, 2), netns: 4026532999 }]);
    expect(o).toMatchObject({ count: 2, proc: null, attribution: 'no listener drop counted' });
  });
});

describe('clients refused at the final ACK (6.15+)', () => {
  const refused = (port: number, peer: string, count: number, addr = '198.18.0.1') => ({ netns: NETNS, local: { addr, port }, peer, count });
  const withRefused = (queues: ListenerQueueNow[], acks: ReturnType<typeof refused>[], c: NetstatSample[]): ListenerReading => ({ ...read(queues, c), refusedAcks: acks });

  it("lists the clients refused since the previous reading at the named listener's port", () => {
    const t = new ListenOverflowTracker();
    // Refused before the first reading: part of the baseline, never reported.
    t.sample(T0, counters(100), withRefused([listener(api, 8080, 0, 5, 4)], [refused(8080, '198.18.0.2', 3)], counters(100)));
    const acks = [refused(8080, '198.18.0.2', 10), refused(8080, '198.18.0.3', 2), refused(9999, '198.18.0.9', 4)];
    const [named, ...rest] = t.sample(T0 + 1000, counters(120), withRefused([listener(api, 8080, 20, 5, 4)], acks, counters(120)));
    expect(rest).toEqual([]);
    // Only the clients of its port: the one refused at 9999 is not this listener's.
    expect(named).toMatchObject({ count: 20, local: { port: 8080 }, peer: null, refused: 9 });
    expect(named!.peers).toEqual([{ addr: '198.18.0.2', count: 7 }, { addr: '198.18.0.3', count: 2 }]);
    expect([...t.byListener.values()][0]!.refusedPeers).toEqual(new Map([['198.18.0.2', 7], ['198.18.0.3', 2]]));
  });

  it('puts the clients of another port on the event naming no listener, and counts a client evicted and back from zero', () => {
    const t = new ListenOverflowTracker();
    t.sample(T0, counters(100), withRefused([listener(api, 8080, 0, 5, 4), listener(worker, 9090, 0)], [refused(9090, '198.18.0.4', 50)], counters(100)));
    // Both drop counters grew, by more than the overflows: nobody is named, every client goes to that event.
    const [o] = t.sample(T0 + 1000, counters(104, 110), withRefused([listener(api, 8080, 3, 5, 4), listener(worker, 9090, 5)], [refused(9090, '198.18.0.4', 2), refused(8080, '198.18.0.5', 1)], counters(104, 110)));
    expect(o).toMatchObject({ proc: null, attribution: 'several listeners dropped', refused: 3 });
    expect(o!.peers).toEqual([{ addr: '198.18.0.4', count: 2 }, { addr: '198.18.0.5', count: 1 }]);
  });

  it('matches a wildcard listener to the addresses of its family, and lists at most 16 clients, the most refused first', () => {
    const t = new ListenOverflowTracker();
    const any = { ...listener(api, 8080, 0, 5, 4), local: { addr: '0.0.0.0', port: 8080 } };
    t.sample(T0, counters(0), withRefused([any], [], counters(0)));
    const many = Array.from({ length: 20 }, (_, i) => refused(8080, `198.18.1.${i + 1}`, i + 1, '198.18.0.1'));
    const v6 = refused(8080, '2001:2::2', 100, '2001:2::1');
    const [o, ...rest] = t.sample(T0 + 1000, counters(310), withRefused([{ ...any, drops: 310 }], [...many, v6], counters(310)));
    expect(o).toMatchObject({ proc: api, count: 310, refused: 210 }); // the IPv6 client knocked elsewhere
    expect(o!.peers).toHaveLength(16);
    expect(o!.peers[0]).toEqual({ addr: '198.18.1.20', count: 20 });
    expect(rest).toEqual([]);
  });

  it('keeps clients read before their namespace counted the overflows for its next event', () => {
    const t = new ListenOverflowTracker();
    t.sample(T0, counters(100), withRefused([listener(api, 8080, 0, 5, 4)], [], counters(100)));
    // A reading while the counters had not moved yet (refused between the counter sample and the walk).
    expect(t.sample(T0 + 1000, counters(100, 101), withRefused([listener(api, 8080, 0, 5, 4)], [refused(8080, '198.18.0.2', 1)], counters(100, 101)))).toEqual([]);
    const [o] = t.sample(T0 + 2000, counters(101, 101), withRefused([listener(api, 8080, 1, 5, 4)], [refused(8080, '198.18.0.2', 1)], counters(101, 101)));
    expect(o).toMatchObject({ count: 1, proc: api, refused: 1, peers: [{ addr: '198.18.0.2', count: 1 }] });
  });

  it('names no client where the kernel names none (before 6.15, or the bpftrace backend)', () => {
    const t = new ListenOverflowTracker();
    sampleAt(t, T0, counters(10), [listener(api, 8080, 0)]);
    const [o] = sampleAt(t, T0 + 1000, counters(12), [listener(api, 8080, 2)]);
    expect(o).toMatchObject({ peers: [], refused: 0, peer: null });
  });

  it("a --peer filter keeps an overflow only when a client it names is in range", () => {
    const o = { proc: api, local: { port: 8080 }, candidates: [], peers: [{ addr: '198.18.0.2' }] };
    expect(matchesOverflowFilter(o, { peers: [parseCidr('198.18.0.0/24')] })).toBe(true);
    expect(matchesOverflowFilter(o, { peers: [parseCidr('198.19.0.0/16')] })).toBe(false);
    expect(matchesOverflowFilter({ ...o, peers: [] }, { peers: [parseCidr('198.18.0.0/24')] })).toBe(false);
    expect(matchesOverflowFilter({ ...o, peers: [] }, {})).toBe(true);
  });

  it('the finding names the clients refused, most first', () => {
    const core = new SocketCore(coreConfig());
    core.applyListenCounters(T0, counters(100), withRefused([listener(api, 8080, 0, 5, 4)], [], counters(100)));
    core.applyListenCounters(T0 + 1000, counters(166), withRefused([listener(api, 8080, 66, 5, 4)], [refused(8080, '198.18.0.2', 35), refused(8080, '198.18.0.7', 5)], counters(166)));
    const f = core.summarize(T0 + 2000).findings.find((x) => x.kind === 'accept_queue_overflow')!;
    expect(f.evidence.refusedClients).toEqual([{ addr: '198.18.0.2', count: 35 }, { addr: '198.18.0.7', count: 5 }]);
    expect(f.explanation).toMatch(/198\.18\.0\.2 \(35\), 198\.18\.0\.7 \(5\)/);
    expect(f.explanation).toMatch(/a SYN dropped for a full queue names no client/);
  });
});

describe('accept_queue_overflow', () => {
  const inventoried = (sock: string, port: number, owners: number[], queue: number, limit: number): InventorySocket =>
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

  it('names the process whose listener dropped them, with overflows, queue, limit and port', () => {
    const core = new SocketCore(coreConfig());
    core.applyListenCounters(T0, counters(100), read([listener(api, 8080, 0, 5, 4), listener(worker, 9090, 0, 0, 128)], counters(100)));
    const [o] = core.applyListenCounters(T0 + 1000, counters(166), read([listener(api, 8080, 66, 5, 4), listener(worker, 9090, 0, 0, 128)], counters(166)));
    expect(o).toMatchObject({ proc: api, local: { port: 8080 }, count: 66 });
    const findings = core.summarize(T0 + 2000).findings.filter((f) => f.kind === 'accept_queue_overflow');
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.subject).toMatchObject({ pid: 100, comm: 'api', port: 8080 });
    expect(f.evidence).toMatchObject({ overflows: 66, queue: 5, limit: 4, port: 8080, attribution: 'only listener whose drop counter grew' });
    expect(f.explanation).toMatch(/api \(pid 100\)/);
    expect(f.explanation).toMatch(/own drop counter/);
    expect(f.explanation).toMatch(/net\.core\.somaxconn/);
    expect(f.explanation).toMatch(/accept_failing/);
    // A minute without overflows: the finding is gone.
    expect(core.summarize(T0 + 62_000).findings.filter((x) => x.kind === 'accept_queue_overflow')).toEqual([]);
    // Under the threshold: no finding.
    const strict = new SocketCore(coreConfig({ thresholds: { listenOverflowsMin: 100 } }));
    strict.applyListenCounters(T0, counters(100), read([listener(api, 8080, 0, 5, 4)], counters(100)));
    strict.applyListenCounters(T0 + 1000, counters(166), read([listener(api, 8080, 66, 5, 4)], counters(166)));
    expect(strict.summarize(T0 + 2000).findings.filter((x) => x.kind === 'accept_queue_overflow')).toEqual([]);
  });

  it('names no process from the inventory\'s queues alone (no drop counts): the finding lists the full listeners as candidates', () => {
    const core = new SocketCore(coreConfig());
    core.applyInventory(inventory([inventoried('a1', 8080, [100], 5, 4), inventoried('a2', 9090, [200], 9, 8), inventoried('a3', 7070, [200], 0, 8)]));
    core.applyListenCounters(T0, counters(100), 'inventory');
    const [o] = core.applyListenCounters(T0 + 1000, counters(140), 'inventory');
    expect(o).toMatchObject({ count: 40, proc: null, local: null, attribution: 'no listener drop counts on this backend' });
    const [f] = core.summarize(T0 + 2000).findings.filter((x) => x.kind === 'accept_queue_overflow');
    expect(f!.subject).toEqual({});
    expect(f!.evidence).toMatchObject({ overflows: 40, attribution: 'no listener drop counts on this backend' });
    expect((f!.evidence.candidates as { pid: number }[]).map((c) => c.pid)).toEqual([100, 200]);
    expect(f!.explanation).toMatch(/may be any of these 2/);
  });

  it('names no process for a listener no single process holds (a pre-forked server\'s), but its address', () => {
    const core = new SocketCore(coreConfig());
    core.applyListenCounters(T0, counters(100), read([listener(null, 8080, 0, 5, 4)], counters(100)));
    const [o] = core.applyListenCounters(T0 + 1000, counters(110), read([listener(null, 8080, 10, 5, 4)], counters(110)));
    expect(o).toMatchObject({ proc: null, local: { port: 8080 }, attribution: 'only listener whose drop counter grew' });
  });
});
