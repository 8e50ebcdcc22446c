/** accept_failing on recorded events: a service out of fds whose accept() fails, tied to what it holds. */
import { describe, expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import type { InventorySocket } from '../../src/core/inventory-model.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { decodeBatch } from '../../src/events/decode-batch.js';
import { buildBatch, type RecordSpec } from '../support/record-builder.js';
import { inventorySocket } from '../support/inventory-socket.js';

const T0 = 1_800_000_000_000;
const LISTEN = 10;
const EMFILE = 24;

/** Sockets here are CLOSE_WAIT unless told otherwise. */
const sock = (over: Partial<InventorySocket> & { sock: string }) => inventorySocket({ state: 'CLOSE_WAIT', ...over });

/** `n` failed accepts of pid 100 on its listener, 10 ms apart from `startS` seconds. */
function failedAccepts(n: number, startS: number, err = EMFILE): RecordSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'accept_error' as const,
    tsNs: BigInt(Math.round((startS + i * 0.01) * 1e9)),
    sockId: 0x1n,
    ownerPid: 100,
    ownerComm: 'api',
    taskPid: 100,
    taskComm: 'api',
    state: LISTEN,
    err,
    local: ['198.18.0.1', 8080] as [string, number],
    peer: ['0.0.0.0', 0] as [string, number],
  }));
}

function coreWithLeakingService(): SocketCore {
  const core = new SocketCore(coreConfig(), (ns) => T0 + Number(ns / 1_000_000n));
  const closeWaits = Array.from({ length: 30 }, (_, i) => sock({ sock: `cw${i}`, peer: { addr: '198.18.0.2', port: 40000 + i } }));
  core.applyInventory({
    takenAtMs: T0,
    sockets: [sock({ sock: '1', state: 'LISTEN', peer: { addr: '0.0.0.0', port: 0 } }), ...closeWaits],
    processes: [{ pid: 100, comm: 'api', cmdline: 'api --serve', uid: 0, fds: 32, fdLimit: 32 }],
    problems: [],
  });
  return core;
}

describe('accept_failing', () => {
  it('decodes accept_error with its errno, the listener as local and the caller as owner', () => {
    const { events } = decodeBatch(buildBatch(failedAccepts(1, 1)), 1);
    expect(events[0]).toMatchObject({ kind: 'accept_error', errno: 'EMFILE', state: 'LISTEN', local: { addr: '198.18.0.1', port: 8080 }, owner: { pid: 100 } });
  });

  it('names the process, its listener and the errno, tied to the fds and the CLOSE_WAITs that hold them', () => {
    const core = coreWithLeakingService();
    core.applyEvents(decodeBatch(buildBatch(failedAccepts(200, 1)), 200).events);
    const summary = core.summarize(T0 + 5000);
    const f = summary.findings.find((x) => x.kind === 'accept_failing')!;
    expect(f).toMatchObject({ severity: 'critical', subject: { pid: 100, comm: 'api', local: '198.18.0.1:8080', port: 8080 } });
    expect(f.evidence).toMatchObject({ lastMinute: 200, total: 200, byErrno: { EMFILE: 200 }, listeners: { '198.18.0.1:8080': 200 }, fds: 32, fdLimit: 32, closeWait: 30 });
    expect(f.title).toBe('accept() failing: api (pid 100) could not take 200 connections in the last minute on 198.18.0.1:8080 (EMFILE)');
    expect(f.explanation).toMatch(/EMFILE \(too many open files: the process is at its own limit, ulimit -n\)/);
    expect(f.explanation).toMatch(/It holds 32 of 32 file descriptors, 30 of them sockets in CLOSE_WAIT/);
    const p = summary.processes.rows.find((r) => r.pid === 100)!;
    expect(p.activity.acceptErrors).toMatchObject({ total: 200, byErrno: { EMFILE: 200 }, firstAtMs: T0 + 1000 });
  });

  it('clears once accept has not failed for a minute, and honours its threshold', () => {
    const core = coreWithLeakingService();
    core.applyEvents(decodeBatch(buildBatch(failedAccepts(3, 1)), 3).events);
    expect(core.summarize(T0 + 5000).findings.map((f) => f.kind)).toContain('accept_failing');
    expect(core.summarize(T0 + 70_000).findings.map((f) => f.kind)).not.toContain('accept_failing');
    const strict = new SocketCore(coreConfig({ thresholds: { acceptErrorsMin: 10 } }), (ns) => T0 + Number(ns / 1_000_000n));
    strict.applyEvents(decodeBatch(buildBatch(failedAccepts(3, 1)), 3).events);
    expect(strict.summarize(T0 + 5000).findings.map((f) => f.kind)).not.toContain('accept_failing');
  });

  it('says what ENFILE means: the whole host, not the process', () => {
    const core = coreWithLeakingService();
    core.applyEvents(decodeBatch(buildBatch(failedAccepts(5, 1, 23)), 5).events);
    const f = core.summarize(T0 + 5000).findings.find((x) => x.kind === 'accept_failing')!;
    expect(f.explanation).toMatch(/ENFILE \(too many open files in the system: the host is at fs.file-max\)/);
    expect(f.explanation).not.toMatch(/It holds/);
  });
});

