/**
 * parseCgroupFile on what the running kernel writes: a `sleep` this test starts is moved into cgroups
 * this test creates, laid out as systemd, Docker, containerd and the kubelet lay theirs out, in the
 * cgroup v2 hierarchy (/sys/fs/cgroup/unified here) and the v1 name=systemd one, and its
 * /proc/<pid>/cgroup is read back. Everything is under socktrace-test-<pid>, so paths carry a prefix.
 * Afterwards the sleep is killed and every cgroup removed, deepest first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { parseCgroupFile } from '../../src/core/placement.js';
import { describeKernel } from '../support/kernel-gate.js';

const UNIFIED = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
const SYSTEMD_V1 = '/sys/fs/cgroup/systemd';
const hasV1Systemd = existsSync(`${SYSTEMD_V1}/tasks`);
const hasV2 = existsSync(`${UNIFIED}/cgroup.subtree_control`);

const PREFIX = `socktrace-test-${process.pid}`;
const ID = '907d2ac7daf2b2be8d61a8a7e13a0e6fe31e5c7a418caad0bb9901d64aae8aac';
const UID = '960c00cf-e07e-43f7-850a-69ba50a02f90';
const UID_ = UID.replaceAll('-', '_');

/** Every cgroup directory created, in creation order: removed in reverse (deepest first). */
const created: string[] = [];
let sleeper: ChildProcess | undefined;

function makeCgroup(root: string, path: string): string {
  let dir = root;
  for (const part of `${PREFIX}/${path}`.split('/')) {
    dir = `${dir}/${part}`;
    if (!existsSync(dir)) {
      mkdirSync(dir);
      created.push(dir);
    }
  }
  return dir;
}

function moveInto(root: string, path: string): void {
  writeFileSync(`${makeCgroup(root, path)}/cgroup.procs`, String(sleeper!.pid));
}

const placementOfSleeper = () => {
  const text = readFileSync(`/proc/${sleeper!.pid}/cgroup`, 'utf8');
  return { text, placement: parseCgroupFile(text) };
};

function removeCgroups(): void {
  for (const dir of created.splice(0).reverse()) {
    try {
      rmdirSync(dir);
    } catch (error) {
      // Still shown: a cgroup left behind must be visible, not silently kept.
      console.error(`could not remove ${dir}: ${(error as Error).message}`);
    }
  }
}

describeKernel('cgroup placement read from /proc/<pid>/cgroup of a process in real cgroups', () => {
  beforeEach(async () => {
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    await once(sleeper, 'spawn');
  });

  afterEach(async () => {
    // Kill first and wait for the exit: a cgroup with a process in it cannot be removed.
    if (sleeper && sleeper.exitCode === null && sleeper.signalCode === null) {
      const exited = once(sleeper, 'exit');
      sleeper.kill('SIGKILL');
      await exited;
    }
    sleeper = undefined;
    removeCgroups();
  });

  afterAll(() => {
    removeCgroups();
    for (const root of [UNIFIED, SYSTEMD_V1]) expect(existsSync(`${root}/${PREFIX}`)).toBe(false);
  });

  it.runIf(hasV2)('cgroup v2: a Docker container (systemd driver) is a container, not a unit', () => {
    moveInto(UNIFIED, `system.slice/docker-${ID}.scope`);
    const { text, placement } = placementOfSleeper();
    expect(text).toContain(`0::/${PREFIX}/system.slice/docker-${ID}.scope\n`);
    expect(placement).toEqual({ cgroup: `/${PREFIX}/system.slice/docker-${ID}.scope`, unit: null, container: { runtime: 'docker', id: ID }, pod: null });
  });

  it.runIf(hasV2)('cgroup v2: a containerd container in a burstable pod (kubelet, systemd driver)', () => {
    const path = `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`;
    moveInto(UNIFIED, path);
    expect(placementOfSleeper().placement).toEqual({
      cgroup: `/${PREFIX}/${path}`,
      unit: null,
      container: { runtime: 'containerd', id: ID },
      pod: { uid: UID, name: null, namespace: null },
    });
  });

  it.runIf(hasV2)('cgroup v2: a systemd service', () => {
    moveInto(UNIFIED, 'system.slice/nginx.service');
    expect(placementOfSleeper().placement).toEqual({ cgroup: `/${PREFIX}/system.slice/nginx.service`, unit: 'nginx.service', container: null, pod: null });
  });

  it.runIf(hasV2)("cgroup v2: a container's own nested cgroup is still the container", () => {
    moveInto(UNIFIED, `system.slice/docker-${ID}.scope/init.scope`);
    expect(placementOfSleeper().placement).toMatchObject({ unit: null, container: { runtime: 'docker', id: ID } });
  });

  it.runIf(hasV2)('cgroup v2: a hostile cgroup name comes back escaped', () => {
    moveInto(UNIFIED, 'system.slice/evil\x1b]0;pwn\x07\u202e.service');
    const { text, placement } = placementOfSleeper();
    expect(text).toContain('\x1b]0;pwn'); // the kernel prints the name raw
    expect(placement).toEqual({ cgroup: `/${PREFIX}/system.slice/evil\\x1b]0;pwn\\x07\\u{202e}.service`, unit: null, container: null, pod: null });
  });

  it.runIf(hasV1Systemd)('cgroup v1 name=systemd: a pod container under the cgroupfs driver', () => {
    const path = `kubepods/burstable/pod${UID}/${ID}`;
    moveInto(SYSTEMD_V1, path);
    const { text, placement } = placementOfSleeper();
    expect(text).toMatch(new RegExp(`^\\d+:name=systemd:/${PREFIX}/${path}$`, 'm'));
    expect(placement).toEqual({ cgroup: `/${PREFIX}/${path}`, unit: null, container: { runtime: 'containerd', id: ID }, pod: { uid: UID, name: null, namespace: null } });
  });

  it.runIf(hasV1Systemd)('cgroup v1 name=systemd: a systemd service', () => {
    moveInto(SYSTEMD_V1, 'system.slice/nginx.service');
    expect(placementOfSleeper().placement).toMatchObject({ cgroup: `/${PREFIX}/system.slice/nginx.service`, unit: 'nginx.service', container: null });
  });

  it.runIf(hasV1Systemd && hasV2 && UNIFIED !== '/sys/fs/cgroup')(
    "hybrid: the unified line wins over name=systemd, unless only name=systemd names a container (runc's cgroupfs driver)",
    () => {
      moveInto(UNIFIED, 'system.slice/a.service');
      moveInto(SYSTEMD_V1, 'system.slice/b.service');
      expect(placementOfSleeper().placement).toMatchObject({ cgroup: `/${PREFIX}/system.slice/a.service`, unit: 'a.service' });

      moveInto(UNIFIED, 'system.slice/containerd.service');
      moveInto(SYSTEMD_V1, `docker/${ID}`);
      expect(placementOfSleeper().placement).toEqual({ cgroup: `/${PREFIX}/docker/${ID}`, unit: null, container: { runtime: 'docker', id: ID }, pod: null });
    },
  );
});
