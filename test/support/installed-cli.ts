/**
 * The checks every installed form of socktrace passes on a bare host (test/support/bare-host.ts):
 * doctor passes and names the installed addon, snapshot --json sees a listener of the test, watch a
 * connection it makes, and the addon needs nothing beyond glibc, libstdc++ and libgcc.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createConnection, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bareHostArgs, checkout, leakProbe, unexpectedLibraries, type BareHost } from './bare-host.js';
import { scaled } from './time-scale.js';
import { until } from './until.js';

export interface Installed {
  /** The socktrace command to run (a path, or a name on env.PATH). */
  command: string;
  /** Where `command` resolves to in the namespace (`command -v`). */
  resolvesTo: string;
  /** The addon it must load. */
  addon: string;
  host: BareHost;
  /** Outside the checkout. */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Tools that must not run in the namespace. */
  absent: string[];
}

/** Defines the checks inside a describe(); `install` runs in beforeAll. */
export function installedCliChecks(install: () => Promise<Installed>, installTimeout: number): void {
  let inst: Installed;
  let server: Server;
  let port = 0;

  const bare = (command: string[]): SpawnSyncReturns<string> =>
    spawnSync('unshare', bareHostArgs(inst.host, command), { cwd: inst.cwd, env: inst.env, encoding: 'utf8', timeout: scaled(60_000), maxBuffer: 1 << 26 });

  beforeAll(async () => {
    inst = await install();
    // The namespace hides the checkout: an install inside it (TMPDIR there) would vanish with it.
    expect(`${inst.addon}/`.startsWith(`${checkout}/`), `${inst.addon} is inside the checkout`).toBe(false);
    server = createServer((s) => s.on('error', () => {}).resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  }, installTimeout);

  afterAll(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  it('the namespace lacks what it must lack, and finds the installed socktrace', () => {
    const probe = bare(['bash', '-c', `${leakProbe(inst.host, inst.absent)}; command -v ${inst.command}`]);
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout.trim()).toBe(inst.resolvesTo);
  });

  it('the installed addon needs only glibc, libstdc++ and libgcc', () => {
    const ldd = bare(['ldd', inst.addon]);
    expect(ldd.status, ldd.stderr).toBe(0);
    expect(ldd.stdout).toMatch(/libc\.so\.6/);
    expect(unexpectedLibraries(ldd.stdout), ldd.stdout).toEqual([]);
  });

  it('doctor passes and names the installed addon as the one it loaded', () => {
    const doctor = bare([inst.command, 'doctor']);
    expect(doctor.status, doctor.stdout + doctor.stderr).toBe(0);
    const line = doctor.stdout.split('\n').find((l) => /^\w+ +native addon /.test(l));
    expect(line?.split(/\s+/)).toEqual(['ok', 'native', 'addon', inst.addon]);
    expect(doctor.stdout).toMatch(/^backend: native /m);
  });

  it('snapshot --json sees the listener this test started, owned by this process', () => {
    const snapshot = bare([inst.command, 'snapshot', '--json']);
    expect(snapshot.status, snapshot.stderr).toBe(0);
    const doc = JSON.parse(snapshot.stdout) as { sockets: { state: string; proc: { pid: number } | null; local: { port: number } }[] };
    const listener = doc.sockets.filter((s) => s.state === 'LISTEN' && s.local.port === port);
    expect(listener.map((s) => s.proc?.pid)).toEqual([process.pid]);
  });

  it('watch --duration 2 sees a connection this test makes', async () => {
    const child = spawn('unshare', bareHostArgs(inst.host, [inst.command, 'watch', '--duration', '2', '--port', String(port)]), {
      cwd: inst.cwd,
      env: inst.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    try {
      await until('watch started', scaled(30_000), () => err.includes('watching') || child.exitCode !== null);
      expect(child.exitCode, err).toBeNull();
      const client = createConnection(port, '127.0.0.1');
      await new Promise<void>((r, j) => client.once('connect', r).once('error', j));
      const clientPort = client.localPort!;
      client.end();
      expect(await exited, err).toBe(0);
      const events = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event: string; to?: string; local: { port: number }; peer: { port: number }; proc: { pid: number } | null });
      // The client side going ESTABLISHED, owned by this process.
      const established = events.filter((e) => e.event === 'state_change' && e.to === 'ESTABLISHED' && e.local.port === clientPort && e.peer.port === port);
      expect(established.map((e) => e.proc?.pid), out).toEqual([process.pid]);
    } finally {
      child.kill('SIGKILL');
    }
  }, scaled(60_000));
}
