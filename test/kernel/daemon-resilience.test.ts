/**
 * The daemon does not fall over: bad paths, symlinked logs and configs others can write exit 2 naming
 * the flag or key before anything loads; a reload naming a log it cannot open is refused and logged
 * while the running configuration goes on; idle connections under `prlimit --nofile=64` and an
 * inventory that runs out of file descriptors are survived, counted and logged.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, expect, it } from 'vitest';
import { describeKernel } from '../support/kernel-gate.js';
import { until } from '../support/until.js';
import { freePort } from '../support/free-port.js';
import { logLines } from '../support/log-lines.js';
import { scaled } from '../support/time-scale.js';
import { tracefsDir } from '../../src/backends/tracefs.js';

const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'socktrace-resilience-'));


const messages = (path: string) => logLines(path).map((l) => String(l.msg ?? ''));

/**
 * A hard fd limit the daemon starts under with little to spare: its tracer holds about 60 fds, over 110
 * where syscall hooks stand in for sock:sock_send_length (kernels before 6.3).
 */
const ERRORS_AT_SYSCALLS = !existsSync(`${tracefsDir()}/events/sock/sock_send_length`);
const HARD_FDS = ERRORS_AT_SYSCALLS ? 160 : 96;

function writeConfig(path: string, metricsPort: number, logFile: string, extra = ''): void {
  writeFileSync(path, `metrics:\n  listen: 127.0.0.1:${metricsPort}\nlog:\n  file: ${logFile}\n  summarySeconds: 1\ntracer:\n  reconcileSeconds: 1\n${extra}`, { mode: 0o644 });
  chmodSync(path, 0o644);
}

async function health(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(scaled(2000)) })).status;
}

function runDaemon(args: string[]) {
  return spawnSync(process.execPath, [bin, 'daemon', '--metrics', 'off', ...args], { encoding: 'utf8', timeout: scaled(20_000) });
}

