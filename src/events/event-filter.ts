/** The watch filters: --pid, --comm, --port, --peer. Values of one flag are alternatives (OR); flags AND. */
import type { SockEvent } from './sock-event.js';
import { cidrContains, type Cidr } from './cidr.js';
import { KIND_CODES } from '../backends/native/record-layout.js';

export interface EventFilter {
  /** Owner pids. */
  pids?: readonly number[];
  /** Owner process names, compared with the escaped name as printed. */
  comms?: readonly string[];
  /** Local or peer port. */
  ports?: readonly number[];
  /** Peer address ranges. */
  peers?: readonly Cidr[];
  kinds?: ReadonlySet<string>;
}

/**
 * The filter for a listen_overflow record: its listener's owner and port (or, when it names none,
 * any candidate's); a --peer filter keeps it only when a client it names (refused at its final ACK) is
 * in range: the overflow counters themselves name no peer.
 */
export function matchesOverflowFilter(
  o: {
    proc: { pid: number; comm: string } | null;
    local: { port: number } | null;
    candidates: readonly { proc: { pid: number; comm: string } | null; local: { port: number } }[];
    peers: readonly { addr: string }[];
  },
  f: EventFilter,
): boolean {
  if (f.kinds && !f.kinds.has('listen_overflow')) return false;
  if (f.peers?.length && !o.peers.some((p) => f.peers!.some((c) => cidrContains(c, p.addr)))) return false;
  const listeners = o.proc || o.local ? [{ proc: o.proc, local: o.local }] : o.candidates;
  return listeners.some(
    (l) =>
      (!f.pids?.length || (l.proc !== null && f.pids.includes(l.proc.pid))) &&
      (!f.comms?.length || (l.proc !== null && f.comms.includes(l.proc.comm))) &&
      (!f.ports?.length || (l.local !== null && f.ports.includes(l.local.port))),
  ) || (listeners.length === 0 && !f.pids?.length && !f.comms?.length && !f.ports?.length);
}

export function isFilterEmpty(f: EventFilter): boolean {
  return !f.pids?.length && !f.comms?.length && !f.ports?.length && !f.peers?.length && !f.kinds;
}

export function matchesFilter(e: SockEvent, f: EventFilter): boolean {
  if (f.kinds && !f.kinds.has(e.kind)) return false;
  if (f.pids?.length && !(e.owner && f.pids.includes(e.owner.pid))) return false;
  if (f.comms?.length && !(e.owner && f.comms.includes(e.owner.comm))) return false;
  if (f.ports?.length && !f.ports.includes(e.local.port) && !f.ports.includes(e.peer.port)) return false;
  if (f.peers?.length && !f.peers.some((c) => cidrContains(c, e.peer.addr))) return false;
  return true;
}

/** The kernel filter for a set of kinds (1 << kind code): kinds left out never cross the ring. */
export function kindMask(kinds: ReadonlySet<string> | undefined): number {
  if (!kinds) return 0xffffffff;
  let mask = 0;
  for (const [kind, code] of Object.entries(KIND_CODES)) if (kinds.has(kind)) mask |= 1 << code;
  return mask >>> 0;
}
