/**
 * doctor's checks on recorded inputs: what doctor read on Linux 6.18 as root, as nobody, as root
 * without CAP_BPF and CAP_PERFMON, and without the addon and bpftrace (test/fixtures/doctor/, recorded
 * by test/fixtures/record-doctor-facts.mjs with the text doctor printed then), and variants of them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HOOK_TABLE } from '../../src/backends/native/hook-table.js';
import {
  bpftraceCheck,
  type Check,
  type DoctorFacts,
  doctorTracepoints,
  HOOK_ROLES,
  judge,
  kernelCheck,
  reportText,
} from '../../src/commands/doctor-checks.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/doctor/${name}`, import.meta.url), 'utf8');

function recorded(name: string): DoctorFacts {
  const raw = JSON.parse(fixture(`${name}.facts.json`)) as Omit<DoctorFacts, 'caps' | 'classic'> & {
    caps: string | null;
    classic: string[];
  };
  return { ...raw, caps: raw.caps === null ? null : BigInt(raw.caps), classic: new Set(raw.classic) };
}

const RECORDED = ['root-6.18', 'nobody-6.18', 'root-without-bpf-caps-6.18', 'no-addon-no-bpftrace-6.18'];
const root = () => recorded('root-6.18');
const check = (checks: Check[], name: string) => checks.find((c) => c.name === name);
const mark = (c: Check | undefined) => (c === undefined ? 'none' : c.ok && !c.degraded ? 'ok' : c.degraded ? 'warn' : 'FAIL');

describe('doctor on recorded hosts', () => {
  it.each(RECORDED)('says what it said then: %s', (name) => {
    expect(reportText(judge(recorded(name), 'auto'))).toBe(fixture(`${name}.txt`));
  });

  it('as root with everything, uses the native backend and lists the hooks the load test chose', () => {
    const report = judge(root(), 'auto');
    expect(report.canRun).toBe(true);
    expect(report.backend).toBe('native (libbpf addon): it loads, so --backend auto uses it');
    expect(report.checks.every((c) => c.ok && !c.degraded)).toBe(true);
    expect(report.hooks?.map((h) => h.name)).toContain('sys_exit_accept');
  });

  it('without --no-load, says the addon is built but not load-tested', () => {
    const report = judge({ ...root(), loadTest: null }, 'auto');
    expect(check(report.checks, 'load test')).toBeUndefined();
    expect(report.backend).toBe('native (libbpf addon): it is built (not load-tested: --no-load), so --backend auto uses it');
    expect(report.hooks).toBeNull();
  });

  it('with a failed load test, falls back to bpftrace and shows the first line of the error', () => {
    const report = judge({ ...root(), loadTest: { error: 'loading failed: Permission denied\nverifier log' } }, 'auto');
    expect(check(report.checks, 'load test')).toMatchObject({ ok: false, degraded: true, detail: 'loading failed: Permission denied' });
    expect(report.backend).toBe('bpftrace: the native addon failed its load test, so --backend auto uses bpftrace');
    expect(judge({ ...root(), loadTest: { error: 'x' } }, 'native').canRun).toBe(false);
  });
});

describe('each check', () => {
  it('kernel: 5.8 or later', () => {
    expect(kernelCheck('5.8.0').ok).toBe(true);
    expect(kernelCheck('5.7.19')).toMatchObject({ ok: false, fix: 'socktrace needs Linux 5.8+ (BPF ring buffers)' });
    expect(kernelCheck('6.1.0-28-amd64').ok).toBe(true);
  });

  it('no BTF: a warning while bpftrace can run, a failure when native is asked for', () => {
    const facts = { ...root(), btf: false };
    expect(mark(check(judge(facts, 'auto').checks, 'BTF'))).toBe('warn');
    expect(judge(facts, 'auto').canRun).toBe(true);
    const native = judge(facts, 'native');
    expect(check(native.checks, 'BTF')).toMatchObject({ ok: false, detail: 'no /sys/kernel/btf/vmlinux' });
    expect(mark(check(native.checks, 'BTF'))).toBe('FAIL');
    expect(native.canRun).toBe(false);
  });

  it('tracefs not readable: says where it is mounted, and the tracepoints it cannot see', () => {
    const facts = { ...root(), tracefs: null, classic: new Set<string>() };
    const checks = judge(facts, 'auto').checks;
    expect(check(checks, 'tracefs')?.detail).toBe('mounted at /sys/kernel/tracing, but not readable by this user');
    // tp_btf still serves the others; accept4 is classic only and has a fallback.
    expect(check(checks, 'syscalls:sys_exit_accept4')?.detail).toMatch(/not visible \(tracefs is not readable here\); using the listener's owner$/);
    const unmounted = judge({ ...facts, tracefsMounts: [] }, 'auto').checks;
    expect(check(unmounted, 'tracefs')?.detail).toBe('not mounted');
    expect(check(unmounted, 'tracefs')?.fix).toMatch(/^mount -t tracefs tracefs \/sys\/kernel\/tracing/);
  });

  it('missing capabilities: CAP_BPF and CAP_PERFMON fail, the others warn, and bpftrace says why it cannot run', () => {
    const checks = judge(recorded('root-without-bpf-caps-6.18'), 'auto').checks;
    expect(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN'].map((c) => mark(check(checks, c)))).toEqual(['FAIL', 'FAIL', 'ok']);
    const nobody = judge(recorded('nobody-6.18'), 'auto');
    expect(mark(check(nobody.checks, 'CAP_SYS_PTRACE'))).toBe('warn');
    expect(check(nobody.checks, 'bpftrace backend')?.detail).toMatch(/is installed, but cannot run as this user: bpftrace needs CAP_BPF and CAP_PERFMON/);
    expect(nobody.backend).toMatch(/^none: both backends load BPF programs, which needs CAP_BPF and CAP_PERFMON/);
  });

  it('addon missing: checks the tracepoints of the addon table copy, no ring buffer, and uses bpftrace', () => {
    const facts: DoctorFacts = {
      ...root(),
      addon: { loaded: false, error: 'the native addon could not be loaded. Build it\n  tried: x' },
      hookTable: HOOK_TABLE,
      kernel: null,
      loadTest: null,
    };
    const report = judge(facts, 'auto');
    expect(check(report.checks, 'native addon')).toMatchObject({ ok: false, degraded: true, fix: "build it from a checkout: bash scripts/setup (or npm run build); the package's prebuild is for linux-x64 with glibc" });
    expect(check(report.checks, 'ring buffer')).toBeUndefined();
    expect(check(report.checks, 'tcp:tcp_send_reset')?.detail).toBe('RSTs sent, with the kernel reason (6.10+): classic tracepoint');
    expect(report.backend).toBe('bpftrace: the native addon is missing, so --backend auto uses bpftrace');
    expect(report.canRun).toBe(true);
    expect(judge(facts, 'native').backend).toBe('native (asked for): the addon is missing');
  });

  it('bpftrace missing: a warning while native runs, a failure when bpftrace is asked for', () => {
    const facts = { ...root(), bpftraceInstalled: null, bpftrace: { error: 'bpftrace is not installed (ran "bpftrace --version")' } };
    const auto = judge(facts, 'auto');
    expect(check(auto.checks, 'bpftrace backend')).toMatchObject({
      degraded: true,
      detail: 'bpftrace is not installed (ran "bpftrace --version")',
      fix: 'apt-get install bpftrace (0.17.0 or later); only needed where the native addon cannot load',
    });
    expect(auto.canRun).toBe(true);
    const asked = judge(facts, 'bpftrace');
    expect(asked.backend).toBe('bpftrace (asked for): it cannot run here');
    expect(asked.canRun).toBe(false);
  });

  it('a tracepoint absent with a fallback warns and names it; without one it fails', () => {
    const tpBtf = { ...root().kernel!.tpBtf, sock_send_length: false, tcp_receive_reset: false };
    const classic = new Set([...root().classic].filter((t) => !/sock_send_length|tcp_receive_reset/.test(t)));
    const report = judge({ ...root(), kernel: { ...root().kernel!, tpBtf }, classic }, 'auto');
    expect(check(report.checks, 'sock:sock_send_length')).toMatchObject({
      ok: true,
      degraded: true,
      detail: 'send errors (EPIPE, ECONNRESET): absent; using syscall exits of write/send*',
    });
    expect(check(report.checks, 'tcp:tcp_receive_reset')).toMatchObject({
      ok: false,
      detail: 'RSTs received: absent',
      fix: 'this kernel lacks it; socktrace cannot work without it',
    });
    expect(report.canRun).toBe(false);
  });

  it('the ring buffer: unknown without CAP_BPF is a warning, "no" a failure', () => {
    const noRing = judge({ ...root(), kernel: { ...root().kernel!, ringbuf: 'no' } }, 'auto');
    expect(check(noRing.checks, 'ring buffer')).toMatchObject({ ok: false, fix: 'this kernel has no BPF ring buffer (Linux 5.8+ has)' });
    expect(mark(check(judge(recorded('nobody-6.18'), 'auto').checks, 'ring buffer'))).toBe('warn');
  });
});

describe("doctor's tracepoints come from the addon's hook table", () => {
  it('has a role for every primary hook, and for no hook the table lacks', () => {
    const primaries = HOOK_TABLE.filter((h) => h.fallbackFor === null).map((h) => h.name);
    expect(Object.keys(HOOK_ROLES).sort()).toEqual([...primaries].sort());
    for (const said of Object.values(HOOK_ROLES)) if ('shownWith' in said) expect(primaries).toContain(said.shownWith);
  });

  it('checks the primaries in the table order, accept under accept4, no fallback hook', () => {
    expect(doctorTracepoints(HOOK_TABLE).map((t) => `${t.category}:${t.name}`)).toEqual([
      'sock:inet_sock_set_state',
      'tcp:tcp_send_reset',
      'tcp:tcp_receive_reset',
      'tcp:tcp_destroy_sock',
      'sock:sock_send_length',
      'sock:sock_recv_length',
      'syscalls:sys_exit_accept4',
      'sched:sched_process_exit',
      'task:task_rename',
      'tcp:tcp_retransmit_skb',
      'sock:inet_sk_error_report',
    ]);
  });

  it('says "required" of exactly the hooks the table requires', () => {
    const required = HOOK_TABLE.filter((h) => h.required).map((h) => h.name);
    const saidRequired = doctorTracepoints(HOOK_TABLE).filter((t) => t.role.includes('(required)')).map((t) => t.name);
    expect(saidRequired).toEqual(required);
    for (const t of doctorTracepoints(HOOK_TABLE)) if (required.includes(t.name)) expect(t.fallback).toBeUndefined();
  });
});

it("names what the bpftrace script leaves out on this kernel beside the parts it runs", () => {
  const check = bpftraceCheck('/usr/bin/bpftrace', [], {
    version: 'bpftrace v0.17.0',
    parts: ['owners-and-states.bt', 'retransmits.bt', 'ticks-and-end.bt'],
    notes: ['the bpftrace backend leaves out connection errors here (connection-errors.bt: no tracepoint sock:inet_sk_error_report)'],
  });
  expect(check).toMatchObject({ ok: true });
  expect(check.detail).toBe(
    'bpftrace v0.17.0; script parts for this kernel: owners-and-states.bt, retransmits.bt, ticks-and-end.bt; the bpftrace backend leaves out connection errors here (connection-errors.bt: no tracepoint sock:inet_sk_error_report)',
  );
});
