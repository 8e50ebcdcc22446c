/** Builds socktrace_event records byte by byte, for decoder tests on synthetic batches. */
import { AF_INET, AF_INET6, FIELDS as F, KIND_CODES, RECORD_SIZE, REASON_UNKNOWN } from '../../src/backends/native/record-layout.js';
import { parseIP } from '../../src/events/ip-address.js';

export interface RecordSpec {
  kind: keyof typeof KIND_CODES;
  tsNs?: bigint;
  sockId?: bigint;
  ownerPid?: number;
  ownerUid?: number;
  ownerComm?: string | Uint8Array;
  ownerSource?: number;
  ownerCgroup?: bigint;
  ownerStart?: number;
  taskPid?: number;
  taskComm?: string | Uint8Array;
  netns?: number;
  family?: 4 | 6;
  local?: [string, number];
  peer?: [string, number];
  oldState?: number;
  state?: number;
  reason?: number;
  err?: number;
  flags?: number;
}

function putAddress(bytes: Uint8Array, offset: number, text: string, family: 4 | 6) {
  let b = parseIP(text);
  if (!b) throw new Error(`bad address ${text}`);
  if (family === 6 && b.length === 4) b = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...b]);
  bytes.set(b, offset);
}

function putText(bytes: Uint8Array, offset: number, text: string | Uint8Array) {
  const b = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  bytes.set(b.subarray(0, 16), offset);
}

export function writeRecord(buffer: ArrayBuffer, index: number, spec: RecordSpec): void {
  const base = index * RECORD_SIZE;
  const view = new DataView(buffer, base, RECORD_SIZE);
  const bytes = new Uint8Array(buffer, base, RECORD_SIZE);
  const family = spec.family ?? 4;
  view.setBigUint64(F.ts_ns.offset, spec.tsNs ?? 1_000_000_000n, true);
  view.setBigUint64(F.sock_id.offset, spec.sockId ?? 0x1001n, true);
  view.setBigUint64(F.owner_cgroup.offset, spec.ownerCgroup ?? 0n, true);
  view.setUint32(F.owner_start.offset, spec.ownerStart ?? 0, true);
  view.setUint32(F.owner_pid.offset, spec.ownerPid ?? 0, true);
  view.setUint32(F.owner_uid.offset, spec.ownerUid ?? 0, true);
  view.setUint32(F.task_pid.offset, spec.taskPid ?? 0, true);
  view.setUint32(F.netns.offset, spec.netns ?? 4026531833, true);
  putAddress(bytes, F.saddr.offset, spec.local?.[0] ?? '127.0.0.1', family);
  putAddress(bytes, F.daddr.offset, spec.peer?.[0] ?? '127.0.0.1', family);
  view.setUint16(F.sport.offset, spec.local?.[1] ?? 0, true);
  view.setUint16(F.dport.offset, spec.peer?.[1] ?? 0, true);
  view.setUint16(F.family.offset, family === 4 ? AF_INET : AF_INET6, true);
  view.setUint8(F.kind.offset, KIND_CODES[spec.kind]);
  view.setUint8(F.owner_source.offset, spec.ownerSource ?? (spec.ownerPid ? 1 : 0));
  view.setUint8(F.old_state.offset, spec.oldState ?? 0);
  view.setUint8(F.state.offset, spec.state ?? 0);
  view.setUint16(F.reason.offset, spec.reason ?? REASON_UNKNOWN, true);
  view.setInt32(F.err.offset, spec.err ?? 0, true);
  view.setUint32(F.flags.offset, spec.flags ?? 0, true);
  if (spec.ownerComm !== undefined) putText(bytes, F.owner_comm.offset, spec.ownerComm);
  if (spec.taskComm !== undefined) putText(bytes, F.task_comm.offset, spec.taskComm);
}

export function buildBatch(specs: RecordSpec[]): ArrayBuffer {
  const buffer = new ArrayBuffer(specs.length * RECORD_SIZE);
  specs.forEach((s, i) => writeRecord(buffer, i, s));
  return buffer;
}
