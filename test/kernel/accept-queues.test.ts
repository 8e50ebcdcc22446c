/**
 * A listener whose accept queue is full: a Python service with backlog 4, started before socktrace, that
 * accepts nothing, and 40 clients in a network namespace of the test's own connecting at once with a
 * 1 s connect timeout. The queue socktrace shows (snapshot, table and --json; the daemon's gauges) must
 * be what `ss -lnt` shows for it, Recv-Q/Send-Q. Then 40 more clients knock at the full queue while
 * socktrace runs: every SYN is dropped and counted as ListenOverflows in the host's namespace, and the
 * overflows must be given to the listener's process (watch's listen_overflow lines, the daemon's
 * counter, log and accept_queue_overflow finding), never to another. And in a namespace of the test's
 * own, two listeners: one full but idle, one that overflows in a burst and drains before the next
 * sample: the overflows go to the second (its own drop counter grew), never to the full idle one.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import type { SnapshotDocument } from '../../src/output/snapshot-document.js';
import { OWNER_CHANGES_PATH, startActor as startWorkload, stopAllActors, type ActorOptions } from '../support/actor.js';
import { freePort } from '../support/free-port.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';
import { BPFTRACE_START_MS, withBpftraceStarts } from '../support/bpftrace-start.js';
import { until } from '../support/until.js';
import { logLines } from '../support/log-lines.js';
import { killWatches, startWatch } from '../support/watch-process.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const script = OWNER_CHANGES_PATH;
const startActor = (args: string[], options: ActorOptions = {}) =>
  startWorkload([...args, '--timeout', String(scaled(60))], { timeoutMs: scaled(90_000), script, ...options });
const children: ChildProcess[] = [];
/** The attributions that name a listener: its own drop counter accounts for the overflows. */
const NAMING = ['only listener whose drop counter grew', 'drop counters grew by exactly the overflows'];

/** `ss -lntm` in a namespace for one listening port: Recv-Q, Send-Q and the listener's drops (skmem d<N>). */
async function ssListenIn(prefix: string[], port: number): Promise<{ queue: number; limit: number; drops: number }> {
  const argv = [...prefix, 'ss', '-Hlntm', `sport = :${port}`];
  const { stdout } = await run(argv[0]!, argv.slice(1));
  const f = stdout.trim().split(/\s+/);
  expect(f[0]).toBe('LISTEN');
  return { queue: Number(f[1]), limit: Number(f[2]), drops: Number(/\bd(\d+)\)/.exec(stdout)?.[1]) };
}

/** `ss -lnt` for one listening address: Recv-Q (queue) and Send-Q (limit). */
async function ssListen(addr: string, port: number): Promise<{ queue: number; limit: number }> {
  const { stdout } = await run('ss', ['-Hlnt', `src ${addr}:${port}`]);
  const f = stdout.trim().split(/\s+/);
  expect(f[0]).toBe('LISTEN');
  return { queue: Number(f[1]), limit: Number(f[2]) };
}

/** BPF links of socktrace's kfree_skb programs now (bpftool: links, then their programs' names). */
async function dropHookLinks(): Promise<number> {
  const links = JSON.parse((await run('bpftool', ['link', 'show', '--json'])).stdout) as { prog_id: number }[];
  const progs = JSON.parse((await run('bpftool', ['prog', 'show', '--json'])).stdout) as { id: number; name?: string }[];
  const names = new Map(progs.map((p) => [p.id, p.name]));
  return links.filter((l) => /^(btf|tp)_kfree_skb$/.test(names.get(l.prog_id) ?? '')).length;
}

