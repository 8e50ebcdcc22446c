/**
 * The core on a stream recorded from the kernel (test/fixtures/sick-service.json): a CLOSE_WAIT leak, a
 * slow server writing after its client left, an abortive close, connects to a closed port, and churn.
 */
import { describe, expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { eventMs, loadRecordedStream } from '../support/fixture-stream.js';

interface Meta {
  leak: { pid: number; port: number; sockets: number };
  slow: { pid: number; port: number; clientPid: number };
  abort: { pid: number; port: number; clientPid: number };
  refuser: { pid: number; port: number; connects: number };
  churn: { pid: number; serverPid: number; port: number; connections: number };
}

const stream = loadRecordedStream<Meta>('sick-service');
const { leak, slow, abort, refuser, churn } = stream.meta;
const events = stream.events;
const lastMs = eventMs(events.at(-1)!);

function coreWith(thresholds = {}) {
  return new SocketCore(coreConfig({ thresholds }));
}

describe('the core on a recorded sick service', () => {
  it('decodes the whole recording', () => {
    expect(stream.rejected).toBe(0);
    expect(events.length).toBe(stream.meta.records);
  });

  it("sees the leaking server's CLOSE_WAIT sockets and calls it a leak", () => {
    // Stop just before the leaking server exits (its sockets then go CLOSE_WAIT -> LAST_ACK).
    const exit = events.findIndex((e) => e.kind === 'state_change' && e.state === 'LAST_ACK' && e.local.port === leak.port);
    expect(exit).toBeGreaterThan(0);
    const core = coreWith({ closeWaitAgeSeconds: 1, closeWaitMinSockets: 5 });
    core.applyEvents(events.slice(0, exit));
    const at = eventMs(events[exit]!);
    const summary = core.summarize(at);

    const proc = summary.processes.rows.find((p) => p.pid === leak.pid)!;
    expect(proc.closeWait.count).toBe(leak.sockets);
    expect(proc.closeWait.oldestSeconds).toBeGreaterThan(1.5);
    expect(proc.closeWait.oldestIsLowerBound).toBe(false); // seen live: exact
    expect(proc.comm).toMatch(/^python/);
    const service = summary.services.rows.find((s) => s.port === leak.port);
    expect(service?.closeWait.count ?? 0).toBe(0); // the leaking server had closed its listener

    const finding = summary.findings.find((f) => f.kind === 'close_wait_leak')!;
    expect(finding.subject.pid).toBe(leak.pid);
    expect(finding.evidence.closeWaitOverThreshold).toBe(leak.sockets);
    expect(finding.explanation).toMatch(/never called close\(\)/);
  });

  it('explains the broken pipe with the connection timeline', () => {
    const core = coreWith();
    core.applyEvents(events);
    const summary = core.summarize(lastMs);
    const finding = summary.findings.find((f) => f.kind === 'write_after_peer_close' && f.subject.pid === slow.pid)!;
    expect(finding).toBeDefined();
    expect(finding.evidence.lastMinute).toBe(1);
    const delay = finding.evidence.medianDelaySeconds as number;
    expect(delay).toBeGreaterThan(0.2); // the server slept 0.4 s after the client's 0.1 s
    expect(delay).toBeLessThan(1.5);

    const epipe = events.find((e) => e.kind === 'send_error' && e.local.port === slow.port)!;
    const story = core.story(epipe.sock)!;
    expect(story.owners.map((o) => o.pid)).toContain(slow.pid);
    const steps = story.timeline.map((t) => t.step);
    expect(steps).toEqual(expect.arrayContaining(['peer_closed', 'rst_received', 'send_error']));
    expect(steps.indexOf('peer_closed')).toBeLessThan(steps.indexOf('send_error'));
    const failure = story.timeline.find((t) => t.step === 'send_error')!;
    expect(failure.detail).toBe('EPIPE');
    expect(failure.afterPeerCloseMs).toBeGreaterThan(200);
  });

  it('folds a storm of identical errors into one timeline entry, keeping what came before it', () => {
    const epipe = events.find((e) => e.kind === 'send_error' && e.local.port === slow.port)!;
    const storm = Array.from({ length: 1000 }, (_, i) => ({ ...epipe, tsNs: epipe.tsNs + BigInt(i + 1) * 1000n }));
    const core = coreWith();
    core.applyEvents(events.flatMap((e) => (e === epipe ? [e, ...storm] : [e])));
    const story = core.story(epipe.sock)!;
    const steps = story.timeline.map((t) => t.step);
    expect(steps).toContain('peer_closed');
    const failures = story.timeline.filter((t) => t.step === 'send_error');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.repeats).toBe(1000);
    expect(failures[0]!.lastAtMs! - failures[0]!.atMs).toBe(1); // 1000 µs later
    const slowServer = core.summarize(lastMs).processes.rows.find((p) => p.pid === slow.pid)!;
    expect(slowServer.activity.errors.byErrno.EPIPE).toBe(1001);
  });

  it('counts RSTs by reason and errors by errno per process and per service', () => {
    const core = coreWith();
    core.applyEvents(events);
    const summary = core.summarize(lastMs);
    const aborter = summary.processes.rows.find((p) => p.pid === abort.pid)!;
    expect(Object.values(aborter.activity.rstSent.byReason).reduce((a, b) => a + b, 0)).toBe(1);
    const client = summary.processes.rows.find((p) => p.pid === abort.clientPid)!;
    expect(client.activity.rstReceived.total).toBe(1);
    expect(client.activity.errors.byErrno).toEqual({ ECONNRESET: 1 });
    const slowServer = summary.processes.rows.find((p) => p.pid === slow.pid)!;
    expect(slowServer.activity.errors.byErrno.EPIPE).toBe(1);
    expect(slowServer.activity.writesAfterPeerClose).toBe(1);
  });

  it('sees the RSTs answering connects to a closed port, and a storm when they come fast', () => {
    const core = coreWith({ rstStormPerSecond: 2 });
    core.applyEvents(events);
    const lastRefusal = events.filter((e) => e.kind === 'rst_sent' && e.local.port === refuser.port).at(-1)!;
    const summary = core.summarize(eventMs(lastRefusal));
    const peer = summary.peers.rows.find((p) => p.peer === '127.0.0.1')!;
    expect(peer.activity.rstSent.byReason.NO_SOCKET).toBe(refuser.connects);
    const storm = summary.findings.find((f) => f.kind === 'rst_storm')!;
    expect(storm.subject.peer).toBe('127.0.0.1');
    expect(storm.explanation).toMatch(/no socket exists/);
    // At the default threshold (10/s over 10 s) 30 refusals are not a storm.
    expect(coreWith().summarize(eventMs(lastRefusal)).findings.some((f) => f.kind === 'rst_storm')).toBe(false);
  });

  it('sees churn: many short connections from one process to one peer, leaving TIME_WAIT behind', () => {
    const core = coreWith({ churnPerSecond: 3 });
    core.applyEvents(events);
    const summary = core.summarize(lastMs);
    const pair = summary.processPeers.rows.find((p) => p.pid === churn.pid && p.peer === '127.0.0.1')!;
    expect(pair.activity.opened.total).toBe(churn.connections);
    expect(pair.sockets.TIME_WAIT).toBe(churn.connections);
    const finding = summary.findings.find((f) => f.kind === 'connection_churn')!;
    expect(finding.subject.pid).toBe(churn.pid);
    // TIME_WAIT sockets go away after 60 s.
    expect(core.summarize(lastMs + 61_000).processPeers.rows.find((p) => p.pid === churn.pid)?.sockets.TIME_WAIT ?? 0).toBe(0);
  });

  it('keeps memory bounded: a small socket table evicts, and says how many', () => {
    const core = new SocketCore(coreConfig({ maxSockets: 50 }));
    core.applyEvents(events);
    const totals = core.summarize(lastMs).totals;
    expect(totals.sockets).toBeLessThanOrEqual(50);
    expect(totals.socketEvictions).toBeGreaterThan(0);
    expect(totals.eventsApplied).toBe(events.length);
  });
});
