/**
 * CLOSE_WAIT deferral on the running kernel: with closeWaitDelayMs the kernel keeps each CLOSE_WAIT
 * entry in the socket's owner slot and its sweep reports only the sockets still there after the
 * delay, stamped with when they entered and who owns them; their exits cross too, short CLOSE_WAITs
 * never do (they stay counted in the kernel's transitions).
 */
import { statSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { startActor, stopAllActors } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { describe as describeEvents, startTrace, stopAllTraces } from '../support/trace-session.js';

const CLOSE_WAIT = 8;
/** As the daemon filters: changes into or out of CLOSE_WAIT and LISTEN cross (a change wanted for its
 * other state, ESTABLISHED say, crosses live, so deferral needs such a filter). */
const emitStates = (1 << CLOSE_WAIT) | (1 << 10);

describeKernel('CLOSE_WAIT deferral', () => {
  const netns = useNetnsPeer();
  afterEach(async () => {
    await stopAllActors();
    await stopAllTraces();
  });

  it('reports a CLOSE_WAIT that outlasts the delay, with its entry time and owner, and then its exit', async () => {
    const delayMs = 400;
    const trace = startTrace({ closeWaitDelayMs: delayMs, emitStates });
    expect(trace.info.closeWaitDelayMs).toBe(delayMs);
    expect(trace.info.notes).toEqual([]);

    const srv = startActor(['server-leak', '--host', '127.0.0.1', '--port', '0', '--count', '1', '--hold', '2']);
    const { port } = (await srv.ready) as { port: number };
    const beforeClose = process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns()
    await startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0']).done;
    await srv.next((l) => 'accepted' in l);
    const afterClose = process.hrtime.bigint();

    const entry = await trace.waitFor(
      (x) => x.kind === 'state_change' && x.state === 'CLOSE_WAIT' && x.local.port === port,
      5000,
      'the deferred CLOSE_WAIT',
    );
    const reportedAt = process.hrtime.bigint();
    expect(entry.deferred).toBe(true);
    expect(entry.oldState).toBe('ESTABLISHED');
    expect(entry.owner?.pid).toBe(srv.pid);
    expect(entry.owner?.comm).toMatch(/^python/);
    expect(entry.peer.addr).toBe('127.0.0.1');
    // Stamped with when it entered, not when it was reported, and reported no earlier than the delay.
    expect(entry.tsNs).toBeGreaterThanOrEqual(beforeClose);
    expect(entry.tsNs).toBeLessThanOrEqual(afterClose);
    expect(Number(reportedAt - entry.tsNs) / 1e6).toBeGreaterThanOrEqual(delayMs);
    expect(entry.task).toEqual({ pid: 0, comm: '' });

    // The server exits after its hold: the reported socket's exit crosses as it happens.
    await srv.done;
    const exit = await trace.waitFor(
      (x) => x.kind === 'state_change' && x.oldState === 'CLOSE_WAIT' && x.sock === entry.sock,
      5000,
      'the CLOSE_WAIT exit',
    );
    expect(exit.state).toBe('LAST_ACK');
    expect(exit.deferred).toBe(false);
    expect(exit.owner?.pid).toBe(srv.pid);
    expect(trace.sweepStats().failures).toBe(0);
    expect(trace.sweepStats().runs).toBeGreaterThan(0);
    // Between whole-table sweeps (the one that tests at start that sweeps can run, then every tenth),
    // the sweeps went over the chunks that held entries, this one's among them: more than the whole-table
    // sweeps alone, less than one table more.
    const { runs, entries, entriesVisited } = trace.sweepStats();
    const whole = 1 + Math.ceil(runs / 10);
    expect(entriesVisited!).toBeGreaterThan(whole * entries!);
    expect(entriesVisited!).toBeLessThan((whole + 1) * entries!);
  });

  it('reports a lingering CLOSE_WAIT inside another network namespace, owner and namespace included', async () => {
    const trace = startTrace({ closeWaitDelayMs: 300, emitStates });
    const { nsV6, hostV6, execPrefix } = netns();
    const srv = startActor(['server-leak', '--host', nsV6, '--port', '0', '--count', '1', '--hold', '3'], { prefix: execPrefix });
    const { port } = (await srv.ready) as { port: number };
    await startActor(['client-impatient', '--host', nsV6, '--port', String(port), '--wait', '0']).done;
    await srv.next((l) => 'accepted' in l);

    const entry = await trace.waitFor(
      (x) => x.kind === 'state_change' && x.state === 'CLOSE_WAIT' && x.local.port === port,
      5000,
      'the deferred CLOSE_WAIT in the namespace',
    );
    expect(entry.deferred).toBe(true);
    expect(entry.owner?.pid).toBe(srv.pid);
    expect(entry.local.addr).toBe(nsV6);
    expect(entry.peer.addr).toBe(hostV6);
    expect(entry.netns).toBe(statSync(`/run/netns/${netns().name}`).ino);
  });

  it('keeps CLOSE_WAITs shorter than the delay in the kernel, where they are still counted', async () => {
    const trace = startTrace({ closeWaitDelayMs: 1000, emitStates });
    const before = trace.transitions()[CLOSE_WAIT]!;
    // Reads each connection to EOF and exits at once: CLOSE_WAIT for the few ms the process takes to end.
    const srv = startActor(['server-leak', '--host', '127.0.0.1', '--port', '0', '--count', '3', '--hold', '0']);
    const { port } = (await srv.ready) as { port: number };
    await startActor(['client-connect-close', '--host', '127.0.0.1', '--port', String(port), '--count', '3']).done;
    await srv.exited;
    // Two sweeps later nothing of those CLOSE_WAITs has crossed, and all three were counted.
    await new Promise((r) => setTimeout(r, 2500));
    expect(trace.sweepStats().runs).toBeGreaterThanOrEqual(2);
    const crossed = trace.events.filter(
      (e) => e.kind === 'state_change' && (e.state === 'CLOSE_WAIT' || e.oldState === 'CLOSE_WAIT') && e.local.port === port,
    );
    expect(crossed, describeEvents(crossed)).toEqual([]);
    expect(trace.transitions()[CLOSE_WAIT]! - before).toBeGreaterThanOrEqual(3);
  });

  it('reports CLOSE_WAIT live when the sweep cannot run (classic tracepoints: no cookies from the start)', async () => {
    const trace = startTrace({ hooks: 'classic', closeWaitDelayMs: 400, emitStates });
    expect(trace.info.closeWaitDelayMs).toBe(0);
    const srv = startActor(['server-leak', '--host', '127.0.0.1', '--port', '0', '--count', '1', '--hold', '5']);
    const { port } = (await srv.ready) as { port: number };
    await startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0']).done;
    const entry = await trace.waitFor(
      (x) => x.kind === 'state_change' && x.state === 'CLOSE_WAIT' && x.local.port === port,
      5000,
      'the live CLOSE_WAIT',
    );
    expect(entry.deferred).toBe(false);
    expect(entry.owner?.pid).toBe(srv.pid);
  });
});
