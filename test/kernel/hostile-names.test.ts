/**
 * A process that names itself with terminal escapes, a newline and a bidirectional override, and puts
 * the same in its command line, traced on the running kernel: watch's JSON lines, the daemon's log and
 * metrics, and snapshot (table and JSON) must carry no raw control character, keep every line one
 * valid JSON object, and still report the name faithfully, escaped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, expect, it } from 'vitest';
import { describeKernel } from '../support/kernel-gate.js';
import { scaled } from '../support/time-scale.js';

const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));

// ESC ] 0 ; pwn BEL (a terminal title), a newline, U+202E (right-to-left override), Z, and a byte that
// is not UTF-8 (0xff): 14 bytes.
const HOSTILE_COMM_ESCAPED = '\\x1b]0;pwn\\x07\\x0a\\u{202e}Z\\xff';
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const METRICS = '127.0.0.1:19641';

/**
 * Names itself, holds a CLOSE_WAIT socket, and on SIGUSR1 writes into it three times, a second apart
 * (scaled): the first draws the peer's RST, the others fail with EPIPE. An unfiltered watch makes the
 * last line in the addon once JavaScript, reading the one before, told it the caller's placement (an
 * owner seeded from /proc carries no cgroup id, so the RST's line does not place the caller's). Says
 * "sent" after all three.
 */
const ACTOR = `
import ctypes, os, signal, socket, sys, time, threading
S = float(os.environ.get('SOCKTRACE_TEST_TIME_SCALE') or 1)  # waits stretch with the tests' bounds
ctypes.CDLL(None).prctl(15, b'\\x1b]0;pwn\\x07\\n\\xe2\\x80\\xaeZ\\xff', 0, 0, 0)
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
c.close()
c2 = socket.create_connection(l.getsockname()); s2, _ = l.accept()
c2.close()  # s2 stays in CLOSE_WAIT: the process keeps a row in snapshot's rollups
go = threading.Event()
signal.signal(signal.SIGUSR1, lambda *_: go.set())
print(l.getsockname()[1], flush=True)
go.wait(20 * S)
for _ in range(3):
    try:
        s.send(b'x', socket.MSG_NOSIGNAL)
    except OSError:
        pass
    time.sleep(1 * S)
print('sent', flush=True)
time.sleep(20 * S)
`;

const children: ChildProcess[] = [];

async function startHostile(): Promise<{ pid: number; port: number; sent: Promise<void> }> {
  // argv carries escapes too: /proc/<pid>/cmdline shows them to the inventory. The script comes on
  // stdin, so the command line stays short enough to be shown whole.
  const child = spawn('python3', ['-', '\u001b[2J\u001b]0;argv\u0007', 'line\nbreak\u202e'], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  child.stdin!.end(ACTOR);
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the hostile actor exited (${code})`))));
  exited.catch(() => undefined);
  const line = await Promise.race([new Promise<string>((resolve) => lines.once('line', resolve)), exited]);
  const sent = Promise.race([new Promise<void>((resolve) => lines.on('line', (l) => l === 'sent' && resolve())), exited]);
  return { pid: child.pid!, port: Number(line), sent };
}

function expectCleanJsonLines(text: string): Record<string, unknown>[] {
  expect(text).not.toMatch(RAW_CONTROL);
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describeKernel('hostile process names', () => {
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  it('reach watch, the daemon and snapshot only escaped, and still named', async () => {
    const actor = await startHostile();
    // Both run until the actor has written (SIGINT then drains what the kernel holds).
    const watch = execa(process.execPath, [bin, 'watch', '--port', String(actor.port)], { reject: false });
    // Unfiltered, its lines are made by the addon (native/line_formatter.cc) once it knows the owner.
    const watchAll = execa(process.execPath, [bin, 'watch'], { reject: false });
    const daemon = execa(process.execPath, [bin, 'daemon', '--metrics', METRICS], { reject: false });
    children.push(watch, watchAll, daemon);
    // All attached: watch says so on stderr, the daemon in its first log line.
    await Promise.all([
      new Promise<void>((r) => watch.stderr!.on('data', (d: Buffer) => d.toString().includes('watching') && r())),
      new Promise<void>((r) => watchAll.stderr!.on('data', (d: Buffer) => d.toString().includes('watching') && r())),
      new Promise<void>((r) => daemon.stdout!.on('data', (d: Buffer) => d.toString().includes('daemon started') && r())),
    ]);
    process.kill(actor.pid, 'SIGUSR1');
    await actor.sent;
    watch.kill('SIGINT');
    watchAll.kill('SIGINT');

    const watched = await watch;
    expect(watched.exitCode).toBe(0);
    const events = expectCleanJsonLines(watched.stdout) as { event: string; proc: { pid: number; comm: string } | null }[];
    const ours = events.filter((e) => e.proc?.pid === actor.pid);
    expect(ours.some((e) => e.event === 'send_error')).toBe(true);
    for (const e of ours) expect(e.proc!.comm).toBe(HOSTILE_COMM_ESCAPED);
    // The same events, every field but the time (each watch samples its own clock), from the addon's lines.
    const all = await watchAll;
    expect(all.exitCode).toBe(0);
    expect(Number(/(\d+) of its lines made by the addon/.exec(all.stderr)?.[1])).toBeGreaterThan(0);
    const untimed = (e: Record<string, unknown>) => ({ ...e, time: undefined });
    const oursAll = expectCleanJsonLines(all.stdout).filter((e) => (e as { proc: { pid: number } | null }).proc?.pid === actor.pid);
    expect(oursAll.map(untimed)).toEqual(ours.map((e) => untimed(e as unknown as Record<string, unknown>)));

    const metrics = await (await fetch(`http://${METRICS}/metrics`)).text();
    expect(metrics).not.toMatch(RAW_CONTROL);
    daemon.kill('SIGTERM');
    const logged = await daemon;
    expect(logged.exitCode).toBe(0);
    const records = expectCleanJsonLines(logged.stdout);
    expect(JSON.stringify(records)).toContain(JSON.stringify(HOSTILE_COMM_ESCAPED).slice(1, -1));

    const table = await execa(process.execPath, [bin, 'snapshot']);
    expect(table.stdout).not.toMatch(RAW_CONTROL);
    const json = (await execa(process.execPath, [bin, 'snapshot', '--json'])).stdout;
    expect(json).not.toMatch(RAW_CONTROL);
    const doc = JSON.parse(json) as {
      sockets: { proc: { pid: number; comm: string } | null }[];
      rollups: { processes: { rows: { pid: number; comm: string; cmdline: string }[] } };
    };
    const held = doc.sockets.find((s) => s.proc?.pid === actor.pid);
    expect(held?.proc?.comm).toBe(HOSTILE_COMM_ESCAPED);
    const row = doc.rollups.processes.rows.find((r) => r.pid === actor.pid);
    expect(row?.comm).toBe(HOSTILE_COMM_ESCAPED);
    expect(row?.cmdline).toContain('\\x1b[2J\\x1b]0;argv\\x07 line\\x0abreak\\u{202e}');
  }, scaled(60_000));
});
