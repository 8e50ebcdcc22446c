/**
 * Owners off the easy path, on the real kernel with real processes: sockets handed to another process
 * (SCM_RIGHTS; fork + exec with the opener exiting and its pid reused), a connection made by a named
 * thread of a process that renames itself, sockets waiting in accept queues (SO_REUSEPORT groups of two
 * processes, one port on two addresses), and services that ran before socktrace started (a full
 * backlog, a service at its fd limit). Peers live in a network namespace of the test's own where the
 * case allows. Every CLOSE_WAIT, RST received and EPIPE/ECONNRESET must name the socket's holder, or
 * nobody where the kernel cannot know it; never another process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SockEvent } from '../../src/events/sock-event.js';
import {
  OWNER_CHANGES_PATH,
  endpointOf,
  processExists,
  startActorWithPid,
  startActor as startWorkload,
  stopAllActors,
  type Actor,
  type ActorLine,
  type ActorOptions,
} from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';
import { until } from '../support/until.js';
import { startLiveTrace as startLiveNativeTrace, startTrace as startNativeTrace, stopAllTraces, type TraceSession } from '../support/trace-session.js';
import type { NativeSourceOptions } from '../../src/backends/native/native-source.js';

const script = OWNER_CHANGES_PATH;

/** Workloads wait for the other side 20 s at most, stretched under emulation like every bound here. */
const startActor = (args: string[], options: ActorOptions = {}) =>
  startWorkload([...args, '--timeout', String(scaled(20))], { timeoutMs: scaled(60_000), ...options });
type Local = [string, number];

/** The events of one socket (by local port) of the given kinds that name someone else than `holder`. */
function wrongNames(events: SockEvent[], port: number, holder: number): SockEvent[] {
  return events.filter(
    (e) =>
      e.local.port === port &&
      (e.state === 'CLOSE_WAIT' || e.kind === 'rst_received' || e.kind === 'send_error' || e.kind === 'recv_error') &&
      e.owner !== null &&
      e.owner.pid !== holder,
  );
}

const closeWaitOf = (port: number) => (e: SockEvent) =>
  e.kind === 'state_change' && e.state === 'CLOSE_WAIT' && e.local.port === port;
const rstReceivedOn = (port: number) => (e: SockEvent) => e.kind === 'rst_received' && e.local.port === port;
const errorOn = (port: number, errno: string) => (e: SockEvent) =>
  (e.kind === 'send_error' || e.kind === 'recv_error') && e.local.port === port && e.errno === errno;

