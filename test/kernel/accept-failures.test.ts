/**
 * A service out of file descriptors: its accept() fails with EMFILE and the connections it cannot take
 * wait in its queue. The service runs before socktrace (as in production), at RLIMIT_NOFILE 32, and
 * retries every 10 ms as real servers do; its clients live in a network namespace of the test's own.
 * Every failure must be reported with the service as the process, its listener as `local` and EMFILE;
 * `watch` folds the retries into one line a second with a count; the daemon counts them per process
 * and errno and finds `accept_failing`, tied to the descriptors the service holds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { OWNER_CHANGES_PATH, startActor as startWorkload, stopAllActors, type ActorLine, type ActorOptions } from '../support/actor.js';
import { freePort } from '../support/free-port.js';
import { describeKernel } from '../support/kernel-gate.js';
import { logLines } from '../support/log-lines.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';
import { BPFTRACE_START_MS, withBpftraceStarts } from '../support/bpftrace-start.js';
import { until } from '../support/until.js';
import { startBpftraceTrace, startLiveTrace, stopAllTraces, type TraceSession } from '../support/trace-session.js';

const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const script = OWNER_CHANGES_PATH;
/** `waitMs`: how much longer the workload must wait for socktrace than the usual (a bpftrace start). */
const startActor = (args: string[], options: ActorOptions = {}, waitMs = 0) =>
  startWorkload([...args, '--timeout', String(scaled(40) + waitMs / 1000)], { timeoutMs: scaled(90_000) + waitMs, ...options });
const children: ChildProcess[] = [];

describeKernel('accept failures', () => {
  const netns = useNetnsPeer();
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await stopAllActors();
    await stopAllTraces();
  });

  /**
   * The service at its limit with 40 clients of which it could take only some: its pid and port. Both
   * last `waitMs` longer than usual (for a tracer that takes that much longer to start).
   */
  async function serviceOutOfFds(waitMs = 0): Promise<{ pid: number; port: number }> {
    const hold = String(scaled(30) + waitMs / 1000);
    const svc = startActor(['fd-limited-server', '--host', netns().hostV4, '--nofile', '32', '--backlog', '64', '--hold', hold], { script }, waitMs);
    const { port } = (await svc.ready) as { port: number };
    const clients = startActor(['many-clients', '--host', netns().hostV4, '--port', String(port), '--count', '40'], { script, prefix: netns().execPrefix }, waitMs);
    await clients.ready;
    const { full } = (await svc.next((l) => 'full' in l)) as ActorLine & { full: number };
    expect(full).toBeLessThan(40);
    return { pid: svc.pid, port };
  }

  // The bpftrace case allows for bpftrace's start: the service and its clients wait through it.
  for (const [backend, start, bpftraceStarts] of [
    ['native', () => startLiveTrace(), 0],
    ['bpftrace', () => startBpftraceTrace(), 1],
  ] as [string, () => Promise<TraceSession>, number][]) {
    it(`reports each failed accept with the service, its listener and EMFILE (${backend} backend)`, async () => {
      const { pid, port } = await serviceOutOfFds(bpftraceStarts * BPFTRACE_START_MS);
      const trace = await start();
      const failures = () => trace.events.filter((e) => e.kind === 'accept_error');
      await until('50 failed accepts', scaled(10_000), () => failures().length >= 50);
      const seen = failures();
      expect(seen.filter((e) => e.owner?.pid !== pid)).toEqual([]);
      expect(seen.every((e) => e.owner?.comm === 'python3' && e.errno === 'EMFILE')).toBe(true);
      expect(seen.every((e) => e.local.addr === netns().hostV4 && e.local.port === port && e.state === 'LISTEN')).toBe(true);
    }, withBpftraceStarts(30_000, bpftraceStarts));
  }

  it('watch prints the first failure and then one folded line a second with the count', async () => {
    const { pid, port } = await serviceOutOfFds();
    const watch = spawn(process.execPath, [bin, 'watch', '--events', 'accept_error', '--duration', String(scaled(4))], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(watch);
    let out = '';
    watch.stdout.on('data', (d) => (out += d));
    const code = await new Promise((r) => watch.on('exit', r));
    expect(code).toBe(0);
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const ours = lines.filter((l) => (l.proc as { pid: number } | null)?.pid === pid);
    expect(ours.length).toBeGreaterThanOrEqual(2);
    // The service retries every 10 ms, ~400 times in 4 s: a handful of lines, most of them folded.
    expect(ours.length).toBeLessThanOrEqual(2 * scaled(4) + 2);
    expect(ours[0]).toMatchObject({ event: 'accept_error', errno: 'EMFILE', local: { addr: netns().hostV4, port }, state: 'LISTEN' });
    const folded = ours.filter((l) => typeof l.repeated === 'number');
    expect(folded.length).toBeGreaterThanOrEqual(1);
    const total = ours.reduce((n, l) => n + 1 + ((l.repeated as number | undefined) ?? 0), 0);
    expect(total).toBeGreaterThan(100);
  });

  it('the daemon counts them per process and errno, and finds accept_failing naming the service', async () => {
    const { pid } = await serviceOutOfFds();
    const dir = mkdtempSync(join(tmpdir(), 'socktrace-accept-'));
    const metricsPort = await freePort();
    const logFile = join(dir, 'daemon.log');
    const config = join(dir, 'socktrace.yaml');
    writeFileSync(config, `metrics:\n  listen: 127.0.0.1:${metricsPort}\nlog:\n  file: ${logFile}\n  summarySeconds: 1\ntracer:\n  reconcileSeconds: 1\n`, { mode: 0o644 });
    const daemon = spawn(process.execPath, [bin, 'daemon', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(daemon);
    const scrape = async () => {
      try {
        return await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      } catch {
        return '';
      }
    };
    const series = new RegExp(`^socktrace_accept_errors_total\\{pid="${pid}",comm="python3",errno="EMFILE"\\} (\\d+)$`, 'm');
    const finding = new RegExp(`^socktrace_findings\\{kind="accept_failing",severity="critical",pid="${pid}",comm="python3"\\} 1$`, 'm');
    let text = '';
    await until('accept errors counted', scaled(15_000), async () => Number(series.exec((text = await scrape()))?.[1] ?? 0) >= 20);
    // Findings come from a summary up to a second old (scrapes share it): the next one has it.
    await until('the finding served', scaled(5000), async () => finding.test((text = await scrape())));
    await until('the finding logged', scaled(5000), () =>
      logLines(logFile).some((l) => l.kind === 'accept_failing' && l.change === 'appeared' && (l.subject as { pid?: number })?.pid === pid),
    );
    const logged = logLines(logFile).find((l) => l.kind === 'accept_failing')!;
    expect(logged.evidence).toMatchObject({ byErrno: { EMFILE: expect.any(Number) }, fdLimit: 32 });
    expect(String(logged.explanation)).toMatch(/EMFILE \(too many open files/);
    // Folded in the log as storms are: far fewer records than failures.
    const records = logLines(logFile).filter((l) => l.event === 'accept_error');
    expect(records.length).toBeGreaterThan(0);
    expect(records.length).toBeLessThan(Number(series.exec(text)![1]));
  });
});
