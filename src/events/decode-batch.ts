/**
 * Decodes a batch from the native thread: `records` socktrace_event records back to back.
 * Layout constants come from native/record-layout.ts (checked against the addon by a test).
 * Anything that does not decode (wrong length, unknown kind) is counted as rejected, never dropped silently.
 */
import {
  AF_INET,
  AF_INET6,
  FIELDS as F,
  FLAG_BITS,
  KIND_CODES,
  OWNER_SOURCE_CODES,
  RECORD_SIZE,
  REASON_UNKNOWN,
} from '../backends/native/record-layout.js';
import { decodeKernelText } from './kernel-text.js';
import { formatIPv4, formatIPv6 } from './ip-address.js';
import { ERRNO_KINDS, type EventKind, type OwnerSource, type SockEvent } from './sock-event.js';
import { DEFAULT_RST_REASONS, errnoName, tcpStateName } from './tcp-names.js';

/** code -> name tables, built from the layout's numbering so the two cannot disagree. */
function byCode<T extends string>(codes: Readonly<Record<T, number>>): readonly (T | undefined)[] {
  const table: (T | undefined)[] = [];
  for (const [name, code] of Object.entries(codes) as [T, number][]) table[code] = name;
  return table;
}
const KINDS = byCode<EventKind>(KIND_CODES);
const OWNER_SOURCES = byCode(OWNER_SOURCE_CODES).map((s) => (s === 'none' ? undefined : s)) as readonly (
  | OwnerSource
  | undefined
)[];

export interface DecodeOptions {
  /** The running kernel's RST reason names (index = value); defaults to Linux 6.10-6.18's. */
  rstReasons?: readonly string[];
}

export interface DecodedBatch {
  events: SockEvent[];
  /** Records that could not be decoded: trailing partial bytes, unknown kinds or families. */
  rejected: number;
}

/** The socket id as unsigned 64-bit hex, built from two 32-bit halves to avoid BigInt on the hot path. */
function hex64(view: DataView, offset: number): string {
  const lo = view.getUint32(offset, true);
  const hi = view.getUint32(offset + 4, true);
  return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
}

function address(bytes: Uint8Array, offset: number, family: number): string {
  return family === AF_INET ? formatIPv4(bytes, offset) : formatIPv6(bytes, offset);
}

export function decodeRecord(view: DataView, bytes: Uint8Array, base: number, options: DecodeOptions = {}): SockEvent | null {
  const kind = KINDS[view.getUint8(base + F.kind.offset)];
  const familyCode = view.getUint16(base + F.family.offset, true);
  if (!kind || (familyCode !== AF_INET && familyCode !== AF_INET6 && familyCode !== 0)) return null;

  const ownerPid = view.getUint32(base + F.owner_pid.offset, true);
  const ownerSource = OWNER_SOURCES[view.getUint8(base + F.owner_source.offset)];
  const flags = view.getUint32(base + F.flags.offset, true);
  const state = view.getUint8(base + F.state.offset);
  const reasonCode = view.getUint16(base + F.reason.offset, true);
  const err = view.getInt32(base + F.err.offset, true);
  const reasons = options.rstReasons && options.rstReasons.length > 0 ? options.rstReasons : DEFAULT_RST_REASONS;

  return {
    kind,
    tsNs: view.getBigUint64(base + F.ts_ns.offset, true),
    sock: hex64(view, base + F.sock_id.offset),
    owner:
      ownerPid === 0 || !ownerSource
        ? null
        : {
            pid: ownerPid,
            comm: decodeKernelText(bytes, base + F.owner_comm.offset, F.owner_comm.size),
            uid: view.getUint32(base + F.owner_uid.offset, true),
            cgroupId: Number(view.getBigUint64(base + F.owner_cgroup.offset, true)),
            start: view.getUint32(base + F.owner_start.offset, true),
            source: ownerSource,
          },
    task: {
      pid: view.getUint32(base + F.task_pid.offset, true),
      comm: decodeKernelText(bytes, base + F.task_comm.offset, F.task_comm.size),
    },
    family: familyCode === AF_INET ? 4 : familyCode === AF_INET6 ? 6 : 0,
    netns: view.getUint32(base + F.netns.offset, true),
    local: {
      addr: familyCode === 0 ? '' : address(bytes, base + F.saddr.offset, familyCode),
      port: view.getUint16(base + F.sport.offset, true),
    },
    peer: {
      addr: familyCode === 0 ? '' : address(bytes, base + F.daddr.offset, familyCode),
      port: view.getUint16(base + F.dport.offset, true),
    },
    oldState: kind === 'state_change' ? tcpStateName(view.getUint8(base + F.old_state.offset)) : null,
    state: state === 0 ? null : tcpStateName(state),
    reason:
      kind === 'rst_sent' && reasonCode !== REASON_UNKNOWN ? (reasons[reasonCode] || `REASON_${reasonCode}`) : null,
    errno: ERRNO_KINDS.has(kind) ? errnoName(err) : null,
    noSocket: (flags & FLAG_BITS.noSocket) !== 0,
    deferred: (flags & FLAG_BITS.deferred) !== 0,
    unanswered: (flags & FLAG_BITS.unanswered) !== 0,
    flags,
  };
}