describeKernel('owners off the easy path (native backend)', () => {
  const netns = useNetnsPeer();
  describe.each(['auto', 'classic'] as const)('with %s hooks', (hooks) => {
    const startTrace = (options: NativeSourceOptions = {}) => startNativeTrace({ hooks, ...options });
    const startLiveTrace = () => startLiveNativeTrace({ hooks });
  const inNetns = () => ({ script, prefix: netns().execPrefix });
  afterEach(async () => {
    await stopAllActors();
    await stopAllTraces();
  });

  for (const ownersEnd of ['destroy', 'close'] as const) {
    const options = ownersEnd === 'close' ? { disabledHooks: ['tcp_destroy_sock'] } : {};

    it(`names the process an fd was handed to over SCM_RIGHTS, never the opener that exited (owners ending at ${ownersEnd})`, async () => {
      const trace = startTrace(options);
      const peer = startActor(
        ['peer-server', '--host', netns().nsV4, '--count', '4', '--greet', '0,1', '--ends', 'fin,rst,fin,rst', '--until-signal'],
        inNetns(),
      );
      const { port } = (await peer.ready) as { port: number };
      const holder = startActor(['handoff-scm', '--host', netns().nsV4, '--port', String(port), '--count', '4', '--greeted', '2'], { script });
      const ready = (await holder.ready) as ActorLine & { opener: number; locals: Local[] };
      const ports = ready.locals.map((l) => endpointOf(l).port);
      await holder.next((l) => 'greeted' in l);
      await peer.next((l) => 'accepted' in l);
      process.kill(peer.pid, 'SIGUSR1');
      await holder.done;
      const b = holder.pid;

      // 0: read by the holder, then the peer's FIN; its late writes draw an RST, then EPIPE.
      expect((await trace.waitFor(closeWaitOf(ports[0]!), scaled(5000), 'CLOSE_WAIT 0')).owner?.pid).toBe(b);
      expect((await trace.waitFor(rstReceivedOn(ports[0]!), scaled(5000), 'RST 0')).owner?.pid).toBe(b);
      expect((await trace.waitFor(errorOn(ports[0]!, 'EPIPE'), scaled(5000), 'EPIPE 0')).owner?.pid).toBe(b);
      // 1: read by the holder, then reset by the peer; its read fails with ECONNRESET.
      expect((await trace.waitFor(rstReceivedOn(ports[1]!), scaled(5000), 'RST 1')).owner?.pid).toBe(b);
      expect((await trace.waitFor(errorOn(ports[1]!, 'ECONNRESET'), scaled(5000), 'ECONNRESET 1')).owner?.pid).toBe(b);
      // 2 and 3: not touched by the holder when the peer ended them: the kernel knows only the opener,
      // which exited, so nobody is named; what the holder does afterwards names it.
      expect((await trace.waitFor(closeWaitOf(ports[2]!), scaled(5000), 'CLOSE_WAIT 2')).owner).toBeNull();
      expect((await trace.waitFor(rstReceivedOn(ports[2]!), scaled(5000), 'RST 2')).owner?.pid).toBe(b);
      expect((await trace.waitFor(errorOn(ports[2]!, 'EPIPE'), scaled(5000), 'EPIPE 2')).owner?.pid).toBe(b);
      expect((await trace.waitFor(rstReceivedOn(ports[3]!), scaled(5000), 'RST 3')).owner).toBeNull();
      expect((await trace.waitFor(errorOn(ports[3]!, 'ECONNRESET'), scaled(5000), 'ECONNRESET 3')).owner?.pid).toBe(b);
      for (const p of ports) expect(wrongNames(trace.events, p, b)).toEqual([]);
      // The opener was the owner while it lived: its connects name it.
      const opened = trace.events.find((e) => e.local.port === ports[0] && e.state === 'ESTABLISHED');
      expect(opened?.owner?.pid).toBe(ready.opener);
    });
  }

  it('after fork + exec, names the exec’d child, never the parent that exited nor the process that took its pid', async () => {
    const trace = startTrace();
    const peer = startActor(['peer-server', '--host', netns().nsV4, '--count', '1', '--until-signal'], inNetns());
    const { port } = (await peer.ready) as { port: number };
    const parent = startActor(['handoff-exec', '--host', netns().nsV4, '--port', String(port)], { script });
    const local = endpointOf((await parent.ready).local);
    const { child } = (await parent.next((l) => 'holding' in l)) as ActorLine & { child: number };
    await parent.done;
    await until('the parent to exit', scaled(5000), () => !processExists(parent.pid));
    // An unrelated process takes the parent's pid and becomes an owner itself (it listens).
    const newcomer = await startActorWithPid(parent.pid, () => startActor(['server-leak', '--host', '127.0.0.1', '--count', '1', '--hold', '10']));
    await newcomer.ready;
    process.kill(peer.pid, 'SIGUSR1');
    await parent.next((l) => 'held' in l);

    expect((await trace.waitFor(closeWaitOf(local.port), scaled(5000), 'CLOSE_WAIT')).owner).toBeNull();
    const rst = await trace.waitFor(rstReceivedOn(local.port), scaled(5000), 'RST');
    expect(rst.owner?.pid).toBe(child);
    expect(rst.owner?.comm).toMatch(/^python/);
    expect((await trace.waitFor(errorOn(local.port, 'EPIPE'), scaled(5000), 'EPIPE')).owner?.pid).toBe(child);
    expect(wrongNames(trace.events, local.port, child)).toEqual([]);
  });

  it('names the process, not the thread that connected, by the name it has at each event', async () => {
    const trace = startTrace();
    const peer = startActor(['peer-server', '--host', netns().nsV4, '--count', '1', '--until-signal'], inNetns());
    const { port } = (await peer.ready) as { port: number };
    const svc = startActor(['thread-connect', '--host', netns().nsV4, '--port', String(port)], { script });
    const local = endpointOf((await svc.ready).local);
    await peer.next((l) => 'accepted' in l);
    process.kill(peer.pid, 'SIGUSR1');
    await svc.done;

    const closeWait = await trace.waitFor(closeWaitOf(local.port), scaled(5000), 'CLOSE_WAIT');
    expect(closeWait.owner).toMatchObject({ pid: svc.pid, comm: 'svc-main' });
    const connected = trace.events.find((e) => e.sock === closeWait.sock && e.state === 'SYN_SENT');
    expect(connected?.owner).toMatchObject({ pid: svc.pid, comm: 'svc-main' });
    expect(connected?.task.comm).toBe('conn-worker'); // the running thread is context, not the owner
    // Renamed before its late writes: the RST and EPIPE that follow carry the new name.
    expect((await trace.waitFor(rstReceivedOn(local.port), scaled(5000), 'RST')).owner).toMatchObject({ pid: svc.pid, comm: 'svc-renamed' });
    expect((await trace.waitFor(errorOn(local.port, 'EPIPE'), scaled(5000), 'EPIPE')).owner).toMatchObject({ pid: svc.pid, comm: 'svc-renamed' });
  });

  /** Queued CLOSE_WAITs of `count` client connections, and the pid of the listener that drained each. */
  async function queuedCloseWaits(trace: TraceSession, listeners: Actor[], port: number, count: number) {
    const closeWaits = new Map<number, SockEvent>();
    await until(`${count} queued CLOSE_WAITs`, scaled(5000), () => {
      for (const e of trace.events) if (closeWaitOf(port)(e)) closeWaits.set(e.peer.port, e);
      return closeWaits.size >= count;
    });
    const drainedBy = new Map<number, number>();
    for (const l of listeners) {
      process.kill(l.pid, 'SIGUSR1');
      const { drained } = (await l.next((x) => 'drained' in x)) as ActorLine & { drained: Local[] };
      for (const peer of drained) drainedBy.set(endpointOf(peer).port, l.pid);
    }
    return [...closeWaits.values()].map((e) => ({ event: e, holder: drainedBy.get(e.peer.port) }));
  }

  it('names the listener whose queue holds a socket in an SO_REUSEPORT group of two processes', async () => {
    const trace = startTrace();
    const first = startActor(['queue-listener', '--host', netns().hostV4, '--reuseport', '--backlog', '32'], { script });
    const { port } = (await first.ready) as { port: number };
    const second = startActor(['queue-listener', '--host', netns().hostV4, '--port', String(port), '--reuseport', '--backlog', '32'], { script });
    await second.ready;
    const clients = startActor(['client-connect-close', '--host', netns().hostV4, '--port', String(port), '--count', '16'], { prefix: netns().execPrefix });
    await clients.done;

    const seen = await queuedCloseWaits(trace, [first, second], port, 16);
    expect(new Set(seen.map((s) => s.holder))).toEqual(new Set([first.pid, second.pid])); // both queues took some
    for (const { event, holder } of seen) {
      expect(event.owner?.pid).toBe(holder);
      expect(event.owner?.source).toBe('listener');
    }
  });

  it('names each listener of one port on two addresses for the sockets queued on it', async () => {
    const trace = startTrace();
    const one = startActor(['queue-listener', '--host', '127.0.0.1'], { script });
    const { port } = (await one.ready) as { port: number };
    const two = startActor(['queue-listener', '--host', '127.0.0.2', '--port', String(port)], { script });
    await two.ready;
    for (const host of ['127.0.0.1', '127.0.0.2']) {
      await startActor(['client-connect-close', '--host', host, '--port', String(port), '--count', '3']).done;
    }
    const seen = await queuedCloseWaits(trace, [one, two], port, 6);
    for (const { event, holder } of seen) {
      expect(event.owner?.pid).toBe(holder);
      expect(holder).toBe(event.local.addr === '127.0.0.1' ? one.pid : two.pid);
    }
  });

  it('names a listener that existed before socktrace started for every socket queued on it, before and after', async () => {
    const listener = startActor(['queue-listener', '--host', netns().hostV4, '--backlog', '4'], { script });
    const { port } = (await listener.ready) as { port: number };
    const connect = (count: number) =>
      startActor(['many-clients', '--host', netns().hostV4, '--port', String(port), '--count', String(count)], inNetns());
    const before = connect(2);
    await before.ready;
    const trace = await startLiveTrace();
    const after = connect(3);
    await after.ready;
    for (const c of [before, after]) process.kill(c.pid, 'SIGUSR1');

    const seen = await queuedCloseWaits(trace, [listener], port, 5);
    for (const { event, holder } of seen) {
      expect(holder).toBe(listener.pid);
      expect(event.owner?.pid).toBe(listener.pid);
    }
  });

  it('names a service at its fd limit, started before socktrace, for every CLOSE_WAIT: accepted and queued', async () => {
    const svc = startActor(['fd-limited-server', '--host', netns().hostV4, '--nofile', '32', '--backlog', '64', '--hold', '20'], { script });
    const { port } = (await svc.ready) as { port: number };
    const connect = (count: number) =>
      startActor(['many-clients', '--host', netns().hostV4, '--port', String(port), '--count', String(count)], inNetns());
    const before = connect(40);
    await before.ready;
    const { full: accepted } = (await svc.next((l) => 'full' in l)) as ActorLine & { full: number };
    expect(accepted).toBeLessThan(40); // the rest wait in its accept queue
    const trace = await startLiveTrace();
    const after = connect(10);
    await after.ready;
    for (const c of [before, after]) process.kill(c.pid, 'SIGUSR1');

    const closeWaits = new Map<number, SockEvent>();
    await until('50 CLOSE_WAITs', scaled(5000), () => {
      for (const e of trace.events) if (closeWaitOf(port)(e)) closeWaits.set(e.peer.port, e);
      return closeWaits.size >= 50;
    });
    const named = [...closeWaits.values()].filter((e) => e.owner?.pid === svc.pid);
    expect(named.length).toBe(50);
  });
  });
});

