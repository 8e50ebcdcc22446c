/**
 * A filtered watch on a busy host: another process churns short connections on loopback while a service
 * of the test's own gets three clients from a namespace. `watch --port` (and --pid, --peer) must print
 * exactly that service's events, and the kernel must have kept the churn back: what it produced for the
 * watch is the service's events, not the churn's thousands (stderr's "of N the kernel produced").
 */
import { afterEach, expect, it } from 'vitest';
import { OWNER_CHANGES_PATH, startActor, stopAllActors } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';
import { killWatches, startWatch } from '../support/watch-process.js';

const produced = (stderr: string) => Number(/of (\d+) the kernel produced/.exec(stderr)?.[1] ?? NaN);

describeKernel('filters in the kernel', () => {
  const netns = useNetnsPeer();
  afterEach(async () => {
    killWatches();
    await stopAllActors();
  });

  it('watch --port, --pid and --peer print only what they ask for, and the kernel keeps the churn back', async () => {
    const svc = startActor(['queue-listener', '--host', netns().hostV4, '--backlog', '16', '--then-accept', '--timeout', String(scaled(60))], {
      script: OWNER_CHANGES_PATH,
      timeoutMs: scaled(90_000),
    });
    const { port } = (await svc.ready) as { port: number };
    process.kill(svc.pid, 'SIGUSR1'); // accept (and close) every connection from now on
    await svc.next((l) => 'drained' in l);
    const duration = String(scaled(8));
    // Every watch attached before the churn starts (a slow host takes long to load four at once).
    const watches = await Promise.all([
      startWatch(['--port', String(port), '--duration', duration]),
      startWatch(['--pid', String(svc.pid), '--duration', duration]),
      startWatch(['--peer', netns().nsV4, '--duration', duration]),
      startWatch(['--duration', duration]), // unfiltered: the churn is there
    ]);
    const churn = startActor(['churn', '--count', '1500', '--parallel', '8', '--wait', '0.01', '--delay', '0.01', '--leak-every', '1000000'], {
      script: OWNER_CHANGES_PATH,
      timeoutMs: scaled(120_000),
    });
    await new Promise((r) => setTimeout(r, scaled(1500)));
    await startActor(['many-clients', '--host', netns().hostV4, '--port', String(port), '--count', '3', '--timeout', String(scaled(30))], {
      script: OWNER_CHANGES_PATH,
      prefix: netns().execPrefix,
    }).ready;
    const [byPort, byPid, byPeer, all] = (await Promise.all(watches.map((w) => w.exited))) as { code: number; lines: Record<string, any>[]; stderr: string }[];
    await churn.ready.catch(() => undefined);
    for (const w of [byPort, byPid, byPeer, all]) expect(w!.code).toBe(0);
    // What the kernel produced for each: its event lines and what it lost (listen_overflow lines are
    // sampled from counters, not produced: the churn's own listener may overflow).
    const lost = (w: { lines: Record<string, any>[] }) => w.lines.filter((l) => l.event === 'lost').reduce((n, l) => n + l.count, 0);
    const lostBy = new Map([byPort, byPid, byPeer].map((w) => [w, lost(w!)]));
    for (const w of [byPort, byPid, byPeer]) w!.lines = w!.lines.filter((l) => 'sock' in l);
    expect(byPort!.lines.length).toBeGreaterThan(0);
    expect(byPort!.lines.every((l) => l.local.port === port || l.peer.port === port)).toBe(true);
    expect(byPid!.lines.length).toBeGreaterThan(0);
    expect(byPid!.lines.every((l) => l.proc?.pid === svc.pid)).toBe(true);
    expect(byPeer!.lines.length).toBeGreaterThan(0);
    expect(byPeer!.lines.every((l) => l.peer.addr === netns().nsV4)).toBe(true);
    // The premise: the churn made thousands of events; the filtered watches' kernel produced their own.
    expect(produced(all!.stderr)).toBeGreaterThan(1000);
    for (const w of [byPort, byPid, byPeer]) expect(produced(w!.stderr)).toBe(w!.lines.length + lostBy.get(w)!);
  });
});
