/**
 * A peer that stops answering, made real in a network namespace of the test's own: the host's neighbour
 * entry for it points at a MAC address nobody has, so every segment to it vanishes on the wire. A
 * connect to it is sent again and ends in ETIMEDOUT; data sent on an open connection is sent again.
 * Each must be reported with the connecting process as owner (the kernel does this in timer context,
 * inside whatever task runs), and `watch --summary` must find connect_timeouts for that process and peer.
 * The bpftrace backend, traced beside the native one, must report the same events naming the same owners.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { PEER_TROUBLE_PATH, startActor as startWorkload, stopAllActors, type ActorLine, type ActorOptions } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';
import { withBpftraceStarts } from '../support/bpftrace-start.js';
import { until } from '../support/until.js';
import { startBpftraceTrace, startLiveTrace, startTrace, stopAllTraces } from '../support/trace-session.js';
import type { SockEvent } from '../../src/events/sock-event.js';

const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const script = PEER_TROUBLE_PATH;
const startActor = (args: string[], options: ActorOptions = {}) =>
  startWorkload([...args, '--timeout', String(scaled(30))], { timeoutMs: scaled(60_000), script, ...options });
const children: ChildProcess[] = [];

describeKernel('a peer that does not answer', () => {
  const netns = useNetnsPeer();
  /** Segments to the namespace's address now go to a MAC address nobody has; undone after each test. */
  const silencePeer = () =>
    execFileSync('ip', ['neigh', 'replace', netns().nsV4, 'lladdr', '02:00:5e:00:53:01', 'dev', netns().hostIf, 'nud', 'permanent']);
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    execFileSync('ip', ['neigh', 'del', netns().nsV4, 'dev', netns().hostIf], { stdio: 'ignore' });
    try {
      execFileSync('ip', ['-6', 'neigh', 'del', netns().nsV6, 'dev', netns().hostIf], { stdio: 'ignore' });
    } catch {
      // only the bpftrace case silences the IPv6 peer
    }
    await stopAllActors();
    await stopAllTraces();
  });

  it('reports the SYNs sent again and the connect that timed out, owned by the connecting process', async () => {
    silencePeer();
    const trace = await startLiveTrace();
    const client = startActor(['unanswered-connect', '--host', netns().nsV4, '--port', '9', '--syncnt', '1']);
    await client.ready;
    const done = (await client.done) as ActorLine & { errno: string };
    expect(done.errno).toBe('ETIMEDOUT');
    const ended = await trace.waitFor((e) => e.kind === 'connection_error' && e.peer.addr === netns().nsV4, scaled(3000), 'the connect timed out');
    expect(ended).toMatchObject({ errno: 'ETIMEDOUT', unanswered: true, owner: { pid: client.pid, comm: 'python3' }, peer: { port: 9 } });
    const resent = trace.events.filter((e) => e.kind === 'retransmit' && e.peer.addr === netns().nsV4);
    expect(resent.length).toBeGreaterThanOrEqual(1);
    expect(resent.every((e) => e.state === 'SYN_SENT' && e.owner?.pid === client.pid)).toBe(true);
  });

  it('reports data sent again on an open connection whose peer went silent, owned by the sender', async () => {
    const server = startWorkload(['server-leak', '--host', netns().nsV4, '--count', '1', '--hold', String(scaled(20))], {
      prefix: netns().execPrefix,
      timeoutMs: scaled(60_000),
    });
    const { port } = (await server.ready) as { port: number };
    const client = startActor(['stalled-send', '--host', netns().nsV4, '--port', String(port), '--seconds', '2']);
    await client.ready;
    const trace = await startLiveTrace();
    silencePeer();
    process.kill(client.pid, 'SIGUSR1');
    await until('data sent again', scaled(5000), () =>
      trace.events.some((e) => e.kind === 'retransmit' && e.peer.port === port && e.state === 'ESTABLISHED'),
    );
    const resent = trace.events.filter((e) => e.kind === 'retransmit' && e.peer.port === port);
    expect(resent.every((e) => e.owner?.pid === client.pid)).toBe(true);
  });

  it('watch --summary finds connect_timeouts for the process and the peer', async () => {
    silencePeer();
    const watch = spawn(process.execPath, [bin, 'watch', '--events', 'connection_error,retransmit', '--summary', '1', '--duration', String(scaled(7))], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(watch);
    let out = '';
    let err = '';
    watch.stdout.on('data', (d) => (out += d));
    watch.stderr.on('data', (d) => (err += d));
    await until('watch started', scaled(20_000), () => err.includes('watching'));
    const client = startActor(['unanswered-connect', '--host', netns().nsV4, '--port', '9', '--syncnt', '1']);
    await client.done;
    expect(await new Promise((r) => watch.on('exit', r))).toBe(0);
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.event === 'connection_error')).toMatchObject({ errno: 'ETIMEDOUT', unanswered: true, proc: { pid: client.pid } });
    const finding = lines.find((l) => l.event === 'finding' && l.kind === 'connect_timeouts');
    expect(finding).toMatchObject({ subject: { pid: client.pid, peer: netns().nsV4 }, evidence: { lastMinute: 1 } });
  });

  it('the bpftrace backend reports the same SYNs and data sent again and connects timed out, naming the same owners', { timeout: withBpftraceStarts(60_000) }, async () => {
    const native = startTrace();
    const bt = await startBpftraceTrace();
    const since = process.hrtime.bigint(); // CLOCK_MONOTONIC, as the events' time: what both traced
    // Data sent again on an open connection (made before the peer goes silent).
    const server = startWorkload(['server-leak', '--host', netns().nsV4, '--count', '1', '--hold', String(scaled(20))], {
      prefix: netns().execPrefix,
      timeoutMs: scaled(60_000),
    });
    const { port } = (await server.ready) as { port: number };
    const sender = startActor(['stalled-send', '--host', netns().nsV4, '--port', String(port), '--seconds', '2']);
    await sender.ready;
    silencePeer();
    execFileSync('ip', ['-6', 'neigh', 'replace', netns().nsV6, 'lladdr', '02:00:5e:00:53:01', 'dev', netns().hostIf, 'nud', 'permanent']);
    process.kill(sender.pid, 'SIGUSR1');
    // Connects no one answers, IPv4 and IPv6, at once.
    const v4 = startActor(['unanswered-connect', '--host', netns().nsV4, '--port', '9', '--syncnt', '1']);
    const v6 = startActor(['unanswered-connect', '--host', netns().nsV6, '--port', '9', '--syncnt', '1']);
    for (const client of [v4, v6]) expect(((await client.done) as ActorLine & { errno: string }).errno).toBe('ETIMEDOUT');
    const timedOut = (e: SockEvent) => e.kind === 'connection_error' && e.peer.port === 9;
    for (const trace of [native, bt]) {
      await until('both connects timed out', scaled(5000), () => trace.events.filter(timedOut).length >= 2);
      await trace.waitFor((e) => e.kind === 'retransmit' && e.peer.port === port && e.state === 'ESTABLISHED', scaled(5000), 'data sent again');
    }
    await Promise.all([native.stop(), bt.stop()]);

    const peers = new Set([netns().nsV4, netns().nsV6]);
    // Retransmits go on while the two stop: compared up to the last timeout (both read the monotonic
    // clock, each in its own program: the later of the two).
    const cutoff = [...native.events, ...bt.events].filter(timedOut).reduce((last, e) => (e.tsNs > last ? e.tsNs : last), 0n);
    const ours = (events: SockEvent[]) =>
      events.filter((e) => (e.kind === 'retransmit' || e.kind === 'connection_error') && peers.has(e.peer.addr) && e.tsNs >= since && e.tsNs <= cutoff);
    const seen = (events: SockEvent[]) =>
      [...new Set(ours(events).map((e) => `${e.kind} ${e.local.addr} -> ${e.peer.addr}:${e.peer.port} ${e.state ?? '-'} ${e.errno ?? ''} unanswered=${e.unanswered} owner=${e.owner?.pid ?? '-'}`))].sort();
    expect(seen(bt.events)).toEqual(seen(native.events));
    const fromBpftrace = ours(bt.events);
    expect(fromBpftrace.filter(timedOut).map((e) => [e.peer.addr, e.errno, e.unanswered, e.owner?.pid, e.owner?.comm]).sort()).toEqual(
      [
        [netns().nsV4, 'ETIMEDOUT', true, v4.pid, 'python3'],
        [netns().nsV6, 'ETIMEDOUT', true, v6.pid, 'python3'],
      ].sort(),
    );
    expect(fromBpftrace.filter(timedOut).every((e) => e.sock !== '0' && e.netns === native.events.find(timedOut)!.netns)).toBe(true);
    const resent = fromBpftrace.filter((e) => e.kind === 'retransmit');
    expect(resent.filter((e) => e.state === 'SYN_SENT').map((e) => e.owner?.pid)).toEqual(expect.arrayContaining([v4.pid, v6.pid]));
    expect(resent.filter((e) => e.state === 'SYN_SENT').every((e) => e.owner?.pid === (e.peer.addr === netns().nsV4 ? v4.pid : v6.pid))).toBe(true);
    // While the sender lives its data is its own; its FIN, sent again after it exited, names no one.
    expect(resent.filter((e) => e.peer.port === port && e.state === 'ESTABLISHED').every((e) => e.owner?.pid === sender.pid)).toBe(true);
    expect(resent.filter((e) => e.peer.port === port).every((e) => e.owner === null || e.owner.pid === sender.pid)).toBe(true);
    expect(bt.lost).toBe(0);
  });
});
