/**
 * `socktrace watch` as an operator runs it: a separate process printing JSON lines while a slow server
 * and an impatient client misbehave. Checks the line contract end to end.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { startActor, stopAllActors } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { scaled } from '../support/time-scale.js';

const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));

interface WatchRun {
  ready: Promise<void>;
  finished: Promise<{ code: number | null; lines: Record<string, unknown>[]; stdout: string; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

function runWatch(args: string[]): WatchRun {
  const child = spawn(process.execPath, [bin, 'watch', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.includes('watching')) markReady();
  });
  const finished = new Promise<{ code: number | null; lines: Record<string, unknown>[]; stdout: string; stderr: string }>(
    (resolve) =>
      child.on('close', (code) => {
        markReady();
        const lines = stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        resolve({ code, lines, stdout, stderr });
      }),
  );
  return { ready, finished, kill: (s) => child.kill(s) };
}

/** Resolves once a spawned watch says it is watching; then returns a reader of all its stderr so far. */
function watchingOn(child: ChildProcessByStdio<null, Readable, Readable>): Promise<() => string> {
  let stderr = '';
  const spawned = Date.now();
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      const first = !stderr.includes('watching');
      stderr += d;
      if (first && stderr.includes('watching')) {
        console.log(`watch started in ${Date.now() - spawned} ms`); // a slow start shows in CI's log
        resolve(() => stderr);
      }
    });
    child.on('exit', (code) => reject(new Error(`watch exited (${code}): ${stderr}`)));
  });
}

