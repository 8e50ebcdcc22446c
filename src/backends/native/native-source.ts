/** The native backend: the addon's batches, decoded, with lost and rejected records counted. */
import { exchangeTimingsOf } from './exchange-timings-of.js';
import { loadBinding, type BatchMeta, type NativeTracerOptions } from './binding.js';
import { TRANSITION_SLOTS } from './record-layout.js';
import { decodeBatch, decodeRecord } from '../../events/decode-batch.js';
import { RECORD_SIZE } from './record-layout.js';
import type { RunningSource, SourceHandlers, SourceInfo, SourceStats } from '../event-source.js';
import { seedRecords } from '../../inventory/seed-owners.js';
import { kernelCountsTracepointMisses, uncountedMissesNote } from '../bpf-prog-misses.js';
import { release } from 'node:os';
import { listNetworkNamespaces } from '../../inventory/network-namespaces.js';
import { socketCountsOf } from './socket-counts.js';

export type NativeSourceOptions = NativeTracerOptions;

export function startNativeSource(options: NativeSourceOptions, handlers: SourceHandlers): RunningSource {
  const binding = loadBinding();
  const tracer = new binding.Tracer(options);
  const stats: SourceStats = { events: 0, batches: 0, lost: 0, rejected: 0, produced: 0 };
  let malformedSeen = 0;
  let finished = false;
  let resolveFinal!: () => void;
  const final = new Promise<void>((resolve) => (resolveFinal = resolve));
  let rstReasons: readonly string[] = [];
  // Lost two ways: records the ring had no room for, and program runs the kernel skipped (no record made).
  let ringLost = 0;
  let skipped = 0;
  const countLost = (fresh: number) => {
    stats.lost += fresh;
    handlers.onLost(fresh, stats.lost);
  };

  const onBatch = (buffer: ArrayBuffer, meta: BatchMeta) => {
    stats.batches++;
    // Records of the wrong size never leave the native side; they are counted there and reported here.
    stats.rejected += meta.malformedTotal - malformedSeen;
    malformedSeen = meta.malformedTotal;
    if (meta.lines) {
      // Lines made by the addon; the few records it left are decoded one by one, in place.
      const { raw, rawAt } = meta.lines;
      const view = new DataView(raw);
      const bytes = new Uint8Array(raw);
      const events = rawAt.map((_, i) => decodeRecord(view, bytes, i * RECORD_SIZE, { rstReasons }));
      const rejected = events.filter((e) => e === null).length;
      stats.rejected += rejected;
      stats.events += meta.records - rejected;
      handlers.onLines?.(new Uint8Array(buffer), rawAt, events, meta.records - rawAt.length);
    } else if (meta.records > 0) {
      const decoded = decodeBatch(buffer, meta.records, { rstReasons });
      stats.rejected += decoded.rejected;
      stats.events += decoded.events.length;
      if (decoded.events.length > 0) handlers.onEvents(decoded.events);
    }
    if (meta.lostTotal > ringLost) {
      const fresh = meta.lostTotal - ringLost;
      ringLost = meta.lostTotal;
      countLost(fresh);
    }
    stats.produced = meta.submittedTotal + ringLost + skipped;
    if (meta.error) handlers.onError?.(new Error(`${meta.error}`));
    if (meta.final) {
      finished = true;
      resolveFinal();
    }
  };

  const started = tracer.start(onBatch);
  const counterAttached = !started.notes.some((n) => n.startsWith('the socket counter'));
  // The refused clients are read with the socket walk: no walk, no use for the hook.
  const refusalsHook = counterAttached ? started.hooks.find((h) => h.onDemand)?.name : undefined;
  rstReasons = started.rstReasons;
  const info: SourceInfo = {
    backend: 'native',
    hooks: started.hooks,
    notes: [...started.notes, ...uncountedSkips(started.hooks)],
    ringBytes: started.ringBytes,
    closeWaitDelayMs: started.closeWaitDelayMs,
    rstReasons,
  };

  // Read once a second (a syscall per program), and at stop while the programs are still loaded.
  const readSkipped = () => {
    if (finished) return;
    const now = tracer.skippedRuns();
    if (now <= skipped) return;
    const fresh = now - skipped;
    skipped = now;
    stats.produced += fresh;
    countLost(fresh);
  };
  const skipTimer = setInterval(readSkipped, 1000).unref();

  return {
    info,
    stats: () => ({ ...stats }),
    async stop() {
      clearInterval(skipTimer);
      readSkipped();
      if (!finished) tracer.stop();
      await final;
      return { ...stats };
    },
    seedOwners(inventory) {
      return finished ? 0 : tracer.seedOwners(seedRecords(inventory));
    },
    setFilter(filter) {
      if (!finished) tracer.setFilter(filter);
    },
    pause: () => finished || tracer.pause(true),
    resume: () => finished || tracer.pause(false),
    transitions: () => (finished ? new Array<number>(TRANSITION_SLOTS).fill(0) : tracer.transitions()),
    ownerEvictions: () => (finished ? 0 : tracer.ownerEvictions()),
    sweepStats: () => tracer.sweepStats(),
    countSockets: () => {
      if (finished || !counterAttached) return null;
      const namespaces = listNetworkNamespaces();
      return socketCountsOf(tracer.countSockets(namespaces), namespaces);
    },
    exchangeTimings: () => (finished ? null : exchangeTimingsOf(tracer.exchangeTimings())),
    forgetExchangeTimings(keys) {
      if (!finished && keys.length > 0) tracer.forgetExchangeTimings(keys);
    },
    watchRefusedHandshakes: (on) => {
      if (finished || !refusalsHook) return false;
      return tracer.setOnDemandHook(refusalsHook, on) && on;
    },
    setLinePlacement(owner, text) {
      if (options.lines && !finished) tracer.setLinePlacement(owner.pid, owner.start ?? 0, owner.cgroupId, text);
    },
  };
}

/**
 * A classic tracepoint program on a hook that fires in softirq (state changes, RSTs, drops) is skipped
 * when it interrupts another BPF program; before 6.7 the kernel does not count that. (tp_btf programs
 * and the syscall hooks, which run in the caller's own context, are not affected.)
 */
function uncountedSkips(hooks: SourceInfo['hooks']): string[] {
  const exposed = hooks.some((h) => h.mode === 'tracepoint' && !h.name.startsWith('sys_'));
  return exposed && !kernelCountsTracepointMisses(release()) ? [uncountedMissesNote(release())] : [];
}
