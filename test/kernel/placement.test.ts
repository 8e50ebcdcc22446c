/**
 * Which container, which pod: a Python service started before socktrace and moved (by the test, into
 * cgroups of its own making in a cgroup2 hierarchy) where Docker and a Kubernetes node's containerd
 * put theirs; clients connect from a namespace of the test's own. watch's lines, snapshot --json and
 * the daemon's socktrace_process_info must say which container and pod the service runs in.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { SnapshotDocument } from '../../src/output/snapshot-document.js';
import { OWNER_CHANGES_PATH, startActor, stopAllActors } from '../support/actor.js';
import { freePort } from '../support/free-port.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';
import { until } from '../support/until.js';
import { killWatches, startWatch } from '../support/watch-process.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const CONTAINER = 'c0ffee'.repeat(10) + '0123';
const POD = '3f2b9a4e-1c7d-4e8f-9a0b-5d6c7e8f9a0b';
const children: ChildProcess[] = [];

describeKernel('placement', () => {
  const netns = useNetnsPeer();
  /** A cgroup2 hierarchy mounted for the test (the same tree as any other cgroup2 mount), and its top dir. */
  let mount = '';
  let top = '';
  const made: string[] = [];

  beforeAll(async () => {
    mount = mkdtempSync(join(tmpdir(), 'socktrace-cg2-'));
    await run('mount', ['-t', 'cgroup2', 'none', mount]);
    top = `socktrace-test-${process.pid}`;
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    killWatches();
    await stopAllActors();
    // Deepest first; the processes moved there are gone by now (killed above).
    for (const dir of made.splice(0).reverse()) await until(`${dir} removed`, 5000, () => tryRmdir(dir));
  });
  afterAll(async () => {
    await run('umount', [mount]).catch(() => undefined);
    rmdirSync(mount);
  });

  function tryRmdir(dir: string): boolean {
    try {
      rmdirSync(dir);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }

  /** Makes the cgroup `path` (each level) under the test's top dir: its directory and its path as /proc shows it. */
  function makeCgroup(path: string): { dir: string; cgroup: string } {
    let dir = join(mount, top);
    for (const part of ['', ...path.split('/').filter(Boolean)]) {
      dir = part ? join(dir, part) : dir;
      try {
        mkdirSync(dir);
        made.push(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    return { dir, cgroup: `/${top}/${path}` };
  }

  /** Makes the cgroup `path` and moves `pid` into it. */
  function moveInto(path: string, pid: number): string {
    const { dir, cgroup } = makeCgroup(path);
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    return cgroup;
  }

  /** A listener started before socktrace, moved into `path`, and three clients from the namespace. */
  async function serviceIn(path: string): Promise<{ pid: number; port: number; cgroup: string }> {
    const svc = startActor(['queue-listener', '--host', netns().hostV4, '--backlog', '16', '--timeout', String(scaled(60))], {
      script: OWNER_CHANGES_PATH,
      timeoutMs: scaled(90_000),
    });
    const { port } = (await svc.ready) as { port: number };
    const cgroup = moveInto(path, svc.pid);
    return { pid: svc.pid, port, cgroup };
  }

  const clients = (port: number) =>
    startActor(['many-clients', '--host', netns().hostV4, '--port', String(port), '--count', '3', '--timeout', String(scaled(60))], {
      script: OWNER_CHANGES_PATH,
      prefix: netns().execPrefix,
      timeoutMs: scaled(90_000),
    }).ready;

  it("watch names the Docker container a service runs in, and snapshot --json too", async () => {
    const { pid, port, cgroup } = await serviceIn(`system.slice/docker-${CONTAINER}.scope`);
    const watch = await startWatch(['--port', String(port), '--duration', String(scaled(4))]);
    await clients(port);
    const { code, lines } = (await watch.exited) as { code: number | null; lines: Record<string, any>[] };
    expect(code).toBe(0);
    const owned = lines.filter((l) => l.proc?.pid === pid);
    expect(owned.length).toBeGreaterThan(0);
    for (const l of owned) {
      expect(l.proc).toMatchObject({ cgroup, unit: null, container: { runtime: 'docker', id: CONTAINER }, pod: null });
    }
    const { stdout } = await run(process.execPath, [bin, 'snapshot', '--json'], { maxBuffer: 256 << 20 });
    const row = (JSON.parse(stdout) as SnapshotDocument).rollups.processes.rows.find((p) => p.pid === pid);
    expect(row?.placement).toMatchObject({ cgroup, container: { runtime: 'docker', id: CONTAINER } });
    const table = (await run(process.execPath, [bin, 'snapshot'])).stdout;
    expect(table.split('\n').find((l) => new RegExp(`^\\s*${pid}\\s`).test(l))).toMatch(/docker c0ffeec0ffee\s*$/);
  });

  it('names the container of a client gone before watch read its events, by the cgroup id the kernel stamped', async () => {
    // A service in the host namespace; the client runs in a Docker-like cgroup from its first instruction.
    const svc = startActor(['queue-listener', '--host', netns().hostV4, '--backlog', '16', '--timeout', String(scaled(60))], {
      script: OWNER_CHANGES_PATH,
      timeoutMs: scaled(90_000),
    });
    const { port } = (await svc.ready) as { port: number };
    const { dir, cgroup } = makeCgroup(`system.slice/docker-${CONTAINER}.scope`);
    const watch = await startWatch(['--port', String(port), '--duration', String(scaled(10))]);
    // watch falls behind (stopped): the client connects, closes and exits, and is reaped, before a line of it is made.
    process.kill(watch.pid, 'SIGSTOP');
    let clientPid = 0;
    try {
      const client = startActor(['many-clients', '--host', netns().hostV4, '--port', String(port), '--count', '3', '--timeout', String(scaled(30))], {
        script: OWNER_CHANGES_PATH,
        prefix: ['sh', '-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$@"`, 'sh'],
        timeoutMs: scaled(60_000),
      });
      await client.ready;
      clientPid = client.pid;
      process.kill(client.pid, 'SIGUSR1');
      await client.done;
      await client.exited;
    } finally {
      process.kill(watch.pid, 'SIGCONT');
    }
    const { code, lines } = (await watch.exited) as { code: number | null; lines: Record<string, any>[] };
    expect(code).toBe(0);
    const owned = lines.filter((l) => l.proc?.pid === clientPid);
    expect(owned.length).toBeGreaterThanOrEqual(3); // at least each connect
    for (const l of owned) expect(l.proc).toMatchObject({ cgroup, container: { runtime: 'docker', id: CONTAINER } });
  });

  it("the daemon's socktrace_process_info gives a Kubernetes pod's service its pod uid and container", async () => {
    const slice = `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll('-', '_')}.slice`;
    const { pid, port } = await serviceIn(`${slice}/cri-containerd-${CONTAINER}.scope`);
    await clients(port);
    const dir = mkdtempSync(join(tmpdir(), 'socktrace-placement-'));
    const metricsPort = await freePort();
    const config = join(dir, 'socktrace.yaml');
    writeFileSync(config, `metrics:\n  listen: 127.0.0.1:${metricsPort}\nlog:\n  file: ${join(dir, 'daemon.log')}\n`, { mode: 0o644 });
    children.push(spawn(process.execPath, [bin, 'daemon', '--config', config], { stdio: 'ignore' }));
    const series = new RegExp(`^socktrace_process_info\\{pid="${pid}",comm="python3",([^}]*)\\} 1$`, 'm');
    let labels = '';
    await until('the process info served', scaled(20_000), async () => {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text(), () => '');
      labels = series.exec(text)?.[1] ?? '';
      return labels !== '';
    });
    expect(labels).toBe(
      `unit="",container_runtime="containerd",container_id="${CONTAINER.slice(0, 12)}",k8s_namespace="",k8s_pod="",k8s_pod_uid="${POD}"`,
    );
  });
});
