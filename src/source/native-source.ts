/** The native backend: the addon's batches, decoded, with lost and rejected records counted. */
import { loadBinding, type BatchMeta, type NativeTracerOptions } from '../native/binding.js';
import { decodeBatch } from '../events/decode-batch.js';
import type { RunningSource, SourceHandlers, SourceInfo, SourceStats } from './event-source.js';
import { seedRecords } from '../inventory/seed-owners.js';

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

  const onBatch = (buffer: ArrayBuffer, meta: BatchMeta) => {
    stats.batches++;
    // Records of the wrong size never leave the native side; they are counted there and reported here.
    stats.rejected += meta.malformedTotal - malformedSeen;
    malformedSeen = meta.malformedTotal;
    if (meta.records > 0) {
      const decoded = decodeBatch(buffer, meta.records, { rstReasons });
      stats.rejected += decoded.rejected;
      stats.events += decoded.events.length;
      if (decoded.events.length > 0) handlers.onEvents(decoded.events);
    }
    stats.produced = meta.submittedTotal + meta.lostTotal;
    if (meta.lostTotal > stats.lost) {
      const fresh = meta.lostTotal - stats.lost;
      stats.lost = meta.lostTotal;
      handlers.onLost(fresh, stats.lost);
    }
    if (meta.error) handlers.onError?.(new Error(`socktrace: ${meta.error}`));
    if (meta.final) {
      finished = true;
      resolveFinal();
    }
  };

  const started = tracer.start(onBatch);
  rstReasons = started.rstReasons;
  const info: SourceInfo = {
    backend: 'native',
    hooks: started.hooks,
    notes: started.notes,
    ringBytes: started.ringBytes,
    closeWaitDelayMs: started.closeWaitDelayMs,
    rstReasons,
  };

  return {
    info,
    stats: () => ({ ...stats }),
    async stop() {
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
    transitions: () => (finished ? new Array<number>(16).fill(0) : tracer.transitions()),
    ownerEvictions: () => (finished ? 0 : tracer.ownerEvictions()),
    sweepStats: () => tracer.sweepStats(),
  };
}
