/**
 * The archive for hosts without Node: `scripts/pack-standalone` makes it (the package installed with its
 * dependencies and a Node runtime), it is unpacked in a temporary directory, and its bin/socktrace runs
 * in a mount namespace with neither a compiler nor Node (test/support/bare-host.ts) from its prebuilt
 * addon (test/support/installed-cli.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { bareHost, checkout } from '../support/bare-host.js';
import { installedCliChecks } from '../support/installed-cli.js';
import { describeKernel } from '../support/kernel-gate.js';
import { scaled } from '../support/time-scale.js';

describeKernel('socktrace unpacked from its standalone archive, on a host without a compiler or Node', () => {
  let work = '';
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  installedCliChecks(async () => {
    work = mkdtempSync(join(tmpdir(), 'socktrace-standalone-'));
    const pack = spawnSync('bash', [join(checkout, 'scripts', 'pack-standalone'), work], { cwd: checkout, encoding: 'utf8', timeout: scaled(300_000) });
    expect(pack.status, pack.stderr).toBe(0);
    const archive = pack.stdout.trim().split('\n').at(-1)!;
    const unpacked = join(work, 'opt');
    const untar = spawnSync('bash', ['-c', `mkdir -p "$1" && tar -C "$1" -xzf "$2"`, 'untar', unpacked, archive], { encoding: 'utf8' });
    expect(untar.status, untar.stderr).toBe(0);
    const root = join(unpacked, basename(archive, '.tar.gz'));
    const { SOCKTRACE_ADDON: _named, NODE_PATH: _path, ...env } = process.env;
    return {
      command: join(root, 'bin', 'socktrace'),
      resolvesTo: join(root, 'bin', 'socktrace'),
      addon: join(root, 'lib', 'node_modules', 'socktrace', 'prebuilds', 'linux-x64', 'node.napi.glibc.node'),
      host: bareHost({ withoutNode: true }),
      cwd: work,
      env,
      absent: ['cc', 'gcc', 'g++', 'clang', 'cmake', 'bpftool', 'ld', 'node', 'npm', 'nodejs'],
    };
  }, scaled(600_000));
});
