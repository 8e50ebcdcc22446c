/**
 * Planning the bpftrace script per kernel, on recorded tracefs formats: Linux 6.18 (this machine) and
 * Debian's 6.1 (test/fixtures/*-6.1.format, recorded in scripts/test-on-kernel's VM).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BPFTRACE_PARTS_DIR, planScript, SCRIPT_CONCERNS, scriptText, symbolicValue } from '../../src/backends/bpftrace/bpftrace-script.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

/** A format with just these fields (the parts are planned by field names only). */
const formatWith = (...fields: string[]) => `format:\n${fields.map((f) => `\tfield:int ${f};\toffset:8;\tsize:4;\tsigned:1;\n`).join('')}`;

const common: Record<string, string> = {
  'sock/inet_sock_set_state': formatWith('skaddr', 'oldstate', 'newstate', 'sport', 'dport', 'family', 'protocol'),
  'tcp/tcp_destroy_sock': formatWith('skaddr', 'sport', 'dport', 'family'),
  'sched/sched_process_exit': formatWith('comm[16]', 'pid', 'prio'),
  'task/task_rename': formatWith('pid', 'oldcomm[16]', 'newcomm[16]', 'oom_score_adj'),
  'tcp/tcp_receive_reset': formatWith('skaddr', 'sport', 'dport', 'family'),
};
const syscalls: Record<string, string> = Object.fromEntries([
  ...['write', 'writev', 'sendto', 'sendmsg', 'sendmmsg', 'read', 'readv', 'recvfrom', 'recvmsg', 'recvmmsg'].flatMap((c) => [
    [`syscalls/sys_enter_${c}`, formatWith('fd')],
    [`syscalls/sys_exit_${c}`, formatWith('ret')],
  ]),
  ...['accept', 'accept4'].map((c) => [`syscalls/sys_exit_${c}`, formatWith('ret')]),
]);
const linux618: Record<string, string> = {
  ...common,
  ...syscalls,
  'tcp/tcp_send_reset': fixture('tcp_send_reset.format'),
  'skb/kfree_skb': fixture('kfree_skb.format'),
  'sock/sock_send_length': formatWith('sk', 'family', 'protocol', 'ret', 'flags'),
  'sock/sock_recv_length': formatWith('sk', 'family', 'protocol', 'ret', 'flags'),
};
const linux61: Record<string, string> = {
  ...common,
  ...syscalls,
  'tcp/tcp_send_reset': fixture('tcp_send_reset-6.1.format'),
  'skb/kfree_skb': fixture('kfree_skb-6.1.format'),
};
const files = (kernel: Record<string, string>) => planScript((t) => kernel[t]).parts.map((p) => p.file);

describe('the bpftrace script for each kernel', () => {
  it('takes the 6.10+ parts on 6.18, with the RST reason names and no drop reason to pass', () => {
    const plan = planScript((t) => linux618[t]);
    expect(plan.problems).toEqual([]);
    expect(files(linux618)).toEqual(['owners-and-states.bt', 'rst-received.bt', 'rst-sent.bt', 'socket-errors.bt', 'ticks-and-end.bt']);
    expect(plan.rstReasons[1]).toBe('NO_SOCKET');
    expect(plan.noSocketDropReason).toBe(-1);
  });

  it("takes the older tcp_send_reset with kfree_skb, and the syscalls' exits, on 6.1", () => {
    const plan = planScript((t) => linux61[t]);
    expect(plan.problems).toEqual([]);
    expect(files(linux61)).toEqual([
      'owners-and-states.bt',
      'rst-received.bt',
      'rst-sent-before-6.10.bt',
      'socket-errors-at-syscalls.bt',
      'ticks-and-end.bt',
    ]);
    expect(plan.rstReasons).toEqual([]);
    // Numbered by that kernel's own enum, read from its print format.
    expect(plan.noSocketDropReason).toBe(symbolicValue(linux61['skb/kfree_skb']!, 'reason', 'NO_SOCKET'));
    expect(plan.noSocketDropReason).toBeGreaterThan(0);
  });

  it('says what each alternative lacks when nothing serves a concern', () => {
    const kernel = { ...linux61 };
    delete kernel['skb/kfree_skb'];
    const plan = planScript((t) => kernel[t]);
    expect(plan.problems).toEqual([
      'nothing serves RSTs sent (rst-sent.bt: tcp:tcp_send_reset lacks reason, saddr[28], daddr[28]; rst-sent-before-6.10.bt: no tracepoint skb:kfree_skb)',
    ]);
  });

  it('needs the process exit and rename tracepoints for owners (an owner ends with its process, its name follows renames)', () => {
    const kernel: Record<string, string> = { ...linux618 };
    delete kernel['task/task_rename'];
    expect(planScript((t) => kernel[t]).problems).toEqual(['nothing serves state changes (owners-and-states.bt: no tracepoint task:task_rename)']);
  });

  it('refuses a kfree_skb that does not name NO_SOCKET', () => {
    const kernel: Record<string, string> = { ...linux61, 'skb/kfree_skb': formatWith('skbaddr', 'reason') };
    expect(planScript((t) => kernel[t]).problems[0]).toMatch(/does not name the drop reason NO_SOCKET/);
  });

  it('puts the script together in concern order, ending with the ticks', () => {
    for (const concern of SCRIPT_CONCERNS) for (const part of concern.parts) expect(existsSync(resolve(BPFTRACE_PARTS_DIR, part.file)), part.file).toBe(true);
    const text = scriptText(planScript((t) => linux61[t]));
    expect(text.indexOf('tracepoint:sock:inet_sock_set_state')).toBeLessThan(text.indexOf('tracepoint:skb:kfree_skb'));
    expect(text.indexOf('tracepoint:syscalls:sys_exit_write')).toBeLessThan(text.indexOf('interval:s:1'));
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(text).not.toContain('tracepoint:sock:sock_send_length');
    expect(text).not.toMatch(/args->reason,/); // the 6.10+ rst-sent.bt reads it
  });
});
