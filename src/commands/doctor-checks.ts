/**
 * doctor's checks, one a function, each judging facts gathered elsewhere (doctor-command.ts reads the
 * host): pure, so test/unit/doctor-checks.test.ts runs them on recorded inputs. Each says what it found
 * and, when something is missing, the fix.
 */
import type { HookInfo } from '../backends/event-source.js';
import type { NativeHook, NativeBinding } from '../backends/native/binding.js';
import type { Backend } from '../backends/start-source.js';
import { MIN_BPFTRACE_TEXT } from '../backends/bpftrace/bpftrace-requirements.js';
import type { CgroupMounts } from '../inventory/cgroup-paths.js';
import type { PodDirectoryStatus } from '../inventory/kubernetes-pods.js';

export interface Check {
  name: string;
  ok: boolean;
  /** Missing but socktrace still works (a fallback is used). */
  degraded?: boolean;
  detail: string;
  fix?: string;
}

/**
 * What doctor says of each primary hook of the addon's table (native/hook_table.cc): its role, and
 * what stands in when it is absent (none: socktrace cannot work without it). `shownWith`: checked
 * under another hook's line.
 */
export const HOOK_ROLES: Readonly<Record<string, { role: string; fallback?: string } | { shownWith: string }>> = {
  inet_sock_set_state: { role: 'every TCP state change (required)' },
  tcp_send_reset: { role: 'RSTs sent, with the kernel reason (6.10+)' },
  tcp_receive_reset: { role: 'RSTs received' },
  tcp_destroy_sock: { role: 'sockets freed' },
  sock_send_length: { role: 'send errors (EPIPE, ECONNRESET)', fallback: 'syscall exits of write/send*' },
  sock_recv_length: { role: 'receive errors', fallback: 'syscall exits of read/recv*' },
  sys_exit_accept4: { role: "accept's return: failing accepts, owners of accepted sockets", fallback: "the listener's owner" },
  sys_exit_accept: { shownWith: 'sys_exit_accept4' },
  sched_process_exit: { role: 'owners end with their process (required)' },
  task_rename: { role: "a process's new name after exec or prctl", fallback: 'the name it had when it was learned' },
  tcp_retransmit_skb: { role: 'segments sent again (connects no one answers, lossy paths)' },
  inet_sk_error_report: { role: 'connections the kernel ends with an error (tp_btf only: connect timeouts)' },
};

export interface DoctorTracepoint {
  category: string;
  name: string;
  role: string;
  fallback?: string;
}

/** The tracepoints doctor checks: the table's primaries, each with its role. */
export function doctorTracepoints(table: readonly NativeHook[]): DoctorTracepoint[] {
  return table.flatMap((hook) => {
    const said = hook.fallbackFor === null ? HOOK_ROLES[hook.name] : undefined;
    if (!said || 'shownWith' in said) return [];
    return [{ category: hook.category, name: hook.name, ...said }];
  });
}

export const CAPS: [number, string, string][] = [
  [39, 'CAP_BPF', 'load BPF programs and maps'],
  [38, 'CAP_PERFMON', 'attach to tracepoints'],
  [21, 'CAP_SYS_ADMIN', 'enter network namespaces (inventory), mount tracefs'],
  [19, 'CAP_SYS_PTRACE', "read other processes' /proc/<pid>/fd (socket owners)"],
  [2, 'CAP_DAC_READ_SEARCH', "read /proc entries of other users' processes"],
];

/** Loading BPF (either backend) needs these two. */
const LOAD_CAPS = [39, 38];

const hasCap = (caps: bigint | null, bit: number) => caps !== null && ((caps >> BigInt(bit)) & 1n) === 1n;

/** The capabilities loading BPF needs that `caps` (CapEff) lacks: empty when privileged. */
export function missingLoadCaps(caps: bigint | null): string[] {
  return CAPS.filter(([bit]) => LOAD_CAPS.includes(bit) && !hasCap(caps, bit)).map(([, name]) => name);
}

export function kernelCheck(release: string): Check {
  const [major, minor] = release.split('.').map((n) => parseInt(n, 10)) as [number, number];
  const ok = major > 5 || (major === 5 && minor >= 8);
  const fix = ok ? undefined : 'socktrace needs Linux 5.8+ (BPF ring buffers)';
  return { name: 'kernel', ok, detail: `Linux ${release}`, fix };
}

export function btfCheck(present: boolean): Check {
  return {
    name: 'BTF',
    ok: present,
    detail: present ? '/sys/kernel/btf/vmlinux present' : 'no /sys/kernel/btf/vmlinux',
    fix: present ? undefined : 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (CO-RE and tp_btf need it)',
  };
}

