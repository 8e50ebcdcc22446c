/**
 * The rules the BPF programs and the bpftrace script share (which errors are reported, which events
 * cross: probes/lib/rules.bpf.h), made usable by the bpftrace parts. bpftrace 0.17 takes only
 * object-like #defines, so the parts call the header's function-like SOCKTRACE_* macros by name and
 * expandRules writes each call out, with the numbers (EPIPE, ST_TCP_LISTEN, SOCKTRACE_KIND_*) from
 * constants.bpf.h and socktrace_event.h. One source: change the header and the script changes with it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The headers read, relative to the probes directory. */
export const RULE_HEADERS = { rules: 'lib/rules.bpf.h', numbers: ['lib/constants.bpf.h', 'socktrace_event.h'] } as const;

export interface ProbeRules {
  /** Function-like macros of rules.bpf.h: name -> parameters and body. */
  macros: Map<string, { params: string[]; body: string }>;
  /** Named numbers: #define NAME <number>, and enum members NAME = <number>. */
  numbers: Map<string, string>;
}

/** The #define lines of a C header, continuation lines joined, comments dropped. */
function defines(text: string): string[] {
  const joined = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\\\n/g, ' ');
  return joined.split('\n').filter((l) => /^\s*#\s*define\s/.test(l));
}

export function parseRules(rulesHeader: string, numberHeaders: readonly string[]): ProbeRules {
  const macros = new Map<string, { params: string[]; body: string }>();
  for (const line of defines(rulesHeader)) {
    const m = /^\s*#\s*define\s+(\w+)\(([^)]*)\)\s+(.+)$/.exec(line);
    if (m) macros.set(m[1]!, { params: m[2]!.split(',').map((p) => p.trim()), body: m[3]!.replace(/\s+/g, ' ').trim() });
  }
  const numbers = new Map<string, string>();
  for (const text of [rulesHeader, ...numberHeaders]) {
    for (const line of defines(text)) {
      const m = /^\s*#\s*define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\s*$/.exec(line);
      if (m) numbers.set(m[1]!, m[2]!);
    }
    const uncommented = text.replace(/\/\*[\s\S]*?\*\//g, ' ');
    for (const m of uncommented.matchAll(/\benum\s+\w+\s*\{([^}]*)\}/g)) {
      for (const member of m[1]!.matchAll(/(\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)/g)) numbers.set(member[1]!, member[2]!);
    }
  }
  return { macros, numbers };
}

/** The rules from the probes directory (the one that holds probes/bpftrace). */
export function readRules(probesDir: string): ProbeRules {
  const read = (file: string) => readFileSync(resolve(probesDir, file), 'utf8');
  return parseRules(read(RULE_HEADERS.rules), RULE_HEADERS.numbers.map(read));
}

/** The arguments of a call whose '(' is at `open`, split at top-level commas, and the index after ')'. */
function callArgs(text: string, open: number): { args: string[]; end: number } {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) {
      args.push(text.slice(start, i).trim());
      return { args, end: i + 1 };
    } else if (c === ',' && depth === 1) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  throw new Error(`unbalanced parentheses in a call at ${text.slice(open - 30, open + 30)}`);
}

/** `text` with every call of a rules macro written out; names the header does not define are left as they are. */
export function expandRules(text: string, rules: ProbeRules): string {
  const names = [...rules.macros.keys()];
  if (names.length === 0) return text;
  const call = new RegExp(`\\b(${names.join('|')})\\s*\\(`, 'g');
  let out = '';
  let at = 0;
  for (let m = call.exec(text); m; m = call.exec(text)) {
    if (m.index < at) continue;
    const macro = rules.macros.get(m[1]!)!;
    const { args, end } = callArgs(text, m.index + m[0].length - 1);
    if (args.length !== macro.params.length) {
      throw new Error(`${m[1]} takes ${macro.params.length} arguments, given ${args.length}: ${text.slice(m.index, end)}`);
    }
    const named = (t: string) => t.replace(/\b\w+\b/g, (word) => rules.numbers.get(word) ?? word);
    const byParam = new Map(macro.params.map((p, i) => [p, named(expandRules(args[i]!, rules))]));
    // Parameters and numbers in one pass, so an argument is never rewritten as if it were the body.
    const body = macro.body.replace(/\b\w+\b/g, (word) => byParam.get(word) ?? rules.numbers.get(word) ?? word);
    out += text.slice(at, m.index) + expandRules(body, rules);
    at = end;
    call.lastIndex = end;
  }
  return out + text.slice(at);
}
