/**
 * socktrace as an unprivileged user (under `setpriv`, as nobody with no capabilities): `snapshot`
 * shows what can be seen without privilege (its own network namespace, as `ss` does; owners of its
 * own user's processes) and says first what it could not see and why; `doctor` names the missing
 * capabilities and never contradicts itself.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { startActor, stopAllActors } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';

const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'];

function asNobody(args: string[]) {
  const [cmd, ...rest] = NOBODY;
  return spawnSync(cmd!, [...rest, process.execPath, bin, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
}

interface SnapshotSocket {
  state: string;
  proc: { pid: number } | null;
  local: { addr: string; port: number };
}

describeKernel('socktrace unprivileged', () => {
  afterEach(async () => {
    await stopAllActors();
  });

  it('snapshot shows the sockets of its own namespace, owners where /proc allows, and says first what it could not see', async () => {
    // Three CLOSE_WAIT sockets held by root, one by nobody.
    const rootServer = startActor(['server-leak', '--host', '127.0.0.1', '--port', '0', '--count', '3', '--hold', '30']);
    const { port: rootPort } = (await rootServer.ready) as { port: number };
    for (let i = 0; i < 3; i++) startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(rootPort), '--wait', '0']);
    const nobodyServer = startActor(['server-leak', '--host', '127.0.0.1', '--port', '0', '--count', '1', '--hold', '30'], { prefix: NOBODY, python: '/usr/bin/python3' }); // pyenv's python lives under /root
    const { port: nobodyPort } = (await nobodyServer.ready) as { port: number };
    startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(nobodyPort), '--wait', '0']);
    // Each server says "accepted" once every connection has reached EOF: the leak is in place.
    await rootServer.next((l) => 'accepted' in l);
    await nobodyServer.next((l) => 'accepted' in l);

    const json = asNobody(['snapshot', '--json']);
    expect(json.status, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { partial: string | null; sockets: SnapshotSocket[] };
    expect(doc.partial).toMatch(/entering other namespaces needs CAP_SYS_ADMIN/);
    expect(doc.partial).toMatch(/needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, or root/);
    // Was "0 TCP sockets (none)": root's sockets are seen (with no owner), nobody's with its owner.
    const rootLeaks = doc.sockets.filter((s) => s.state === 'CLOSE_WAIT' && s.local.port === rootPort);
    expect(rootLeaks).toHaveLength(3);
    expect(rootLeaks.every((s) => s.proc === null)).toBe(true);
    const own = doc.sockets.filter((s) => s.state === 'CLOSE_WAIT' && s.local.port === nobodyPort);
    expect(own.map((s) => s.proc?.pid)).toEqual([nobodyServer.pid]);

    // Asked for sock_diag by name, it cannot enter even its own namespace: said first, not in a note.
    const native = asNobody(['snapshot', '--backend', 'native']);
    expect(native.status, native.stderr).toBe(0);
    expect(native.stdout.split('\n')[0]).toMatch(/^partial view: \d+ network namespaces could not be entered \(sock_diag runs inside each; setns needs CAP_SYS_ADMIN\)/);

    const table = asNobody(['snapshot']);
    expect(table.status, table.stderr).toBe(0);
    const [first, second] = table.stdout.split('\n');
    expect(first).toMatch(/^partial view: .*CAP_SYS_ADMIN.*CAP_SYS_PTRACE/);
    expect(second).toMatch(/^socktrace snapshot .*: \d+ TCP sockets \(.*CLOSE_WAIT [1-9]/);
  });

  it('doctor names the missing capabilities and does not contradict itself', () => {
    for (const args of [['doctor'], ['doctor', '--no-load']]) {
      const result = asNobody(args);
      expect(result.status, args.join(' ')).toBe(1);
      const out = result.stdout;
      expect(out).toMatch(/^FAIL {2}CAP_BPF +missing/m);
      expect(out).toMatch(/^FAIL {2}CAP_PERFMON +missing/m);
      // The ring buffer exists on this kernel: without CAP_BPF it cannot be probed, and says so.
      expect(out).not.toMatch(/needs Linux 5\.8/);
      expect(out).toMatch(/ring buffer +BPF_MAP_TYPE_RINGBUF: not known: probing creates a BPF map, which needs CAP_BPF/);
      // tracefs is mounted, only not readable; bpftrace is installed, only not runnable as nobody.
      // (Where debugfs mounts a second copy, as in the 6.1 guest, both are named.)
      expect(out).toMatch(/tracefs +mounted at [^\n]*\/sys\/kernel\/tracing[^\n]*, but not readable by this user/);
      expect(out).not.toMatch(/not mounted/);
      expect(out).not.toMatch(/apt-get install bpftrace/);
      expect(out).toMatch(/bpftrace backend .*cannot run as this user: bpftrace needs CAP_BPF and CAP_PERFMON/);
      expect(out).not.toMatch(/it loads/);
      expect(out).toMatch(/^backend: none: both backends load BPF programs, which needs CAP_BPF and CAP_PERFMON \(or root\)/m);
      expect(out).toMatch(/socktrace cannot run here/);
    }
    // As root with --no-load, nothing was loaded: it does not claim it loads.
    const noLoad = spawnSync(process.execPath, [bin, 'doctor', '--no-load'], { encoding: 'utf8', timeout: 60_000 });
    expect(noLoad.stdout).toMatch(/^backend: native \(libbpf addon\): it is built \(not load-tested: --no-load\)/m);
    expect(noLoad.status).toBe(0);
  });
});
