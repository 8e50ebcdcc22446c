/**
 * `socktrace doctor`: can socktrace run here, with which backend and hooks, and if not, what to do.
 * Each check says what it found and, when something is missing, the fix.
 */
import { endQuietlyWhenReaderLeaves } from './console/quiet-epipe.js';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { candidatePaths, loadBinding, type NativeBinding } from '../backends/native/binding.js';
import type { HookInfo } from '../backends/event-source.js';
import { parseCommandArgs } from './options/command-args.js';
import { checkBpftraceBackend } from '../backends/bpftrace/bpftrace-source.js';
import { MIN_BPFTRACE_TEXT } from '../backends/bpftrace/bpftrace-requirements.js';
import { BACKENDS, type Backend } from '../backends/start-source.js';
import { parseChoice } from './options/option-values.js';

export const DOCTOR_USAGE = `Usage: socktrace doctor [--json] [--no-load] [--backend auto|native|bpftrace]

Checks the kernel (version, BTF, tracepoints, ring buffers), privileges and the native addon, says
which backend and which hook for each tracepoint socktrace will use and why, and what to do about
anything missing. Unless --no-load, it also loads and detaches socktrace's programs once, as proof.
With --backend, whether that backend can run (default auto: either). Exit status 0 when socktrace can
run, 1 when it cannot.`;

interface Check {
  name: string;
  ok: boolean;
  /** Missing but socktrace still works (a fallback is used). */
  degraded?: boolean;
  detail: string;
  fix?: string;
}

const TRACEPOINTS: { category: string; name: string; role: string; fallback?: string }[] = [
  { category: 'sock', name: 'inet_sock_set_state', role: 'every TCP state change (required)' },
  { category: 'tcp', name: 'tcp_send_reset', role: 'RSTs sent, with the kernel reason (6.10+)' },
  { category: 'tcp', name: 'tcp_receive_reset', role: 'RSTs received' },
  { category: 'tcp', name: 'tcp_destroy_sock', role: 'sockets freed' },
  { category: 'sock', name: 'sock_send_length', role: 'send errors (EPIPE, ECONNRESET)', fallback: 'syscall exits of write/send*' },
  { category: 'sock', name: 'sock_recv_length', role: 'receive errors', fallback: 'syscall exits of read/recv*' },
  { category: 'syscalls', name: 'sys_exit_accept4', role: "accept's return: owners of accepted sockets", fallback: "the listener's owner" },
  { category: 'sched', name: 'sched_process_exit', role: 'owners end with their process (required)' },
  { category: 'task', name: 'task_rename', role: "a process's new name after exec or prctl", fallback: 'the name it had when it was learned' },
];

const CAPS: [number, string, string][] = [
  [39, 'CAP_BPF', 'load BPF programs and maps'],
  [38, 'CAP_PERFMON', 'attach to tracepoints'],
  [21, 'CAP_SYS_ADMIN', 'enter network namespaces (inventory), mount tracefs'],
  [19, 'CAP_SYS_PTRACE', "read other processes' /proc/<pid>/fd (socket owners)"],
  [2, 'CAP_DAC_READ_SEARCH', "read /proc entries of other users' processes"],
];

function effectiveCaps(): bigint | null {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
    return line ? BigInt(`0x${line.slice(7).trim()}`) : null;
  } catch {
    return null;
  }
}

function tracefsDir(): string | null {
  for (const d of ['/sys/kernel/debug/tracing', '/sys/kernel/tracing']) if (existsSync(`${d}/events`)) return d;
  return null;
}

/** Where tracefs is mounted, whether or not this user may read it (it is root's only by default). */
function tracefsMounts(): string[] {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2] === 'tracefs')
      .map((f) => f[1]!);
  } catch {
    return [];
  }
}

/** An executable named `name` on PATH. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/**
 * The bpftrace backend's own check: bpftrace, its version, setpriv, and the tracepoint formats. Without
 * CAP_BPF and CAP_PERFMON it cannot run whatever else is true, and that is what it says then (not that
 * tracefs is missing, which only looks so to a user who may not read it).
 */
