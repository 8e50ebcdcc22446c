/**
 * The DaemonSet's image (packaging/Containerfile) runs socktrace on this host as the DaemonSet would:
 * packaging/check-image runs its entrypoint under chroot with the host's /proc, /sys and /dev (no
 * container runtime can start containers here), and checks doctor, snapshot --json and the
 * DaemonSet's own container (args, ConfigMap, /healthz, SIGTERM).
 *
 * The image is first brought up to date with this checkout by packaging/build-image (cached layers:
 * seconds when nothing changed), so the test never passes on a stale image. Off CI it skips while
 * the image was never built: a first build fetches a Debian base and a toolchain and takes minutes.
 * Under CI=true it builds it instead: CI reaches the same Debian mirror and npm registry, and
 * skipping there would let a broken image through unnoticed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeKernel, onCI } from '../support/kernel-gate.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const version = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }).version;
const image = `localhost/socktrace:${version}`;
const built = spawnSync('podman', ['image', 'exists', image]).status === 0;
// Small: a Debian base (~77 MB), node (~95 MB) and socktrace (~40 MB). A toolchain left in would be hundreds more.
const MAX_MB = 250;

function run(script: string, timeoutMs: number): { status: number | null; output: string } {
  const r = spawnSync('bash', [script], { cwd: root, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, SOCKTRACE_IMAGE: image } });
  return { status: r.status, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

const describeImage =
  built || onCI
    ? describeKernel
    : (name: string, body: () => void) => describe.skip(`${name} [skipped: ${image} not built; run packaging/build-image (minutes the first time)]`, body);

describeImage('the DaemonSet image', () => {
  it('builds from this checkout, small', () => {
    const { status, output } = run('packaging/build-image', 15 * 60_000);
    expect(status, output).toBe(0);
    const mb = Number(/built in \d+ s, (\d+) MB/.exec(output)?.[1]);
    expect(mb, output).toBeGreaterThan(0);
    expect(mb, output).toBeLessThanOrEqual(MAX_MB);
  }, 16 * 60_000);

  it('runs doctor, snapshot and the DaemonSet container under chroot with the host /proc, /sys, /dev', () => {
    const { status, output } = run('packaging/check-image', 2 * 60_000);
    expect(status, output).toBe(0);
    expect(output).toMatch(/^ {2}\| socktrace can run here\.$/m);
    expect(output).toMatch(/ok: 127\.0\.0\.1:\d+ LISTEN, netns \d+, owner pid \d+/);
    expect(output).toMatch(/ok: 198\.18\.0\.1:\d+ LISTEN, netns \d+, owner pid \d+/);
    expect(output).toMatch(/ok: \/healthz answers/);
    expect(output).toMatch(/ok: the daemon exited 0 on SIGTERM/);
    expect(output).toMatch(/^check-image: passed$/m);
  }, 3 * 60_000);
});
