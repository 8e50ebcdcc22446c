/**
 * The bpftrace script for the running kernel, put together from the parts in probes/bpftrace/: for each
 * concern, the first part whose tracepoints this kernel has with every field the part reads (bpftrace
 * refuses a whole script over one missing field, so a kernel-specific part is left out, not guarded).
 * planScript is pure; readScriptPlan and scriptText read the host.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFields, rstReasonsFromFormat, symbolicNames } from './bpftrace-requirements.js';
import { expandRules, readRules } from './probe-rules.js';
import { TRACEFS_DIRS, tracefsDir } from '../tracefs.js';

export const BPFTRACE_PARTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'probes', 'bpftrace');

export interface ScriptPart {
  file: string;
  /** tracepoint ("category/name") -> the fields the part reads from it (besides those every version has) */
  reads: Record<string, string[]>;
  /**
   * Maps only this part writes, cleared at exit (bpftrace allows one END, in ticks-and-end.bt, and
   * refuses a map no probe writes, so END names them only when the part is planned).
   */
  maps?: string[];
}

interface Concern {
  what: string;
  /** Preferred first. */
  parts: ScriptPart[];
  /** Nothing serving it leaves these events out (a note), not the backend (a problem). */
  optional?: boolean;
}

const SEND_SYSCALLS = ['write', 'writev', 'sendto', 'sendmsg', 'sendmmsg'];
const RECV_SYSCALLS = ['read', 'readv', 'recvfrom', 'recvmsg', 'recvmmsg'];
const syscallReads: Record<string, string[]> = Object.fromEntries([
  ...[...SEND_SYSCALLS, ...RECV_SYSCALLS].flatMap((call) => [
    [`syscalls/sys_enter_${call}`, ['fd']],
    [`syscalls/sys_exit_${call}`, ['ret']],
  ]),
  ...['accept', 'accept4'].map((call) => [`syscalls/sys_exit_${call}`, ['ret']]),
]);

/** In script order: ticks-and-end.bt stays last (its first tick says every probe before it is attached). */
export const SCRIPT_CONCERNS: readonly Concern[] = [
  {
    what: 'state changes',
    parts: [
      {
        file: 'owners-and-states.bt',
        reads: {
          'sock/inet_sock_set_state': ['skaddr', 'oldstate', 'newstate', 'sport', 'dport', 'family', 'protocol'],
          'tcp/tcp_destroy_sock': ['skaddr', 'sport', 'dport', 'family'],
          'sched/sched_process_exit': [],
          'task/task_rename': ['pid', 'newcomm[16]'],
        },
      },
    ],
  },
  { what: 'RSTs received', parts: [{ file: 'rst-received.bt', reads: { 'tcp/tcp_receive_reset': ['skaddr', 'sport', 'dport', 'family'] } }] },
  {
    what: 'RSTs sent',
    parts: [
      { file: 'rst-sent.bt', reads: { 'tcp/tcp_send_reset': ['skbaddr', 'skaddr', 'state', 'reason', 'saddr[28]', 'daddr[28]'] } },
      {
        file: 'rst-sent-before-6.10.bt',
        reads: {
          'tcp/tcp_send_reset': ['skbaddr', 'skaddr', 'state', 'sport', 'dport', 'family', 'saddr[4]', 'daddr[4]', 'saddr_v6[16]', 'daddr_v6[16]'],
          'skb/kfree_skb': ['skbaddr', 'reason'],
        },
      },
    ],
  },
  {
    what: 'send and receive errors',
    parts: [
      {
        file: 'socket-errors.bt',
        reads: {
          'sock/sock_send_length': ['sk', 'protocol', 'family', 'ret'],
          'sock/sock_recv_length': ['sk', 'protocol', 'family', 'ret'],
          'syscalls/sys_exit_accept': ['ret'],
          'syscalls/sys_exit_accept4': ['ret'],
        },
      },
      { file: 'socket-errors-at-syscalls.bt', reads: syscallReads },
    ],
  },
  {
    what: 'accept failures',
    parts: [
      {
        file: 'accept-errors.bt',
        reads: Object.fromEntries(['accept', 'accept4'].flatMap((call) => [[`syscalls/sys_enter_${call}`, ['fd']], [`syscalls/sys_exit_${call}`, ['ret']]])),
      },
    ],
  },
  // Optional: older kernels (inet_sk_error_report is 5.14+) still get every other event.
  { what: 'segments sent again', optional: true, parts: [{ file: 'retransmits.bt', reads: { 'tcp/tcp_retransmit_skb': ['skaddr'] } }] },
  {
    what: 'connection errors',
    optional: true,
    parts: [
      {
        file: 'connection-errors.bt',
        reads: {
          'tcp/tcp_retransmit_skb': ['skaddr'],
          'tcp/tcp_destroy_sock': ['skaddr'],
          'sock/inet_sk_error_report': ['error', 'sport', 'dport', 'family', 'protocol', 'saddr[4]', 'daddr[4]', 'saddr_v6[16]', 'daddr_v6[16]'],
        },
        maps: ['@tuple', '@tupled'],
      },
    ],
  },
  { what: 'ticks', parts: [{ file: 'ticks-and-end.bt', reads: {} }] },
];

