/** Services' answer times and clients that give up, from recorded readings of the kernel's histograms. */
import { describe, expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import { bucketRange, ExchangeTimingTracker, timingBucket, type TimingKind, type TimingReading } from '../../src/core/exchange-timings.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { TIMING_LAYOUT } from '../../src/events/timing-layout.js';
import { inventorySocket } from '../support/inventory-socket.js';

const T0 = 1_800_000_000_000;
const HZ = 250;
const TICK = 1 / HZ;

/** A cumulative histogram of `samples` (in seconds) as the kernel would count it. */
function reading(kind: TimingKind, samples: number[], peer = '198.18.0.2', port = 8080, netns = 1): TimingReading {
  const buckets = new Uint32Array(TIMING_LAYOUT.buckets);
  for (const s of samples) buckets[timingBucket(Math.round(s * HZ))]! += 1;
  return { key: new Uint8Array([kind.length, port & 0xff]), netns, port, peer, kind, buckets };
}

const repeat = (n: number, s: number) => Array.from({ length: n }, () => s);

describe('the timing buckets (the kernel counts the same way: probes/lib/exchanges.bpf.h)', () => {
  it('puts every tick count in a bucket whose range holds it, in order, each within 12.5%', () => {
    let previous = -1;
    for (const ticks of [0, 1, 7, 8, 9, 15, 16, 17, 100, 125, 250, 375, 1000, 65_535, 2 ** 20, 2 ** 21 - 1]) {
      const idx = timingBucket(ticks);
      const [low, high] = bucketRange(idx);
      expect(ticks).toBeGreaterThanOrEqual(low);
      expect(ticks).toBeLessThan(high);
      expect(idx).toBeGreaterThanOrEqual(previous);
      if (ticks >= 8) expect((high - low) / low).toBeLessThanOrEqual(0.125);
      previous = idx;
    }
    expect(timingBucket(2 ** 22)).toBe(TIMING_LAYOUT.buckets - 1);
  });
});

describe('ExchangeTimingTracker', () => {
  it('gives p50 and p99 in seconds from the differences between readings', () => {
    const t = new ExchangeTimingTracker();
    t.apply(T0, TICK, [reading('gave_up', repeat(9, 0.5))]);
    t.apply(T0 + 1000, TICK, [reading('gave_up', [...repeat(9, 0.5), 3])]);
    const [s] = t.services(T0 + 1000);
    expect(s!.clientWait!.count).toBe(10);
    expect(Math.abs(s!.clientWait!.p50Seconds - 0.5)).toBeLessThan(0.5 * 0.07);
    expect(Math.abs(s!.clientWait!.p99Seconds - 3)).toBeLessThan(3 * 0.07);
    expect(s!.latency).toBeNull();
  });

  it('counts late answers into the latency, and forgets samples older than a minute', () => {
    const t = new ExchangeTimingTracker();
    t.apply(T0, TICK, [reading('answered', repeat(4, 0.1)), reading('late', repeat(4, 1.5))]);
    const [s] = t.services(T0 + 1000);
    expect(s).toMatchObject({ lateAnswers: 4, latency: { count: 8 } });
    expect(t.services(T0 + 61_000)).toEqual([]);
  });

  it('keeps clients apart, the ones that gave up first', () => {
    const t = new ExchangeTimingTracker();
    t.apply(T0, TICK, [reading('answered', repeat(5, 0.1), '198.18.0.3'), reading('gave_up', repeat(2, 0.5), '198.18.0.2')]);
    const [s] = t.services(T0);
    expect(s!.peers.map((p) => p.peer)).toEqual(['198.18.0.2', '198.18.0.3']);
    expect(s!.peers[0]!.gaveUp!.count).toBe(2);
    expect(s!.peers[1]!.answered!.count).toBe(5);
  });

  it('asks the kernel to forget histograms quiet for two minutes, and takes a forgotten one back as new', () => {
    const t = new ExchangeTimingTracker();
    const r = reading('answered', [0.1]);
    t.apply(T0, TICK, [r]);
    expect(t.apply(T0 + 60_000, TICK, [r])).toEqual([]);
    expect(t.apply(T0 + 120_000, TICK, [r])).toEqual([r.key]);
    t.apply(T0 + 121_000, TICK, [reading('answered', [0.2])]);
    expect(t.services(T0 + 121_000)[0]!.latency!.count).toBe(1);
  });

  it('shows nothing when the kernel tick is unknown', () => {
    const t = new ExchangeTimingTracker();
    t.apply(T0, null, [reading('gave_up', repeat(9, 0.5))]);
    expect(t.services(T0)).toEqual([]);
  });
});

describe('impatient_clients', () => {
  function coreWithService(closeWaits = 0): SocketCore {
    const core = new SocketCore(coreConfig(), (ns) => T0 + Number(ns / 1_000_000n));
    core.applyInventory({
      takenAtMs: T0,
      sockets: [
        inventorySocket({ sock: 'l', state: 'LISTEN', peer: { addr: '0.0.0.0', port: 0 } }),
        ...Array.from({ length: closeWaits }, (_, i) => inventorySocket({ sock: `cw${i}`, state: 'CLOSE_WAIT', peer: { addr: '198.18.0.2', port: 40000 + i } })),
      ],
      processes: [{ pid: 100, comm: 'api', cmdline: 'api', uid: 0, fds: 10, fdLimit: 1024 }],
      problems: [],
    });
    return core;
  }

  it('names the service, both numbers and the clients, and starts its incident', () => {
    const core = coreWithService();
    core.applyExchangeTimings(T0, TICK, [reading('gave_up', repeat(8, 0.5)), reading('late', repeat(8, 1.5))]);
    const f = core.summarize(T0 + 1000).findings.find((x) => x.kind === 'impatient_clients')!;
    expect(f.subject).toEqual({ pid: 100, comm: 'api', port: 8080 });
    expect(f.evidence).toMatchObject({ abandoned: 8, lateAnswers: 8, answered: 8, peers: [{ peer: '198.18.0.2', abandoned: 8 }] });
    const e = f.evidence as { clientTimeoutSeconds: { p50: number }; serviceLatencySeconds: { p50: number } };
    expect(Math.abs(e.clientTimeoutSeconds.p50 - 0.5)).toBeLessThan(0.05);
    expect(Math.abs(e.serviceLatencySeconds.p50 - 1.5)).toBeLessThan(0.15);
    expect(f.explanation).toMatch(/^Clients from 198\.18\.0\.2 give up after 49\d ms; this service answers in 1\.\d s\./);
  });

  it('links the clients that give up, the CLOSE_WAITs and the late writes into one incident, root cause first', () => {
    const core = coreWithService(6);
    core.applyExchangeTimings(T0 + 30_000, TICK, [reading('gave_up', repeat(8, 0.5))]);
    const summary = core.summarize(T0 + 61_000); // the CLOSE_WAITs are a minute old now
    const f = summary.findings.find((x) => x.kind === 'impatient_clients')!;
    expect(f.evidence).toMatchObject({ serviceLatencySeconds: null, closeWait: 6 });
    expect(f.explanation).toMatch(/this service has not answered them/);
    const leak = summary.findings.find((x) => x.kind === 'close_wait_leak');
    expect(leak?.incident?.chain).toEqual(['impatient_clients', 'close_wait_leak']);
    expect(leak?.incident?.story).toMatch(/^One outage of api \(pid 100\), root cause first: its clients give up after 0\.49\d s, before it answers; it never closes/);
  });

  it('says nothing of a service that answers nothing and holds nothing open (a one-way protocol), or below the threshold', () => {
    const core = coreWithService();
    core.applyExchangeTimings(T0, TICK, [reading('gave_up', repeat(8, 0.5)), reading('unanswered', repeat(8, 0.6))]);
    expect(core.summarize(T0 + 1000).findings.map((f) => f.kind)).not.toContain('impatient_clients');
    const few = coreWithService();
    few.applyExchangeTimings(T0, TICK, [reading('gave_up', repeat(2, 0.5)), reading('late', repeat(2, 1.5))]);
    expect(few.summarize(T0 + 1000).findings.map((f) => f.kind)).not.toContain('impatient_clients');
  });

  it('names no process when several share the service', () => {
    const core = new SocketCore(coreConfig(), (ns) => T0 + Number(ns / 1_000_000n));
    core.applyInventory({
      takenAtMs: T0,
      sockets: [
        inventorySocket({ sock: 'l1', state: 'LISTEN', peer: { addr: '0.0.0.0', port: 0 }, owners: [100] }),
        inventorySocket({ sock: 'l2', state: 'LISTEN', peer: { addr: '0.0.0.0', port: 0 }, owners: [200], inode: 2 }),
      ],
      processes: [
        { pid: 100, comm: 'api', cmdline: 'api', uid: 0, fds: 10, fdLimit: 1024 },
        { pid: 200, comm: 'api', cmdline: 'api', uid: 0, fds: 10, fdLimit: 1024 },
      ],
      problems: [],
    });
    core.applyExchangeTimings(T0, TICK, [reading('gave_up', repeat(8, 0.5)), reading('late', repeat(8, 1.5))]);
    const f = core.summarize(T0 + 1000).findings.find((x) => x.kind === 'impatient_clients')!;
    expect(f.subject).toEqual({ port: 8080 });
    expect(f.title).toMatch(/the service on port 8080/);
  });
});
