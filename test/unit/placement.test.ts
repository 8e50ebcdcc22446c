/**
 * parseCgroupFile on /proc/<pid>/cgroup texts as each layout writes them: systemd units, Docker,
 * containerd and CRI-O under the kubelet, podman, nested runtimes, cgroup v1, hybrid and v2.
 */
import { describe, expect, it } from 'vitest';
import { parseCgroupFile } from '../../src/core/placement.js';

const ID = '25006da52d5e46108223c9b08140140a6a64423365fc6862e0282b5a733aea46';
const ID2 = 'b6e67bfd215bc68ec8016eb937e985bab79530e1330447d4af08c07c44cdb7bf';
const UID = '44eb3ce4-bd6f-49d1-abf3-80bc402f0c4a';
const UID_ = UID.replaceAll('-', '_');
const STATIC_UID = '32ecd631478584789d048d97e146e4a0'; // a static pod's: the hash of its manifest

/** A cgroup v1 file with every controller in the same place, as the runtimes write it. */
function v1(path: string, unified = '/'): string {
  return [
    `12:pids:${path}`,
    `11:cpuset:${path}`,
    `10:hugetlb:${path}`,
    `9:net_cls,net_prio:${path}`,
    `8:memory:${path}`,
    '7:rdma:/',
    `6:cpu,cpuacct:${path}`,
    `5:freezer:${path}`,
    `4:blkio:${path}`,
    `3:perf_event:${path}`,
    `2:devices:${path}`,
    `1:name=systemd:${path}`,
    `0::${unified}`,
    '',
  ].join('\n');
}
const v2 = (path: string) => `0::${path}\n`;

