/**
 * What the bpftrace backend needs, checked before bpftrace runs: a bpftrace new enough for
 * probes/socktrace.bt, and tracepoints with the fields that script reads. Pure parsers, and one
 * function that reads the host.
 */
import { existsSync, readFileSync } from 'node:fs';

/** The oldest bpftrace the script is written and tested for (tuple map values holding names). */
export const MIN_BPFTRACE = [0, 17, 0] as const;
export const MIN_BPFTRACE_TEXT = MIN_BPFTRACE.join('.');

/** "bpftrace v0.17.0" (or "bpftrace v0.21.2-12-gabc") -> [0, 17, 0]; null when it does not say. */
export function parseBpftraceVersion(output: string): [number, number, number] | null {
  const m = /bpftrace v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/** null when the version is good enough; otherwise why not, naming what was found and what is needed. */
export function bpftraceVersionProblem(output: string): string | null {
  const v = parseBpftraceVersion(output);
  if (!v) return `could not read bpftrace's version from ${JSON.stringify(output.trim().slice(0, 80))}; socktrace needs bpftrace ${MIN_BPFTRACE_TEXT} or later`;
  for (let i = 0; i < 3; i++) {
    if (v[i]! > MIN_BPFTRACE[i]!) return null;
    if (v[i]! < MIN_BPFTRACE[i]!) return `bpftrace ${v.join('.')} is too old: socktrace needs bpftrace ${MIN_BPFTRACE_TEXT} or later`;
  }
  return null;
}

/** The fields socktrace.bt reads from each tracepoint (besides those every version has). */
export const REQUIRED_FIELDS: Record<string, string[]> = {
  'sock/inet_sock_set_state': ['skaddr', 'oldstate', 'newstate', 'sport', 'dport', 'family', 'protocol'],
  'tcp/tcp_send_reset': ['skbaddr', 'skaddr', 'state', 'reason', 'saddr[28]', 'daddr[28]'],
  'tcp/tcp_receive_reset': ['skaddr', 'sport', 'dport', 'family'],
  'tcp/tcp_destroy_sock': ['skaddr'],
  'sock/sock_send_length': ['sk', 'protocol', 'family', 'ret'],
  'sock/sock_recv_length': ['sk', 'protocol', 'family', 'ret'],
};

/** Field names in a tracefs format file ("field:__u8 saddr[28];" -> "saddr[28]"). */
export function formatFields(format: string): Set<string> {
  const fields = new Set<string>();
  for (const m of format.matchAll(/field:[^;]*?([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?);/g)) fields.add(m[1]!);
  return fields;
}

/** RST reason names from tcp_send_reset's print format (index = value), as the kernel prints them. */
export function rstReasonsFromFormat(format: string): string[] {
  const start = format.indexOf('__print_symbolic(REC->reason');
  if (start < 0) return [];
  const reasons: string[] = [];
  for (const m of format.slice(start).matchAll(/\{\s*(\d+),\s*"([A-Z0-9_]+)"\s*\}/g)) reasons[Number(m[1])] = m[2]!;
  return reasons;
}

export interface BpftraceKernelFacts {
  rstReasons: string[];
  /** Tracepoints or fields missing, each saying which; empty when the script can run. */
  problems: string[];
}

export function readBpftraceKernelFacts(tracefsRoots = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']): BpftraceKernelFacts {
  const root = tracefsRoots.find((r) => existsSync(`${r}/events`));
  if (!root) return { rstReasons: [], problems: ['tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)'] };
  const problems: string[] = [];
  let rstReasons: string[] = [];
  for (const [tracepoint, needed] of Object.entries(REQUIRED_FIELDS)) {
    let format: string;
    try {
      format = readFileSync(`${root}/events/${tracepoint}/format`, 'utf8');
    } catch {
      problems.push(`no tracepoint ${tracepoint.replace('/', ':')}`);
      continue;
    }
    const have = formatFields(format);
    const missing = needed.filter((f) => !have.has(f));
    if (missing.length > 0) problems.push(`tracepoint ${tracepoint.replace('/', ':')} lacks ${missing.join(', ')} (socktrace.bt needs the Linux 6.10+ formats)`);
    if (tracepoint === 'tcp/tcp_send_reset') rstReasons = rstReasonsFromFormat(format);
  }
  return { rstReasons, problems };
}