/** `readable`: the tracefs this user can see, null if none; `mounts`: where it is mounted at all. */
export function tracefsCheck(readable: string | null, mounts: string[]): Check {
  const detail = readable
    ? `mounted at ${readable}`
    : mounts.length
      ? `mounted at ${mounts.join(', ')}, but not readable by this user`
      : 'not mounted';
  const fix = readable
    ? undefined
    : mounts.length
      ? 'run as root: tracefs is readable by root only (classic tracepoints and bpftrace need it)'
      : 'mount -t tracefs tracefs /sys/kernel/tracing (socktrace tries this itself when root); ' +
        'classic tracepoints need it';
  return { name: 'tracefs', ok: readable !== null, degraded: readable === null, detail, fix };
}

export function capabilityCheck([bit, name, why]: [number, string, string], caps: bigint | null, root: boolean): Check {
  const has = hasCap(caps, bit);
  const grant = `run as root, or grant ${name} (see packaging/socktrace.service)${root ? '' : '; not running as root'}`;
  return {
    name,
    ok: has,
    degraded: !has && !LOAD_CAPS.includes(bit),
    detail: `${has ? 'have' : 'missing'}: needed to ${why}`,
    fix: has ? undefined : grant,
  };
}

export type AddonLoad = { loaded: true; path: string } | { loaded: false; error: string };

export function addonCheck(addon: AddonLoad): Check {
  if (addon.loaded) return { name: 'native addon', ok: true, detail: addon.path };
  const fix = "build it from a checkout: bash scripts/setup (or npm run build); the package's prebuild is for linux-x64 with glibc";
  return { name: 'native addon', ok: false, detail: addon.error.split('\n')[0]!, fix };
}

/** `ringbuf`: the addon's probe ("yes", "no", "unknown: <why>"). */
export function ringBufferCheck(ringbuf: string, privileged: boolean): Check {
  const name = 'ring buffer';
  if (ringbuf !== 'yes' && !privileged) {
    // The probe creates a map: without CAP_BPF the kernel says EPERM, which libbpf reports as "no".
    const detail = 'BPF_MAP_TYPE_RINGBUF: not known: probing creates a BPF map, which needs CAP_BPF';
    return { name, ok: true, degraded: true, detail, fix: 'run as root to probe it' };
  }
  const fix =
    ringbuf === 'yes'
      ? undefined
      : ringbuf === 'no'
        ? 'this kernel has no BPF ring buffer (Linux 5.8+ has)'
        : 'see the message';
  return { name, ok: ringbuf === 'yes', detail: `BPF_MAP_TYPE_RINGBUF: ${ringbuf}`, fix };
}

/**
 * `typed`: vmlinux BTF describes it (tp_btf); `classic`: tracefs has it; `tracefsReadable`: whether
 * that could be seen.
 */
export function tracepointCheck(
  t: DoctorTracepoint,
  typed: boolean,
  classic: boolean,
  tracefsReadable: boolean,
): Check {
  const ok = typed || classic;
  const how = typed
    ? 'tp_btf'
    : classic
      ? 'classic tracepoint'
      : tracefsReadable
        ? 'absent'
        : 'not visible (tracefs is not readable here)';
  const fix = ok
    ? undefined
    : t.fallback
      ? undefined
      : tracefsReadable
        ? 'this kernel lacks it; socktrace cannot work without it'
        : 'run as root to see the classic tracepoints';
  return {
    name: `${t.category}:${t.name}`,
    ok: ok || t.fallback !== undefined,
    degraded: !ok && t.fallback !== undefined,
    detail: `${t.role}: ${how}${!ok && t.fallback ? `; using ${t.fallback}` : ''}`,
    fix,
  };
}

export type LoadTest = { hooks: HookInfo[]; notes: string[] } | { error: string };

/** The load test's check, and the hooks it chose (those not needed on this kernel left out). */
export function loadTestCheck(result: LoadTest): { check: Check; hooks: HookInfo[] | null } {
  if ('error' in result) {
    const fix = 'see the message; SOCKTRACE_LIBBPF_DEBUG=1 shows the verifier log';
    return { check: { name: 'load test', ok: false, detail: result.error.split('\n')[0]!, fix }, hooks: null };
  }
  const hooks = result.hooks.filter((h) => !h.why.startsWith('not needed'));
  const attached = hooks.filter((h) => h.mode !== 'missing').length;
  const notes = result.notes.length ? ` (${result.notes.join('; ')})` : '';
  const detail = `loaded, attached and detached ${attached} programs${notes}`;
  return { check: { name: 'load test', ok: true, detail }, hooks };
}

/**
 * The bpftrace backend's own check. `installed`: bpftrace's path, null when not found; `result`: what
 * checking the backend said (null when not asked: it cannot run unprivileged anyway). Without CAP_BPF and
 * CAP_PERFMON it cannot run whatever else is true, and that is what it says then (not that tracefs is
 * missing, which only looks so to a user who may not read it).
 */
