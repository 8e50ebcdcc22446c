/**
 * Reading where a process lives from /proc (a recorded /proc tree in a temporary directory): never for
 * a process that reused the owner's pid, read once and again after 30 s, pods named where known; and
 * from the cgroup id the kernel stamps on owners (a directory tree standing in for a cgroup2 mount).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { CgroupPaths, cgroupMountsOf } from '../../src/inventory/cgroup-paths.js';
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
  expect(reader.of({ pid: 100, start, comm: 'api' }, 0)).toMatchObject({ container: { runtime: 'docker', id: DOCKER } });
  expect(reader.of({ pid: 100, start: start + 1, comm: 'api' }, 0)).toBeNull(); // another process now holds pid 100
  // No start known (the bpftrace backend): the name must match instead.
  expect(reader.of({ pid: 100, start: 0, comm: 'api' }, 0)).toMatchObject({ container: { id: DOCKER } });
  expect(reader.of({ pid: 100, start: 0, comm: 'worker' }, 0)).toBeNull();
  expect(reader.of({ pid: 999, start, comm: 'gone' }, 0)).toBeNull();
});

it('without a start from the event, checks on every use that the pid is still the process it read', () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  proc(100, 'python3', 77, `0::/system.slice/docker-${DOCKER}.scope\n`);
  const reader = new PlacementReader(null, root);
  expect(reader.of({ pid: 100, start: 0, comm: 'python3' }, 0)).toMatchObject({ container: { id: DOCKER } });
  // The pid reused by another python3, in another container, within the 30 s the first read is kept.
  proc(100, 'python3', 99, `0::/system.slice/docker-${'b'.repeat(64)}.scope\n`);
  expect(reader.of({ pid: 100, start: 0, comm: 'python3' }, 1000)).toMatchObject({ container: { id: 'b'.repeat(64) } });
});

it('reads a process once, and again after 30 s (it may have been moved)', () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  proc(100, 'api', 77, '0::/system.slice/api.service\n');
  const reader = new PlacementReader(null, root);
  const first = reader.of({ pid: 100, start: 77, comm: 'api' }, 0);
  expect(first).toMatchObject({ unit: 'api.service' });
  proc(100, 'api', 77, `0::/system.slice/docker-${DOCKER}.scope\n`);
  expect(reader.of({ pid: 100, start: 77, comm: 'api' }, 29_999)).toBe(first); // the same object: callers keep what they made of it
  expect(reader.of({ pid: 100, start: 77, comm: 'api' }, 30_000)).toMatchObject({ container: { id: DOCKER } });
});

it("names a pod where the directory knows its uid, and keeps the uid alone where it does not", () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  const path = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll('-', '_')}.slice/cri-containerd-${DOCKER}.scope`;
  proc(100, 'api', 77, `0::${path}\n`);
  const other = '9d1e2f3a-0000-4000-8000-000000000042';
  proc(200, 'web', 88, `0::${path.replace(POD.replaceAll('-', '_'), other.replaceAll('-', '_'))}\n`);
  const pods = { lookup: (uid: string) => (uid === POD ? { name: 'api-7f9c', namespace: 'shop' } : null) };
  const reader = new PlacementReader(pods, root);
  expect(reader.of({ pid: 100, start: 77, comm: 'api' }, 0)?.pod).toEqual({ uid: POD, name: 'api-7f9c', namespace: 'shop' });
  expect(reader.of({ pid: 200, start: 88, comm: 'web' }, 0)?.pod).toEqual({ uid: other, name: null, namespace: null });
});

/** A cgroup2 tree stand-in: directories whose inode numbers are their ids, as on a cgroup2 mount. */
function cgroupTree(...paths: string[]): { dir: string; id: (path: string) => number } {
  const dir = mkdtempSync(join(tmpdir(), 'socktrace-cg-'));
  for (const p of paths) mkdirSync(join(dir, p), { recursive: true });
  return { dir, id: (p) => statSync(join(dir, p)).ino };
}

