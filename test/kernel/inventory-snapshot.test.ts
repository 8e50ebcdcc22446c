/**
 * Sockets that existed before socktrace started: the snapshot finds them with their owners (all of
 * them, when shared), and the kernel-side owner map is seeded so live events on them are attributed too.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import type { SnapshotDocument } from '../../src/output/snapshot-document.js';
import { endpointOf, startActor, stopAllActors } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { until } from '../support/until.js';
import { useNetnsPeer } from '../support/netns-fixture.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));

async function snapshot(...args: string[]): Promise<SnapshotDocument> {
  const { stdout } = await run(process.execPath, [bin, 'snapshot', '--json', ...args], { maxBuffer: 256 << 20 });
  return JSON.parse(stdout) as SnapshotDocument;
}

describeKernel('inventory of pre-existing sockets', () => {
  const netns = useNetnsPeer();
  afterEach(() => stopAllActors());

  it('finds CLOSE_WAIT sockets leaked before it started, with the owning pid and the peer', async () => {
    const srv = startActor(['server-leak', '--host', netns().hostV4, '--port', '0', '--count', '3', '--hold', '20']);
    const { port } = (await srv.ready) as { port: number };
    const clients = [0, 1, 2].map(() =>
      startActor(['client-impatient', '--host', netns().hostV4, '--port', String(port), '--wait', '0'], { prefix: netns().execPrefix }),
    );
    const clientEnds = await Promise.all(clients.map(async (c) => endpointOf((await c.ready).local)));
    await srv.next((l) => 'accepted' in l);
    await new Promise((r) => setTimeout(r, 1200));

    const doc = await snapshot('--threshold', 'closeWaitAgeSeconds=1', '--threshold', 'closeWaitMinSockets=3');
    const leaked = doc.sockets.filter((s) => s.state === 'CLOSE_WAIT' && s.local.port === port);
    expect(leaked).toHaveLength(3);
    for (const s of leaked) {
      expect(s.proc?.pid).toBe(srv.pid);
      expect(s.local.addr).toBe(netns().hostV4);
      expect(s.stateAgeIsLowerBound).toBe(true);
      expect(s.stateAgeSeconds).toBeGreaterThanOrEqual(1);
    }
    expect(leaked.map((s) => s.peer).sort((a, b) => a.port - b.port)).toEqual(clientEnds.sort((a, b) => a.port - b.port));

    const row = doc.rollups.processes.rows.find((p) => p.pid === srv.pid)!;
    expect(row.closeWait.count).toBe(3);
    expect(row.fds).toBeGreaterThanOrEqual(3);
    expect(row.fdLimit).toBeGreaterThan(0);
    const peerRow = doc.rollups.peers.rows.find((p) => p.peer === netns().nsV4)!;
    expect(peerRow.closeWait.count).toBe(3);
    const leak = doc.findings.find((f) => f.kind === 'close_wait_leak' && f.subject.pid === srv.pid);
    expect(leak?.evidence.closeWaitOverThreshold).toBe(3);
  });

  it('reads the same leak from /proc/<pid>/net where there is no addon (--backend bpftrace), in the namespace too', async () => {
    // The server inside the namespace: its table is read through one of its processes.
    const srv = startActor(['server-leak', '--host', netns().nsV6, '--port', '0', '--count', '2', '--hold', '20'], { prefix: netns().execPrefix });
    const { port } = (await srv.ready) as { port: number };
    for (let i = 0; i < 2; i++) await startActor(['client-impatient', '--host', netns().nsV6, '--port', String(port), '--wait', '0']).done;
    await srv.next((l) => 'accepted' in l);

    const doc = await snapshot('--backend', 'bpftrace');
    const leaked = doc.sockets.filter((s) => s.state === 'CLOSE_WAIT' && s.local.port === port);
    expect(leaked).toHaveLength(2);
    for (const s of leaked) {
      expect(s.proc?.pid).toBe(srv.pid);
      expect(s.local.addr).toBe(netns().nsV6);
      expect(s.peer.addr).toBe(netns().hostV6);
      expect(s.sock).toMatch(/^inode:\d+$/);
    }
    const viaAddon = await snapshot('--backend', 'native');
    const same = viaAddon.sockets.filter((s) => s.state === 'CLOSE_WAIT' && s.local.port === port);
    expect(same.map((s) => `${s.peer.addr}:${s.peer.port}`).sort()).toEqual(leaked.map((s) => `${s.peer.addr}:${s.peer.port}`).sort());
  });

  it('ends quietly when its reader is gone (snapshot | head)', async () => {
    const child = spawn(process.execPath, [bin, 'snapshot', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader leaves before the first write: that write fails with EPIPE
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((r) => child.on('close', r));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('names both processes of a socket shared after fork', async () => {
    const srv = startActor(['server-leak', '--host', netns().hostV6, '--port', '0', '--count', '1', '--hold', '20', '--fork']);
    const { port } = (await srv.ready) as { port: number };
    startActor(['client-impatient', '--host', netns().hostV6, '--port', String(port), '--wait', '0'], { prefix: netns().execPrefix });
    const { forked } = (await srv.next((l) => 'forked' in l)) as { forked: number };
    await srv.next((l) => 'accepted' in l);

    const doc = await snapshot();
    const shared = doc.sockets.find((s) => s.state === 'CLOSE_WAIT' && s.local.port === port)!;
    expect(shared.procs.map((p) => p.pid).sort()).toEqual([srv.pid, forked].sort());
    expect(shared.peer.addr).toBe(netns().nsV6);
    expect(doc.rollups.processes.rows.filter((p) => p.closeWait.count === 1).map((p) => p.pid)).toEqual(
      expect.arrayContaining([srv.pid, forked]),
    );
  });

  it("seeds the kernel's owner map: a FIN on a connection opened earlier names its owner", async () => {
    const srv = startActor(['server-leak', '--host', netns().hostV4, '--port', '0', '--count', '1', '--hold', '10']);
    const { port } = (await srv.ready) as { port: number };
    // The client closes when told, after the session started (which takes seconds on an emulated CPU).
    const cli = startActor(['client-impatient', '--host', netns().hostV4, '--port', String(port), '--until-signal', '--timeout', '60'], {
      prefix: netns().execPrefix,
    });
    await cli.ready;
    await srv.next((l) => 'connected' in l);

    // Start only now; the inventory's owners go into the kernel map before the client closes.
    const { startLiveSession } = await import('../../src/live/live-session.js');
    const { coreConfig } = await import('../../src/core/core-config.js');
    const events: import('../../src/events/sock-event.js').SockEvent[] = [];
    const session = await startLiveSession({ core: coreConfig(), trackState: true }, { onEvents: (e) => events.push(...e) });
    try {
      expect(session.seeded).toBeGreaterThan(0);
      process.kill(cli.pid, 'SIGUSR1');
      await cli.done;
      await srv.next((l) => 'accepted' in l);
      const closeWait = await until('the CLOSE_WAIT', 10_000, () =>
        events.find((e) => e.kind === 'state_change' && e.state === 'CLOSE_WAIT' && e.local.port === port),
      );
      expect(closeWait?.owner).toMatchObject({ pid: srv.pid, source: 'seeded' });
      // The core joined the event to the inventoried socket: exact CLOSE_WAIT time, same owner.
      const view = session.core.socketViews(Date.now()).find((v) => v.local.port === port && v.state === 'CLOSE_WAIT');
      expect(view?.proc?.pid).toBe(srv.pid);
      expect(view?.stateAgeIsLowerBound).toBe(false);
    } finally {
      await session.stop();
    }
  });

  it('updates the rollups from live events after start', async () => {
    const { startLiveSession } = await import('../../src/live/live-session.js');
    const { coreConfig } = await import('../../src/core/core-config.js');
    const session = await startLiveSession({ core: coreConfig(), trackState: true }, {});
    try {
      const srv = startActor(['server-late-write', '--host', '127.0.0.1', '--port', '0', '--delay', '0.5']);
      const { port } = (await srv.ready) as { port: number };
      startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0.1']);
      await srv.done;
      const deadline = Date.now() + 3000;
      let row;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        row = session.core.summarize(Date.now()).processes.rows.find((p) => p.pid === srv.pid);
        if (row?.activity.errors.byErrno.EPIPE) break;
      }
      expect(row?.activity.errors.byErrno.EPIPE).toBe(1);
      expect(row?.activity.rstReceived.total).toBe(1);
      expect(row?.activity.writesAfterPeerClose).toBe(1);
      const finding = session.core.summarize(Date.now()).findings.find((f) => f.kind === 'write_after_peer_close');
      expect(finding?.subject.pid).toBe(srv.pid);
    } finally {
      await session.stop();
    }
  });
});
