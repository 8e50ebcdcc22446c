/**
 * Parses what the bpftrace script (probes/bpftrace/) prints under `bpftrace -f json`: one JSON object per line. Event
 * lines become the same SockEvent objects the native decoder makes; bpftrace's lost-event reports
 * become counts. Pure: the caller supplies the socket-id salt and the kernel's RST reason names.
 */
import { decodeKernelText } from '../../events/kernel-text.js';
import { formatIPv4, formatIPv6 } from '../../events/ip-address.js';
import { ERRNO_KINDS, type EventKind, type OwnerSource, type SockEvent } from '../../events/sock-event.js';
import { DEFAULT_RST_REASONS, errnoName, tcpStateName } from '../../events/tcp-names.js';
import { FLAG_BITS, REASON_UNKNOWN } from '../native/record-layout.js';

export type BpftraceLine =
  | { type: 'event'; event: SockEvent }
  | { type: 'lost'; count: number }
  | { type: 'attached'; probes: number }
  /** The script's tick, once a second (see probes/bpftrace/ticks-and-end.bt). */
  | { type: 'tick' }
  /** The script's heartbeat from one CPU, with the kernel's CLOCK_MONOTONIC then (see probes/bpftrace/ticks-and-end.bt). */
  | { type: 'heartbeat'; cpu: number; ns: bigint }
  /** State changes so far by new state (index = TCP state), crossed or not; printed each second. */
  | { type: 'transitions'; counts: number[] }
  /** The script's reckoning at exit: how many event lines its probes produced. */
  | { type: 'sent'; count: number }
  /** bpftrace printing another map: not an event, nothing lost. */
  | { type: 'ignored' }
  /** Output this parser does not know: counted as rejected by the source, never dropped silently. */
  | { type: 'unknown'; text: string };

export interface BpftraceLineContext {
  /** Mixed into socket addresses to make socket ids (as the native backend's fallback ids are). */
  idSalt: bigint;
  /** The running kernel's RST reason names, index = value. */
  rstReasons?: readonly string[];
}

const KINDS: Record<string, EventKind> = {
  S: 'state_change',
  T: 'rst_sent',
  R: 'rst_received',
  W: 'send_error',
  V: 'recv_error',
  D: 'destroy',
  A: 'accept_error',
  X: 'retransmit',
  E: 'connection_error',
};
const OWNER_SOURCES: Record<number, OwnerSource> = { 1: 'socket', 2: 'listener', 3: 'seeded', 4: 'closed' };
/**
 * An event line's tab-separated fields in order, each with the field of the contract's record
 * (struct socktrace_event, probes/socktrace_event.h) it carries; null for what only the line has.
 * A field added to the record goes here or in RECORD_FIELDS_NOT_IN_LINE (test/unit/bpftrace-line-format
 * holds both to the header and to the printf of every script part).
 */
export const LINE_FIELDS: readonly { name: string; carries: string | null }[] = [
  { name: 'kind letter (KINDS)', carries: 'kind' },
  { name: 'ts', carries: 'ts_ns' },
  { name: 'socket address (hex)', carries: null },
  { name: 'netns', carries: 'netns' },
  { name: 'family', carries: 'family' },
  { name: 'sport', carries: 'sport' },
  { name: 'dport', carries: 'dport' },
  ...[0, 1, 2, 3].map((w) => ({ name: `saddr word ${w} (hex)`, carries: 'saddr' })),
  ...[0, 1, 2, 3].map((w) => ({ name: `daddr word ${w} (hex)`, carries: 'daddr' })),
  { name: 'old state', carries: 'old_state' },
  { name: 'state', carries: 'state' },
  { name: 'reason', carries: 'reason' },
  { name: 'err', carries: 'err' },
  { name: 'flags', carries: 'flags' },
  { name: 'owner pid', carries: 'owner_pid' },
  { name: 'owner uid', carries: 'owner_uid' },
  { name: 'owner source', carries: 'owner_source' },
  { name: 'task pid', carries: 'task_pid' },
  { name: 'born (the socket id with the address)', carries: null },
  { name: 'owner comm (%r)', carries: 'owner_comm' },
  { name: 'task comm (%r)', carries: 'task_comm' },
];

/** The record's fields no event line carries, and why. */
export const RECORD_FIELDS_NOT_IN_LINE: Readonly<Record<string, string>> = {
  sock_id: 'classic tracepoints cannot generate the socket cookie: the id is made from the address and birth (socketId)',
  owner_cgroup: 'the script does not learn cgroups: owners have cgroupId 0',
  owner_start: 'the script keeps no start times: owners have none (0, unknown)',
};

const FIELD_COUNT = LINE_FIELDS.length;
const AF_INET = 2;
const AF_INET6 = 10;