describeKernel('socktrace watch (the CLI)', () => {
  afterEach(() => stopAllActors());

  it('streams correctly attributed events as JSON lines and stops after --duration', async () => {
    const srv = startActor(['server-late-write', '--host', '127.0.0.1', '--port', '0', '--delay', '0.6']);
    const { port } = (await srv.ready) as { port: number };
    const watch = runWatch(['--duration', String(scaled(3)), '--port', String(port)]);
    await watch.ready;
    const cli = startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0.1']);
    const [, clientPort] = (await cli.ready).local as [string, number];
    await srv.done;
    const { code, lines, stderr } = await watch.finished;

    expect(code).toBe(0);
    expect(stderr).toMatch(/stopped: \d+ events, 0 lost/);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).toHaveProperty('event');
      expect(line).toHaveProperty('time');
      expect(typeof line.time).toBe('string');
      // --port keeps only this conversation
      const local = line.local as { port: number };
      const peer = line.peer as { port: number };
      expect([local.port, peer.port]).toContain(port);
    }
    const closeWait = lines.find((l) => l.event === 'state_change' && l.to === 'CLOSE_WAIT');
    expect(closeWait).toMatchObject({
      from: 'ESTABLISHED',
      proc: { pid: srv.pid },
      local: { addr: '127.0.0.1', port },
      peer: { addr: '127.0.0.1', port: clientPort },
    });
    expect(typeof closeWait!.sock).toBe('string');
    const epipe = lines.find((l) => l.event === 'send_error');
    expect(epipe).toMatchObject({ errno: 'EPIPE', proc: { pid: srv.pid }, peer: { port: clientPort } });
    const rst = lines.find((l) => l.event === 'rst_received');
    expect(rst).toMatchObject({ proc: { pid: srv.pid }, local: { port } });
    // The client's own socket closing is attributed to the client.
    const clientClose = lines.find((l) => l.event === 'state_change' && l.to === 'FIN_WAIT1');
    expect(clientClose).toMatchObject({ proc: { pid: cli.pid }, local: { port: clientPort } });
  });

  it('adds summary and finding records with --summary', async () => {
    const srv = startActor(['server-late-write', '--host', '127.0.0.1', '--port', '0', '--delay', '0.5']);
    const { port } = (await srv.ready) as { port: number };
    const watch = runWatch(['--duration', String(scaled(3.5)), '--summary', '1', '--port', String(port)]);
    await watch.ready;
    startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0.1']);
    await srv.done;
    const { code, lines } = await watch.finished;
    expect(code).toBe(0);
    const summaries = lines.filter((l) => l.event === 'summary');
    expect(summaries.length).toBeGreaterThanOrEqual(2);
    const last = summaries.at(-1) as { processes: { rows: { pid: number; activity: { errors: { byErrno: Record<string, number> } } }[] } };
    const row = last.processes.rows.find((p) => p.pid === srv.pid);
    expect(row?.activity.errors.byErrno.EPIPE).toBe(1);
    const finding = lines.find((l) => l.event === 'finding' && l.kind === 'write_after_peer_close');
    expect(finding).toMatchObject({ level: 'warn', subject: { pid: srv.pid } });
    expect(typeof finding!.explanation).toBe('string');
  });

  it('exits 0 on SIGTERM and 2 on a bad option, naming it', async () => {
    const watch = runWatch([]);
    await watch.ready;
    watch.kill('SIGTERM');
    expect((await watch.finished).code).toBe(0);

    const bad = runWatch(['--peer', '198.18.0.0/99']);
    const result = await bad.finished;
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--peer: prefix length in "198.18.0.0\/99"/);

    const badThreshold = await runWatch(['--threshold', 'closeWaitAgeSeconds=soon']).finished;
    expect(badThreshold.code).toBe(2);
    expect(badThreshold.stderr).toMatch(/--threshold: closeWaitAgeSeconds must be from 0 to 2592000 \(seconds\), got "soon"/);
  });

  it('leaves a storm in the kernel while nobody reads its output: memory stays bounded, drops are counted', async () => {
    const storm = startActor(['epipe-storm', '--seconds', '3'], { timeoutMs: scaled(30_000) });
    const { pid } = (await storm.ready) as { pid: number };
    const child = spawn(process.execPath, [bin, 'watch', '--events', 'send_error', '--pid', String(pid), '--ring-bytes', '256K'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const stderrOf = await watchingOn(child);
      // Nobody reads stdout yet: the pipe fills within the first few batches.
      child.stdout.pause();
      process.kill(pid, 'SIGUSR1');
      const { errors } = (await storm.done) as { errors: number };
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]);
      // Unbounded, the ~1.5 M lines this storm makes would be several hundred MB of buffered output.
      expect(peakKiB).toBeLessThan(200 * 1024);

      let stdout = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => (stdout += d));
      child.stdout.resume();
      const closed = new Promise<number | null>((r) => child.on('close', r));
      child.kill('SIGINT');
      expect(await closed).toBe(0);
      const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: string; event: string; count?: number });
      const printed = lines.filter((l) => l.event === 'send_error').length;
      const lost = Number(/stopped: \d+ events, (\d+) lost/.exec(stderrOf())![1]);
      expect(lines.some((l) => l.level === 'warn' && l.event === 'lost')).toBe(true);
      expect(lost).toBeGreaterThan(0);
      expect(printed).toBeLessThanOrEqual(errors);
      // Every error printed or counted lost (lost may also count other processes' errors).
      expect(printed + lost).toBeGreaterThanOrEqual(errors);
    } finally {
      child.kill('SIGKILL');
    }
  }, scaled(40_000));

  it('stops on SIGTERM though its reader stopped reading, and says what was not written', async () => {
    const storm = startActor(['epipe-storm', '--seconds', '1'], { timeoutMs: scaled(30_000) });
    const { pid } = (await storm.ready) as { pid: number };
    const child = spawn(process.execPath, [bin, 'watch', '--events', 'send_error', '--pid', String(pid)], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const stderrOf = await watchingOn(child);
      child.stdout.pause(); // never read again
      process.kill(pid, 'SIGUSR1');
      await storm.done;
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      child.kill('SIGTERM');
      // A liveness bound, not a speed goal: without one, the stop waits for the reader forever.
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), scaled(10_000)))]);
      expect(code).toBe(0);
      expect(stderrOf()).toMatch(/\d+ bytes of output were not written: the reader of standard output stopped reading/);
    } finally {
      child.kill('SIGKILL');
    }
  }, scaled(40_000));
});
