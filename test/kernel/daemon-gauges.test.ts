/**
 * The daemon's socket gauges against the kernel's own view, as `ss` reads it (sock_diag), every second
 * while a randomized workload runs: connections that stay (CLOSE_WAIT leaks), end by RST or by close
 * at varying delays, and some left in an accept queue; the server started before the daemon, its
 * clients in a network namespace of the test's own. Each sample is a sock_diag dump, a scrape and a
 * second dump, taken together: the scrape must lie between the two dumps, per state, host-wide; the
 * server's own per-state count (its files, as `ss -p` lists them) never above what it holds.
 * SOCKTRACE_GAUGE_SECONDS sets the length (30 s by default).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { TCP_STATES } from '../../src/events/tcp-names.js';
import { listNetworkNamespaces } from '../../src/inventory/network-namespaces.js';
import { loadBinding } from '../../src/backends/native/binding.js';
import { startNativeSource } from '../../src/backends/native/native-source.js';
import { INVENTORY_ENTRY_SIZE, INVENTORY_FIELDS as F } from '../../src/backends/native/inventory-layout.js';
import { tcpStateName } from '../../src/events/tcp-names.js';
import { startActor, stopAllActors } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { until } from '../support/until.js';
import { freePort } from '../support/free-port.js';
import { TIME_SCALE, scaled } from '../support/time-scale.js';
import { BPFTRACE_START_MS, withBpftraceStarts } from '../support/bpftrace-start.js';

const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const mix = fileURLToPath(new URL('../workloads/socket_mix.py', import.meta.url));
const SECONDS = Number(process.env.SOCKTRACE_GAUGE_SECONDS ?? 30);


interface Dump {
  byState: Map<string, number>;
  /** The server's own sockets (inodes among its fds) by state. */
  server: Map<string, number>;
  /** Every socket: its state, and whether the server holds it. */
  sockets: Map<string, { state: string; held: boolean }>;
}

/** Socket inodes among a process's fds, added to `into`. */
function heldSockets(pid: number, into: Set<number>): Set<number> {
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('socket:[')) into.add(Number(target.slice(8, -1)));
    }
  } catch {
    /* gone, or an fd closed meanwhile */
  }
  return into;
}

/**
 * What `ss -tan` counts in every namespace, and `ss -tanp` for one process: a socket is the process's
 * if it held it just before or just after the dump (it accepts and closes while we look).
 */
function dump(pid: number, procOnly: boolean): Dump {
  const fds = heldSockets(pid, new Set());
  // /proc shows a namespace's sockets only through a process living in it: the bpftrace backend's
  // count cannot see a namespace only /run/netns holds (it says so), so neither does its reference.
  const namespaces = listNetworkNamespaces().filter((ns) => !procOnly || ns.path.startsWith('/proc/'));
  const native = loadBinding().inventory(namespaces);
  heldSockets(pid, fds);
  const byState = new Map<string, number>();
  const server = new Map<string, number>();
  const sockets = new Map<string, { state: string; held: boolean }>();
  // Only what the comparison needs is read: the host may hold tens of thousands of TIME_WAIT sockets.
  const view = new DataView(native.buffer);
  for (let i = 0; i < native.count; i++) {
    const base = i * INVENTORY_ENTRY_SIZE;
    const state = tcpStateName(view.getUint8(base + F.state.offset));
    const inode = view.getUint32(base + F.inode.offset, true);
    const held = inode !== 0 && fds.has(inode);
    byState.set(state, (byState.get(state) ?? 0) + 1);
    if (held) server.set(state, (server.get(state) ?? 0) + 1);
    const id = `${view.getBigUint64(base + F.cookie.offset, true)}/${view.getUint16(base + F.sport.offset, true)}/${view.getUint16(base + F.dport.offset, true)}`;
    sockets.set(id, { state, held });
  }
  return { byState, server, sockets };
}