export function parseBpftraceLine(line: string, context: BpftraceLineContext): BpftraceLine {
  let message: { type?: unknown; data?: unknown };
  try {
    message = JSON.parse(line) as { type?: unknown; data?: unknown };
  } catch {
    return { type: 'unknown', text: line };
  }
  const data = message.data as Record<string, unknown> | string | undefined;
  switch (message.type) {
    case 'printf': {
      if (data === 'T1\n') return { type: 'tick' };
      const beat = typeof data === 'string' ? /^H\t(\d+)\t(\d+)\n$/.exec(data) : null;
      if (beat) return { type: 'heartbeat', cpu: Number(beat[1]), ns: BigInt(beat[2]!) };
      const event = typeof data === 'string' ? parseEventText(data, context) : null;
      return event ? { type: 'event', event } : { type: 'unknown', text: line };
    }
    case 'lost_events':
      return { type: 'lost', count: Number((data as Record<string, unknown> | undefined)?.events ?? 0) };
    case 'map': {
      const maps = (data ?? {}) as Record<string, unknown>;
      if (typeof maps['@sent'] === 'number') return { type: 'sent', count: maps['@sent'] };
      const byState = maps['@transitions'];
      if (byState && typeof byState === 'object') {
        const counts = new Array<number>(16).fill(0);
        for (const [state, n] of Object.entries(byState as Record<string, unknown>)) {
          if (Number(state) >= 0 && Number(state) < 16 && typeof n === 'number') counts[Number(state)] = n;
        }
        return { type: 'transitions', counts };
      }
      return { type: 'ignored' };
    }
    case 'attached_probes':
      return { type: 'attached', probes: Number((data as Record<string, unknown> | undefined)?.probes ?? 0) };
    default:
      return { type: 'unknown', text: line };
  }
}

/** One event line of the bpftrace script (without JSON framing); null when it is not one. */
export function parseEventText(text: string, context: BpftraceLineContext): SockEvent | null {
  const f = text.replace(/\n$/, '').split('\t');
  const kind = KINDS[f[0] ?? ''];
  if (!kind || f.length !== FIELD_COUNT) return null;
  const n = (i: number) => Number(f[i]);
  // Fields 1-24 are numbers (decimal, or hex for the socket address and the address words).
  if (f.slice(1, 25).some((v) => !/^[0-9a-f]+$/.test(v))) return null;
  const family = n(4);
  if (family !== AF_INET && family !== AF_INET6) return null;
  const word = (i: number) => Number.parseInt(f[i]!, 16);
  const address = (first: number) => {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    for (let w = 0; w < 4; w++) view.setUint32(w * 4, word(first + w), true); // as the words lay in memory
    return family === AF_INET ? formatIPv4(bytes) : formatIPv6(bytes);
  };
  const skAddress = BigInt(`0x${f[2]}`);
  const flags = n(19);
  const noSocket = (flags & FLAG_BITS.noSocket) !== 0;
  const ownerPid = n(20);
  const ownerSource = OWNER_SOURCES[n(22)];
  const reasonCode = n(17);
  const reasons = context.rstReasons && context.rstReasons.length > 0 ? context.rstReasons : DEFAULT_RST_REASONS;
  const state = n(16);
  return {
    kind,
    tsNs: BigInt(f[1]!),
    // No socket: an RST sent for a packet no socket wanted, or a connection error whose socket the
    // script could not tell from its ends (inet_sk_error_report carries none: connection-errors.bt).
    sock: noSocket || skAddress === 0n ? '0' : socketId(skAddress, BigInt(f[24]!), context.idSalt),
    owner:
      ownerPid === 0 || !ownerSource
        ? null
        : { pid: ownerPid, comm: decodeEscapedName(f[25]!), uid: n(21), cgroupId: 0, source: ownerSource },
    task: { pid: n(23), comm: decodeEscapedName(f[26]!) },
    family: family === AF_INET ? 4 : 6,
    netns: n(3),
    local: { addr: address(7), port: n(5) },
    peer: { addr: address(11), port: n(6) },
    oldState: kind === 'state_change' ? tcpStateName(n(15)) : null,
    state: state === 0 ? null : tcpStateName(state),
    reason: kind === 'rst_sent' && reasonCode !== REASON_UNKNOWN ? (reasons[reasonCode] || `REASON_${reasonCode}`) : null,
    errno: ERRNO_KINDS.has(kind) ? errnoName(n(18)) : null,
    noSocket,
    deferred: false,
    unanswered: (flags & FLAG_BITS.unanswered) !== 0,
    flags: flags === 0 ? FLAG_BITS.idFallback : flags | FLAG_BITS.idFallback,
  };
}

const MASK64 = 0xffff_ffff_ffff_ffffn;

/** splitmix64's finalizer: a bijection of 64-bit values that spreads every bit. */
function mix64(x: bigint): bigint {
  let z = x & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/**
 * A socket's id from its kernel address and its birth (the script's nanosecond time of it; 0 where
 * unknown). The kernel reuses a freed socket's memory, so the address alone would give two sockets one
 * id; no two sockets share an address and a birth. Salted, so no kernel address is shown; the top bit
 * set, as the native backend's fallback ids.
 */
export function socketId(address: bigint, born: bigint, salt: bigint): string {
  const salted = (address ^ salt) & MASK64;
  const id = born === 0n ? salted : mix64(salted ^ mix64(born ^ (salt >> 1n)));
  return ((id | (1n << 63n)) & MASK64).toString(16);
}

/**
 * A process name as bpftrace's %r prints a 16-byte buffer: printable ASCII as is, every other byte as
 * \xNN. Back to bytes (up to the first NUL), then through the same escaping as the native backend's
 * names. A name that itself holds the text "\xNN" for a non-printable NN reads as that byte: %r cannot
 * tell them apart, and the escaped output shows the same either way.
 */
export function decodeEscapedName(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === '\\' && text[i + 1] === 'x' ? text.slice(i + 2, i + 4) : '';
    if (/^[0-9a-f]{2}$/.test(hex)) {
      const value = Number.parseInt(hex, 16);
      if (value < 0x20 || value >= 0x7f) {
        if (value === 0) break;
        bytes.push(value);
        i += 3;
        continue;
      }
    }
    bytes.push(text.charCodeAt(i) & 0xff);
  }
  return decodeKernelText(Uint8Array.from(bytes));
}
