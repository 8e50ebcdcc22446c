/**
 * The real `socktrace top` in a real terminal (tmux), while a real server leaks CLOSE_WAIT sockets:
 * the server's row must appear with its count, keys sent together must each count, and q must quit.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { startActor, stopAllActors } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { scaled } from '../support/time-scale.js';

const execFileAsync = promisify(execFile);
// CI has no terminal of its own; tmux only needs to know what to emulate.
const env = { ...process.env, TERM: process.env.TERM || 'xterm-256color' };
const run = (cmd: string, args: string[]) => execFileAsync(cmd, args, { env });
const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const session = `st-top-${process.pid}-${randomBytes(2).toString('hex')}`;

async function screen(): Promise<string> {
  const { stdout } = await run('tmux', ['capture-pane', '-p', '-t', session]);
  return stdout;
}

async function waitForScreen(pattern: RegExp, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = await screen().catch(() => last);
    if (pattern.test(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`screen never matched ${pattern}; last screen:\n${last}`);
}

function sessionAlive(): boolean {
  return spawnSync('tmux', ['has-session', '-t', session], { env }).status === 0;
}

describeKernel('socktrace top under tmux', () => {
  afterEach(async () => {
    spawnSync('tmux', ['kill-session', '-t', session], { env });
    await stopAllActors();
  });

  it("shows a leaking server's row with its CLOSE_WAIT count, and quits on q", async () => {
    // Held until top has long started: under emulation (6.1 in qemu) its first screen came ~40 s after launch.
    const srv = startActor(['server-leak', '--host', '127.0.0.1', '--port', '0', '--count', '4', '--hold', String(scaled(30))], {
      timeoutMs: scaled(60_000),
    });
    const { port } = (await srv.ready) as { port: number };
    for (let i = 0; i < 4; i++) startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0']);
    await srv.next((l) => 'accepted' in l);

    await run('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '30', `${process.execPath} ${bin} top --interval 0.5`]);
    const row = new RegExp(`^\\s*${srv.pid}\\s+python3?\\s+4\\s+`, 'm');
    const shown = await waitForScreen(row, scaled(15_000));
    expect(shown).toMatch(/socktrace top/);
    expect(shown).toMatch(/\[Processes\]/);
    expect(shown).toMatch(new RegExp(`python3? \\(pid ${srv.pid}\\)`)); // the detail pane follows the selection

    // Keys sent together (as a held key repeats) each count: three ← move the sort three columns,
    // from CLOSE_WAIT past COMM and PID round to TIME_WAIT.
    await run('tmux', ['send-keys', '-t', session, 'Left', 'Left', 'Left']);
    await waitForScreen(/sort: TIME_WAIT/, scaled(5000));

    await run('tmux', ['send-keys', '-t', session, 'Tab']);
    await waitForScreen(/\[Peers\]/, scaled(5000));
    await run('tmux', ['send-keys', '-t', session, 'q']);
    const deadline = Date.now() + scaled(5000);
    while (sessionAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(sessionAlive()).toBe(false);
  });

  it('refuses to run without a terminal, saying what to use instead', () => {
    const result = spawnSync(process.execPath, [bin, 'top'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/top needs a terminal/);
  });
});