describeKernel('accept queues', () => {
  const netns = useNetnsPeer();
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    killWatches();
    await stopAllActors();
  });

  /** The listener with a full queue and clients that gave up: its pid and port. */
  async function fullListener(): Promise<{ pid: number; port: number }> {
    const svc = startActor(['queue-listener', '--host', netns().hostV4, '--backlog', '4']);
    const { port } = (await svc.ready) as { port: number };
    const clients = startActor(['knocking-clients', '--host', netns().hostV4, '--port', String(port), '--count', '40', '--connect-timeout', String(scaled(1))], {
      prefix: netns().execPrefix,
    });
    const line = (await clients.ready) as { connected: number; timedOut: number };
    expect(line.timedOut).toBeGreaterThan(0); // the queue was full: some handshakes were dropped
    return { pid: svc.pid, port };
  }

  /** The daemon with its metrics on a free port and its log in a directory of its own (a summary each second). */
  async function startDaemon(backend: 'auto' | 'bpftrace' = 'auto'): Promise<{ scrape: () => Promise<string>; logFile: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'socktrace-queues-'));
    const metricsPort = await freePort();
    const logFile = join(dir, 'daemon.log');
    const config = join(dir, 'socktrace.yaml');
    const tracer = `tracer:\n  backend: ${backend}\n`;
    writeFileSync(config, `metrics:\n  listen: 127.0.0.1:${metricsPort}\nlog:\n  file: ${logFile}\n  summarySeconds: 1\n${tracer}`, { mode: 0o644 });
    children.push(spawn(process.execPath, [bin, 'daemon', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] }));
    const scrape = async () => {
      try {
        return await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      } catch {
        return ''; // not serving yet
      }
    };
    return { scrape, logFile };
  }

  /** 40 clients more, at the queue already full: their SYNs are dropped. */
  async function knockAgain(port: number): Promise<void> {
    const clients = startActor(['knocking-clients', '--host', netns().hostV4, '--port', String(port), '--count', '40', '--connect-timeout', String(scaled(1))], {
      prefix: netns().execPrefix,
    });
    const line = (await clients.ready) as { connected: number; timedOut: number };
    expect(line).toMatchObject({ connected: 0, timedOut: 40 });
  }

  it('snapshot shows the queue and its limit as ss -lnt does, in the table and --json', async () => {
    const { pid, port } = await fullListener();
    const ss = await ssListen(netns().hostV4, port);
    expect(ss).toEqual({ queue: 5, limit: 4 }); // full: the kernel drops once the queue exceeds the limit
    const { stdout } = await run(process.execPath, [bin, 'snapshot', '--json'], { maxBuffer: 256 << 20 });
    const doc = JSON.parse(stdout) as SnapshotDocument;
    const listener = doc.sockets.find((s) => s.state === 'LISTEN' && s.local.port === port && s.local.addr === netns().hostV4);
    expect(listener?.proc?.pid).toBe(pid);
    expect(listener?.acceptQueue).toEqual({ length: ss.queue, limit: ss.limit });
    const service = doc.rollups.services.rows.find((s) => s.port === port);
    expect(service?.acceptQueues).toEqual([{ local: { addr: netns().hostV4, port }, owners: [{ pid, comm: 'python3' }], length: 5, limit: 4 }]);
    const table = (await run(process.execPath, [bin, 'snapshot'], { maxBuffer: 256 << 20 })).stdout;
    const row = table.split('\n').find((l) => new RegExp(`^\\s*${port}\\s`).test(l));
    expect(row).toMatch(new RegExp(`python3/${pid}\\s+5/4\\s`));
  });

  it('the daemon gauges each listener queue and limit as ss -lnt does', async () => {
    const { pid, port } = await fullListener();
    const { scrape } = await startDaemon();
    const labels = `\\{pid="${pid}",comm="python3",port="${port}"\\}`;
    const queue = new RegExp(`^socktrace_listen_queue${labels} (\\d+)$`, 'm');
    const limit = new RegExp(`^socktrace_listen_queue_limit${labels} (\\d+)$`, 'm');
    const text = await until('the listener gauged', scaled(15_000), async () => {
      const t = await scrape();
      return queue.test(t) && limit.test(t) ? t : false;
    });
    const ss = await ssListen(netns().hostV4, port);
    expect({ queue: Number(queue.exec(text)![1]), limit: Number(limit.exec(text)![1]) }).toEqual(ss);
    expect(ss).toEqual({ queue: 5, limit: 4 });
  });

  it('the daemon on the bpftrace backend gauges them too', { timeout: withBpftraceStarts(60_000) }, async () => {
    const { pid, port } = await fullListener();
    const { scrape } = await startDaemon('bpftrace');
    const labels = `\\{pid="${pid}",comm="python3",port="${port}"\\}`;
    const queue = new RegExp(`^socktrace_listen_queue${labels} (\\d+)$`, 'm');
    const limit = new RegExp(`^socktrace_listen_queue_limit${labels} (\\d+)$`, 'm');
    const text = await until('the listener gauged', scaled(30_000) + BPFTRACE_START_MS, async () => {
      const t = await scrape();
      return queue.test(t) && limit.test(t) ? t : false;
    });
    expect({ queue: Number(queue.exec(text)![1]), limit: Number(limit.exec(text)![1]) }).toEqual(await ssListen(netns().hostV4, port));
  });

  it('watch reports the overflows as listen_overflow lines naming the listener, its queue and limit', async () => {
    const { pid, port } = await fullListener();
    const watch = await startWatch(['--events', 'listen_overflow', '--duration', String(scaled(6))]);
    await new Promise((r) => setTimeout(r, 1200)); // a first sample: the baseline
    await knockAgain(port);
    const { code, lines: all } = (await watch.exited) as { code: number | null; lines: Record<string, any>[] };
    expect(code).toBe(0);
    expect(all.filter((l) => l.event !== 'listen_overflow' && l.event !== 'lost')).toEqual([]); // a loss is said, like any
    const lines = all.filter((l) => l.event === 'listen_overflow');
    expect(lines.filter((l) => l.peer !== null)).toEqual([]);
    // Named: our listener's own drop counter grew. Other listeners of the host's namespace (other tests
    // running) may drop in the same second: then none is named and ours is among the candidates.
    const named = lines.filter((l) => l.local?.port === port);
    expect(named.length).toBeGreaterThan(0);
    for (const l of named) {
      expect(l).toMatchObject({ proc: { pid, comm: 'python3' }, local: { addr: netns().hostV4, port }, queue: 5, limit: 4 });
      expect(NAMING).toContain(l.attribution);
    }
    const ours = lines.filter((l) => l.local?.port === port || (l.proc === null && l.candidates.some((c: any) => c.local.port === port)));
    expect(ours.reduce((n, l) => n + l.count, 0)).toBeGreaterThanOrEqual(40); // every client's SYN, at least once
    // Never given to our process for another listener's drops.
    expect(lines.filter((l) => l.proc?.pid === pid && l.local?.port !== port)).toEqual([]);
  });

  it('names the clients whose final ACK the full queue refused (6.15+), and --peer keeps only theirs', async () => {
    const ns = netns();
    // Deferred accept: a handshake completes with the client's first data. Two waves of 4 clients at a
    // backlog of 4: the first wave fills the queue to 4/4, the second's SYNs still get in, and its data
    // meets a full queue after the first: 3 final steps refused, each named by its packet.
    const svc = startActor(['queue-listener', '--host', ns.hostV4, '--backlog', '4', '--defer-accept', '30']);
    const { port } = (await svc.ready) as { port: number };
    const format = readFileSync('/sys/kernel/tracing/events/skb/kfree_skb/format', 'utf8');
    const namesClients = format.includes('"TCP_LISTEN_OVERFLOW"');
    const all = await startWatch(['--events', 'listen_overflow', '--duration', String(scaled(8))]);
    const mine = await startWatch(['--events', 'listen_overflow', '--peer', ns.nsV4, '--duration', String(scaled(8))]);
    const others = await startWatch(['--events', 'listen_overflow', '--peer', '198.19.255.1', '--duration', String(scaled(8))]);
    await new Promise((r) => setTimeout(r, 1200)); // a first sample: the baseline
    // At rest the drop hook is not attached (it would run for every dropped packet of the host).
    if (namesClients) expect(await dropHookLinks()).toBe(0);
    const clients = startActor(['knocking-clients', '--host', ns.hostV4, '--port', String(port), '--count', '4', '--waves', '2', '--connect-timeout', String(scaled(1))], {
      prefix: ns.execPrefix,
    });
    expect(await clients.ready).toMatchObject({ connected: 8, timedOut: 0 }); // the client's side completes at once
    // The first overflow attaches it (each watch its own); the refused clients' retransmissions are seen.
    if (namesClients) await until('the drop hook attached', scaled(5000), async () => (await dropHookLinks()) >= 3);
    const ended = await Promise.all([all, mine, others].map((w) => w.exited as Promise<{ code: number | null; lines: Record<string, any>[] }>));
    for (const e of ended) expect(e.code).toBe(0);
    const ours = (lines: Record<string, any>[]) =>
      lines.filter((l) => l.event === 'listen_overflow' && (l.local?.port === port || (l.proc === null && l.candidates.some((c: any) => c.local.port === port))));
    const lines = ours(ended[0]!.lines);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.local?.port === port).every((l) => l.proc?.pid === svc.pid)).toBe(true);
    expect(lines.every((l) => l.peer === null)).toBe(true);
    if (!namesClients) {
      // Before 6.15 no refusal names its client.
      expect(lines.every((l) => l.peers.length === 0 && l.refused === 0)).toBe(true);
      expect(ours(ended[1]!.lines)).toEqual([]);
      return;
    }
    const named = lines.flatMap((l) => l.peers as { addr: string; count: number }[]);
    expect(named.map((p) => p.addr)).toContain(ns.nsV4);
    expect(named.filter((p) => p.addr === ns.nsV4).reduce((n, p) => n + p.count, 0)).toBeGreaterThanOrEqual(3);
    for (const l of lines.filter((x) => x.local?.port === port)) expect(l.peers.every((p: any) => p.addr === ns.nsV4)).toBe(true);
    // --peer: the lines naming that client, and none for a client that never knocked.
    const filtered = ours(ended[1]!.lines);
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((l) => l.peers.some((p: any) => p.addr === ns.nsV4))).toBe(true);
    expect(ended[2]!.lines.filter((l) => l.event === 'listen_overflow')).toEqual([]);
  });

  it("watch --summary ends with a final summary, and its findings are the filtered port's only", async () => {
    const { pid, port } = await fullListener();
    const other = startActor(['queue-listener', '--host', netns().hostV4, '--backlog', '16']);
    const otherPort = ((await other.ready) as { port: number }).port;
    // A period longer than the run: the only summary is the one at exit.
    const args = (p: number) => ['--events', 'listen_overflow', '--port', String(p), '--summary', String(scaled(60)), '--duration', String(scaled(5))];
    const ours = await startWatch(args(port));
    const theirs = await startWatch(args(otherPort));
    await new Promise((r) => setTimeout(r, 1200)); // a first sample: the baseline
    await knockAgain(port);
    const [a, b] = (await Promise.all([ours.exited, theirs.exited])) as { code: number | null; lines: Record<string, any>[] }[];
    for (const w of [a!, b!]) expect(w.code).toBe(0);
    const summaries = a!.lines.filter((l) => l.event === 'summary');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ final: true, scope: { ports: [port], totals: 'host' } });
    expect(summaries[0]!.services.rows.map((s: any) => s.port)).toEqual([port]);
    const found = a!.lines.filter((l) => l.event === 'finding');
    expect(found.some((f) => f.kind === 'accept_queue_overflow' && f.subject.pid === pid)).toBe(true);
    // The other watch saw the same host: not one finding or row about the overflowing port.
    expect(b!.lines.filter((l) => l.event === 'summary')).toHaveLength(1);
    expect(b!.lines.filter((l) => l.event === 'finding' && (l.subject.port === port || l.subject.pid === pid))).toEqual([]);
    expect(b!.lines.find((l) => l.event === 'summary')!.services.rows.map((s: any) => s.port)).toEqual([otherPort]);
  });

  it('the daemon counts them for the listener, logs them and finds accept_queue_overflow naming the process', async () => {
    const { pid, port } = await fullListener();
    const { scrape, logFile } = await startDaemon();
    await until('the daemon serving', scaled(15_000), async () => (await scrape()).includes('socktrace_sockets'));
    await new Promise((r) => setTimeout(r, 1200)); // a first sample: the baseline
    await knockAgain(port);
    const series = new RegExp(`^socktrace_listen_overflows_total\\{pid="${pid}",comm="python3",port="${port}"\\} (\\d+)$`, 'm');
    let text = '';
    await until('the overflows counted', scaled(10_000), async () => Number(series.exec((text = await scrape()))?.[1] ?? 0) >= 40);
    expect(text).toMatch(new RegExp(`^socktrace_findings\\{kind="accept_queue_overflow",severity="critical",pid="${pid}",comm="python3"\\} 1$`, 'm'));
    await until('the finding logged', scaled(5000), () =>
      logLines(logFile).some((l) => l.kind === 'accept_queue_overflow' && (l.subject as { pid?: number })?.pid === pid),
    );
    const finding = logLines(logFile).find((l) => l.kind === 'accept_queue_overflow' && (l.subject as { pid?: number })?.pid === pid)!;
    expect(finding.evidence).toMatchObject({ queue: 5, limit: 4, port });
    expect(NAMING).toContain((finding.evidence as { attribution: string }).attribution);
    expect(Number((finding.evidence as { overflows: number }).overflows)).toBeGreaterThanOrEqual(40);
    expect(String(finding.explanation)).toMatch(new RegExp(`python3 \\(pid ${pid}\\)`));
    const records = logLines(logFile).filter((l) => l.event === 'listen_overflow' && (l.local as { port?: number } | null)?.port === port);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((l) => (l.proc as { pid: number }).pid === pid)).toBe(true);
  });
  it('gives overflows to the listener that overflowed in a burst and drained, never to an idle one full at the sample', async () => {
    const ns = netns();
    // Both listeners and every client in the test's namespace: its counters are this test's alone.
    const idle = startActor(['queue-listener', '--host', ns.nsV4, '--backlog', '4'], { prefix: ns.execPrefix });
    const idlePort = ((await idle.ready) as { port: number }).port;
    // Five connections one after another: the queue is full (5/4) and not one handshake was dropped.
    const filler = startActor(['many-clients', '--host', ns.nsV4, '--port', String(idlePort), '--count', '5'], { prefix: ns.execPrefix });
    await filler.ready;
    const burst = startActor(['queue-listener', '--host', ns.nsV4, '--backlog', '4', '--then-accept'], { prefix: ns.execPrefix });
    const burstPort = ((await burst.ready) as { port: number }).port;
    await startActor(['many-clients', '--host', ns.nsV4, '--port', String(burstPort), '--count', '5'], { prefix: ns.execPrefix }).ready;
    expect(await ssListenIn(ns.execPrefix, idlePort)).toEqual({ queue: 5, limit: 4, drops: 0 });
    const inode = Number(/^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${idle.pid}/ns/net`))![1]);

    const watch = await startWatch(['--events', 'listen_overflow', '--duration', String(scaled(10))]);
    await new Promise((r) => setTimeout(r, 1200)); // a first sample: the baseline
    // The burst: 40 SYNs at once at the full queue, every one dropped (the clients give up 50 ms after
    // the last is sent); then the listener accepts everything, well before the next sample most times.
    const clients = startActor(['knocking-clients', '--host', ns.nsV4, '--port', String(burstPort), '--count', '40', '--connect-timeout', '0.05'], {
      prefix: ns.execPrefix,
    });
    const knocked = (await clients.ready) as { connected: number; timedOut: number };
    expect(knocked).toMatchObject({ connected: 0, timedOut: 40 });
    process.kill(burst.pid, 'SIGUSR1');
    await burst.next((l) => 'drained' in l);
    const { code, lines: printed } = (await watch.exited) as { code: number | null; lines: Record<string, any>[] };
    expect(code).toBe(0);

    // The premise: the idle listener stayed full and dropped nothing; the other one dropped and drained.
    expect(await ssListenIn(ns.execPrefix, idlePort)).toEqual({ queue: 5, limit: 4, drops: 0 });
    expect(await ssListenIn(ns.execPrefix, burstPort)).toEqual({ queue: 0, limit: 4, drops: 40 });

    const lines = printed.filter((l) => l.event === 'listen_overflow' && l.netns === inode);
    // Never the idle listener, not even as a candidate (the rule "the only full listener" named it).
    expect(lines.filter((l) => l.proc?.pid === idle.pid || l.local?.port === idlePort)).toEqual([]);
    expect(lines.filter((l) => l.candidates.some((c: any) => c.local.port === idlePort))).toEqual([]);
    const named = lines.filter((l) => l.proc !== null);
    expect(named.length).toBeGreaterThan(0);
    for (const l of named) {
      expect(l).toMatchObject({ proc: { pid: burst.pid, comm: 'python3' }, local: { addr: ns.nsV4, port: burstPort }, peer: null });
      expect(NAMING).toContain(l.attribution);
    }
    // Every SYN dropped once, and counted once: named, but for any counted while socktrace read the
    // listeners (then unnamed, the burst's listener the only candidate).
    expect(lines.reduce((n, l) => n + l.count, 0)).toBe(40);
    expect(named.reduce((n, l) => n + l.count, 0)).toBeGreaterThanOrEqual(20);
    for (const l of lines.filter((x) => x.proc === null)) expect(l.candidates.map((c: any) => c.local.port)).toEqual([burstPort]);
  });
});
