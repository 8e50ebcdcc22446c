/**
 * The tracer's life on the real kernel: which hooks it uses, that nothing stays attached after stop or
 * after its process is killed, that drops are counted and shown, and what it says without privileges.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { startActor, stopAllActors } from '../support/actor.js';
import { scaled } from '../support/time-scale.js';
import { describeKernel } from '../support/kernel-gate.js';
import { startTrace, stopAllTraces } from '../support/trace-session.js';
import { startNativeSource } from '../../src/backends/native/native-source.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));

/** Names of socktrace's programs as the kernel shows them (BPF object names are cut at 15 chars). */
const PROGRAM_NAMES = [
  'btf_inet_sock_set_state',
  'btf_tcp_send_reset',
  'btf_tcp_receive_reset',
  'btf_tcp_destroy_sock',
  'btf_sock_send_length',
  'btf_sock_recv_length',
  'tp_inet_sock_set_state',
  'tp_tcp_send_reset',
  'tp_tcp_receive_reset',
  'tp_tcp_destroy_sock',
  'tp_sock_send_length',
  'tp_sock_recv_length',
  'sys_exit_accept4',
  'sys_exit_accept',
  'sweep_close_waits',
  'btf_tcp_retransmit_skb',
  'tp_tcp_retransmit_skb',
  'btf_inet_sk_error_report',
].map((n) => n.slice(0, 15));

async function socktraceProgramIds(): Promise<number[]> {
  const { stdout } = await run('bpftool', ['prog', 'show', '--json']);
  const progs = JSON.parse(stdout) as { id: number; name?: string }[];
  return progs.filter((p) => p.name && PROGRAM_NAMES.includes(p.name)).map((p) => p.id);
}

async function loadedSocktracePrograms(): Promise<number> {
  return (await socktraceProgramIds()).length;
}

/** BPF links (tp_btf attachments, perf-event links of classic tracepoints) of these programs. */
async function linksOf(programIds: number[]): Promise<number> {
  const { stdout } = await run('bpftool', ['link', 'show', '--json']);
  const links = JSON.parse(stdout || '[]') as { prog_id: number }[];
  return links.filter((l) => programIds.includes(l.prog_id)).length;
}

/** The kernel frees programs after their last reference goes (RCU): allow it a moment. */
async function expectNoProgramsWithin(ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let count = await loadedSocktracePrograms();
  while (count > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    count = await loadedSocktracePrograms();
  }
  expect(count).toBe(0);
}

/** A burst of loopback connections from a separate process: many events in a few milliseconds. */
function connectionBurst(count: number) {
  return spawn('python3', [
    '-c',
    `import socket
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1024)
for _ in range(${count}):
    c = socket.create_connection(l.getsockname()); s, _ = l.accept(); c.close(); s.close()`,
  ]);
}