export interface ScriptPlan {
  parts: ScriptPart[];
  /** What keeps the script from running here, each naming the tracepoint and fields; empty when it can run. */
  problems: string[];
  /** Optional concerns nothing serves here: the events left out, and why. */
  notes: string[];
  /** RST reason names (index = value) from tcp_send_reset's format; empty before 6.10. */
  rstReasons: string[];
  /** The drop reason NO_SOCKET's value on this kernel (the script's $3), -1 when no part needs it. */
  noSocketDropReason: number;
}

/** The value of `name` in a format's __print_symbolic table for `field`, or -1. */
export function symbolicValue(format: string, field: string, name: string): number {
  return symbolicNames(format, field).indexOf(name);
}

/** What a part lacks on this kernel ("no tracepoint x:y", "x:y lacks a, b"), empty when it can run. */
function shortfall(part: ScriptPart, formatOf: (tracepoint: string) => string | undefined): string[] {
  const missing: string[] = [];
  for (const [tracepoint, fields] of Object.entries(part.reads)) {
    const format = formatOf(tracepoint);
    const name = tracepoint.replace('/', ':');
    if (format === undefined) {
      missing.push(`no tracepoint ${name}`);
      continue;
    }
    const have = formatFields(format);
    const lacking = fields.filter((f) => !have.has(f));
    if (lacking.length > 0) missing.push(`${name} lacks ${lacking.join(', ')}`);
  }
  if (part.file === 'rst-sent-before-6.10.bt' && missing.length === 0) {
    if (symbolicValue(formatOf('skb/kfree_skb')!, 'reason', 'NO_SOCKET') < 0) missing.push('skb:kfree_skb does not name the drop reason NO_SOCKET');
  }
  return missing;
}

/** The parts this kernel serves; `formatOf` gives a tracepoint's tracefs format, undefined when it has none. */
export function planScript(formatOf: (tracepoint: string) => string | undefined): ScriptPlan {
  const parts: ScriptPart[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  for (const concern of SCRIPT_CONCERNS) {
    const tried: string[] = [];
    const part = concern.parts.find((p) => {
      const missing = shortfall(p, formatOf);
      if (missing.length > 0) tried.push(`${p.file}: ${missing.join(', ')}`);
      return missing.length === 0;
    });
    if (part) parts.push(part);
    else if (concern.optional) notes.push(`the bpftrace backend leaves out ${concern.what} here (${tried.join('; ')})`);
    else problems.push(`nothing serves ${concern.what} (${tried.join('; ')})`);
  }
  const sendReset = formatOf('tcp/tcp_send_reset');
  const drops = parts.some((p) => p.file === 'rst-sent-before-6.10.bt');
  return {
    parts,
    problems,
    notes,
    rstReasons: sendReset ? rstReasonsFromFormat(sendReset) : [],
    noSocketDropReason: drops ? symbolicValue(formatOf('skb/kfree_skb') ?? '', 'reason', 'NO_SOCKET') : -1,
  };
}

/**
 * Plans the script from this host's tracefs. Tracepoints named (by name, as "sock_send_length") in
 * `pretendMissing` are planned as if the kernel lacked them, to exercise the other parts.
 */
export function readScriptPlan(pretendMissing: readonly string[] = [], tracefsRoots: readonly string[] = TRACEFS_DIRS): ScriptPlan {
  const root = tracefsDir(tracefsRoots);
  if (!root) {
    return { parts: [], problems: ['tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)'], notes: [], rstReasons: [], noSocketDropReason: -1 };
  }
  const formats = new Map<string, string | undefined>();
  return planScript((tracepoint) => {
    if (pretendMissing.includes(tracepoint.split('/')[1]!)) return undefined;
    if (!formats.has(tracepoint)) {
      let format: string | undefined;
      try {
        format = readFileSync(`${root}/events/${tracepoint}/format`, 'utf8');
      } catch {
        format = undefined;
      }
      formats.set(tracepoint, format);
    }
    return formats.get(tracepoint);
  });
}

/** Where END (ticks-and-end.bt) clears the maps of the parts planned (ScriptPart.maps). */
export const PART_MAPS_MARK = '/* the maps of the parts planned (ScriptPart.maps) */';

/**
 * The script's text: its parts in order, the rules they call (probes/lib/rules.bpf.h, in the probes
 * directory above `dir`) written out, END clearing the maps of the parts planned. Throws naming the
 * file when a part is missing from the install.
 */
export function scriptText(plan: ScriptPlan, dir = BPFTRACE_PARTS_DIR): string {
  const rules = readRules(resolve(dir, '..'));
  const clears = plan.parts.flatMap((part) => part.maps ?? []).map((map) => `clear(${map});`);
  return plan.parts
    .map((part) => {
      const path = resolve(dir, part.file);
      if (!existsSync(path)) throw new Error(`a part of the bpftrace script is missing: ${path}`);
      return expandRules(readFileSync(path, 'utf8'), rules).replace(PART_MAPS_MARK, `${PART_MAPS_MARK} ${clears.join(' ')}`);
    })
    .join('\n');
}
