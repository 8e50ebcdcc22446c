/**
 * A listener whose accept queue is full: a Python service with backlog 4, started before socktrace, that
 * accepts nothing, and 40 clients in a network namespace of the test's own connecting at once with a
 * 1 s connect timeout. The queue socktrace shows (snapshot, table and --json; the daemon's gauges) must
 * be what `ss -lnt` shows for it, Recv-Q/Send-Q.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import type { SnapshotDocument } from '../../src/output/snapshot-document.js';
import { OWNER_CHANGES_PATH, startActor as startWorkload, stopAllActors, type ActorOptions } from '../support/actor.js';
import { freePort } from '../support/free-port.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';
import { until } from '../support/until.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const script = OWNER_CHANGES_PATH;
const startActor = (args: string[], options: ActorOptions = {}) =>
  startWorkload([...args, '--timeout', String(scaled(60))], { timeoutMs: scaled(90_000), script, ...options });
const children: ChildProcess[] = [];

/** `ss -lnt` for one listening address: Recv-Q (queue) and Send-Q (limit). */
async function ssListen(addr: string, port: number): Promise<{ queue: number; limit: number }> {
  const { stdout } = await run('ss', ['-Hlnt', `src ${addr}:${port}`]);
  const f = stdout.trim().split(/\s+/);
  expect(f[0]).toBe('LISTEN');
  return { queue: Number(f[1]), limit: Number(f[2]) };
}

describeKernel('accept queues', () => {
  const netns = useNetnsPeer();
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await stopAllActors();
  });

  /** The listener with a full queue and clients that gave up: its pid and port. */
  async function fullListener(): Promise<{ pid: number; port: number }> {
    const svc = startActor(['queue-listener', '--host', netns().hostV4, '--backlog', '4']);
    const { port } = (await svc.ready) as { port: number };
    const clients = startActor(['knocking-clients', '--host', netns().hostV4, '--port', String(port), '--count', '40', '--connect-timeout', String(scaled(1))], {
      prefix: netns().execPrefix,
    });
    const line = (await clients.ready) as { connected: number; timedOut: number };
    expect(line.timedOut).toBeGreaterThan(0); // the queue was full: some handshakes were dropped
    return { pid: svc.pid, port };
  }

  it('snapshot shows the queue and its limit as ss -lnt does, in the table and --json', async () => {
    const { pid, port } = await fullListener();
    const ss = await ssListen(netns().hostV4, port);
    expect(ss).toEqual({ queue: 5, limit: 4 }); // full: the kernel drops once the queue exceeds the limit
    const { stdout } = await run(process.execPath, [bin, 'snapshot', '--json'], { maxBuffer: 256 << 20 });
    const doc = JSON.parse(stdout) as SnapshotDocument;
    const listener = doc.sockets.find((s) => s.state === 'LISTEN' && s.local.port === port && s.local.addr === netns().hostV4);
    expect(listener?.proc?.pid).toBe(pid);
    expect(listener?.acceptQueue).toEqual({ length: ss.queue, limit: ss.limit });
    const service = doc.rollups.services.rows.find((s) => s.port === port);
    expect(service?.acceptQueues).toEqual([{ local: { addr: netns().hostV4, port }, owners: [{ pid, comm: 'python3' }], length: 5, limit: 4 }]);
    const table = (await run(process.execPath, [bin, 'snapshot'], { maxBuffer: 256 << 20 })).stdout;
    const row = table.split('\n').find((l) => new RegExp(`^\\s*${port}\\s`).test(l));
    expect(row).toMatch(new RegExp(`python3/${pid}\\s+5/4\\s`));
  });

  it('the daemon gauges each listener queue and limit as ss -lnt does', async () => {
    const { pid, port } = await fullListener();
    const dir = mkdtempSync(join(tmpdir(), 'socktrace-queues-'));
    const metricsPort = await freePort();
    const config = join(dir, 'socktrace.yaml');
    writeFileSync(config, `metrics:\n  listen: 127.0.0.1:${metricsPort}\nlog:\n  file: ${join(dir, 'daemon.log')}\n`, { mode: 0o644 });
    const daemon = spawn(process.execPath, [bin, 'daemon', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(daemon);
    const scrape = async () => {
      try {
        return await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      } catch {
        return '';
      }
    };
    const labels = `\\{pid="${pid}",comm="python3",port="${port}"\\}`;
    const queue = new RegExp(`^socktrace_listen_queue${labels} (\\d+)$`, 'm');
    const limit = new RegExp(`^socktrace_listen_queue_limit${labels} (\\d+)$`, 'm');
    const text = await until('the listener gauged', scaled(15_000), async () => {
      const t = await scrape();
      return queue.test(t) && limit.test(t) ? t : false;
    });
    const ss = await ssListen(netns().hostV4, port);
    expect({ queue: Number(queue.exec(text)![1]), limit: Number(limit.exec(text)![1]) }).toEqual(ss);
    expect(ss).toEqual({ queue: 5, limit: 4 });
  });
});
