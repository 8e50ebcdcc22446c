/**
 * A tracer and the core, running together: the shared engine of watch --summary, top and the daemon.
 * Start: inventory (to size the seed map), attach, inventory again (so nothing opened in between is
 * missed), seed the kernel's owner map, seed the core. Then events flow into the core, and every
 * `reconcileSeconds` a fresh inventory corrects what lost events or TIME_WAIT expiry left behind.
 */
import type { CoreConfig } from '../core/core-config.js';
import type { StreamedInventory } from '../core/inventory-model.js';
import { SocketCore } from '../core/socket-core.js';
import type { SockEvent } from '../events/sock-event.js';
import { takeStreamedInventory } from '../inventory/take-inventory.js';
import type { RunningSource, SourceHandlers, SourceStats } from '../backends/event-source.js';
import { sampleWallClock } from '../events/monotonic-clock.js';
import { startSource, type SourceOptions } from '../backends/start-source.js';
import { BindingLoadError } from '../backends/native/binding.js';
import { scanProcesses } from '../inventory/process-scan.js';
import { readListenCounters } from '../inventory/listen-counters.js';
import { listNetworkNamespaces, type NamespaceRef } from '../inventory/network-namespaces.js';
import type { ListenerQueueNow, ListenerReading, ListenOverflow } from '../core/listen-overflows.js';
import type { ListenQueueCount, RefusedAckCount } from '../backends/event-source.js';
import { kernelHz } from '../inventory/kernel-hz.js';
import { RefusalWatch } from './refusal-watch.js';

/** How long a listing of the network namespaces serves the listen counters' samples. */
const NAMESPACE_LIST_MS = 10_000;

/** Listener rows the kernel's walk fills at most (probes/lib/counts.bpf.h, listen_queues): a full table left some out. */
const LISTEN_QUEUE_ENTRIES = 4096;

/**
 * The listeners the kernel counts now, their queues and drop counters, and each namespace's counters
 * read again right after ('inventory' where the backend cannot count them: the core then uses the last
 * inventory's queues, without drop counts). A listener several processes share, or none known, has no
 * owner here.
 */
function listenersNow(source: RunningSource, namespaces: NamespaceRef[]): ListenerReading | 'inventory' {
  let counted: ListenQueueCount[] | undefined;
  let uncounted: number[] = [];
  let refusedAcks: RefusedAckCount[] | undefined;
  try {
    const counts = source.countSockets();
    counted = counts?.listenQueues;
    uncounted = counts?.uncounted ?? [];
    refusedAcks = counts?.refusedAcks;
  } catch {
    counted = undefined;
  }
  if (!counted) return 'inventory';
  const after = readListenCounters(namespaces).samples;
  const queues: ListenerQueueNow[] = counted.map((q) => ({
    netns: q.netns,
    proc: q.pid ? { pid: q.pid, comm: q.comm } : null,
    local: { addr: q.addr, port: q.port },
    queue: q.queue,
    limit: q.limit,
    drops: q.drops ?? null,
    listeners: q.listeners,
  }));
  return {
    queues,
    dropsCounted: counted.every((q) => q.drops !== undefined),
    after,
    complete: counted.length < LISTEN_QUEUE_ENTRIES,
    unread: uncounted,
    ...(refusedAcks ? { refusedAcks } : {}),
  };
}

export interface LiveSessionOptions {
  source?: SourceOptions;
  core: CoreConfig;
  /** Feed events into the core (off for a plain event stream). */
  trackState: boolean;
}

export interface LiveHandlers {
  onEvents?(events: SockEvent[]): void;
  /** Batches as lines (the native source's `lines` option; never with trackState: the core needs events). */
  onLines?: SourceHandlers['onLines'];
  onLost?(count: number, total: number): void;
  onError?(error: Error): void;
}

export interface LiveSession {
  readonly source: RunningSource;
  readonly core: SocketCore;
  /** Owners of pre-existing sockets the kernel side accepted. */
  readonly seeded: number;
  readonly startupProblems: string[];
  /**
   * Samples each namespace's listen counters into the core: the accept-queue overflows since the last
   * sample, attributed to the listeners whose own drop counters grew (listeners read from the kernel
   * only when a counter moved, or to take a first reading).
   */
  sampleListenOverflows(): ListenOverflow[];
  /**
   * Reads the kernel's answer-time histograms into the core (services' latency, clients that give up),
   * and lets the kernel forget the ones gone quiet. Nothing where the backend does not measure them.
   */
  sampleExchangeTimings(): void;
  /** A fresh inventory into the core (and the kernel's owner map); returns its problems. */
  reconcile(): StreamedInventory;
  stop(): Promise<SourceStats>;
}

