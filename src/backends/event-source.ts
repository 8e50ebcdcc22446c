/** What every backend offers its consumers: typed events in order, losses counted, a clean stop. */
import type { Owner, SockEvent } from '../events/sock-event.js';
import type { Inventory, StreamedInventory } from '../core/inventory-model.js';
import type { TcpState } from '../events/tcp-names.js';
import type { TimingReading } from '../core/exchange-timings.js';

export interface SourceHandlers {
  /** Events in kernel order, a batch at a time. */
  onEvents(events: SockEvent[]): void;
  /** `count` events the kernel could not hand over since the last report (ring buffer full). */
  onLost(count: number, total: number): void;
  /** The source stopped on its own because of this error. */
  onError?(error: Error): void;
  /**
   * With the native source's `lines` option: a batch as `watch`'s lines, made by the addon, and the
   * records it left to JavaScript (null: did not decode), each to be put at its offset in the text;
   * `made`: how many lines the text holds.
   */
  onLines?(text: Uint8Array, rawAt: readonly number[], raw: readonly (SockEvent | null)[], made: number): void;
}

export interface SourceStats {
  events: number;
  batches: number;
  /** Dropped in the kernel because the ring buffer was full. */
  lost: number;
  /** Records that did not decode (see decodeBatch). */
  rejected: number;
  /**
   * Events the kernel side produced, counted there: each was delivered, rejected or lost, so once the
   * source has stopped, events + rejected + lost = produced exactly (while running, some are in flight).
   */
  produced: number;
}

export interface SourceInfo {
  backend: 'native' | 'bpftrace';
  /** bpftrace's process id (the bpftrace backend runs it as a child). */
  pid?: number;
  hooks: HookInfo[];
  notes: string[];
  ringBytes: number;
  /** CLOSE_WAIT deferral in effect (ms), 0 when every CLOSE_WAIT change crosses as it happens. */
  closeWaitDelayMs: number;
  rstReasons: readonly string[];
}

export interface RunningSource {
  readonly info: SourceInfo;
  stats(): SourceStats;
  /** Detaches, delivers every event produced before that, and resolves with the final counts. */
  stop(): Promise<SourceStats>;
  /** Tells the kernel side who owns sockets opened before it started; returns how many it took. */
  seedOwners(inventory: Inventory | StreamedInventory): number;
  /** Changes, while running, which events cross from the kernel. */
  setFilter(filter: KernelFilter): void;
  /**
   * Backpressure from a consumer whose output is backed up: while paused, events wait in (and, when
   * it is full, are dropped and counted by) the kernel side; lost counts still arrive; stop() drains.
   */
  pause(): void;
  resume(): void;
  /** State changes since start by new state (index = TCP state), whether they crossed or not. */
  transitions(): number[];
  /** Owners the kernel's owner table displaced since start (a full set): events of those sockets lack one. */
  ownerEvictions(): number;
  /** CLOSE_WAIT sweeps run and failed since start. */
  sweepStats(): SweepStats;
  /**
   * Every TCP socket on the host now, by owner and state, as `ss -tanp` sees them: the addon counts in
   * the kernel's own tables (tcp iterator), the bpftrace backend reads /proc; null where neither can.
   */
  countSockets(): SocketCounts | null;
  /**
   * Services' answer times and clients' waits: the kernel's histograms, cumulative since start, with the
   * samples it had no room for; null where the backend does not measure them (bpftrace).
   */
  exchangeTimings(): ExchangeTimings | null;
  /** Lets the kernel drop histograms gone quiet (keys from exchangeTimings()). */
  forgetExchangeTimings(keys: Uint8Array[]): void;
  /**
   * Watches (or stops watching) the handshakes full accept queues refuse, where the kernel names their
   * clients (an on-demand hook: it costs a program run per dropped packet, so it runs only while queues
   * overflow). Returns whether it is watching now; false where the backend or kernel cannot.
   */
  watchRefusedHandshakes(on: boolean): boolean;
  /** With `lines`: what follows "via" in an owner's lines (event-line.ts placementText), told once it is known. */
  setLinePlacement(owner: Owner, text: string): void;
}

export interface ExchangeTimings {
  rows: TimingReading[];
  misses: { peer: number; lost: number; late: number };
}

export interface SocketCounts {
  /** pid null: no living owner known. comm escaped. queued: not the process's file yet (see the addon). */
  rows: { pid: number | null; comm: string; state: TcpState; queued: boolean; count: number }[];
  /**
   * Accept queues of listening sockets at the count, as `ss -lnt` shows them (queue: Recv-Q, limit:
   * Send-Q), summed over the listeners sharing owner, namespace, port and family; absent where the
   * backend cannot read them.
   */
  listenQueues?: ListenQueueCount[];
  /** Namespaces that could not be counted, and why. */
  problems: string[];
  /** The inodes of those namespaces, where the backend knows them (their listeners are missing from listenQueues). */
  uncounted?: number[];
  /**
   * Clients whose handshake's final ACK a full accept queue refused, counted since the tracer started
   * (the kernel names them since 6.15; SYNs dropped for a full queue carry no address). Absent where the
   * backend cannot tell.
   */
  refusedAcks?: RefusedAckCount[];
}

/** One client's refused final ACKs at one address and port of a namespace, cumulative. */
export interface RefusedAckCount {
  netns: number;
  /** The address and port the client knocked at (the packet's destination). */
  local: { addr: string; port: number };
  peer: string;
  count: number;
}

export interface ListenQueueCount {
  /** null: no living owner known. comm escaped. */
  pid: number | null;
  comm: string;
  netns: number;
  addr: string;
  port: number;
  family: 4 | 6;
  queue: number;
  limit: number;
  listeners: number;
  /**
   * What the listeners dropped since listen() (sk_drops summed modulo 2^32, `ss -lntm`'s d<N>): every
   * accept-queue overflow is counted there. Absent where the backend cannot read it.
   */
  drops?: number;
}

/** Which kinds and states cross from the kernel (bit masks: 1 << kind, 1 << TCP state). */
export interface KernelFilter {
  emitKinds?: number;
  emitStates?: number;
}

export type HookMode = 'tp_btf' | 'tracepoint' | 'missing';
export interface HookInfo {
  name: string;
  mode: HookMode;
  why: string;
  /** Attached only while what it serves is needed (see watchRefusedHandshakes). */
  onDemand?: boolean;
}

export interface SweepStats {
  runs: number;
  failures: number;
  /** Time spent sweeping. */
  seconds: number;
  /** Entries of the kernel's CLOSE_WAIT table the sweeps went over (only chunks with work), and its size. */
  entriesVisited?: number;
  entries?: number;
}