describe('systemd units', () => {
  it.each([
    ['a system service', '/system.slice/nginx.service', 'nginx.service'],
    ['a templated service', '/system.slice/system-getty.slice/getty@tty1.service', 'getty@tty1.service'],
    ['a login session', '/user.slice/user-1000.slice/session-3.scope', 'session-3.scope'],
    ['the user manager itself (its init.scope)', '/user.slice/user-1000.slice/user@1000.service/init.scope', 'user@1000.service'],
    ['a user service', '/user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service', 'syncthing.service'],
    [
      'an app scope in the user manager',
      '/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-074a05f3-09d3-4816-b6c3-1736441a5034.scope',
      'vte-spawn-074a05f3-09d3-4816-b6c3-1736441a5034.scope',
    ],
    ['PID 1', '/init.scope', 'init.scope'],
    ['a transient scope (systemd-run --scope)', '/system.slice/run-r3d5c1e0b9f6a4c2e8d7b1a0f9e8d7c6b.scope', 'run-r3d5c1e0b9f6a4c2e8d7b1a0f9e8d7c6b.scope'],
    ['a socket unit running its ExecStartPre', '/system.slice/dbus.socket', 'dbus.socket'],
    ['a container runtime daemon (a service, not a container)', '/system.slice/containerd.service', 'containerd.service'],
  ])('%s (cgroup v2)', (_what, path, unit) => {
    expect(parseCgroupFile(v2(path))).toEqual({ cgroup: path, unit, container: null, pod: null });
  });

  it('reads the v1 name=systemd line on a legacy host (controllers elsewhere or at the root)', () => {
    const text = [
      '12:pids:/system.slice/nginx.service',
      '11:cpuset:/',
      '8:memory:/system.slice/nginx.service',
      '6:cpu,cpuacct:/system.slice/nginx.service',
      '2:devices:/system.slice/nginx.service',
      '1:name=systemd:/system.slice/nginx.service',
      '0::/',
      '',
    ].join('\n');
    expect(parseCgroupFile(text)).toEqual({ cgroup: '/system.slice/nginx.service', unit: 'nginx.service', container: null, pod: null });
  });

  it('reads the unified line of a hybrid host where it is not the root', () => {
    const text = v1('/user.slice/user-1000.slice/session-3.scope', '/user.slice/user-1000.slice/session-3.scope').replace(
      '8:memory:/user.slice/user-1000.slice/session-3.scope',
      '8:memory:/user.slice/user-1000.slice',
    );
    expect(parseCgroupFile(text)).toMatchObject({ cgroup: '/user.slice/user-1000.slice/session-3.scope', unit: 'session-3.scope' });
  });

  it('prefers the unified line over name=systemd, and name=systemd over the deepest controller', () => {
    expect(parseCgroupFile('1:name=systemd:/system.slice/b.service\n0::/system.slice/a.service\n')?.unit).toBe('a.service');
    expect(parseCgroupFile('2:memory:/x/y/z/c.service\n1:name=systemd:/system.slice/b.service\n0::/\n')?.unit).toBe('b.service');
    expect(parseCgroupFile('3:pids:/p.service\n2:memory:/x/y/c.service\n1:name=systemd:/\n0::/\n')?.unit).toBe('c.service');
  });

  it('reads this test machine: only the memory controller is nested, under no unit', () => {
    const text = v1('/').replace('8:memory:/', '8:memory:/process_api/9ee41eed3c4b28d0f978bfb29e0371ba');
    expect(parseCgroupFile(text)).toEqual({ cgroup: '/process_api/9ee41eed3c4b28d0f978bfb29e0371ba', unit: null, container: null, pod: null });
  });

  it('reports the root cgroup (kernel threads, an unmanaged host) with nothing else', () => {
    expect(parseCgroupFile('0::/\n')).toEqual({ cgroup: '/', unit: null, container: null, pod: null });
    expect(parseCgroupFile(v1('/'))).toEqual({ cgroup: '/', unit: null, container: null, pod: null });
  });

  it("keeps systemd's escapes (escaped once more, as every backslash) and undoes its cgroup-name prefix", () => {
    const path = '/system.slice/system-systemd\\x2dcryptsetup.slice/systemd-cryptsetup@luks\\x2d32ec.service';
    expect(parseCgroupFile(v2(path))).toMatchObject({
      cgroup: '/system.slice/system-systemd\\\\x2dcryptsetup.slice/systemd-cryptsetup@luks\\\\x2d32ec.service',
      unit: 'systemd-cryptsetup@luks\\\\x2d32ec.service',
    });
    // A unit named like a controller file (cpu.service) gets a leading '_' as its cgroup's name.
    expect(parseCgroupFile(v2('/system.slice/_cpu.service'))?.unit).toBe('cpu.service');
  });
});

describe('Docker', () => {
  it('systemd driver, cgroup v2: docker-<id>.scope is the container, not a unit', () => {
    expect(parseCgroupFile(v2(`/system.slice/docker-${ID}.scope`))).toEqual({
      cgroup: `/system.slice/docker-${ID}.scope`,
      unit: null,
      container: { runtime: 'docker', id: ID },
      pod: null,
    });
  });

  it('systemd driver, cgroup v1', () => {
    expect(parseCgroupFile(v1(`/system.slice/docker-${ID}.scope`))).toMatchObject({ unit: null, container: { runtime: 'docker', id: ID } });
  });

  it('cgroupfs driver, cgroup v2 and v1', () => {
    expect(parseCgroupFile(v2(`/docker/${ID}`))).toMatchObject({ cgroup: `/docker/${ID}`, unit: null, container: { runtime: 'docker', id: ID } });
    expect(parseCgroupFile(v1(`/docker/${ID}`))).toMatchObject({ cgroup: `/docker/${ID}`, container: { runtime: 'docker', id: ID } });
  });

  it("cgroupfs on a hybrid host where runc left the unified line on the runtime's service: the container wins", () => {
    expect(parseCgroupFile(v1(`/docker/${ID}`, '/system.slice/containerd.service'))).toEqual({
      cgroup: `/docker/${ID}`,
      unit: null,
      container: { runtime: 'docker', id: ID },
      pod: null,
    });
  });

  it("a container's own nested cgroups: its init.scope and its own services are not the host's units", () => {
    for (const inner of ['init.scope', 'system.slice/nginx.service', 'system.slice/system-getty.slice/getty@tty1.service']) {
      expect(parseCgroupFile(v2(`/system.slice/docker-${ID}.scope/${inner}`))).toMatchObject({
        unit: null,
        container: { runtime: 'docker', id: ID },
      });
    }
  });

  it('docker-in-docker (cgroupfs): the innermost container', () => {
    expect(parseCgroupFile(v1(`/docker/${ID}/docker/${ID2}`))).toMatchObject({ container: { runtime: 'docker', id: ID2 } });
  });

  it('rootless, under the user manager', () => {
    expect(parseCgroupFile(v2(`/user.slice/user-1000.slice/user@1000.service/user.slice/docker-${ID}.scope`))).toEqual({
      cgroup: `/user.slice/user-1000.slice/user@1000.service/user.slice/docker-${ID}.scope`,
      unit: 'user@1000.service',
      container: { runtime: 'docker', id: ID },
      pod: null,
    });
  });
});

