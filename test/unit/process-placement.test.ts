/**
 * Reading where a process lives from /proc (a recorded /proc tree in a temporary directory): never for
 * a process that reused the owner's pid, read once and again after 30 s, pods named where known.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { PlacementReader } from '../../src/inventory/process-placement.js';

const DOCKER = 'a'.repeat(64);
const POD = '0b4c7f52-6b0a-4d6e-9a1f-2f6c1d6e8a11';
let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A process in the recorded tree: its stat (name, start ticks) and cgroup file. */
function proc(pid: number, comm: string, startTicks: number, cgroup: string): void {
  mkdirSync(join(root, String(pid)), { recursive: true });
  const fields = ['S', ...Array.from({ length: 18 }, () => '0'), String(startTicks), '0'];
  writeFileSync(join(root, String(pid), 'stat'), `${pid} (${comm}) ${fields.join(' ')}\n`);
  writeFileSync(join(root, String(pid), 'cgroup'), cgroup);
}

it("reads the owner's placement, and nothing for a process that reused its pid", () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  proc(100, 'api', 5_000_000_123, `0::/system.slice/docker-${DOCKER}.scope\n`);
  const reader = new PlacementReader(null, root);
  const start = 5_000_000_123 % 2 ** 32; // events carry the low 32 bits
  expect(reader.of(100, start, 'api', 0)).toMatchObject({ container: { runtime: 'docker', id: DOCKER } });
  expect(reader.of(100, start + 1, 'api', 0)).toBeNull(); // another process now holds pid 100
  // No start known (the bpftrace backend): the name must match instead.
  expect(reader.of(100, 0, 'api', 0)).toMatchObject({ container: { id: DOCKER } });
  expect(reader.of(100, 0, 'worker', 0)).toBeNull();
  expect(reader.of(999, start, 'gone', 0)).toBeNull();
});

it('without a start from the event, checks on every use that the pid is still the process it read', () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  proc(100, 'python3', 77, `0::/system.slice/docker-${DOCKER}.scope\n`);
  const reader = new PlacementReader(null, root);
  expect(reader.of(100, 0, 'python3', 0)).toMatchObject({ container: { id: DOCKER } });
  // The pid reused by another python3, in another container, within the 30 s the first read is kept.
  proc(100, 'python3', 99, `0::/system.slice/docker-${'b'.repeat(64)}.scope\n`);
  expect(reader.of(100, 0, 'python3', 1000)).toMatchObject({ container: { id: 'b'.repeat(64) } });
});

it('reads a process once, and again after 30 s (it may have been moved)', () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  proc(100, 'api', 77, '0::/system.slice/api.service\n');
  const reader = new PlacementReader(null, root);
  const first = reader.of(100, 77, 'api', 0);
  expect(first).toMatchObject({ unit: 'api.service' });
  proc(100, 'api', 77, `0::/system.slice/docker-${DOCKER}.scope\n`);
  expect(reader.of(100, 77, 'api', 29_999)).toBe(first); // the same object: callers keep what they made of it
  expect(reader.of(100, 77, 'api', 30_000)).toMatchObject({ container: { id: DOCKER } });
});

it("names a pod where the directory knows its uid, and keeps the uid alone where it does not", () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  const path = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll('-', '_')}.slice/cri-containerd-${DOCKER}.scope`;
  proc(100, 'api', 77, `0::${path}\n`);
  const other = '9d1e2f3a-0000-4000-8000-000000000042';
  proc(200, 'web', 88, `0::${path.replace(POD.replaceAll('-', '_'), other.replaceAll('-', '_'))}\n`);
  const pods = { lookup: (uid: string) => (uid === POD ? { name: 'api-7f9c', namespace: 'shop' } : null) };
  const reader = new PlacementReader(pods, root);
  expect(reader.of(100, 77, 'api', 0)?.pod).toEqual({ uid: POD, name: 'api-7f9c', namespace: 'shop' });
  expect(reader.of(200, 88, 'web', 0)?.pod).toEqual({ uid: other, name: null, namespace: null });
});