async function bpftraceCheck(privileged: boolean, missingCaps: string[]): Promise<Check> {
  const name = 'bpftrace backend';
  const installed = onPath(process.env.SOCKTRACE_BPFTRACE ?? 'bpftrace') ?? (process.env.SOCKTRACE_BPFTRACE && existsSync(process.env.SOCKTRACE_BPFTRACE) ? process.env.SOCKTRACE_BPFTRACE : null);
  if (!privileged && installed) {
    return { name, ok: false, detail: `${installed} is installed, but cannot run as this user: bpftrace needs ${missingCaps.join(' and ')} (and tracefs, readable by root only)`, fix: 'run socktrace as root (sudo socktrace …)' };
  }
  try {
    const { version, plan } = await checkBpftraceBackend();
    return { name, ok: true, detail: `${version}; script parts for this kernel: ${plan.parts.map((p) => p.file).join(', ')}` };
  } catch (error) {
    const message = (error as Error).message;
    const fix = /not installed|older than|version/i.test(message)
      ? `apt-get install bpftrace (${MIN_BPFTRACE_TEXT} or later); only needed where the native addon cannot load`
      : 'see the message; only needed where the native addon cannot load';
    return { name, ok: false, detail: message, fix };
  }
}

export async function runChecks(
  load: boolean,
  choice: Backend = 'auto',
): Promise<{ checks: Check[]; hooks: HookInfo[] | null; backend: string; canRun: boolean }> {
  const checks: Check[] = [];
  const [major, minor] = release().split('.').map((n) => parseInt(n, 10)) as [number, number];
  const kernelOk = major > 5 || (major === 5 && minor >= 8);
  checks.push({ name: 'kernel', ok: kernelOk, detail: `Linux ${release()}`, fix: kernelOk ? undefined : 'socktrace needs Linux 5.8+ (BPF ring buffers)' });

  const btf = existsSync('/sys/kernel/btf/vmlinux');
  checks.push({ name: 'BTF', ok: btf, detail: btf ? '/sys/kernel/btf/vmlinux present' : 'no /sys/kernel/btf/vmlinux', fix: btf ? undefined : 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (CO-RE and tp_btf need it)' });

  const tracefs = tracefsDir();
  const tracefsMounted = tracefsMounts();
  checks.push({
    name: 'tracefs',
    ok: tracefs !== null,
    degraded: tracefs === null,
    detail: tracefs ? `mounted at ${tracefs}` : tracefsMounted.length ? `mounted at ${tracefsMounted.join(', ')}, but not readable by this user` : 'not mounted',
    fix: tracefs
      ? undefined
      : tracefsMounted.length
        ? 'run as root: tracefs is readable by root only (classic tracepoints and bpftrace need it)'
        : 'mount -t tracefs tracefs /sys/kernel/tracing (socktrace tries this itself when root); classic tracepoints need it',
  });

  const caps = effectiveCaps();
  const root = process.getuid?.() === 0;
  const hasCap = (bit: number) => caps !== null && ((caps >> BigInt(bit)) & 1n) === 1n;
  for (const [bit, name, why] of CAPS) {
    const has = hasCap(bit);
    checks.push({ name, ok: has, degraded: !has && bit !== 39 && bit !== 38, detail: `${has ? 'have' : 'missing'}: needed to ${why}`, fix: has ? undefined : `run as root, or grant ${name} (see packaging/socktrace.service)${root ? '' : '; not running as root'}` });
  }
  // Loading BPF (either backend) needs both; without them nothing about loading can be tested or known.
  const missingLoadCaps = CAPS.filter(([bit]) => (bit === 39 || bit === 38) && !hasCap(bit)).map(([, name]) => name);
  const privileged = missingLoadCaps.length === 0;

  let binding: NativeBinding | null = null;
  try {
    binding = loadBinding();
    checks.push({ name: 'native addon', ok: true, detail: candidatePaths().find((p) => existsSync(p)) ?? 'loaded' });
  } catch (error) {
    checks.push({ name: 'native addon', ok: false, detail: (error as Error).message.split('\n')[0]!, fix: 'build it: bash scripts/setup (or npm run build)' });
  }

  const facts = binding?.kernelFacts(TRACEPOINTS.map((t) => t.name)) ?? null;
  if (facts) {
    const rb = facts.ringbuf;
    if (rb !== 'yes' && !privileged) {
      // The probe creates a map: without CAP_BPF the kernel says EPERM, which libbpf reports as "no".
      checks.push({ name: 'ring buffer', ok: true, degraded: true, detail: `BPF_MAP_TYPE_RINGBUF: not known: probing creates a BPF map, which needs CAP_BPF`, fix: 'run as root to probe it' });
    } else {
      checks.push({ name: 'ring buffer', ok: rb === 'yes', detail: `BPF_MAP_TYPE_RINGBUF: ${rb}`, fix: rb === 'yes' ? undefined : rb === 'no' ? 'this kernel has no BPF ring buffer (Linux 5.8+ has)' : 'see the message' });
    }
  }
  for (const t of TRACEPOINTS) {
    const classic = tracefs !== null && existsSync(`${tracefs}/events/${t.category}/${t.name}`);
    const typed = facts?.tpBtf[t.name] ?? false;
    const ok = typed || classic;
    checks.push({
      name: `${t.category}:${t.name}`,
      ok: ok || t.fallback !== undefined,
      degraded: !ok && t.fallback !== undefined,
      detail: `${t.role}: ${typed ? 'tp_btf' : classic ? 'classic tracepoint' : tracefs === null ? 'not visible (tracefs is not readable here)' : 'absent'}${!ok && t.fallback ? `; using ${t.fallback}` : ''}`,
      fix: ok ? undefined : t.fallback ? undefined : tracefs === null ? 'run as root to see the classic tracepoints' : 'this kernel lacks it; socktrace cannot work without it',
    });
  }

  let hooks: HookInfo[] | null = null;
  if (load && binding && root) {
    try {
      const tracer = new binding.Tracer({ ringBytes: 64 * 1024 });
      const info = tracer.start(() => {});
      tracer.stop();
      hooks = info.hooks.filter((h) => !h.why.startsWith('not needed'));
      checks.push({ name: 'load test', ok: true, detail: `loaded, attached and detached ${hooks.filter((h) => h.mode !== 'missing').length} programs${info.notes.length ? ` (${info.notes.join('; ')})` : ''}` });
    } catch (error) {
      checks.push({ name: 'load test', ok: false, detail: (error as Error).message.split('\n')[0]!, fix: 'see the message; SOCKTRACE_LIBBPF_DEBUG=1 shows the verifier log' });
    }
  }

  const bpftrace = await bpftraceCheck(privileged, missingLoadCaps);
  // Known to work only once loaded; built and privileged but not load-tested (--no-load) is assumed to.
  const loadFailed = checks.some((c) => c.name === 'load test' && !c.ok);
  const nativeWorks = binding !== null && privileged && !loadFailed;
  const nativeState = binding === null ? 'is missing' : !privileged ? `cannot load as this user (loading BPF needs ${missingLoadCaps.join(' and ')})` : loadFailed ? 'failed its load test' : hooks ? 'loads' : 'is built (not load-tested: --no-load)';
  // With auto, either backend is enough: each one's absence only degrades while the other one works.
  // A backend asked for by name must work itself; the other one does not matter then.
  const nativeNeeded = choice === 'native' || (choice === 'auto' && !bpftrace.ok);
  const bpftraceNeeded = choice === 'bpftrace' || (choice === 'auto' && !nativeWorks);
  if (!bpftrace.ok && !bpftraceNeeded) bpftrace.degraded = true;
  checks.push(bpftrace);
  if (!nativeNeeded) {
    for (const c of checks) if (!c.ok && (c.name === 'native addon' || c.name === 'load test' || c.name === 'BTF')) c.degraded = true;
  }
  const canRun = checks.every((c) => c.ok || c.degraded);
  const backend =
    choice === 'bpftrace'
      ? `bpftrace (asked for): ${bpftrace.ok ? 'it can run here' : 'it cannot run here'}`
      : choice === 'native'
        ? `native (asked for): the addon ${nativeState}`
        : nativeWorks
          ? `native (libbpf addon): it ${nativeState}, so --backend auto uses it`
          : bpftrace.ok
            ? `bpftrace: the native addon ${nativeState}, so --backend auto uses bpftrace`
            : !privileged
              ? `none: both backends load BPF programs, which needs ${missingLoadCaps.join(' and ')} (or root); this process has not got them`
              : 'none: neither the native addon nor bpftrace can run here';
  return { checks, hooks, backend, canRun };
}

export async function doctorCommand(argv: string[]): Promise<number> {
  endQuietlyWhenReaderLeaves();
  const values = parseCommandArgs('doctor', argv, { json: { type: 'boolean' }, 'no-load': { type: 'boolean' }, backend: { type: 'string' } });
  if (values.help) {
    process.stdout.write(`${DOCTOR_USAGE}\n`);
    return 0;
  }
  const report = await runChecks(!values['no-load'], parseChoice('--backend', values.backend, BACKENDS) ?? 'auto');
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const lines = report.checks.map((c) => {
      const mark = c.ok && !c.degraded ? 'ok  ' : c.degraded ? 'warn' : 'FAIL';
      return `${mark}  ${c.name.padEnd(24)} ${c.detail}${c.fix ? `\n      -> ${c.fix}` : ''}`;
    });
    lines.push('', `backend: ${report.backend}`);
    if (report.hooks) {
      lines.push('hooks:');
      for (const h of report.hooks) lines.push(`  ${h.name.padEnd(22)} ${h.mode.padEnd(10)} ${h.why}`);
    }
    lines.push('', report.canRun ? 'socktrace can run here.' : 'socktrace cannot run here: fix the FAIL lines above.');
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return report.canRun ? 0 : 1;
}
