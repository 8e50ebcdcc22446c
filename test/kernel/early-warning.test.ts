/**
 * The first ten seconds of a leak: a server (started before socktrace) that never closes the connections
 * its clients (in a namespace of the test's own) closed. top in a real terminal and snapshot must warn
 * "CLOSE_WAIT rising" within seconds, a minute before the leak finding; healthy churn (a server that
 * closes every connection 50 ms after its client did) must never draw the warning.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { OWNER_CHANGES_PATH, startActor, stopAllActors } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { scaled } from '../support/time-scale.js';

const env = { ...process.env, TERM: process.env.TERM || 'xterm-256color' };
const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const session = `st-warn-${process.pid}-${randomBytes(2).toString('hex')}`;
const screen = async () => (await run('tmux', ['capture-pane', '-p', '-t', session], { env })).stdout;
const snapshotText = async () => (await run(process.execPath, [bin, 'snapshot'], { maxBuffer: 64 << 20 })).stdout;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeKernel('early warning of a CLOSE_WAIT leak', () => {
  const netns = useNetnsPeer();
  afterEach(async () => {
    spawnSync('tmux', ['kill-session', '-t', session], { env });
    await stopAllActors();
  });

  it('top and snapshot say "CLOSE_WAIT rising" within seconds of a leak starting', async () => {
    // --timeout: the twelve connect 2 s after top is launched; the actor's default wait for them (10 s
    // from ready, unscaled) ran out under emulation before they came, and the server left.
    const srv = startActor(['server-leak', '--host', netns().hostV4, '--port', '0', '--count', '12', '--hold', String(scaled(60)), '--timeout', String(scaled(30))], {
      timeoutMs: scaled(90_000),
    });
    const { port } = (await srv.ready) as { port: number };
    await run('tmux', ['new-session', '-d', '-s', session, '-x', '140', '-y', '40', `${process.execPath} ${bin} top --interval 0.5`], { env });
    await sleep(scaled(2000));
    const startedAt = Date.now();
    for (let i = 0; i < 12; i++) {
      startActor(['client-impatient', '--host', netns().hostV4, '--port', String(port), '--wait', '0'], { prefix: netns().execPrefix });
    }
    // All twelve: a slow host may show the warning first with ten or eleven, as clients still connect.
    const warning = new RegExp(`CLOSE_WAIT rising: python3? \\(pid ${srv.pid}\\), 12 in`);
    let last = '';
    while (!warning.test(last) && Date.now() - startedAt < scaled(20_000)) {
      await sleep(250);
      last = await screen().catch(() => last);
    }
    expect(last).toMatch(warning);
    expect(last).toMatch(new RegExp(`all from ${netns().nsV4.replaceAll('.', '\\.')}`));
    expect(Date.now() - startedAt).toBeLessThan(scaled(20_000)); // well before the minute close_wait_leak needs
    expect(last).not.toMatch(/CLOSE_WAIT leak:/);
    // snapshot, with no event history, from the sockets' CLOSE_WAIT ages alone.
    expect(await snapshotText()).toMatch(new RegExp(`CLOSE_WAIT rising: python3? \\(pid ${srv.pid}\\), 12 in`));
  });

  it('never warns of healthy churn: every CLOSE_WAIT closed within 50 ms', async () => {
    const churn = startActor(['churn', '--count', '2000', '--parallel', '8', '--wait', '0.01', '--delay', '0.05', '--leak-every', '1000000'], {
      script: OWNER_CHANGES_PATH,
      timeoutMs: scaled(120_000),
    });
    await run('tmux', ['new-session', '-d', '-s', session, '-x', '140', '-y', '40', `${process.execPath} ${bin} top --interval 0.5`], { env });
    const seen: string[] = [];
    let closeWaits = 0; // the premise: the churn does pass through CLOSE_WAIT, briefly
    const until = Date.now() + scaled(10_000);
    while (Date.now() < until) {
      await sleep(500);
      seen.push(await screen().catch(() => ''));
      const { stdout } = await run('ss', ['-Htan', 'state', 'close-wait']);
      closeWaits = Math.max(closeWaits, stdout.split('\n').filter(Boolean).length);
    }
    expect(closeWaits).toBeGreaterThan(0);
    const snap = await snapshotText();
    await churn.ready.catch(() => undefined);
    expect(seen.filter((s) => /CLOSE_WAIT rising|CLOSE_WAIT leak/.test(s))).toEqual([]);
    expect(seen.some((s) => /socktrace top/.test(s))).toBe(true);
    expect(snap).not.toMatch(/CLOSE_WAIT rising|CLOSE_WAIT leak/);
  });
});
