/**
 * What the bpftrace backend needs, checked before bpftrace runs: a bpftrace new enough for the
 * script (probes/bpftrace/), and the parsers of tracefs formats that bpftrace-script.ts plans it by.
 */

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

/** Field names in a tracefs format file ("field:__u8 saddr[28];" -> "saddr[28]"). */
export function formatFields(format: string): Set<string> {
  const fields = new Set<string>();
  for (const m of format.matchAll(/field:[^;]*?([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?);/g)) fields.add(m[1]!);
  return fields;
}

/** The names of a field's values in a format's __print_symbolic table (index = value, holes where none). */
export function symbolicNames(format: string, field: string): string[] {
  const start = format.indexOf(`__print_symbolic(REC->${field}`);
  if (start < 0) return [];
  const names: string[] = [];
  for (const m of format.slice(start).matchAll(/\{\s*(\d+),\s*"([A-Z0-9_]+)"\s*\}/g)) names[Number(m[1])] = m[2]!;
  return names;
}

/** RST reason names from tcp_send_reset's print format (index = value), as the kernel prints them. */
export function rstReasonsFromFormat(format: string): string[] {
  return symbolicNames(format, 'reason');
}
