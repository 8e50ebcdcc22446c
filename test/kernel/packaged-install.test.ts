/**
 * The package users install: `scripts/pack` makes the tarball, `npm install -g --prefix` installs it in
 * a temporary prefix, and the installed `socktrace` runs on a host without a compiler (a mount
 * namespace: test/support/bare-host.ts) from its prebuilt addon (test/support/installed-cli.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { bareHost, checkout } from '../support/bare-host.js';
import { installedCliChecks } from '../support/installed-cli.js';
import { describeKernel } from '../support/kernel-gate.js';
import { scaled } from '../support/time-scale.js';

describeKernel('socktrace installed from its package, on a host without a compiler', () => {
  let work = '';
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  installedCliChecks(async () => {
    work = mkdtempSync(join(tmpdir(), 'socktrace-packaged-'));
    const prefix = join(work, 'prefix');
    // npm pack runs scripts/prepack, which rebuilds (up to date after scripts/setup: seconds) and
    // stages the prebuild.
    const pack = spawnSync('bash', [join(checkout, 'scripts', 'pack'), work], { cwd: checkout, encoding: 'utf8', timeout: scaled(300_000) });
    expect(pack.status, pack.stderr).toBe(0);
    const tarball = pack.stdout.trim().split('\n').at(-1)!;
    // Runtime dependencies come from npm's cache (filled by scripts/setup's npm ci), else the registry.
    const install = spawnSync(
      'npm',
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball],
      { cwd: work, encoding: 'utf8', timeout: scaled(300_000) },
    );
    expect(install.status, install.stderr).toBe(0);
    const host = bareHost();
    expect(host.tools).toEqual(expect.arrayContaining(['/usr/bin/gcc', '/usr/bin/clang', '/usr/bin/cmake'].map((t) => realpathSync(t))));
    const { SOCKTRACE_ADDON: _named, NODE_PATH: _path, ...env } = process.env;
    return {
      command: 'socktrace',
      resolvesTo: join(prefix, 'bin', 'socktrace'),
      addon: join(prefix, 'lib', 'node_modules', 'socktrace', 'prebuilds', 'linux-x64', 'node.napi.glibc.node'),
      host,
      cwd: work,
      env: { ...env, PATH: [join(prefix, 'bin'), ...(process.env.PATH ?? '').split(delimiter)].join(delimiter) },
      absent: ['cc', 'gcc', 'g++', 'clang', 'cmake', 'bpftool', 'ld'],
    };
  }, scaled(600_000));
});
