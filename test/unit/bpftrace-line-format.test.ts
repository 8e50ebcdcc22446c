/**
 * The bpftrace backend's event line against the contract, as record-layout.test.ts holds the native
 * mirror: every field of struct socktrace_event (probes/socktrace_event.h) is carried by the line
 * (LINE_FIELDS) or said to be left out with a reason, and every event printf of every script part
 * prints the fields bpftrace-lines.ts parses. Adding a field to the record makes the first test name
 * it; adding it to the line makes the printf test name every part that still prints the old line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BPFTRACE_PARTS_DIR } from '../../src/backends/bpftrace/bpftrace-script.js';
import { LINE_FIELDS, parseEventText, RECORD_FIELDS_NOT_IN_LINE } from '../../src/backends/bpftrace/bpftrace-lines.js';

const header = readFileSync(resolve(BPFTRACE_PARTS_DIR, '..', 'socktrace_event.h'), 'utf8');

/** The member names of a struct in the header. */
function structFields(name: string): string[] {
  const body = new RegExp(`struct ${name} \\{([^}]*)\\};`).exec(header.replace(/\/\*[\s\S]*?\*\//g, ''))?.[1];
  if (!body) throw new Error(`no struct ${name} in socktrace_event.h`);
  return body
    .split(';')
    .map((decl) => /(\w+)\s*(\[[^\]]*\])?\s*$/.exec(decl.trim())?.[1])
    .filter((f): f is string => f !== undefined);
}

/** The event printfs of a part: their format string and their arguments. */
function eventPrintfs(text: string): { format: string; args: string[] }[] {
  const found: { format: string; args: string[] }[] = [];
  for (const m of text.matchAll(/printf\("([STRWVDAXE]\\t[^"]*)"/g)) {
    const args: string[] = [];
    let depth = 1;
    let start = m.index + m[0].length + 1; // past the comma after the format
    for (let i = m.index + m[0].length; i < text.length && depth > 0; i++) {
      const c = text[i];
      if (c === '(') depth++;
      else if (c === ')') depth--;
      if ((c === ',' && depth === 1 && i >= start) || depth === 0) {
        if (i > start) args.push(text.slice(start, i).trim());
        start = i + 1;
      }
    }
    found.push({ format: m[1]!, args: args.filter(Boolean) });
  }
  return found;
}

describe('the bpftrace event line and the record (socktrace_event.h)', () => {
  const record = structFields('socktrace_event');

  it('reads the record from the header', () => {
    expect(record).toContain('sock_id');
    expect(record).toContain('task_comm');
  });

  it('carries every field of the record, or says why not', () => {
    const carried = new Set(LINE_FIELDS.map((f) => f.carries).filter((f) => f !== null));
    for (const field of record) {
      const absent = RECORD_FIELDS_NOT_IN_LINE[field];
      expect(carried.has(field) || absent !== undefined, `${field}: add it to LINE_FIELDS or RECORD_FIELDS_NOT_IN_LINE`).toBe(true);
      expect(carried.has(field) && absent !== undefined, `${field} is both carried and said to be absent`).toBe(false);
    }
    for (const field of [...carried, ...Object.keys(RECORD_FIELDS_NOT_IN_LINE)]) {
      expect(record, `${field} is not a field of struct socktrace_event`).toContain(field);
    }
  });

  it('is printed with LINE_FIELDS.length fields, an argument for each conversion, by every part', () => {
    const parts = readdirSync(BPFTRACE_PARTS_DIR).filter((f) => f.endsWith('.bt'));
    let printfs = 0;
    for (const file of parts) {
      for (const { format, args } of eventPrintfs(readFileSync(resolve(BPFTRACE_PARTS_DIR, file), 'utf8'))) {
        printfs++;
        const fields = format.replace(/\\n$/, '').split('\\t');
        expect(fields.length, `${file}: ${format}`).toBe(LINE_FIELDS.length);
        const conversions = format.match(/%[a-z]+/g) ?? [];
        expect(args.length, `${file}: ${format}`).toBe(conversions.length);
        // A field is one conversion or a literal number: never two run together.
        for (const field of fields.slice(1)) expect(field, `${file}: ${format}`).toMatch(/^(%[a-z]+|\d+)$/);
      }
    }
    expect(printfs).toBeGreaterThanOrEqual(20);
  });

  it('parses a line of exactly that many fields and refuses one more or one less', () => {
    const line = ['S', '1', 'ffff1', '4026531840', '2', '80', '4242', ...Array(8).fill('0'), '1', '8', '65535', '0', '0']
      .concat(['0', '0', '0', '7', '0', 'a', 'b'])
      .join('\t');
    expect(line.split('\t')).toHaveLength(LINE_FIELDS.length);
    expect(parseEventText(line, { idSalt: 0n })?.state).toBe('CLOSE_WAIT');
    expect(parseEventText(`${line}\t0`, { idSalt: 0n })).toBeNull();
    expect(parseEventText(line.slice(0, line.lastIndexOf('\t')), { idSalt: 0n })).toBeNull();
  });
});