describe('Kubernetes', () => {
  const burstable = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`;

  it('containerd CRI, systemd driver, cgroup v2 (burstable, besteffort, guaranteed)', () => {
    expect(parseCgroupFile(v2(`${burstable}/cri-containerd-${ID}.scope`))).toEqual({
      cgroup: `${burstable}/cri-containerd-${ID}.scope`,
      unit: null,
      container: { runtime: 'containerd', id: ID },
      pod: { uid: UID, name: null, namespace: null },
    });
    expect(
      parseCgroupFile(v2(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`)),
    ).toMatchObject({ container: { runtime: 'containerd', id: ID }, pod: { uid: UID } });
    expect(parseCgroupFile(v2(`/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`))).toMatchObject({
      container: { runtime: 'containerd', id: ID },
      pod: { uid: UID },
    });
  });

  it('containerd CRI, systemd driver, cgroup v1', () => {
    expect(parseCgroupFile(v1(`${burstable}/cri-containerd-${ID}.scope`))).toMatchObject({
      cgroup: `${burstable}/cri-containerd-${ID}.scope`,
      container: { runtime: 'containerd', id: ID },
      pod: { uid: UID },
    });
  });

  it('cgroupfs driver (k3s, kubeadm before systemd became the default), v1 and v2', () => {
    for (const text of [v1(`/kubepods/burstable/pod${UID}/${ID}`), v2(`/kubepods/besteffort/pod${UID}/${ID}`), v2(`/kubepods/pod${UID}/${ID}`)]) {
      expect(parseCgroupFile(text)).toMatchObject({ unit: null, container: { runtime: 'containerd', id: ID }, pod: { uid: UID } });
    }
  });

  it("a static pod's uid is its manifest hash, 32 hex without dashes", () => {
    expect(parseCgroupFile(v2(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC_UID}.slice/cri-containerd-${ID}.scope`))).toMatchObject({
      pod: { uid: STATIC_UID },
    });
    expect(parseCgroupFile(v1(`/kubepods/burstable/pod${STATIC_UID}/${ID}`))).toMatchObject({ pod: { uid: STATIC_UID } });
  });

  it('CRI-O: crio-<id>.scope, its crun sub-cgroup, and cgroupfs', () => {
    const besteffort = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice`;
    for (const path of [`${besteffort}/crio-${ID}.scope`, `${besteffort}/crio-${ID}.scope/container`, `/kubepods/besteffort/pod${UID}/crio-${ID}`]) {
      expect(parseCgroupFile(v2(path))).toMatchObject({ cgroup: path, unit: null, container: { runtime: 'cri-o', id: ID }, pod: { uid: UID } });
    }
  });

  it("CRI-O's conmon is the monitor: no container, and its scope is no service", () => {
    expect(parseCgroupFile(v2(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-conmon-${ID}.scope`))).toMatchObject({
      unit: null,
      container: null,
      pod: { uid: UID },
    });
    expect(parseCgroupFile(v2(`/system.slice/crio-conmon-${ID}.scope`))).toEqual({
      cgroup: `/system.slice/crio-conmon-${ID}.scope`,
      unit: null,
      container: null,
      pod: null,
    });
  });

  it('kind: the pod under the node container (kubelet --cgroup-root=/kubelet, systemd driver)', () => {
    const node = `/system.slice/docker-${ID2}.scope`;
    expect(
      parseCgroupFile(
        v2(`${node}/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`),
      ),
    ).toMatchObject({ unit: null, container: { runtime: 'containerd', id: ID }, pod: { uid: UID } });
    // The node's own kubelet is in the node container, not a host service.
    expect(parseCgroupFile(v2(`${node}/system.slice/kubelet.service`))).toEqual({
      cgroup: `${node}/system.slice/kubelet.service`,
      unit: null,
      container: { runtime: 'docker', id: ID2 },
      pod: null,
    });
  });

  it('k3d on cgroup v1: the pod under the k3s node container (cgroupfs)', () => {
    expect(parseCgroupFile(v1(`/docker/${ID2}/kubepods/besteffort/pod${UID}/${ID}`))).toMatchObject({
      container: { runtime: 'containerd', id: ID },
      pod: { uid: UID },
    });
  });

  it("read from inside a pod's own cgroup namespace (socktrace as a DaemonSet on v2): paths climb with /..", () => {
    const other = `/../../../kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`;
    expect(parseCgroupFile(v2(other))).toEqual({ cgroup: other, unit: null, container: { runtime: 'containerd', id: ID }, pod: { uid: UID, name: null, namespace: null } });
    expect(parseCgroupFile(v2('/../../../../system.slice/nginx.service'))).toMatchObject({ unit: 'nginx.service', container: null });
  });
});

describe('containerd without the kubelet', () => {
  it('nerdctl, systemd driver', () => {
    expect(parseCgroupFile(v2(`/system.slice/nerdctl-${ID}.scope`))).toEqual({
      cgroup: `/system.slice/nerdctl-${ID}.scope`,
      unit: null,
      container: { runtime: 'containerd', id: ID },
      pod: null,
    });
  });
});

describe('podman', () => {
  it('rootful: libpod-<id>.scope and its crun sub-cgroup', () => {
    expect(parseCgroupFile(v2(`/machine.slice/libpod-${ID}.scope/container`))).toEqual({
      cgroup: `/machine.slice/libpod-${ID}.scope/container`,
      unit: null,
      container: { runtime: 'podman', id: ID },
      pod: null,
    });
    expect(parseCgroupFile(v1(`/machine.slice/libpod-${ID}.scope`))).toMatchObject({ container: { runtime: 'podman', id: ID } });
  });

  it('cgroupfs manager', () => {
    expect(parseCgroupFile(v2(`/libpod_parent/libpod-${ID}`))).toMatchObject({ container: { runtime: 'podman', id: ID } });
  });

  it('conmon is the monitor, not the container', () => {
    expect(parseCgroupFile(v2(`/machine.slice/libpod-conmon-${ID}.scope`))).toEqual({
      cgroup: `/machine.slice/libpod-conmon-${ID}.scope`,
      unit: null,
      container: null,
      pod: null,
    });
  });

  it('rootless, under user@UID.service: that is the unit it runs in', () => {
    const user = '/user.slice/user-1000.slice/user@1000.service/user.slice';
    expect(parseCgroupFile(v2(`${user}/libpod-${ID}.scope/container`))).toMatchObject({ unit: 'user@1000.service', container: { runtime: 'podman', id: ID } });
    expect(parseCgroupFile(v2(`${user}/libpod-conmon-${ID}.scope`))).toMatchObject({ unit: 'user@1000.service', container: null });
  });

  it("a podman pod is not a Kubernetes pod (its id is no pod uid)", () => {
    expect(parseCgroupFile(v2(`/machine.slice/machine-libpod_pod_${ID2}.slice/libpod-${ID}.scope/container`))).toMatchObject({
      container: { runtime: 'podman', id: ID },
      pod: null,
    });
  });
});

describe('paths under a prefix (a test directory, a custom cgroup parent)', () => {
  it('finds the names anywhere in the path', () => {
    expect(parseCgroupFile(v2(`/socktrace-test-4242/system.slice/docker-${ID}.scope`))).toMatchObject({ container: { runtime: 'docker', id: ID } });
    expect(parseCgroupFile(v2('/socktrace-test-4242/system.slice/nginx.service'))).toMatchObject({ unit: 'nginx.service' });
  });

  it('a bare id outside /docker and kubepods is not known to be a container', () => {
    expect(parseCgroupFile(v2(`/myparent/${ID}`))).toEqual({ cgroup: `/myparent/${ID}`, unit: null, container: null, pod: null });
  });

  it('ids of the wrong length or case are not containers, nor uids pods', () => {
    expect(parseCgroupFile(v2(`/system.slice/docker-${ID.slice(1)}.scope`))?.container).toBeNull();
    expect(parseCgroupFile(v2(`/system.slice/docker-${ID.toUpperCase()}.scope`))?.container).toBeNull();
    expect(parseCgroupFile(v2(`/kubepods/burstable/pod${UID.slice(1)}/${ID}`))?.pod).toBeNull();
  });
});

describe('hostile and broken input', () => {
  const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

  it('has no usable line: null', () => {
    for (const text of ['', '\n\n', 'garbage', '\0\0\0', 'a:b:c', '0::relative/path', ':::', 'x::/system.slice/a.service']) {
      expect(parseCgroupFile(text)).toBeNull();
    }
  });

  it('escapes control characters in the path and reports no unit made of them', () => {
    const placement = parseCgroupFile(v2('/system.slice/evil\x1b]0;pwn\x07\u202e.service'));
    expect(placement).toEqual({ cgroup: '/system.slice/evil\\x1b]0;pwn\\x07\\u{202e}.service', unit: null, container: null, pod: null });
  });

  it('keeps the path whole when it holds colons', () => {
    expect(parseCgroupFile(v2('/a:b/c:d.service'))).toMatchObject({ cgroup: '/a:b/c:d.service', unit: 'c:d.service' });
  });

  it('skips lines longer than the kernel ever prints, and reads the others', () => {
    const huge = `0::/${'a/'.repeat(1_000_000)}x.service`;
    expect(parseCgroupFile(huge)).toBeNull();
    expect(parseCgroupFile(`${huge}\n1:name=systemd:/system.slice/nginx.service\n`)).toMatchObject({ unit: 'nginx.service' });
    // systemd's unit names are at most 255 characters, suffix included.
    expect(parseCgroupFile(`0::/system.slice/${'n'.repeat(247)}.service`)?.unit).toBe(`${'n'.repeat(247)}.service`);
    expect(parseCgroupFile(`0::/system.slice/${'n'.repeat(248)}.service`)).toMatchObject({ unit: null });
  });

  it('never throws and never returns a raw control character on random bytes', () => {
    let seed = 0x2545f491;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const pieces = ['0::/', '1:name=systemd:/', '/', ':', '\n', 'docker-', ID, '.scope', '.service', 'pod', UID_, '\x1b', '\u202e', '\\', '\x00', 'é'];
    let parsed = 0;
    for (let n = 0; n < 2000; n++) {
      let text = '';
      const parts = Math.floor(random() * 20);
      for (let k = 0; k < parts; k++) {
        text += random() < 0.7 ? pieces[Math.floor(random() * pieces.length)] : String.fromCharCode(Math.floor(random() * 0x300));
      }
      const placement = parseCgroupFile(text);
      if (placement === null) continue;
      parsed++;
      expect(placement.cgroup).not.toMatch(RAW_CONTROL);
      if (placement.unit !== null) expect(placement.unit).not.toMatch(RAW_CONTROL);
    }
    expect(parsed).toBeGreaterThan(100); // the generator does reach the parser's paths
  });
});