/**
 * The 32-bit words of a record that make it "the same event again" as the one before it: everything but
 * the time and the running task. Storms (one process failing send() a million times a second on one
 * socket) are runs of such records; each repeat reuses the previous event's decoded strings and objects
 * (events are never mutated) instead of formatting addresses and names again. Padding is left out.
 */
const IDENTITY_WORDS: readonly number[] = (() => {
  const skip = [F.ts_ns, F.task_pid, F.task_comm];
  const end = Math.max(...Object.values(F).map((f) => f.offset + f.size));
  const words: number[] = [];
  for (let at = 0; at + 4 <= end; at += 4) {
    if (!skip.some((f) => at < f.offset + f.size && f.offset < at + 4)) words.push(at >> 2);
  }
  return words;
})();
const RECORD_WORDS = RECORD_SIZE >> 2;

function sameIdentity(words: Uint32Array, previous: number, current: number): boolean {
  for (let k = 0; k < IDENTITY_WORDS.length; k++) {
    const w = IDENTITY_WORDS[k]!;
    if (words[previous + w] !== words[current + w]) return false;
  }
  return true;
}

function sameTask(words: Uint32Array, previous: number, current: number): boolean {
  for (let w = F.task_pid.offset >> 2; w < (F.task_pid.offset + F.task_pid.size) >> 2; w++) {
    if (words[previous + w] !== words[current + w]) return false;
  }
  for (let w = F.task_comm.offset >> 2; w < (F.task_comm.offset + F.task_comm.size) >> 2; w++) {
    if (words[previous + w] !== words[current + w]) return false;
  }
  return true;
}

/** The previous event again at a new time (and task, if it changed): shared strings and objects. */
function repeatOf(previous: SockEvent, view: DataView, bytes: Uint8Array, base: number, task: SockEvent['task'] | null): SockEvent {
  return {
    kind: previous.kind,
    tsNs: view.getBigUint64(base + F.ts_ns.offset, true),
    sock: previous.sock,
    owner: previous.owner,
    task: task ?? {
      pid: view.getUint32(base + F.task_pid.offset, true),
      comm: decodeKernelText(bytes, base + F.task_comm.offset, F.task_comm.size),
    },
    family: previous.family,
    netns: previous.netns,
    local: previous.local,
    peer: previous.peer,
    oldState: previous.oldState,
    state: previous.state,
    reason: previous.reason,
    errno: previous.errno,
    noSocket: previous.noSocket,
    deferred: previous.deferred,
    unanswered: previous.unanswered,
    flags: previous.flags,
  };
}

export function decodeBatch(buffer: ArrayBuffer, records: number, options: DecodeOptions = {}): DecodedBatch {
  // A batch whose length disagrees with its count: decode what both agree on, reject the rest.
  const available = Math.floor(buffer.byteLength / RECORD_SIZE);
  const whole = Math.min(records, available);
  let rejected = Math.abs(records - available) + (buffer.byteLength % RECORD_SIZE !== 0 ? 1 : 0);
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  const words = new Uint32Array(buffer, 0, whole * RECORD_WORDS);
  const events: SockEvent[] = [];
  let previous: SockEvent | null = null;
  for (let i = 0; i < whole; i++) {
    const base = i * RECORD_SIZE;
    let event: SockEvent | null;
    if (previous !== null && sameIdentity(words, (base - RECORD_SIZE) >> 2, base >> 2)) {
      const task = sameTask(words, (base - RECORD_SIZE) >> 2, base >> 2) ? previous.task : null;
      event = repeatOf(previous, view, bytes, base, task);
    } else {
      event = decodeRecord(view, bytes, base, options);
    }
    if (event) events.push(event);
    else rejected++;
    // Only a decoded record can stand for the next: a rejected one is rejected again by its bytes.
    previous = event;
  }
  return { events, rejected };
}
