// What socktrace's churn benchmarks share: building and running bench/churn.c, and starting and
// stopping a socktrace command as the tracer under test.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Node flags for the socktrace processes under test (SOCKTRACE_NODE_FLAGS, space-separated). */
export const NODE_FLAGS = process.env.SOCKTRACE_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];

/** Compiles bench/<name>.c into build/bench/<name> when the binary is missing or older than its sources. */
export function buildBenchProgram(name = 'churn') {
  const src = join(root, 'bench', `${name}.c`);
  const bin = join(root, 'build', 'bench', name);
  const newest = Math.max(statSync(src).mtimeMs, statSync(join(root, 'bench', 'loopback.h')).mtimeMs);
  if (!existsSync(bin) || statSync(bin).mtimeMs < newest) {
    mkdirSync(dirname(bin), { recursive: true });
    execFileSync('cc', ['-O2', '-Wall', '-o', bin, src], { stdio: 'inherit' });
  }
  return bin;
}

/** One churn run; `cpus` 'all' or a taskset list; `rate` 0 for as fast as it can. */
export function runChurn(bin, { seconds, family = 'ipv4', cpus = '0', rate = 0, request = false }) {
  const argv = [bin, String(seconds), family, String(rate), ...(request ? ['request'] : [])];
  const pinned = cpus === 'all' ? argv : ['taskset', '-c', cpus, ...argv];
  const out = execFileSync(pinned[0], pinned.slice(1), { encoding: 'utf8' });
  return JSON.parse(out.trim());
}

const watching = (out, err) => err.includes('watching');
const daemonStarted = (out) => out.includes('socktrace daemon started');

const firstLine = (out) => out.includes('\n');
const bpftraceAttached = (out) => out.includes('Attaching');
const STATE_CHANGE = 'tracepoint:sock:inet_sock_set_state';

/**
 * The commands a benchmark can put under test: socktrace's (run from bin/), and the peers an operator
 * would otherwise reach for (`command`: run as is). Peers print to a pipe this process drains.
 */
export const TRACERS = {
  // libbpf-tools (Debian's libbpf-tools package); each prints its header once attached (line-buffered:
  // to a pipe, stdio would hold it back)
  tcpstates: { command: ['stdbuf', '-oL', '/usr/sbin/tcpstates'], stdout: 'pipe', ready: firstLine },
  tcplife: { command: ['stdbuf', '-oL', '/usr/sbin/tcplife'], stdout: 'pipe', ready: firstLine },
  // bpftrace one-liners: every state change printed, or only counted in a kernel map
  'bpftrace-print': {
    command: ['bpftrace', '-e', `${STATE_CHANGE} { printf("%d %d %d %d\\n", pid, args->sport, args->oldstate, args->newstate); }`],
    stdout: 'pipe',
    ready: bpftraceAttached,
  },
  'bpftrace-count': {
    command: ['bpftrace', '-e', `${STATE_CHANGE} { @[args->newstate] = count(); }`],
    stdout: 'pipe',
    ready: bpftraceAttached,
  },
  // stdout to /dev/null; ready once it says it is watching (stderr)
  watch: { args: ['watch'], stdout: 'ignore', ready: watching },
  'watch-bpftrace': { args: ['watch', '--backend', 'bpftrace'], stdout: 'ignore', ready: watching },
  // a watch of one port no churn connection uses, on a host whose other traffic churns: the kernel's match
  'watch-port': { args: ['watch', '--port', '9'], stdout: 'ignore', ready: watching },
  // its default configuration, metrics off; ready once it logs that it started (stdout)
  daemon: { args: ['daemon', '--metrics', 'off'], stdout: 'pipe', ready: daemonStarted },
  'daemon-bpftrace': { args: ['daemon', '--metrics', 'off', '--backend', 'bpftrace'], stdout: 'pipe', ready: daemonStarted },
  // the daemon with nothing but LISTEN changes, RSTs and errors crossing (CLOSE_WAIT ages from inventories)
  // the daemon without services' answer times (tracer.serviceTimings: false)
  'daemon-no-timings': {
    args: ['daemon', '--metrics', 'off', '--config', join(root, 'bench', 'daemon-no-timings.yaml')],
    stdout: 'pipe',
    ready: daemonStarted,
  },
  'daemon-lean': {
    args: ['daemon', '--metrics', 'off', '--config', join(root, 'bench', 'daemon-lean.yaml')],
    stdout: 'pipe',
    ready: daemonStarted,
  },
};

/**
 * Starts a socktrace command; `ready` resolves once it is attached. stop() ends it and returns its output.
 * `extraArgs` go after the tracer's own; `stdout` replaces where its standard output goes ('pipe': the
 * caller reads `stdout` itself, and it is not kept).
 */
export function startTracer(name, { extraArgs = [], stdout } = {}) {
  const callerReads = stdout === 'pipe';
  const spec = TRACERS[name];
  const [file, ...argv] = spec.command ?? [process.execPath, ...NODE_FLAGS, join(root, 'bin', 'socktrace.js'), ...spec.args, ...extraArgs];
  const child = spawn(file, argv, {
    stdio: ['ignore', stdout ?? spec.stdout, 'pipe'],
  });
  let out = '';
  let err = '';
  const ready = new Promise((resolve, reject) => {
    const check = () => spec.ready(out, err) && resolve();
    // A peer's output is only drained (kept short): what it costs is what it does, not our memory.
    if (!callerReads) child.stdout?.on('data', (d) => ((out = spec.command ? (out + d).slice(-4096) : out + d), check()));
    child.stderr.on('data', (d) => ((err += d), check()));
    child.on('exit', (code) => reject(new Error(`${name} exited early (${code}): ${err}`)));
  });
  const stop = () =>
    new Promise((resolve) => {
      child.on('exit', () => resolve({ out, err }));
      child.kill('SIGINT');
    });
  return { ready, stop, pid: child.pid, stdout: callerReads ? child.stdout : null };
}

/** events and losses, from watch's last stderr line or the daemon's last log record */
export function tracerCounts(name, { out, err }) {
  if (TRACERS[name].command) return {}; // peers: no counts of their own to compare
  if (!name.startsWith('daemon')) {
    const m = /stopped: (\d+) events, (\d+) lost/.exec(err);
    return { events: Number(m?.[1]), lost: Number(m?.[2]) };
  }
  const last = out.trim().split('\n').map((l) => JSON.parse(l)).findLast((r) => typeof r.events === 'number');
  return { events: last?.events, lost: last?.lost };
}
