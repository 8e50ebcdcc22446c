/**
 * The package users install: `scripts/pack` makes the tarball, `npm install -g --prefix` installs it in
 * a temporary prefix, and the installed `socktrace` runs on a host without a compiler, as a mount
 * namespace this test makes shows it: every compiler, linker, cmake and bpftool masked, /usr/include
 * and the gcc libraries empty, and this checkout hidden so the installed copy cannot fall back on the
 * developer build. doctor passes, snapshot sees a listener of this test, watch a connection it makes,
 * and the installed addon needs nothing beyond glibc, libstdc++ and libgcc.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeKernel } from '../support/kernel-gate.js';
import { scaled } from '../support/time-scale.js';
import { until } from '../support/until.js';

const repo = realpathSync(fileURLToPath(new URL('../..', import.meta.url)));

/** Every compiler, linker and BPF tool this host has (resolved through symlinks and alternatives). */
function toolchain(): string[] {
  // Not ld.so: that is the dynamic loader every program needs.
  const names = /^(cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|cmake|bpftool|ld|ld\.(bfd|gold|lld)|(x86_64|aarch64)-linux-gnu-(gcc|g\+\+|cpp|ld)(\.(bfd|gold))?|(gcc|g\+\+|clang|cpp)-[\d.]+|(x86_64|aarch64)-linux-gnu-(gcc|g\+\+|cpp)-[\d.]+)$/;
  const dirs = new Set([...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin', '/bin', '/sbin']);
  const found = new Set<string>();
  for (const dir of dirs) {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries.filter((n) => names.test(n))) {
      try {
        found.add(realpathSync(join(dir, name)));
      } catch {
        // a dangling alternative: nothing to hide
      }
    }
  }
  return [...found].sort();
}

/** Directories emptied (tmpfs) in the namespace: headers, gcc's own programs and libraries, this checkout. */
const HIDDEN_DIRS = ['/usr/include', '/usr/lib/gcc', '/usr/local/include', repo].filter((d) => existsSync(d));

/**
 * Runs `command` in a new mount namespace with the toolchain masked (/dev/null bound over each binary,
 * so running it fails) and HIDDEN_DIRS empty. The working directory is `cwd`: a process whose cwd was
 * inside the checkout would still reach it under the mount.
 */
function bareHostArgs(command: string[]): string[] {
  const script = [
    'set -eu',
    'for f in $TOOLS; do mount --bind /dev/null "$f"; done',
    'for d in $DIRS; do mount -t tmpfs -o size=1m,mode=0755 none "$d"; done',
    'exec "$@"',
  ].join('\n');
  return ['-m', '--propagation', 'private', '--', 'bash', '-c', script, 'bare-host', ...command];
}

describeKernel('socktrace installed from its package, on a host without a compiler', () => {
  let work = '';
  let prefix = '';
  let env: NodeJS.ProcessEnv = {};
  let server: Server;
  let port = 0;
  const installed = () => join(prefix, 'lib', 'node_modules', 'socktrace');
  const prebuild = () => join(installed(), 'prebuilds', 'linux-x64', 'node.napi.glibc.node');

  function bare(command: string[], timeout = scaled(60_000)): SpawnSyncReturns<string> {
    return spawnSync('unshare', bareHostArgs(command), { cwd: work, env, encoding: 'utf8', timeout, maxBuffer: 1 << 26 });
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'socktrace-packaged-'));
    prefix = join(work, 'prefix');
    // npm pack runs scripts/prepack, which rebuilds (up to date after scripts/setup: seconds) and
    // stages the prebuild.
    const pack = spawnSync('bash', [join(repo, 'scripts', 'pack'), work], { cwd: repo, encoding: 'utf8', timeout: scaled(300_000) });
    expect(pack.status, pack.stderr).toBe(0);
    const tarball = pack.stdout.trim().split('\n').at(-1)!;
    // Runtime dependencies come from npm's cache (filled by scripts/setup's npm ci), else the registry.
    const install = spawnSync(
      'npm',
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball],
      { cwd: work, encoding: 'utf8', timeout: scaled(300_000) },
    );
    expect(install.status, install.stderr).toBe(0);
    const { SOCKTRACE_ADDON: _named, NODE_PATH: _path, ...rest } = process.env;
    env = {
      ...rest,
      PATH: [join(prefix, 'bin'), ...(process.env.PATH ?? '').split(delimiter)].join(delimiter),
      TOOLS: toolchain().join(' '),
      DIRS: HIDDEN_DIRS.join(' '),
    };
    server = createServer((s) => s.on('error', () => {}).resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  }, scaled(600_000));

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the namespace has no compiler, no headers and no checkout', () => {
    expect(env.TOOLS!.split(' ')).toEqual(expect.arrayContaining([realpathSync('/usr/bin/gcc'), realpathSync('/usr/bin/clang'), realpathSync('/usr/bin/cmake')]));
    const probe = bare([
      'bash',
      '-c',
      'for t in cc gcc g++ clang cmake bpftool ld; do if "$t" --version >/dev/null 2>&1; then echo "runs: $t"; fi; done; ' +
        `ls -A /usr/include ${repo} | grep -v ':$' | grep . || true; command -v socktrace`,
    ]);
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout.trim()).toBe(join(prefix, 'bin', 'socktrace'));
  });

  it('the installed addon is the prebuild, and needs only glibc, libstdc++ and libgcc', () => {
    const ldd = bare(['ldd', prebuild()]);
    expect(ldd.status, ldd.stderr).toBe(0);
    const libraries = ldd.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter(Boolean);
    expect(libraries).toContain('libc.so.6');
    const allowed = /^(linux-vdso\.so\.1|\/lib64\/ld-linux-x86-64\.so\.2|lib(c|m|pthread|dl|rt|stdc\+\+|gcc_s)\.so\.\d+)$/;
    expect(libraries.filter((l) => !allowed.test(l)), ldd.stdout).toEqual([]);
  });

  it('doctor passes and names the prebuild as the addon it loaded', () => {
    const doctor = bare(['socktrace', 'doctor']);
    expect(doctor.status, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(new RegExp(`^ok +native addon +${prebuild().replace(/[.]/g, '\\.')}$`, 'm'));
    expect(doctor.stdout).toMatch(/^backend: native /m);
  });

  it('snapshot --json sees the listener this test started, owned by this process', () => {
    const snapshot = bare(['socktrace', 'snapshot', '--json']);
    expect(snapshot.status, snapshot.stderr).toBe(0);
    const doc = JSON.parse(snapshot.stdout) as { sockets: { state: string; proc: { pid: number } | null; local: { port: number } }[] };
    const listener = doc.sockets.filter((s) => s.state === 'LISTEN' && s.local.port === port);
    expect(listener.map((s) => s.proc?.pid)).toEqual([process.pid]);
  });

  it('watch --duration 2 sees a connection this test makes', async () => {
    const child = spawn('unshare', bareHostArgs(['socktrace', 'watch', '--duration', '2', '--port', String(port)]), {
      cwd: work,
      env,
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
});