describeKernel('socktrace daemon under adversity', () => {
  let daemon: ChildProcess | undefined;
  const held: Socket[] = [];
  afterEach(() => {
    for (const s of held.splice(0)) s.destroy();
    daemon?.kill('SIGKILL');
    daemon = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function start(argv: string[], prefix: string[] = []): { exited: Promise<number | null>; stderr: () => string } {
    let stderr = '';
    const [cmd, ...rest] = prefix.length ? prefix : [process.execPath];
    daemon = spawn(cmd!, [...rest, ...(prefix.length ? [process.execPath] : []), bin, 'daemon', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    daemon.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => daemon!.on('exit', (code) => resolve(code)));
    return { exited, stderr: () => stderr };
  }

  it.each([
    // Was an endless mkdir loop at 100% CPU, with no output.
    ['--log-file', '/proc/nope/x.log', /^socktrace: --log-file: cannot create the directory \/proc\/nope: ENOENT/],
    // Was a raw "EEXIST: file already exists, mkdir '/etc/hostname'".
    ['--log-file', '/etc/hostname/x.log', /^socktrace: --log-file: \/etc\/hostname is not a directory/],
    ['--log-file', '/tmp/', /^socktrace: --log-file: \/tmp\/ names a directory, not a file/],
    ['--log-file', '/tmp', /^socktrace: --log-file: \/tmp is a directory, not a file/],
  ])('refuses %s %s with status 2, naming the flag', (flag, value, message) => {
    const result = runDaemon([flag, value]);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses a log path in the config naming the file and log.file, and a log that is a symbolic link', () => {
    const config = join(dir, 'paths.yaml');
    writeFileSync(config, 'log:\n  file: /proc/nope/x.log\n', { mode: 0o644 });
    let result = runDaemon(['--config', config]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${config}: log.file: cannot create the directory /proc/nope: ENOENT`);

    // As root, following a link would append to whatever it names.
    const target = join(dir, 'victim');
    writeFileSync(target, 'precious\n');
    const link = join(dir, 'linked.log');
    symlinkSync(target, link);
    writeFileSync(config, `log:\n  file: ${link}\n`, { mode: 0o644 });
    result = runDaemon(['--config', config]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${config}: log.file: ${link} is a symbolic link; socktrace does not follow one for its log`);
    result = runDaemon(['--log-file', link]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^socktrace: --log-file: .* is a symbolic link/);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('refuses a config file other users can write, as sshd does', () => {
    const config = join(dir, 'open.yaml');
    writeFileSync(config, 'log:\n  keep: 3\n');
    chmodSync(config, 0o666);
    const result = runDaemon(['--config', config]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${config}: refused: other users can write it (mode 0666); chmod go-w ${config}`);
    chmodSync(config, 0o664);
    spawnSync('chgrp', ['100', config]);
    expect(runDaemon(['--config', config]).stderr).toContain('refused: group 100 can write it');
  });

  it('refuses a reload whose log cannot be opened, logs why and keeps running with the old one', async () => {
    const port = await freePort();
    const logFile = join(dir, 'reload.log');
    const config = join(dir, 'reload.yaml');
    writeConfig(config, port, logFile);
    const { exited, stderr } = start(['--config', config]);
    await until('the start record', scaled(20_000), () => messages(logFile).includes('socktrace daemon started'));

    // A directory where the log should be: the README promises refused, logged, the running config kept.
    const directory = join(dir, 'a-directory');
    mkdirSync(directory);
    writeConfig(config, port, directory, 'core:\n  thresholds:\n    closeWaitMinSockets: 7\n');
    daemon!.kill('SIGHUP');
    const refused = await until('the refused reload', scaled(5000), () => logLines(logFile).find((l) => String(l.msg).startsWith('reload failed')));
    expect(refused).toMatchObject({ level: 'error' });
    expect(String(refused.msg)).toContain(`log.file: ${directory} is a directory, not a file`);
    // Still up, still logging where it did (summaries every second), still serving.
    const summariesBefore = logLines(logFile).filter((l) => l.event === 'summary').length;
    await until('more summaries in the old log', scaled(5000), () => logLines(logFile).filter((l) => l.event === 'summary').length >= summariesBefore + 2);
    expect(await health(port)).toBe(200);
    expect(messages(logFile)).not.toContain('configuration reloaded');

    daemon!.kill('SIGTERM');
    expect(await exited, stderr()).toBe(0);
    expect(stderr()).toBe('');
    daemon = undefined;
  });

  it('refuses to start with too few file descriptors for its tracer, naming the limit, instead of falling back to bpftrace', async () => {
    // Enough for Node to start (it opens up to ~60 at once loading modules), not for the tracer. It had
    // fallen back to bpftrace, which needs more still: nothing said for the minutes bpftrace took to
    // compile and fail.
    const { exited, stderr } = start(['--metrics', 'off'], ['prlimit', `--nofile=32:${ERRORS_AT_SYSCALLS ? 90 : 70}`]);
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), scaled(20_000)))]);
    expect(code, stderr()).toBe(1);
    expect(stderr()).toMatch(/Too many open files \(EMFILE\)\. .*raise RLIMIT_NOFILE/);
    expect(stderr()).not.toMatch(/bpftrace/);
  });

  it(`survives 80 idle connections under prlimit --nofile=32:${HARD_FDS}, and an inventory out of file descriptors`, async () => {
    const port = await freePort();
    const logFile = join(dir, 'fds.log');
    const config = join(dir, 'fds.yaml');
    writeConfig(config, port, logFile);
    // Soft 32, hard HARD_FDS: the soft limit is raised to the hard one at start (Node does it as it starts).
    const { exited, stderr } = start(['--config', config], ['prlimit', `--nofile=32:${HARD_FDS}`]);
    const started = await until('the start record', scaled(20_000), () => {
      if (daemon?.exitCode !== null) throw new Error(`the daemon exited (${daemon?.exitCode}): ${stderr()}`);
      return logLines(logFile).find((l) => l.msg === 'socktrace daemon started');
    });
    const fds = started.fds as { limit: number; openAtStart: number; reserve: number; metricsConnections: number };
    expect(fds.limit).toBe(HARD_FDS);
    // Hooks the daemon leaves off by design say so, and why.
    expect(started.hooks).toContain('inet_sock_set_state:tp_btf'); // the native backend, no fallback
    expect(started.hooks).toContain('tcp_destroy_sock:off: log.events has no destroy');
    // accept's exits stay on for failing accepts; tracer.acceptHooks only says whether they learn owners.
    expect((started.hooks as string[]).filter((h) => h.startsWith('sys_exit_accept4:'))).toEqual(['sys_exit_accept4:tracepoint']);
    // Missing only where the kernel lacks them (before 6.3: syscall hooks stand in for the errors).
    expect((started.hooks as string[]).filter((h) => h.endsWith(':missing'))).toEqual(
      ERRORS_AT_SYSCALLS ? ['sock_send_length:missing', 'sock_recv_length:missing'] : [],
    );
    expect(fds.metricsConnections).toBe(Math.max(1, Math.min(64, HARD_FDS - fds.openAtStart - fds.reserve)));

    // 80 idle connections: those beyond the bound are closed as they come, the rest once idle.
    for (let i = 0; i < 80; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      held.push(s);
    }
    const summaries = () => logLines(logFile).filter((l) => l.event === 'summary').length;
    const before = summaries();
    await until('three more summaries (and reconciliations) with the connections held', scaled(10_000), () => summaries() >= before + 3);
    expect(daemon!.exitCode).toBeNull();
    await until('/healthz answering while they are held', scaled(20_000), async () => (await health(port)) === 200, 500);

    // The inventory itself runs out: the daemon's soft limit lowered under what it holds open.
    const pid = String(daemon!.pid!);
    expect(spawnSync('prlimit', ['--pid', pid, `--nofile=${fds.openAtStart - 8}:${HARD_FDS}`]).status).toBe(0);
    await until('a skipped reconciliation', scaled(10_000), () =>
      messages(logFile).find((m) => m.startsWith('reconciliation skipped (counted in socktrace_reconcile_failures_total); tracing goes on: EMFILE')),
    );
    expect(spawnSync('prlimit', ['--pid', pid, `--nofile=${HARD_FDS}:${HARD_FDS}`]).status).toBe(0);
    const metrics = await until('a scrape counting it', scaled(20_000), async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(scaled(2000)) })).text();
      const n = Number(/^socktrace_reconcile_failures_total (\d+)/m.exec(text)?.[1] ?? 0);
      return n >= 1 ? text : undefined;
    }, 500);
    expect(metrics).toMatch(/^socktrace_events_lost_total 0$/m);
    // Tracing went on: summaries keep coming and the stop is clean.
    const after = summaries();
    await until('summaries after it', scaled(5000), () => summaries() >= after + 2);
    daemon!.kill('SIGTERM');
    expect(await exited, stderr()).toBe(0);
    expect(stderr()).toBe('');
    daemon = undefined;
  }, scaled(90_000));
});
