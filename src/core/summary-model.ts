/** What the core reports: rollups per process, peer, process-peer pair and service, and findings. */
import type { Placement } from './placement.js';
import type { ServiceTimings } from './exchange-timings.js';
import type { Endpoint } from '../events/sock-event.js';
import type { AcceptQueue } from './inventory-model.js';
import type { OwnerRef, TimelineEntry } from './tracked-socket.js';

export type StateCounts = Partial<Record<string, number>>;

export interface CloseWaitStats {
  count: number;
  /** Age of the oldest CLOSE_WAIT socket, seconds (a lower bound when oldestIsLowerBound). */
  oldestSeconds: number | null;
  oldestIsLowerBound: boolean;
  /** How many are younger than 10 s, 10 s-1 min, 1-10 min, older than 10 min. */
  ages: { under10s: number; under1m: number; under10m: number; over10m: number };
}

export interface RateStats {
  total: number;
  perSecond10s: number;
  perSecond1m: number;
}

export interface ActivityStats {
  rstSent: RateStats & { byReason: Record<string, number> };
  rstReceived: RateStats;
  errors: RateStats & { byErrno: Record<string, number>; epipeEconnresetPerSecond10s: number };
  opened: RateStats;
  closed: RateStats;
  writesAfterPeerClose: number;
  /** accept() failing for want of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM). */
  acceptErrors: RateStats & {
    byErrno: Record<string, number>;
    /** Listening address ("addr:port") -> failures there. */
    byListener: Record<string, number>;
    firstAtMs: number | null;
    lastAtMs: number | null;
  };
  /** Segments sent again; `syn`: of them, SYNs of connects no one answered yet. */
  retransmits: RateStats & { syn: number };
  /** Connections the kernel ended with an error (ETIMEDOUT, EHOSTUNREACH, ...; RSTs are counted apart). */
  connectionErrors: { total: number; byErrno: Record<string, number> };
  /** Connects that got no answer at all (ETIMEDOUT in SYN_SENT), and by the peer's port (0: ports past the bound). */
  connectTimeouts: RateStats & { byPort: Record<string, number> };
}

export interface RollupBase {
  sockets: StateCounts;
  totalSockets: number;
  /** Of totalSockets, those still waiting in an accept queue: not yet anyone's open files. */
  queuedSockets: number;
  closeWait: CloseWaitStats;
  activity: ActivityStats;
}

export interface ProcessRollup extends RollupBase {
  pid: number;
  comm: string;
  cmdline: string;
  fds: number | null;
  fdLimit: number | null;
  /** Where it lives (cgroup, unit, container, pod) at the last inventory; null: unknown. */
  placement: Placement | null;
}

/**
 * Which side of its connections a peer address is, from which network namespace: `client` when it
 * connected to a listening port there (a client of a service here), `server` when a socket there
 * connected to it (a server the host calls). The same address can be both, from different namespaces
 * (a service's own address, seen from its clients' namespace).
 */
export interface PeerSide {
  netns: number;
  side: 'client' | 'server';
  sockets: number;
}

export interface PeerRollup extends RollupBase {
  peer: string;
  /** Its sockets by namespace and side, the most first; empty when only counters remain. */
  seenFrom: PeerSide[];
}

export interface ProcessPeerRollup extends RollupBase {
  pid: number;
  comm: string;
  peer: string;
}

export interface ServiceRollup extends RollupBase {
  netns: number;
  port: number;
  /** Processes holding the listening socket(s). */
  listeners: OwnerRef[];
  /** Each listening socket's accept queue at the last inventory, in the order of their local addresses. */
  acceptQueues: ListenerQueue[];
  /** Its answer times and its clients' waits over the last minute (null: none measured). */
  timings: ServiceTimings | null;
}

export interface ListenerQueue extends AcceptQueue {
  local: Endpoint;
  owners: OwnerRef[];
}

export interface RollupList<T> {
  rows: T[];
  /** Rows left out beyond the report limit. */
  omitted: number;
}

export type FindingKind =
  | 'impatient_clients'
  | 'close_wait_leak'
  | 'close_wait_rising'
  | 'write_after_peer_close'
  | 'fd_pressure'
  | 'rst_storm'
  | 'connection_churn'
  | 'ephemeral_port_pressure'
  | 'accept_failing'
  | 'accept_queue_overflow'
  | 'connect_timeouts'
  | 'retransmits';

/** Findings about one process linked into one outage (see core/incidents.ts). */
export interface Incident {
  /** Stable while the process lives: comm/pid. */
  id: string;
  /** The findings' kinds in causal order, root cause first. */
  chain: FindingKind[];
  /** The chain told as one story, root cause first. */
  story: string;
  severity: 'warning' | 'critical';
}

export interface Finding {
  kind: FindingKind;
  severity: 'warning' | 'critical';
  /** One line: what and who. */
  title: string;
  /** Plain language for a tired on-call engineer: what it means and what to do. */
  explanation: string;
  /** where: the process's cgroup, unit, container and pod, when its pid is named and known. */
  subject: { pid?: number; comm?: string; peer?: string; port?: number; local?: string; where?: Placement };
  evidence: Record<string, unknown>;
  /** Set when this finding is one side of an outage other findings see too. */
  incident?: Incident;
}

/** A finished or ongoing connection's timeline: "why did this process get a broken pipe from that peer?" */
export interface ConnectionStory {
  sock: string;
  owners: OwnerRef[];
  local: Endpoint;
  peer: Endpoint;
  state: string;
  timeline: TimelineEntry[];
}

export interface SocketView {
  sock: string;
  state: string;
  proc: { pid: number; comm: string } | null;
  procs: { pid: number; comm: string }[];
  local: Endpoint;
  peer: Endpoint;
  netns: number;
  /** LISTEN sockets: the accept queue at the last inventory (as ss -lnt: Recv-Q/Send-Q); null otherwise or unknown. */
  acceptQueue: AcceptQueue | null;
  /** Seconds in this state; at least this when stateAgeIsLowerBound. */
  stateAgeSeconds: number;
  stateAgeIsLowerBound: boolean;
  rstSent: number;
  rstReceived: number;
  errors: number;
}

export interface CoreTotals {
  sockets: number;
  byState: StateCounts;
  eventsApplied: number;
  /** Events the kernel could not deliver (ring buffer full), as reported by the source. */
  eventsLost: number;
  /** Sockets evicted from the table at its cap. */
  socketEvictions: number;
  /** Rollup keys evicted at their cap. */
  rollupEvictions: number;
  /** Sockets an inventory found gone although no event said so (missed or lost events). */
  reconciledAway: number;
  /** Answer-time samples the kernel's tables had no room for, since start (see socktrace_timing_misses). */
  timingMisses: { peer: number; lost: number; late: number };
}

export interface CoreSummary {
  atMs: number;
  totals: CoreTotals;
  processes: RollupList<ProcessRollup>;
  peers: RollupList<PeerRollup>;
  processPeers: RollupList<ProcessPeerRollup>;
  services: RollupList<ServiceRollup>;
  findings: Finding[];
  /** Recent connections that ended in an RST or an error, newest last. */
  stories: ConnectionStory[];
}
