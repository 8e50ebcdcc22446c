/**
 * The JSON shape of one event: a contract for log pipelines (see README "Event fields").
 * Every string in it is already escaped (events/kernel-text.ts); JSON.stringify does the rest.
 */
import type { Owner, SockEvent } from '../events/sock-event.js';
import type { Placement } from '../core/placement.js';
import type { WallClock } from '../events/monotonic-clock.js';
import type { ListenOverflow } from '../core/listen-overflows.js';

/** Where a process lives (null each where unknown): present on `proc` where a placement reader is given. */
export interface PlacementFields {
  cgroup: string | null;
  unit: string | null;
  container: Placement['container'];
  pod: Placement['pod'];
}

/** Where an owner lives, as the caller knows it (see inventory/process-placement.ts). */
export type PlacementOf = (owner: Owner) => Placement | null;

export function placementFields(p: Placement | null): PlacementFields {
  return { cgroup: p?.cgroup ?? null, unit: p?.unit ?? null, container: p?.container ?? null, pod: p?.pod ?? null };
}

export interface EventRecord {
  time: string;
  event: string;
  proc: ({ pid: number; comm: string; uid: number; via: string } & Partial<PlacementFields>) | null;
  local: { addr: string; port: number };
  peer: { addr: string; port: number };
  /** null when there is no socket (an RST answering a packet to a closed port). */
  sock: string | null;
  from?: string;
  to?: string;
  state?: string;
  reason?: string;
  errno?: string;
  no_socket?: true;
  /** A CLOSE_WAIT entry reported once it had lasted the tracer's delay; time is when it entered. */
  deferred?: true;
  /** connection_error: nothing ever acknowledged the connection (a connect that got no answer). */
  unanswered?: true;
  /** The task the kernel happened to run in: context only. */
  task: { pid: number; comm: string };
  netns: number;
}

export function toEventRecord(e: SockEvent, clock: WallClock, placementOf?: PlacementOf): EventRecord {
  const o = e.owner;
  const record: EventRecord = {
    time: new Date(clock.toEpochMs(e.tsNs)).toISOString(),
    event: e.kind,
    proc: o ? { pid: o.pid, comm: o.comm, uid: o.uid, via: o.source, ...(placementOf ? placementFields(placementOf(o)) : {}) } : null,
    local: e.local,
    peer: e.peer,
    sock: e.noSocket || e.sock === '0' ? null : e.sock,
    task: e.task,
    netns: e.netns,
  };
  if (e.kind === 'state_change') {
    record.from = e.oldState ?? 'UNKNOWN';
    record.to = e.state ?? 'UNKNOWN';
  } else if (e.state) {
    record.state = e.state;
  }
  if (e.reason) record.reason = e.reason;
  if (e.errno) record.errno = e.errno;
  if (e.noSocket) record.no_socket = true;
  if (e.deferred) record.deferred = true;
  if (e.unanswered) record.unanswered = true;
  return record;
}

export interface LostRecord {
  time: string;
  event: 'lost';
  count: number;
  total: number;
}

export function toLostRecord(count: number, total: number, now = Date.now()): LostRecord {
  return { time: new Date(now).toISOString(), event: 'lost', count, total };
}

/**
 * A `listen_overflow` line: handshakes the kernel dropped because an accept queue was full, counted in
 * a namespace since the previous sample (see core/listen-overflows.ts). proc and local name the
 * listener only when its own drop counter accounts for them; otherwise null, with the candidates and
 * the reason (attribution). peers: the clients whose final ACK the full queue refused (the kernel names
 * them since 6.15; a dropped SYN names none), `refused` their refused ACKs.
 */
export interface ListenOverflowRecord {
  time: string;
  event: 'listen_overflow';
  proc: { pid: number; comm: string } | null;
  local: { addr: string; port: number } | null;
  /** The counters carry no peer: see peers. */
  peer: null;
  peers: { addr: string; count: number }[];
  refused: number;
  count: number;
  drops: number;
  queue: number | null;
  limit: number | null;
  attribution: string;
  candidates: { proc: { pid: number; comm: string } | null; local: { addr: string; port: number }; queue: number; limit: number }[];
  netns: number;
}

export function toListenOverflowRecord(o: ListenOverflow): ListenOverflowRecord {
  return {
    time: new Date(o.atMs).toISOString(),
    event: 'listen_overflow',
    proc: o.proc,
    local: o.local,
    peer: null,
    peers: o.peers,
    refused: o.refused,
    count: o.count,
    drops: o.drops,
    queue: o.queue,
    limit: o.limit,
    attribution: o.attribution,
    candidates: o.candidates,
    netns: o.netns,
  };
}