/**
 * Sockets whose state differs between two dumps (or that exist in one only), by each state they were
 * in: a count taken between the dumps may see each of them on either side. `held`: the server's only.
 */
function changedBetween(a: Dump, b: Dump, heldOnly: boolean): Map<string, number> {
  const changed = new Map<string, number>();
  const bump = (state: string) => changed.set(state, (changed.get(state) ?? 0) + 1);
  for (const [id, x] of a.sockets) {
    const y = b.sockets.get(id);
    if (y?.state === x.state && y.held === x.held) continue;
    if (!heldOnly || x.held) bump(x.state);
    if (y && (!heldOnly || y.held)) bump(y.state);
  }
  for (const [id, y] of b.sockets) if (!a.sockets.has(id) && (!heldOnly || y.held)) bump(y.state);
  return changed;
}

function parseGauges(text: string, pid: number) {
  const byState = new Map<string, number>();
  const server = new Map<string, number>();
  for (const m of text.matchAll(/^socktrace_sockets\{state="(\w+)"\} (\d+)$/gm)) byState.set(m[1]!, Number(m[2]));
  for (const m of text.matchAll(/^socktrace_process_sockets\{pid="(\d+)",comm="[^"]*",state="(\w+)"\} (\d+)$/gm)) {
    if (Number(m[1]) === pid) server.set(m[2]!, Number(m[3]));
  }
  return { byState, server };
}

describeKernel('the daemon’s socket gauges against sock_diag', () => {
  const netns = useNetnsPeer();
  let daemon: ChildProcess | undefined;
  afterEach(async () => {
    daemon?.kill('SIGKILL');
    daemon = undefined;
    await stopAllActors();
  });

  /** `startMs`: how long the daemon may take to start beyond the usual (bpftrace compiling its script). */
  async function gaugesWithinKernelCounts(backend: 'native' | 'bpftrace', SECONDS: number, startMs: number): Promise<void> {
    // The workload outlives the samples (the daemon takes longer to start on bpftrace, and /proc shows a
    // namespace's sockets only while a process lives in it: the clients' must stay).
    const run = ['--seconds', String(scaled(SECONDS + 25) + startMs / 1000), '--timeout', '10', '--seed', String(Date.now() % 1000)];
    const server = startActor(['server', '--host', netns().hostV4, ...run], { script: mix, timeoutMs: scaled((SECONDS + 60) * 1000) + startMs });
    const { port, queue_port: queuePort } = (await server.ready) as { port: number; queue_port: number };
    const clients = startActor(
      ['clients', '--host', netns().hostV4, '--port', String(port), '--queue-port', String(queuePort), '--rate', '25', ...run],
      { script: mix, prefix: netns().execPrefix, timeoutMs: scaled((SECONDS + 60) * 1000) + startMs },
    );
    await clients.ready;
    await new Promise((r) => setTimeout(r, 2000)); // sockets of every kind exist before the daemon starts

    const metricsPort = await freePort();
    const configFile = join(mkdtempSync(join(tmpdir(), 'socktrace-gauges-')), 'daemon.yaml');
    writeFileSync(configFile, `metrics:\n  listen: 127.0.0.1:${metricsPort}\nlog:\n  file: ${configFile}.log\n`);
    daemon = spawn(process.execPath, [bin, 'daemon', '--config', configFile, '--backend', backend], { stdio: ['ignore', 'ignore', 'pipe'] });
    const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    await until('the daemon to serve metrics', scaled(15_000) + startMs, async () => (await scrape()).includes('socktrace_sockets'), 200);

    const worst = new Map<string, { over: number; under: number; heldOver: number; sample?: string }>();
    let samples = 0;
    let leaksSeen = 0;
    const states = TCP_STATES.filter((s) => s !== 'UNKNOWN' && s !== 'CLOSE');
    const deadline = Date.now() + SECONDS * 1000;
    // The test's own tracer, nothing crossing: only the kernel's count of state changes, read around
    // each sample, for the sockets both dumps can miss (in and out of a state between them).
    const changes = startNativeSource({ emitKinds: 0, emitStates: 0 }, { onEvents() {}, onLost() {} });
    for (let next = Date.now(); Date.now() < deadline; next += 1000) {
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      const enteredBefore = changes.transitions();
      const before = dump(server.pid, backend === 'bpftrace');
      const text = await scrape();
      const after = dump(server.pid, backend === 'bpftrace');
      const enteredAfter = changes.transitions();
      const seen = parseGauges(text, server.pid);
      samples++;
      leaksSeen = Math.max(leaksSeen, seen.server.get('CLOSE_WAIT') ?? 0);
      const moved = changedBetween(before, after, false);
      // A state may hold, at the count, sockets neither dump saw: at most those that entered it between
      // the dumps, as the kernel counted them.
      const entered = (state: string) => {
        const code = TCP_STATES.indexOf(state as (typeof TCP_STATES)[number]);
        return (enteredAfter[code] ?? 0) - (enteredBefore[code] ?? 0);
      };
      const movedHeld = changedBetween(before, after, true);
      for (const state of states) {
        // The count was taken between the dumps: it lies between them, give or take the sockets that
        // changed state meanwhile.
        const lo = Math.min(before.byState.get(state) ?? 0, after.byState.get(state) ?? 0) - (moved.get(state) ?? 0);
        const hi = Math.max(before.byState.get(state) ?? 0, after.byState.get(state) ?? 0) + (moved.get(state) ?? 0) + entered(state);
        const got = seen.byState.get(state) ?? 0;
        const w = worst.get(state) ?? { over: 0, under: 0, heldOver: 0 };
        if (got - hi > w.over || lo - got > w.under) {
          w.sample = `sample ${samples}: dumps ${before.byState.get(state) ?? 0} and ${after.byState.get(state) ?? 0}, changed ${moved.get(state) ?? 0}, scraped ${got}`;
        }
        w.over = Math.max(w.over, got - hi);
        w.under = Math.max(w.under, lo - got);
        // The server's own: never more than it holds.
        const held = Math.max(before.server.get(state) ?? 0, after.server.get(state) ?? 0) + (movedHeld.get(state) ?? 0) + entered(state);
        w.heldOver = Math.max(w.heldOver, (seen.server.get(state) ?? 0) - held);
        worst.set(state, w);
      }
    }
    console.log(`daemon gauges (${backend}) vs sock_diag: ${samples} samples, worst deviation per state beyond the dumps: ${JSON.stringify(Object.fromEntries(worst))}`);
    expect(samples).toBeGreaterThanOrEqual(Math.floor(SECONDS / 2 / TIME_SCALE));
    for (const [state, w] of worst) {
      // A request socket (SYN_RECV in the dumps) can be born and gone between two dumps taken
      // milliseconds apart with no state change to count: one such is allowed; the rest is exact.
      const slack = state === 'SYN_RECV' ? 1 : 0;
      expect(w.over, `${state} over the kernel's count`).toBeLessThanOrEqual(slack);
      expect(w.under, `${state} under the kernel's count`).toBeLessThanOrEqual(slack);
      expect(w.heldOver, `the server's ${state} over what it holds`).toBeLessThanOrEqual(slack);
    }
    await changes.stop();
    expect(leaksSeen, 'the leaks show for the server').toBeGreaterThan(0);
  }

  // The bpftrace backend counts from /proc at each scrape (no tcp iterator there): a shorter run.
  for (const [backend, seconds, bpftraceStarts] of [
    ['native', SECONDS, 0],
    ['bpftrace', Math.min(SECONDS, 15), 1],
  ] as const) {
    it(
      `on the ${backend} backend, stay within the kernel's own counts at every scrape for ${seconds} s of randomized connections`,
      () => gaugesWithinKernelCounts(backend, seconds, bpftraceStarts * BPFTRACE_START_MS),
      withBpftraceStarts((SECONDS + 90) * 1000, bpftraceStarts),
    );
  }
});