/**
 * The inventory reads sockets through the addon (sock_diag in every namespace). Where the addon is
 * missing (the bpftrace backend's reason to exist), processes are still read from /proc, and the
 * problem says what is not known.
 */
function inventoryOrProcessesOnly(): { inventory: StreamedInventory; hasSockets: boolean } {
  try {
    // Streamed: seeding and the core each take a pass, and no pass holds every socket at once.
    return { inventory: takeStreamedInventory(), hasSockets: true };
  } catch (error) {
    if (!(error instanceof BindingLoadError)) throw error;
    const scan = scanProcesses();
    const inventory: StreamedInventory = {
      takenAtMs: Date.now(),
      sockets: [],
      socketCount: 0,
      processes: scan.processes,
      problems: ['no socket inventory without the native addon: sockets opened before socktrace started are unknown, counts come from events'],
    };
    return { inventory, hasSockets: false };
  }
}

/** Into the core: the whole inventory, or only the processes when sockets could not be read. */
function applyTo(core: SocketCore, taken: { inventory: StreamedInventory; hasSockets: boolean }): void {
  if (taken.hasSockets) core.applyInventory(taken.inventory);
  else core.applyProcesses(taken.inventory.processes);
}

/**
 * How many sockets there are now, to size the seed map. Only the count leaves this function: the
 * inventory it took (its process scan, its socket index) is garbage before the second one is taken.
 * Kept in a local of the async start instead, it stayed alive across the await (a suspended async
 * function keeps its locals), and the start held two inventories at once: its memory peak.
 */
function socketCountNow(): number {
  return inventoryOrProcessesOnly().inventory.socketCount;
}

export async function startLiveSession(options: LiveSessionOptions, handlers: LiveHandlers): Promise<LiveSession> {
  const socketCount = socketCountNow();
  const clock = sampleWallClock();
  const core = new SocketCore(options.core, (ns) => clock.toEpochMs(ns));
  // Room for every socket there is now, and then some, in the kernel's seed map.
  const seedEntries = Math.max(65_536, Math.ceil(socketCount * 1.5));
  const source = await startSource(
    { seedEntries, ...options.source },
    {
      onEvents(events) {
        if (options.trackState) core.applyEvents(events);
        handlers.onEvents?.(events);
      },
      onLost(count, total) {
        core.noteLost(count);
        handlers.onLost?.(count, total);
      },
      onError: handlers.onError,
      onLines: handlers.onLines,
    },
  );
  let namespaces: { list: NamespaceRef[]; atMs: number } = { list: [], atMs: -Infinity };
  const refusals = new RefusalWatch((on) => source.watchRefusedHandshakes(on));
  const reconcile = () => {
    const taken = inventoryOrProcessesOnly();
    source.seedOwners(taken.inventory);
    if (options.trackState) applyTo(core, taken);
    return taken.inventory;
  };
  const taken = inventoryOrProcessesOnly();
  const second = taken.inventory;
  const seeded = source.seedOwners(second);
  if (options.trackState) applyTo(core, taken);
  const hz = kernelHz();
  const startupProblems = [...second.problems];
  if (hz.hz === null) startupProblems.push(`services' answer times are not shown: the kernel's tick rate (CONFIG_HZ) is ${hz.source}`);
  return {
    source,
    core,
    seeded,
    startupProblems,
    reconcile,
    sampleListenOverflows() {
      const now = Date.now();
      // Listing namespaces walks /proc (a stat per process): every 10 s, not every sample. A namespace
      // made meanwhile is sampled from the next listing on (its first sample is its baseline anyway).
      if (now - namespaces.atMs >= NAMESPACE_LIST_MS) namespaces = { list: listNetworkNamespaces(), atMs: now };
      const { samples } = readListenCounters(namespaces.list);
      refusals.sample(now, core.listenOverflows.grew(samples));
      // Read before the walk, and again after it (listenersNow): drops counted while it ran are known.
      return core.applyListenCounters(now, samples, core.listenOverflows.wantsReading(samples) ? listenersNow(source, namespaces.list) : null);
    },
    sampleExchangeTimings() {
      const timings = source.exchangeTimings();
      if (!timings) return;
      const quiet = core.applyExchangeTimings(Date.now(), hz.hz ? 1 / hz.hz : null, timings.rows, timings.misses);
      source.forgetExchangeTimings(quiet);
    },
    stop: () => source.stop(),
  };
}
