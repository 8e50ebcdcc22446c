/**
 * The bpftrace backend's parser on recorded output (test/fixtures/bpftrace-output.jsonl, recorded by
 * test/fixtures/record-bpftrace-output.mjs: the script of probes/bpftrace/ under bpftrace 0.17 on Linux 6.18
 * while a process named "ev\til\e[31m" opened, used and closed an IPv4 connection and was refused on
 * [::1]:1), on lines made from it, and its requirement checks on recorded formats.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeKernelText } from '../../src/events/kernel-text.js';
import { decodeEscapedName, parseBpftraceLine, parseEventText, socketId } from '../../src/backends/bpftrace/bpftrace-lines.js';
import {
  bpftraceVersionProblem,
  formatFields,
  parseBpftraceVersion,
  rstReasonsFromFormat,
} from '../../src/backends/bpftrace/bpftrace-requirements.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const lines = fixture('bpftrace-output.jsonl').split('\n').filter(Boolean);
const rstReasons = rstReasonsFromFormat(fixture('tcp_send_reset.format'));
const context = { idSalt: 0x9e3779b97f4a7c15n, rstReasons };
const parsed = lines.map((l) => parseBpftraceLine(l, context));
const events = parsed.flatMap((p) => (p.type === 'event' ? [p.event] : []));
const NAME = decodeKernelText(new TextEncoder().encode('ev\til\x1b[31m'));

describe('bpftrace output', () => {
  it('parses every recorded line: the attach report and 20 events, nothing unknown', () => {
    expect(parsed[0]).toEqual({ type: 'attached', probes: 11 });
    expect(parsed.filter((p) => p.type === 'unknown')).toEqual([]);
    expect(events).toHaveLength(20);
  });

  it("names the owner of the server's CLOSE_WAIT, escaped as the native backend escapes names", () => {
    const closeWait = events.find((e) => e.kind === 'state_change' && e.state === 'CLOSE_WAIT')!;
    expect(closeWait.oldState).toBe('ESTABLISHED');
    // Learned when the server read the request: a receive runs in the owner's own process.
    expect(closeWait.owner).toMatchObject({ pid: 633, comm: NAME, source: 'socket' });
    expect(NAME).toBe('ev\\x09il\\x1b[31m');
    expect(closeWait.local).toEqual({ addr: '127.0.0.1', port: 57891 });
    expect(closeWait.peer).toEqual({ addr: '127.0.0.1', port: 50400 });
    expect(closeWait.family).toBe(4);
    expect(closeWait.netns).toBe(4026531833);
  });

  it('reports the refused IPv6 connect: the RST with no socket, its reason, and the client receiving it', () => {
    const sent = events.find((e) => e.kind === 'rst_sent')!;
    expect(sent).toMatchObject({ noSocket: true, owner: null, reason: 'NO_SOCKET', sock: '0', family: 6 });
    expect(sent.local).toEqual({ addr: '::1', port: 1 });
    expect(sent.peer).toEqual({ addr: '::1', port: 40054 });
    const received = events.find((e) => e.kind === 'rst_received')!;
    expect(received).toMatchObject({ state: 'SYN_SENT', owner: { pid: 633, source: 'socket' } });
    expect(received.peer).toEqual({ addr: '::1', port: 1 });
  });

  it('gives each socket one id for its life, and hides its address', () => {
    const client = events.filter((e) => e.local.port === 50400 || (e.kind === 'state_change' && e.state === 'SYN_SENT' && e.family === 4));
    expect(new Set(client.map((e) => e.sock)).size).toBe(1);
    for (const e of events) expect(e.sock).not.toContain('ffff8881');
    expect(events.find((e) => e.kind === 'destroy')).toBeDefined();
  });

  it('gives two sockets at one address (the kernel reused its memory) two ids: the birth is part of the id', () => {
    const text = (JSON.parse(lines[1]!) as { data: string }).data; // the listener's CLOSE -> LISTEN
    const f = text.split('\t');
    const withBirth = (born: string) => [...f.slice(0, 24), born, ...f.slice(25)].join('\t');
    const first = parseEventText(withBirth('1000'), context)!;
    const again = parseEventText(withBirth('1000'), context)!;
    const next = parseEventText(withBirth('1001'), context)!;
    expect(first.sock).toBe(again.sock);
    expect(next.sock).not.toBe(first.sock);
    for (const id of [first.sock, next.sock]) expect(BigInt(`0x${id}`) >> 63n).toBe(1n);
    // Unknown birth (0): the salted address, as before births were printed.
    expect(socketId(0xffff8881391c8000n, 0n, context.idSalt)).toBe(((0xffff8881391c8000n ^ context.idSalt) | (1n << 63n)).toString(16));
    // Across many births at one address and many addresses at one birth, no id repeats.
    const ids = new Set<string>();
    for (let born = 1n; born <= 200n; born++) for (let a = 0n; a < 50n; a++) ids.add(socketId(0xffff888100000000n + a * 0x940n, born * 1_000_003n, context.idSalt));
    expect(ids.size).toBe(200 * 50);
  });

  it('names no owner where the script stamped owner pid 0 (gone, or a listener key shared by processes)', () => {
    const text = (JSON.parse(lines[4]!) as { data: string }).data; // the child's LISTEN -> SYN_RECV, via the listener
    const f = text.split('\t');
    expect(parseEventText(text, context)!.owner).toMatchObject({ pid: 633, source: 'listener' });
    expect(parseEventText([...f.slice(0, 20), '0', ...f.slice(21)].join('\t'), context)!.owner).toBeNull();
  });

  it('refuses a line of the format before births were printed (26 fields)', () => {
    const text = (JSON.parse(lines[1]!) as { data: string }).data;
    const f = text.split('\t');
    expect(parseEventText([...f.slice(0, 24), ...f.slice(25)].join('\t'), context)).toBeNull();
  });

  it("turns bpftrace's lost-event reports into counts, and anything else into unknown lines", () => {
    expect(parseBpftraceLine('{"type": "lost_events", "data": {"events": 7}}', context)).toEqual({ type: 'lost', count: 7 });
    expect(parseBpftraceLine('not json', context).type).toBe('unknown');
    expect(parseBpftraceLine('{"type": "printf", "data": "S\\t1\\t2\\n"}', context).type).toBe('unknown');
    expect(parseEventText('Q\t1', context)).toBeNull();
  });

  it("reads the script's count of event lines sent (printed at exit) and its per-CPU heartbeats", () => {
    expect(parseBpftraceLine('{"type": "map", "data": {"@sent": 72195}}', context)).toEqual({ type: 'sent', count: 72195 });
    expect(parseBpftraceLine('{"type": "map", "data": {"@owner": {}}}', context)).toEqual({ type: 'ignored' });
    const t = parseBpftraceLine('{"type": "map", "data": {"@transitions": {"1": 4, "8": 2, "10": 1}}}', context);
    expect(t).toEqual({ type: 'transitions', counts: [0, 4, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0] });
    expect(parseBpftraceLine('{"type": "printf", "data": "H\\t1\\t36028797018963968\\n"}', context)).toEqual({ type: 'heartbeat', cpu: 1, ns: 36028797018963968n });
    expect(parseBpftraceLine('{"type": "printf", "data": "T1\\n"}', context)).toEqual({ type: 'tick' });
  });
});

describe('names printed with %r', () => {
  it('turns escapes of non-printable bytes back into bytes, and stops at the first NUL', () => {
    expect(decodeEscapedName('python3\\x00\\x00')).toBe('python3');
    expect(decodeEscapedName('a\\x1bb')).toBe('a\\x1bb'); // the byte 0x1b, escaped again on output
    expect(decodeEscapedName('caf\\xc3\\xa9')).toBe('café'); // valid UTF-8 survives
  });

  it('keeps a literal backslash before printable hex as text (escaped on output, as every backslash is)', () => {
    expect(decodeEscapedName('a\\x41')).toBe('a\\\\x41');
  });
});

describe('bpftrace requirements', () => {
  it('reads the version and refuses one too old, naming both versions', () => {
    expect(parseBpftraceVersion('bpftrace v0.17.0\n')).toEqual([0, 17, 0]);
    expect(parseBpftraceVersion('bpftrace v0.21.2-12-gabcdef')).toEqual([0, 21, 2]);
    expect(bpftraceVersionProblem('bpftrace v0.17.0')).toBeNull();
    expect(bpftraceVersionProblem('bpftrace v0.16.0')).toBe('bpftrace 0.16.0 is too old: socktrace needs bpftrace 0.17.0 or later');
    expect(bpftraceVersionProblem('something else')).toMatch(/could not read bpftrace's version .* needs bpftrace 0\.17\.0/);
  });

  it("reads a tracepoint's fields and its RST reason names from the format file", () => {
    const fields = formatFields(fixture('tcp_send_reset.format'));
    for (const f of ['skbaddr', 'skaddr', 'state', 'reason', 'saddr[28]', 'daddr[28]']) expect(fields.has(f)).toBe(true);
    expect(rstReasons[1]).toBe('NO_SOCKET');
    expect(rstReasons[9]).toBe('TCP_TIMEWAIT_SOCKET');
    expect(rstReasons.length).toBeGreaterThan(20);
  });
});

describe('segments sent again and connection errors (retransmits.bt, connection-errors.bt)', () => {
  /** An event line as the parts print it: the fields in LINE_FIELDS order. */
  const line = (kind: string, sk: string, state: number, err: number, flags: number, ownerPid: number, born: number) =>
    [kind, '5', sk, sk === '0' ? '0' : '4026531840', '2', '40000', '9', 'c11212c6', '0', '0', '0', 'c21212c6', '0', '0', '0', '0', String(state), '65535', String(err), String(flags)]
      .concat([String(ownerPid), '0', ownerPid ? '1' : '0', '77', String(born), 'python3\\x00', 'swapper/0'])
      .join('\t');

  it('parses a SYN sent again with its owner', () => {
    const e = parseEventText(line('X', 'ffff8881000a0000', 2, 0, 0, 4242, 99), context)!;
    expect(e).toMatchObject({ kind: 'retransmit', state: 'SYN_SENT', errno: null, owner: { pid: 4242, comm: 'python3', source: 'socket' } });
    expect(e.local).toEqual({ addr: '198.18.18.193', port: 40000 });
    expect(e.peer).toEqual({ addr: '198.18.18.194', port: 9 });
    expect(e.sock).toBe(socketId(0xffff8881000a0000n, 99n, context.idSalt));
  });

  it('parses a connect that timed out unanswered, with the socket the script found', () => {
    const e = parseEventText(line('E', 'ffff8881000a0000', 7, 110, 0x20, 4242, 99), context)!;
    expect(e).toMatchObject({ kind: 'connection_error', state: 'CLOSE', errno: 'ETIMEDOUT', unanswered: true, owner: { pid: 4242 } });
    expect(e.sock).toBe(socketId(0xffff8881000a0000n, 99n, context.idSalt));
  });

  it('gives a connection error whose socket could not be told no socket id and no owner', () => {
    const e = parseEventText(line('E', '0', 0, 113, 0, 0, 0), context)!;
    expect(e).toMatchObject({ kind: 'connection_error', sock: '0', noSocket: false, owner: null, state: null, errno: 'EHOSTUNREACH', unanswered: false });
  });
});