describeKernel('tracer lifecycle', () => {
  afterEach(async () => {
    await stopAllActors();
    await stopAllTraces();
  });

  it('uses tp_btf for the socket hooks on this kernel, with no silent fallback', async () => {
    const trace = startTrace();
    const modes = Object.fromEntries(trace.info.hooks.map((h) => [h.name, h.mode]));
    for (const hook of ['inet_sock_set_state', 'tcp_send_reset', 'tcp_receive_reset', 'tcp_destroy_sock']) {
      expect(modes[hook]).toBe('tp_btf');
    }
    expect(trace.info.notes).toEqual([]);
    expect(await loadedSocktracePrograms()).toBeGreaterThan(0);
  });

  it('loads under a stream of signals (a profiler), where the verifier would give up with EAGAIN', async () => {
    // node --cpu-prof sends SIGPROF every millisecond; loading must not fall back because of it.
    const { stderr } = await run(process.execPath, ['--cpu-prof', '--cpu-prof-dir', '/dev/shm', bin, 'watch', '--backend', 'native', '--duration', '0.5'], {
      timeout: scaled(20_000),
    }).finally(() => run('sh', ['-c', 'rm -f /dev/shm/CPU.*.cpuprofile']));
    expect(stderr).toContain('watching (');
    expect(stderr).not.toMatch(/failed to load|EAGAIN|classic/);
  });

  it('keeps cookie ids when only the error hooks fall back to syscall exits', async () => {
    const trace = startTrace({ pretendMissing: ['sock_send_length', 'sock_recv_length'] });
    const srv = startActor(['server-late-write', '--host', '127.0.0.1', '--port', '0', '--delay', '0.5']);
    const { port } = (await srv.ready) as { port: number };
    startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0.1']);
    await srv.done;
    const closeWait = await trace.waitFor((x) => x.kind === 'state_change' && x.state === 'CLOSE_WAIT' && x.local.port === port);
    const epipe = await trace.waitFor((x) => x.kind === 'send_error' && x.local.port === port);
    expect(closeWait.flags & 0x2).toBe(0); // a real cookie, not the fallback id
    expect(epipe.flags & 0x4).toBe(0x4); // seen at the syscall's exit
    expect(epipe.sock).toBe(closeWait.sock);
  });

  it('leaves nothing attached after stop', async () => {
    const trace = startTrace();
    expect(await loadedSocktracePrograms()).toBeGreaterThan(0);
    await trace.stop();
    await expectNoProgramsWithin(2000);
  });

  it('leaves no program, link or pin after its process is killed with SIGKILL, and starts again at once', async () => {
    const child = spawn(process.execPath, [bin, 'watch'], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (d) => {
        err += d;
        if (err.includes('watching')) resolve();
      });
      child.on('exit', () => reject(new Error(`watch exited early: ${err}`)));
    });
    const ids = await socktraceProgramIds();
    expect(ids.length).toBeGreaterThan(0);
    expect(await linksOf(ids)).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    await expectNoProgramsWithin(2000);
    expect(await linksOf(ids)).toBe(0);
    // Nothing is pinned, then or ever.
    const pinned = await run('find', ['/sys/fs/bpf', '-name', '*socktrace*']).catch(() => ({ stdout: '' }));
    expect(pinned.stdout.trim()).toBe('');
    const trace = startTrace();
    expect(trace.info.hooks.length).toBeGreaterThan(0);
  });

  it('counts every event the ring buffer could not take and reports it as lost', async () => {
    let reported = 0;
    const trace = startTrace({ ringBytes: 4096 });
    const burst = connectionBurst(300);
    // Hold the JavaScript thread: the native thread blocks on its full queue, the 4 KiB ring fills.
    const blocker = new Int32Array(new SharedArrayBuffer(4));
    const exited = new Promise((r) => burst.on('exit', r));
    Atomics.wait(blocker, 0, 0, 1500);
    await exited;
    const stats = await trace.stop();
    reported = trace.lost;
    expect(stats.lost).toBeGreaterThan(0);
    expect(reported).toBe(stats.lost);
    // 300 connections make well over 3000 events; what was not lost was delivered.
    expect(stats.events + stats.lost).toBeGreaterThan(3000);
  });

  it('accounts exactly for a storm through a tiny ring: delivered + lost = what the kernel produced', async () => {
    const storm = startActor(['epipe-storm', '--seconds', '1']);
    const { pid } = (await storm.ready) as { pid: number };
    const trace = startTrace({ ringBytes: 4096, emitKinds: 1 << 4 }); // send errors only
    process.kill(pid, 'SIGUSR1');
    const { errors } = (await storm.done) as { errors: number };
    const stats = await trace.stop();
    expect(stats.lost).toBeGreaterThan(0);
    expect(trace.lost).toBe(stats.lost);
    // Counted per CPU in the kernel, whatever else the host did meanwhile: nothing is unaccounted for.
    expect(stats.events + stats.rejected + stats.lost).toBe(stats.produced);
    const ours = trace.events.filter((e) => e.kind === 'send_error' && e.owner?.pid === pid).length;
    expect(stats.produced).toBeGreaterThanOrEqual(errors); // every EPIPE of the storm, and maybe others'
    expect(ours).toBeLessThanOrEqual(errors);
  });

  it('stops within 2 s while a storm outpaces its reader: timers still run, the drain ends at stop', async () => {
    const storm = startActor(['epipe-storm', '--seconds', String(scaled(8)), '--timeout', String(scaled(30))], { timeoutMs: scaled(60_000) });
    const { pid } = (await storm.ready) as { pid: number };
    // A reader slower than any storm: each batch holds the JavaScript thread 200 ms, so the native
    // thread always has a batch waiting; a 16 KiB ring (128 records) overflows meanwhile even on an
    // emulated CPU's slow storm, and keeps the final drain short.
    const blocker = new Int32Array(new SharedArrayBuffer(4));
    let batches = 0;
    const source = startNativeSource(
      { ringBytes: 16 * 1024, emitKinds: 1 << 4 }, // send errors only
      { onEvents: () => (batches++, Atomics.wait(blocker, 0, 0, 200)), onLost: () => {} },
    );
    process.kill(pid, 'SIGUSR1');
    // As watch stops on a timer or a signal: both wait for the event loop, which batches must not starve.
    const stopAt = Date.now() + scaled(1000);
    await new Promise((r) => setTimeout(r, scaled(1000)));
    const stats = await source.stop();
    const late = Date.now() - stopAt;
    expect(late, JSON.stringify({ ...stats, handled: batches })).toBeLessThanOrEqual(scaled(2000));
    expect(batches).toBeGreaterThan(0);
    expect(stats.lost, JSON.stringify({ ...stats, handled: batches })).toBeGreaterThan(0); // it was outpaced: the kernel counted what it could not take
    expect(stats.events + stats.rejected + stats.lost).toBe(stats.produced);
  });

  it('counts the owners a full owner table displaces, and next to none when it is large enough', async () => {
    // 1200 connections held open at once: 2400 owned sockets, more than a 1024-slot table holds.
    const holdOpen = async (options: { ownerEntries?: number }) => {
      const trace = startTrace(options);
      const child = spawn('python3', [
        '-c',
        `import resource, socket
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1024)
held = []
for _ in range(1200):
    c = socket.create_connection(l.getsockname()); s, _ = l.accept(); held += [c, s]
print(len(held), flush=True)`,
      ]);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const code = await new Promise((r) => child.on('exit', r));
      expect(code, out).toBe(0);
      expect(out.trim()).toBe('2400');
      const evictions = trace.ownerEvictions();
      await trace.stop();
      return evictions;
    };
    const small = await holdOpen({ ownerEntries: 1024 });
    expect(small).toBeGreaterThanOrEqual(2400 - 1024);
    expect(small).toBeLessThanOrEqual(2400);
    // Sets are two-way: three sockets hashing to one set displace one even in a roomy table, and other
    // sockets of the host (tests running beside this one) share it. Roomy means next to none.
    expect(await holdOpen({})).toBeLessThanOrEqual(24);
  });

  it('prints a lost record (level warn) in watch output when the ring overflows', async () => {
    const child = spawn(process.execPath, [bin, 'watch', '--ring-bytes', '4K', '--duration', '4'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (d) => {
        err += d;
        if (err.includes('watching')) resolve();
      }),
    );
    child.kill('SIGSTOP'); // a stalled consumer: nothing drains the ring
    const burst = connectionBurst(200);
    await new Promise((r) => burst.on('exit', r));
    child.kill('SIGCONT');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    const lost = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'lost');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost[0]).toMatchObject({ level: 'warn', event: 'lost' });
    const total = lost.reduce((sum, l) => sum + (l.count as number), 0);
    expect(total).toBe(lost.at(-1)!.total);
    expect(err).toMatch(new RegExp(`stopped: \\d+ events, ${total} lost`));
  });

  it('says which privilege is missing when run without it', () => {
    const result = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, bin, 'watch', '--duration', '1'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/EPERM|EACCES/);
    expect(result.stderr).toMatch(/This process lacks CAP_BPF and CAP_PERFMON/);
  });
});