describe('one incident per service', () => {
  it('links the leak, the fd pressure and the failing accepts of one process, root cause first', () => {
    const core = new SocketCore(coreConfig(), (ns) => T0 + Number(ns / 1_000_000n));
    const closeWaits = Array.from({ length: 30 }, (_, i) =>
      sock({ sock: `cw${i}`, peer: { addr: '198.18.0.2', port: 40000 + i }, ageLowerBoundMs: 600_000 }),
    );
    core.applyInventory({
      takenAtMs: T0,
      sockets: [sock({ sock: '1', state: 'LISTEN', peer: { addr: '0.0.0.0', port: 0 } }), ...closeWaits],
      processes: [{ pid: 100, comm: 'api', cmdline: 'api --serve', uid: 0, fds: 32, fdLimit: 32 }],
      problems: [],
    });
    core.applyEvents(decodeBatch(buildBatch(failedAccepts(50, 1)), 50).events);
    const findings = core.summarize(T0 + 5000).findings.filter((f) => f.subject.pid === 100);
    expect(findings.map((f) => f.kind).sort()).toEqual(['accept_failing', 'close_wait_leak', 'fd_pressure']);
    const incident = findings[0]!.incident!;
    expect(findings.every((f) => f.incident === incident)).toBe(true);
    expect(incident).toMatchObject({ id: 'api/100', chain: ['close_wait_leak', 'fd_pressure', 'accept_failing'], severity: 'critical' });
    expect(incident.story).toBe(
      'One outage of api (pid 100), root cause first: it never closes the connections its clients closed (30 in CLOSE_WAIT); ' +
        'its file descriptors run out (32 of 32 in use); so accept() fails (50 times in the last minute: EMFILE).',
    );
  });

  it("joins clients' connect timeouts to the service whose accept fails on the address and port they connect to", () => {
    const core = coreWithLeakingService();
    core.applyEvents(decodeBatch(buildBatch(failedAccepts(5, 1)), 5).events);
    const timedOut = (sockId: bigint, addr: string, port: number): RecordSpec => ({
      kind: 'connection_error',
      tsNs: 2_000_000_000n,
      sockId,
      ownerPid: 300,
      ownerComm: 'client',
      taskPid: 0,
      taskComm: 'swapper/0',
      state: 2,
      err: 110,
      flags: 0x20,
      local: ['198.18.0.2', 50000],
      peer: [addr, port],
    });
    core.applyEvents(decodeBatch(buildBatch([timedOut(0x90n, '198.18.0.1', 8080), timedOut(0x91n, '198.18.0.9', 8080)]), 2).events);
    const findings = core.summarize(T0 + 5000).findings;
    const timeouts = findings.filter((f) => f.kind === 'connect_timeouts');
    expect(timeouts.map((f) => f.subject.peer).sort()).toEqual(['198.18.0.1', '198.18.0.9']);
    const linked = timeouts.find((f) => f.subject.peer === '198.18.0.1')!;
    expect(linked.evidence).toMatchObject({ byPort: { 8080: 1 } });
    expect(linked.incident?.id).toBe('api/100');
    expect(linked.incident?.chain.at(-1)).toBe('connect_timeouts');
    expect(linked.incident?.story).toMatch(/so connects to it time out \(client \(pid 300\) got no answer from 198\.18\.0\.1:8080 1 times/);
    // Another address on the same port is another host's service: not linked.
    expect(timeouts.find((f) => f.subject.peer === '198.18.0.9')!.incident).toBeUndefined();
  });

  it('links no connect timeouts to a service listening on the wildcard (the address may be another host)', () => {
    const core = new SocketCore(coreConfig(), (ns) => T0 + Number(ns / 1_000_000n));
    core.applyInventory({
      takenAtMs: T0,
      sockets: [sock({ sock: '1', state: 'LISTEN', local: { addr: '0.0.0.0', port: 8080 }, peer: { addr: '0.0.0.0', port: 0 } })],
      processes: [{ pid: 100, comm: 'api', cmdline: 'api --serve', uid: 0, fds: 32, fdLimit: 32 }],
      problems: [],
    });
    const wildcard = failedAccepts(5, 1).map((r) => ({ ...r, local: ['0.0.0.0', 8080] as [string, number] }));
    core.applyEvents(decodeBatch(buildBatch(wildcard), 5).events);
    core.applyEvents(
      decodeBatch(
        buildBatch([
          { kind: 'connection_error', tsNs: 2_000_000_000n, sockId: 0x90n, ownerPid: 300, ownerComm: 'client', state: 2, err: 110, flags: 0x20, local: ['198.18.0.2', 50000], peer: ['198.18.0.9', 8080] },
        ]),
        1,
      ).events,
    );
    const findings = core.summarize(T0 + 5000).findings;
    expect(findings.find((f) => f.kind === 'accept_failing')?.incident?.chain).toEqual(['fd_pressure', 'accept_failing']);
    expect(findings.find((f) => f.kind === 'connect_timeouts')!.incident).toBeUndefined();
  });

  it('leaves a lone finding without an incident', () => {
    const core = coreWithLeakingService();
    const f = core.summarize(T0 + 1000).findings;
    expect(f.map((x) => x.kind)).toEqual(['fd_pressure']);
    expect(f[0]!.incident).toBeUndefined();
  });
});
