/**
 * Clients that give up before the service answers, measured in the kernel: a service that takes 1.5 s
 * per request, started before socktrace (as in production), and clients in a network namespace of the
 * test's own that wait 0.5 s and close. `watch --summary` must find impatient_clients for that service,
 * name its process, and measure both numbers within 20% of what the workloads measured themselves (a
 * loaded machine stretches them): the clients' timeout (request to FIN) and the service's latency
 * (request to its late answer). A service that answers in time must give none.
 */
import { afterEach, expect, it } from 'vitest';
import { SLOW_SERVICE_PATH, startActor as startWorkload, stopAllActors, type ActorOptions } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';
import { killWatches, startWatch } from '../support/watch-process.js';

const startActor = (args: string[], options: ActorOptions = {}) =>
  startWorkload([...args, '--timeout', String(scaled(60))], { timeoutMs: scaled(90_000), script: SLOW_SERVICE_PATH, ...options });

interface FindingLine {
  event: string;
  kind: string;
  explanation: string;
  subject: { pid?: number; comm?: string; port?: number };
  evidence: {
    clientTimeoutSeconds: { p50: number; p99: number };
    serviceLatencySeconds: { p50: number; p99: number } | null;
    abandoned: number;
    lateAnswers: number;
    peers: { peer: string; abandoned: number }[];
  };
  incident?: { chain: string[] };
}

/** `watch --summary 1` while `run` drives the workload; its JSON lines. */
async function watchWhile(seconds: number, run: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const watch = await startWatch(['--events', 'listen_overflow', '--summary', '1', '--duration', String(seconds)]);
  await run();
  const { lines, stderr } = await watch.exited;
  expect(stderr).not.toMatch(/not sampled|answer times are not shown/);
  return lines;
}

const within20 = (measured: number, expected: number) => Math.abs(measured - expected) <= expected * 0.2;

describeKernel('clients that give up before the service answers', () => {
  const netns = useNetnsPeer();
  afterEach(async () => {
    killWatches();
    await stopAllActors();
  });

  it('finds impatient_clients for the service, with the clients timeout and the service latency within 20%', async () => {
    const svc = startActor(['slow-service', '--host', netns().hostV4, '--latency', '1.5', '--hold', String(scaled(40))]);
    const { port } = (await svc.ready) as { port: number };
    let measuredWait = 0;
    const lines = await watchWhile(scaled(8), async () => {
      const clients = startActor(['impatient-clients', '--host', netns().hostV4, '--port', String(port), '--count', '8', '--wait', '0.5', '--interval', '0.2'], {
        prefix: netns().execPrefix,
      });
      const done = (await clients.done) as { gave_up: number; answered: number; median_wait: number };
      expect(done).toMatchObject({ gave_up: 8, answered: 0 });
      measuredWait = done.median_wait;
    });
    process.kill(svc.pid, 'SIGUSR1');
    const served = (await svc.done) as { median_latency: number };
    const findings = lines.filter((l) => l.event === 'finding' && l.kind === 'impatient_clients') as unknown as FindingLine[];
    expect(findings.length).toBeGreaterThan(0);
    const last = findings.at(-1)!;
    expect(last.subject).toMatchObject({ pid: svc.pid, comm: 'python3', port });
    expect(last.evidence.abandoned).toBe(8);
    expect(within20(measuredWait, 0.5)).toBe(true);
    expect(within20(last.evidence.clientTimeoutSeconds.p50, measuredWait)).toBe(true);
    expect(last.evidence.serviceLatencySeconds).not.toBeNull();
    expect(within20(served.median_latency, 1.5)).toBe(true);
    expect(within20(last.evidence.serviceLatencySeconds!.p50, served.median_latency)).toBe(true);
    expect(last.evidence.lateAnswers).toBe(8);
    expect(last.evidence.peers[0]).toMatchObject({ peer: netns().nsV4, abandoned: 8 });
    expect(last.explanation).toContain(`Clients from ${netns().nsV4} give up after`);
    expect(last.incident?.chain[0]).toBe('impatient_clients');
    // The summary's service row carries the same measurement.
    const summaries = lines.filter((l) => l.event === 'summary') as { services: { rows: { port: number; timings: { clientWait: { count: number } } | null }[] } }[];
    expect(summaries.some((s) => s.services.rows.some((r) => r.port === port && r.timings?.clientWait.count === 8))).toBe(true);
  });

  it('finds nothing when the service answers within the clients timeout, and measures its latency', async () => {
    const svc = startActor(['slow-service', '--host', netns().hostV4, '--latency', '0.2', '--hold', String(scaled(40))]);
    const { port } = (await svc.ready) as { port: number };
    const lines = await watchWhile(scaled(6), async () => {
      const clients = startActor(['impatient-clients', '--host', netns().hostV4, '--port', String(port), '--count', '8', '--wait', '2', '--interval', '0.1'], {
        prefix: netns().execPrefix,
      });
      expect(await clients.done).toMatchObject({ gave_up: 0, answered: 8 });
    });
    process.kill(svc.pid, 'SIGUSR1');
    const served = (await svc.done) as { median_latency: number };
    expect(lines.filter((l) => l.event === 'finding' && l.kind === 'impatient_clients')).toEqual([]);
    const rows = (lines.filter((l) => l.event === 'summary').at(-1) as { services: { rows: { port: number; timings: { latency: { count: number; p50Seconds: number } | null; clientWait: unknown } | null }[] } })
      .services.rows;
    const timings = rows.find((r) => r.port === port)?.timings;
    expect(timings?.clientWait).toBeNull();
    expect(timings?.latency?.count).toBe(8);
    expect(within20(served.median_latency, 0.2)).toBe(true);
    expect(within20(timings!.latency!.p50Seconds, served.median_latency)).toBe(true);
  });
});
