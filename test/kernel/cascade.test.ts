/**
 * The whole outage, told as one story: a service slower than its clients (1.5 s against their 0.5 s),
 * that never closes the connections they abandon, at RLIMIT_NOFILE 48 with a backlog of 8, started before
 * socktrace; its clients in a network namespace of the test's own connect with TCP_SYNCNT 1. Clients give
 * up, the late answers meet RSTs, CLOSE_WAITs pile up, descriptors run out, accept() fails with EMFILE,
 * the queue overflows, and new connects time out. `watch --summary` must find every step, name the
 * service for each (and the client process for the connect timeouts), and link them into one incident,
 * root cause first.
 */
import { afterEach, expect, it } from 'vitest';
import { SLOW_SERVICE_PATH, startActor as startWorkload, stopAllActors, type ActorLine, type ActorOptions } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';
import { killWatches, startWatch } from '../support/watch-process.js';

const startActor = (args: string[], options: ActorOptions = {}) =>
  startWorkload([...args, '--timeout', String(scaled(90))], { timeoutMs: scaled(120_000), script: SLOW_SERVICE_PATH, ...options });

interface FindingLine {
  event: string;
  kind: string;
  subject: { pid?: number; comm?: string; port?: number; peer?: string };
  incident?: { id: string; chain: string[]; story: string };
}

const CHAIN = ['impatient_clients', 'write_after_peer_close', 'close_wait_leak', 'fd_pressure', 'accept_failing', 'accept_queue_overflow', 'connect_timeouts'];

describeKernel('the whole cascade', () => {
  const netns = useNetnsPeer();
  afterEach(async () => {
    killWatches();
    await stopAllActors();
  });

  it('finds each step, names the service (and its clients for the connect timeouts), and tells one incident root cause first', async () => {
    const svc = startActor(['slow-service', '--host', netns().hostV4, '--latency', '1.5', '--leak', '--nofile', '48', '--backlog', '8', '--hold', String(scaled(60))]);
    const { port } = (await svc.ready) as { port: number };
    const watch = await startWatch([
      ...['--events', 'accept_error,listen_overflow,connection_error', '--summary', '2'],
      ...['--threshold', 'closeWaitAgeSeconds=2', '--duration', String(scaled(28))],
    ]);
    const clients = startActor(
      ['impatient-clients', '--host', netns().hostV4, '--port', String(port), '--count', '80', '--wait', '0.5', '--interval', '0.1', '--syncnt', '1'],
      { prefix: netns().execPrefix },
    );
    const done = (await clients.done) as ActorLine & { gave_up: number; connect_failed: number };
    expect(done.gave_up).toBeGreaterThanOrEqual(10);
    expect(done.connect_failed).toBeGreaterThanOrEqual(1);
    const { lines } = await watch.exited;
    // Other tests' processes may have findings of their own: only the service's and its clients' count.
    const ours = new Set([svc.pid, clients.pid]);
    const findings = (lines.filter((l) => l.event === 'finding') as unknown as FindingLine[]).filter((f) => ours.has(f.subject.pid ?? -1));
    const latest = new Map(findings.map((f) => [f.kind, f]));
    for (const kind of CHAIN) expect(latest.has(kind), `${kind} found`).toBe(true);
    for (const kind of CHAIN.slice(0, -1)) expect(latest.get(kind)!.subject, kind).toMatchObject({ pid: svc.pid, comm: 'python3' });
    expect(latest.get('connect_timeouts')!.subject).toMatchObject({ pid: clients.pid, peer: netns().hostV4 });
    // While every step is within its minute, one summary links them all (later the first steps age out).
    const whole = findings.filter((f) => f.incident?.chain.length === CHAIN.length);
    expect(whole.length).toBeGreaterThan(0);
    const incident = whole.at(-1)!.incident!;
    expect(incident.id).toBe(`python3/${svc.pid}`);
    expect(incident.chain).toEqual(CHAIN);
    expect(incident.story).toMatch(/^One outage of python3 \(pid \d+\), root cause first: its clients give up after 0\.\d+ s, before it answers \(in 1\.\d+ s\); it writes answers after/);
    expect(whole.some((f) => f.kind === 'connect_timeouts' && f.subject.pid === clients.pid)).toBe(true);
  }, scaled(90_000));
});