export function bpftraceCheck(
  installed: string | null,
  missingCaps: string[],
  result: { version: string; parts: string[]; notes?: string[] } | { error: string } | null,
): Check {
  const name = 'bpftrace backend';
  if (missingCaps.length > 0 && installed) {
    const needs = `${missingCaps.join(' and ')} (and tracefs, readable by root only)`;
    const detail = `${installed} is installed, but cannot run as this user: bpftrace needs ${needs}`;
    return { name, ok: false, detail, fix: 'run socktrace as root (sudo socktrace …)' };
  }
  if (result === null) throw new Error('doctor: the bpftrace backend was not checked');
  if (!('error' in result)) {
    const notes = result.notes && result.notes.length > 0 ? `; ${result.notes.join('; ')}` : '';
    return { name, ok: true, detail: `${result.version}; script parts for this kernel: ${result.parts.join(', ')}${notes}` };
  }
  const message = result.error;
  const fix = /not installed|older than|version/i.test(message)
    ? `apt-get install bpftrace (${MIN_BPFTRACE_TEXT} or later); only needed where the native addon cannot load`
    : 'see the message; only needed where the native addon cannot load';
  return { name, ok: false, detail: message, fix };
}

/** Whether the bpftrace check needs to ask bpftrace at all (see bpftraceCheck). */
export function bpftraceNeedsAsking(installed: string | null, missingCaps: string[]): boolean {
  return !(missingCaps.length > 0 && installed);
}

export interface Verdict {
  checks: Check[];
  backend: string;
  canRun: boolean;
}

/**
 * Which backend runs, and whether socktrace can: `checks` so far (the bpftrace check last, the one
 * added here), marked degraded where the backend that does not run needs them. `hooks`: the load test's
 * (null when not load-tested).
 */
export function backendVerdict(
  checks: Check[],
  bpftrace: Check,
  choice: Backend,
  facts: { addonLoaded: boolean; missingLoadCaps: string[]; hooks: HookInfo[] | null },
): Verdict {
  const all = [...checks.map((c) => ({ ...c })), { ...bpftrace }];
  const privileged = facts.missingLoadCaps.length === 0;
  const needs = facts.missingLoadCaps.join(' and ');
  // Known to work only once loaded; built and privileged but not load-tested (--no-load) is assumed to.
  const loadFailed = all.some((c) => c.name === 'load test' && !c.ok);
  const nativeWorks = facts.addonLoaded && privileged && !loadFailed;
  const nativeState = !facts.addonLoaded
    ? 'is missing'
    : !privileged
      ? `cannot load as this user (loading BPF needs ${needs})`
      : loadFailed
        ? 'failed its load test'
        : facts.hooks
          ? 'loads'
          : 'is built (not load-tested: --no-load)';
  // With auto, either backend is enough: each one's absence only degrades while the other one works.
  // A backend asked for by name must work itself; the other one does not matter then.
  const nativeNeeded = choice === 'native' || (choice === 'auto' && !bpftrace.ok);
  const bpftraceNeeded = choice === 'bpftrace' || (choice === 'auto' && !nativeWorks);
  const bpftraceCheck = all[all.length - 1]!;
  if (!bpftraceCheck.ok && !bpftraceNeeded) bpftraceCheck.degraded = true;
  if (!nativeNeeded) {
    const nativeOnly = ['native addon', 'load test', 'BTF'];
    for (const c of all) if (!c.ok && nativeOnly.includes(c.name)) c.degraded = true;
  }
  const canRun = all.every((c) => c.ok || c.degraded);
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
              ? `none: both backends load BPF programs, which needs ${needs} (or root); this process has not got them`
              : 'none: neither the native addon nor bpftrace can run here';
  return { checks: all, backend, canRun };
}

/** Everything doctor reads from the host (doctor-command.ts gathers it), as the checks take it. */
export interface DoctorFacts {
  /** uname -r */
  release: string;
  /** /sys/kernel/btf/vmlinux exists */
  btf: boolean;
  /** The tracefs this user can read (tracefsDir()), null if none. */
  tracefs: string | null;
  /** Where tracefs is mounted, readable or not (/proc/self/mounts). */
  tracefsMounts: string[];
  /** CapEff of this process, null when unknown. */
  caps: bigint | null;
  root: boolean;
  addon: AddonLoad;
  /** The addon's hook table, or its copy (HOOK_TABLE) when the addon cannot load. */
  hookTable: readonly NativeHook[];
  /** The addon's kernelFacts() for the tracepoints doctor checks; null without the addon. */
  kernel: ReturnType<NativeBinding['kernelFacts']> | null;
  /** The classic tracepoints tracefs shows, as "category/name". */
  classic: ReadonlySet<string>;
  /** The load test's outcome; null when not run (--no-load, no addon, not root). */
  loadTest: LoadTest | null;
  /** bpftrace's path, null when not found. */
  bpftraceInstalled: string | null;
  /** What checking the bpftrace backend said; null when not asked (see bpftraceNeedsAsking). */
  bpftrace: { version: string; parts: string[]; notes?: string[] } | { error: string } | null;
  /** What /proc/self/mountinfo says of cgroups (absent in recordings made before it was gathered). */
  cgroups?: CgroupMounts;
  /** The Kubernetes pod directory after one listing (absent: not gathered). */
  pods?: PodDirectoryStatus;
}

