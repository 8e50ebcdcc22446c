/**
 * Planning the bpftrace script per kernel, on recorded tracefs formats: Linux 6.18 (this machine) and
 * Debian's 6.1 (test/fixtures/*-6.1.format, recorded in scripts/test-on-kernel's VM).
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BPFTRACE_PARTS_DIR, planScript, SCRIPT_CONCERNS, scriptText, symbolicValue } from '../../src/backends/bpftrace/bpftrace-script.js';
import { expandRules, readRules, RULE_HEADERS } from '../../src/backends/bpftrace/probe-rules.js';
import { passes } from '../../src/backends/bpftrace/bpftrace-source.js';
import { KIND_CODES } from '../../src/backends/native/record-layout.js';
import { TCP_STATES } from '../../src/events/tcp-names.js';
import type { SockEvent } from '../../src/events/sock-event.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

/** A format with just these fields (the parts are planned by field names only). */
const formatWith = (...fields: string[]) => `format:\n${fields.map((f) => `\tfield:int ${f};\toffset:8;\tsize:4;\tsigned:1;\n`).join('')}`;

const common: Record<string, string> = {
  'sock/inet_sock_set_state': formatWith('skaddr', 'oldstate', 'newstate', 'sport', 'dport', 'family', 'protocol'),
  'tcp/tcp_destroy_sock': formatWith('skaddr', 'sport', 'dport', 'family'),
  'sched/sched_process_exit': formatWith('comm[16]', 'pid', 'prio'),
  'task/task_rename': formatWith('pid', 'oldcomm[16]', 'newcomm[16]', 'oom_score_adj'),
  'tcp/tcp_receive_reset': formatWith('skaddr', 'sport', 'dport', 'family'),
  // As 6.1 and 6.18 both have them (6.18's tcp_retransmit_skb adds err).
  'tcp/tcp_retransmit_skb': formatWith('skbaddr', 'skaddr', 'state', 'sport', 'dport', 'family', 'saddr[4]', 'daddr[4]', 'saddr_v6[16]', 'daddr_v6[16]'),
  'sock/inet_sk_error_report': formatWith('error', 'sport', 'dport', 'family', 'protocol', 'saddr[4]', 'daddr[4]', 'saddr_v6[16]', 'daddr_v6[16]'),
};
const syscalls: Record<string, string> = Object.fromEntries([
  ...['write', 'writev', 'sendto', 'sendmsg', 'sendmmsg', 'read', 'readv', 'recvfrom', 'recvmsg', 'recvmmsg'].flatMap((c) => [
    [`syscalls/sys_enter_${c}`, formatWith('fd')],
    [`syscalls/sys_exit_${c}`, formatWith('ret')],
  ]),
  ...['accept', 'accept4'].flatMap((c) => [
    [`syscalls/sys_enter_${c}`, formatWith('fd')],
    [`syscalls/sys_exit_${c}`, formatWith('ret')],
  ]),
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
    expect(files(linux618)).toEqual([
      'owners-and-states.bt',
      'rst-received.bt',
      'rst-sent.bt',
      'socket-errors.bt',
      'accept-errors.bt',
      'retransmits.bt',
      'connection-errors.bt',
      'ticks-and-end.bt',
    ]);
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
      'accept-errors.bt',
      'retransmits.bt',
      'connection-errors.bt',
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

  it('leaves connection errors out where inet_sk_error_report is missing (before 5.14), saying so, and runs', () => {
    const kernel: Record<string, string> = { ...linux61 };
    delete kernel['sock/inet_sk_error_report'];
    const plan = planScript((t) => kernel[t]);
    expect(plan.problems).toEqual([]);
    expect(plan.notes).toEqual([
      'the bpftrace backend leaves out connection errors here (connection-errors.bt: no tracepoint sock:inet_sk_error_report)',
    ]);
    expect(plan.parts.map((p) => p.file)).toContain('retransmits.bt');
    expect(plan.parts.map((p) => p.file)).not.toContain('connection-errors.bt');
    // END clears a part's maps only when the part is planned (bpftrace refuses a map no probe writes).
    expect(scriptText(plan)).not.toContain('@tuple');
    expect(scriptText(planScript((t) => linux61[t]))).toMatch(/END[\s\S]*clear\(@tuple\); clear\(@tupled\);/);
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

const PROBES_DIR = resolve(BPFTRACE_PARTS_DIR, '..');
const CONNECTION_ERRNOS = [32, 104, 110, 111, 103, 113, 101]; // EPIPE ECONNRESET ETIMEDOUT ECONNREFUSED ECONNABORTED EHOSTUNREACH ENETUNREACH

describe('the rules the script shares with the BPF programs (probes/lib/rules.bpf.h)', () => {
  const rules = readRules(PROBES_DIR);
  const kernels = { '6.18': linux618, '6.1': linux61 };

  it.each(Object.entries(kernels))('writes every rule out in the script planned on %s', (_, kernel) => {
    const text = scriptText(planScript((t) => kernel[t]));
    expect(text).not.toMatch(/SOCKTRACE_[A-Z_]+\(/); // no call left for bpftrace to refuse
    expect(text).toContain(`(${CONNECTION_ERRNOS.map((e) => `($err) == ${e}`).join(' || ')})`);
    expect(text).toContain('$1 & (1u << (2))'); // RSTs sent, kind 2
  });

  it('takes the state rule from the header, LISTEN (10) not counting on the way to anything but CLOSE (7)', () => {
    const text = scriptText(planScript((t) => linux618[t]));
    expect(text).toContain('$2 & ((($old) == 10 && ($new) != 7 ? 0 : 1u << (($old) & 31)) | (1u << (($new) & 31)))');
  });

  it('follows a change of the header into the planned script', () => {
    const dir = mkdtempSync(join(tmpdir(), 'socktrace-rules-'));
    try {
      cpSync(PROBES_DIR, dir, { recursive: true });
      const header = join(dir, RULE_HEADERS.rules);
      writeFileSync(header, readFileSync(header, 'utf8').replace('(err) == ENETUNREACH)', '(err) == ENETUNREACH || (err) == EAGAIN)'));
      const constants = join(dir, 'lib/constants.bpf.h');
      writeFileSync(constants, readFileSync(constants, 'utf8').replace('#define EPIPE 32', '#define EPIPE 32\n#define EAGAIN 11'));
      for (const kernel of Object.values(kernels)) {
        const text = scriptText(planScript((t) => kernel[t]), join(dir, 'bpftrace'));
        expect(text).toContain('($err) == 101 || ($err) == 11)');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a rule called with the wrong number of arguments', () => {
    expect(() => expandRules('SOCKTRACE_OLD_STATE_BIT($old)', rules)).toThrow(/takes 2 arguments, given 1/);
  });

  it('is what the bpftrace backend filters by in user space (passes) for every kind and state change', () => {
    const js = (call: string) => expandRules(call, rules).replace(/\b(\d+)u\b/g, '$1');
    const kindBit = new Function('k', `return ${js('SOCKTRACE_KIND_BIT(k)')};`) as (k: number) => number;
    const stateBits = new Function('o', 'n', `return ${js('SOCKTRACE_OLD_STATE_BIT(o, n) | SOCKTRACE_NEW_STATE_BIT(n)')};`) as (
      o: number,
      n: number,
    ) => number;
    const states = TCP_STATES.length;
    for (let kinds = 1; kinds < 1 << 7; kinds <<= 1) {
      for (const [kind, code] of Object.entries(KIND_CODES)) {
        for (let o = 1; o < states; o++) {
          for (let n = 1; n < states; n++) {
            for (const emitStates of [1 << o, 1 << n, 1 << 10, ~0 >>> 0]) {
              const e = { kind, oldState: TCP_STATES[o], state: TCP_STATES[n] } as unknown as SockEvent;
              const header = (kinds & kindBit(code)) !== 0 && (kind !== 'state_change' || (emitStates & stateBits(o, n)) !== 0);
              expect(passes(e, { emitKinds: kinds, emitStates }), `${kind} ${o}->${n} kinds ${kinds} states ${emitStates}`).toBe(header);
            }
          }
        }
      }
    }
  });

  it('is spelled by no part by hand: no errno set, kind bit or state rule of its own', () => {
    const parts = readdirSync(BPFTRACE_PARTS_DIR).filter((f) => f.endsWith('.bt'));
    expect(parts.length).toBeGreaterThan(5);
    for (const file of parts) {
      const text = readFileSync(resolve(BPFTRACE_PARTS_DIR, file), 'utf8');
      const errnoTest = new RegExp(`==\\s*-?(${CONNECTION_ERRNOS.join('|')})\\b`);
      expect(text, file).not.toMatch(errnoTest);
      expect(text, file).not.toMatch(/\b(EPIPE|ECONNRESET|ETIMEDOUT|ECONNREFUSED|ECONNABORTED|EHOSTUNREACH|ENETUNREACH)\b/);
      // The kinds ($1) and states ($2) masks are only ever tested through the rules.
      for (const m of text.matchAll(/\$([12])\s*&\s*(\(?\s*\w*)/g)) {
        expect(m[2]!.replace(/^\(\s*/, ''), `${file}: ${m[0]}`).toMatch(m[1] === '1' ? /^SOCKTRACE_KIND_BIT$/ : /^SOCKTRACE_(OLD|NEW)_STATE_BIT$/);
      }
      expect(text, file).not.toMatch(/1\s*<<\s*\$(old|new)/);
    }
  });
});
