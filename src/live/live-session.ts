/**
 * A tracer and the core, running together: the shared engine of watch --summary, top and the daemon.
 * Start: inventory (to size the seed map), attach, inventory again (so nothing opened in between is
 * missed), seed the kernel's owner map, seed the core. Then events flow into the core, and every
 * `reconcileSeconds` a fresh inventory corrects what lost events or TIME_WAIT expiry left behind.
 */
import type { CoreConfig } from '../core/core-config.js';
import type { Inventory } from '../core/inventory-model.js';
import { SocketCore } from '../core/socket-core.js';
import type { SockEvent } from '../events/sock-event.js';
import { takeInventory } from '../inventory/take-inventory.js';
import type { RunningSource, SourceStats } from '../source/event-source.js';
import { sampleWallClock } from '../source/monotonic-clock.js';
import { startNativeSource, type NativeSourceOptions } from '../source/native-source.js';

export interface LiveSessionOptions {
  source?: NativeSourceOptions;
  core: CoreConfig;
  /** Feed events into the core (off for a plain event stream). */
  trackState: boolean;
}

export interface LiveHandlers {
  onEvents?(events: SockEvent[]): void;
  onLost?(count: number, total: number): void;
  onError?(error: Error): void;
}

export interface LiveSession {
  readonly source: RunningSource;
  readonly core: SocketCore;
  /** Owners of pre-existing sockets the kernel side accepted. */
  readonly seeded: number;
  readonly startupProblems: string[];
  /** A fresh inventory into the core (and the kernel's owner map); returns its problems. */
  reconcile(): Inventory;
  stop(): Promise<SourceStats>;
}

export function startLiveSession(options: LiveSessionOptions, handlers: LiveHandlers): LiveSession {
  const first = takeInventory();
  const clock = sampleWallClock();
  const core = new SocketCore(options.core, (ns) => clock.toEpochMs(ns));
  // Room for every socket there is now, and then some, in the kernel's seed map.
  const seedEntries = Math.max(65_536, Math.ceil(first.sockets.length * 1.5));
  const source = startNativeSource(
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
    },
  );
  const reconcile = () => {
    const inventory = takeInventory();
    source.seedOwners(inventory);
    if (options.trackState) core.applyInventory(inventory);
    return inventory;
  };
  const second = takeInventory();
  const seeded = source.seedOwners(second);
  if (options.trackState) core.applyInventory(second);
  return {
    source,
    core,
    seeded,
    startupProblems: second.problems,
    reconcile,
    stop: () => source.stop(),
  };
}