export interface DoctorReport {
  checks: Check[];
  hooks: HookInfo[] | null;
  backend: string;
  canRun: boolean;
}

/** How owners are placed in cgroups, units, containers: never required, since /proc/<pid>/cgroup always works. */
export function cgroupPlacementCheck(m: CgroupMounts): Check {
  const name = 'cgroup placement';
  if (m.unified === null) {
    return {
      name,
      ok: true,
      degraded: true,
      detail: 'no cgroup2 mount of the hierarchy\'s root: processes are placed from /proc/<pid>/cgroup only, and one gone before its events are read is not placed',
      fix: 'mount the host\'s cgroup tree (the DaemonSet mounts /sys/fs/cgroup at /host/sys/fs/cgroup)',
    };
  }
  return {
    name,
    ok: true,
    detail: m.v1
      ? `cgroup v1 hierarchies and v2 at ${m.unified}: placed from /proc/<pid>/cgroup, and by the cgroup id the kernel stamps on an owner gone before its events are read`
      : `cgroup v2 at ${m.unified}: placed by the cgroup id the kernel stamps on each owner`,
  };
}

/** Pod names from the Kubernetes API: only a concern inside a cluster, where a failing listing leaves pods named by uid. */
export function podNamesCheck(p: PodDirectoryStatus): Check {
  const name = 'pod names';
  if (!p.inCluster) return { name, ok: true, detail: 'not in a Kubernetes pod: pods (if any) are named by their uid alone' };
  if (!p.enabled) {
    return { name, ok: true, degraded: true, detail: `pods are named by their uid alone: ${p.disabledReason}`, fix: 'run socktrace with packaging/kubernetes/daemonset.yaml (its ServiceAccount and NODE_NAME)' };
  }
  if (p.lastSuccessAt === null) {
    return {
      name,
      ok: true,
      degraded: true,
      detail: `listing the pods of node ${p.nodeName} failed: ${p.lastError ?? 'no answer'}`,
      fix: "the ServiceAccount needs get, list and watch on pods (the DaemonSet's ClusterRole), and the API server must be reachable",
    };
  }
  return { name, ok: true, detail: `${p.pods} pods of node ${p.nodeName} listed from the Kubernetes API` };
}

/** Every check, in doctor's order, on facts gathered from a host (or recorded). */
export function judge(facts: DoctorFacts, choice: Backend): DoctorReport {
  const checks: Check[] = [
    kernelCheck(facts.release),
    btfCheck(facts.btf),
    tracefsCheck(facts.tracefs, facts.tracefsMounts),
  ];
  for (const cap of CAPS) checks.push(capabilityCheck(cap, facts.caps, facts.root));
  const missingCaps = missingLoadCaps(facts.caps);
  checks.push(addonCheck(facts.addon));
  if (facts.kernel) checks.push(ringBufferCheck(facts.kernel.ringbuf, missingCaps.length === 0));
  for (const t of doctorTracepoints(facts.hookTable)) {
    const classic = facts.tracefs !== null && facts.classic.has(`${t.category}/${t.name}`);
    checks.push(tracepointCheck(t, facts.kernel?.tpBtf[t.name] ?? false, classic, facts.tracefs !== null));
  }
  let hooks: HookInfo[] | null = null;
  if (facts.loadTest) {
    const tested = loadTestCheck(facts.loadTest);
    checks.push(tested.check);
    hooks = tested.hooks;
  }
  if (facts.cgroups) checks.push(cgroupPlacementCheck(facts.cgroups));
  if (facts.pods) checks.push(podNamesCheck(facts.pods));
  const bpftrace = bpftraceCheck(facts.bpftraceInstalled, missingCaps, facts.bpftrace);
  const verdict = backendVerdict(checks, bpftrace, choice, {
    addonLoaded: facts.addon.loaded,
    missingLoadCaps: missingCaps,
    hooks,
  });
  return { checks: verdict.checks, hooks, backend: verdict.backend, canRun: verdict.canRun };
}

/** The report as doctor prints it without --json. */
export function reportText(report: DoctorReport): string {
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
  return `${lines.join('\n')}\n`;
}