it("places an owner gone before its event was read by the cgroup id the kernel stamped on it", () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  const scope = `system.slice/docker-${DOCKER}.scope`;
  const tree = cgroupTree(scope);
  try {
    const reader = new PlacementReader(null, root, { paths: new CgroupPaths(tree.dir), authoritative: false });
    // pid 300 has exited: /proc knows nothing of it; its cgroup still exists.
    expect(reader.of({ pid: 300, start: 5, comm: 'curl', cgroupId: tree.id(scope) }, 0)).toMatchObject({
      cgroup: `/${scope}`,
      container: { runtime: 'docker', id: DOCKER },
    });
    // Without an id (the bpftrace backend) or with the root's (a v1 host's processes are all there): nothing.
    expect(reader.of({ pid: 300, start: 5, comm: 'curl' }, 0)).toBeNull();
    expect(reader.of({ pid: 300, start: 5, comm: 'curl', cgroupId: tree.id('') }, 0)).toBeNull();
    // Alive on a host with v1 hierarchies: /proc's file (its v1 lines may name the container) is read.
    proc(301, 'api', 9, '0::/system.slice/api.service\n');
    expect(reader.of({ pid: 301, start: 9, comm: 'api', cgroupId: tree.id(scope) }, 0)).toMatchObject({ unit: 'api.service' });
  } finally {
    rmSync(tree.dir, { recursive: true, force: true });
  }
});

it('on a host with only cgroup v2, takes the id alone: a pid reused since cannot lend its placement', () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  const scope = `system.slice/docker-${DOCKER}.scope`;
  const tree = cgroupTree(scope);
  try {
    const reader = new PlacementReader(null, root, { paths: new CgroupPaths(tree.dir), authoritative: true });
    proc(400, 'api', 9, '0::/system.slice/other.service\n');
    const placed = reader.of({ pid: 400, start: 9, comm: 'api', cgroupId: tree.id(scope) }, 0);
    expect(placed).toMatchObject({ container: { id: DOCKER } });
    expect(reader.of({ pid: 400, start: 9, comm: 'api', cgroupId: tree.id(scope) }, 1)).toBe(placed);
    // An id that does not resolve: /proc as before.
    expect(reader.of({ pid: 400, start: 9, comm: 'api', cgroupId: 1e12 }, 2)).toMatchObject({ unit: 'other.service' });
  } finally {
    rmSync(tree.dir, { recursive: true, force: true });
  }
});

it('finds a cgroup made after a walk at the next walk, at most one walk a second, and counts walks cut short', () => {
  const tree = cgroupTree('a/b', 'c');
  try {
    const paths = new CgroupPaths(tree.dir);
    expect(paths.pathOf(tree.id('a/b'), 0)).toBe('/a/b');
    expect(paths.pathOf(tree.id(''), 0)).toBe('/');
    mkdirSync(join(tree.dir, 'a/new'));
    expect(paths.pathOf(tree.id('a/new'), 500)).toBeNull(); // walked 500 ms ago
    expect(paths.pathOf(tree.id('a/new'), 1000)).toBe('/a/new');
    expect(paths.walks).toBe(2);
    const small = new CgroupPaths(tree.dir, { maxDirs: 2 });
    expect(small.pathOf(tree.id('a/b'), 0)).toBeNull();
    expect(small.truncatedWalks).toBe(1);
    expect(new CgroupPaths(null).pathOf(tree.id('a'), 0)).toBeNull();
  } finally {
    rmSync(tree.dir, { recursive: true, force: true });
  }
});

it("reads /proc/self/mountinfo: the cgroup2 mount of the hierarchy's root, and whether v1 hierarchies exist", () => {
  const hybrid = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  expect(cgroupMountsOf(hybrid)).toEqual({ unified: '/sys/fs/cgroup/unified', v1: true });
  // In a pod with its own cgroup namespace: its own mount (`/`, its subtree), the host's bind-mounted
  // (`/../../..`: the hierarchy's root, above the namespace's), a subtree of it (not a root).
  const v2 = [
    '612 600 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw,nsdelegate',
    '613 600 0:26 /../../.. /host/sys/fs/cgroup\\040x ro master:9 - cgroup2 cgroup2 rw,nsdelegate',
    '614 600 0:26 /../../../system.slice /host/sys/fs/cgroup/system.slice ro - cgroup2 cgroup2 rw',
  ].join('\n');
  expect(cgroupMountsOf(v2)).toEqual({ unified: '/host/sys/fs/cgroup x', v1: false });
  expect(cgroupMountsOf(v2.split('\n')[0]!)).toEqual({ unified: '/sys/fs/cgroup', v1: false });
  expect(cgroupMountsOf('garbage\n\n1 2 3')).toEqual({ unified: null, v1: false });
});
