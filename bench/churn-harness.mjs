// What socktrace's churn benchmarks share: building and running bench/churn.c, and starting and
// stopping a socktrace command as the tracer under test.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

/**
 * One churn run; `cpus` 'all' or a taskset list; `rate` 0 for as fast as it can; `netns` a namespace to
 * run in. Asynchronous: while it runs, this process must go on draining the tracers' output pipes (a
 * tracer blocked on a full pipe stops reading its events and looks cheap).
 */
export function runChurn(bin, { seconds, family = 'ipv4', cpus = '0', rate = 0, request = false, netns = null }) {
  const argv = [...(netns ? ['ip', 'netns', 'exec', netns] : []), bin, String(seconds), family, String(rate), ...(request ? ['request'] : [])];
  const pinned = cpus === 'all' ? argv : ['taskset', '-c', cpus, ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(pinned[0], pinned.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`churn exited with ${code}: ${out}`))));
  });
}

/**
 * A network namespace of its own for one churn run, with loopback up: deleting it afterwards takes its
 * TIME_WAIT sockets with it, so the next tracer meets a host as quiet as the first did (otherwise each
 * run leaves a minute of TIME_WAITs that every later tracer's inventories walk).
 */
export function churnNamespace(tag) {
  const name = `socktrace-bench-${process.pid}-${tag}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, remove: () => execFileSync('ip', ['netns', 'del', name]) };
}

/** Ids of the BPF programs the processes hold open (their program and link fds name them in fdinfo). */
export function heldPrograms(pids) {
  const ids = new Set();
  for (const pid of pids) {
    let fds = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const id = /^prog_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
        if (id) ids.add(Number(id));
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return ids;
}

/** A process and its descendants' pids. */
export function descendants(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    try {
      all.push(...readFileSync(`/proc/${all[i]}/task/${all[i]}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      /* gone */
    }
  }
  return all;
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
  // libbpf-tools (Debian's libbpf-tools package), printing to /dev/null as watch does; ready once their
  // programs are loaded (attaching follows within milliseconds)
  tcpstates: { command: ['/usr/sbin/tcpstates'], stdout: 'ignore', ready: 'loaded' },
  tcplife: { command: ['/usr/sbin/tcplife'], stdout: 'ignore', ready: 'loaded' },
  // the same printing to a pipe this process drains (tcpstates | grep): each event wakes the reader
  'tcpstates-pipe': { command: ['stdbuf', '-oL', '/usr/sbin/tcpstates'], stdout: 'pipe', ready: firstLine },
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
    const check = () => spec.ready !== 'loaded' && spec.ready(out, err) && resolve();
    if (spec.ready === 'loaded') {
      const poll = setInterval(() => {
        if (heldPrograms(descendants(child.pid)).size === 0) return;
        clearInterval(poll);
        setTimeout(resolve, 500);
      }, 100);
      child.on('exit', () => clearInterval(poll));
    }
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
