/** `socktrace watch`: events as JSON lines until a signal or --duration. Orchestration only. */
import { matchesFilter, matchesOverflowFilter } from '../events/event-filter.js';
import { startLiveSession } from '../live/live-session.js';
import { openJsonLines } from '../output/json-lines.js';
import { scopedSummary, summaryScope } from '../output/summary-scope.js';
import { kernelMatchFor } from '../events/kernel-match.js';
import { toEventRecord, toListenOverflowRecord, toLostRecord, type EventRecord, type PlacementOf } from '../output/event-record.js';
import { hostCgroupIds, PlacementReader } from '../inventory/process-placement.js';
import { podNames } from '../inventory/pod-names.js';
import { foldedRecordOf, RateLimiter } from '../daemon/rate-limiter.js';
import { rateLimitKey } from '../daemon/event-log-policy.js';
import { eventLineMaker, placementText } from '../output/event-line.js';
import type { EventKind, SockEvent } from '../events/sock-event.js';
import type { RunningSource } from '../backends/event-source.js';
import { isFilterEmpty, kindMask } from '../events/event-filter.js';
import { KIND_CODES } from '../backends/native/record-layout.js';
import { nativeLineOptions } from '../backends/native/line-options.js';
import { spliceLines } from '../output/native-lines.js';
import { toFindingRecords, toSummaryRecord } from '../output/summary-records.js';
import { sampleWallClock } from '../events/monotonic-clock.js';
import { describeHooks, describeStats, status } from './console/stderr-status.js';
import { waitForStop } from './console/stop-signal.js';
import { parseWatchOptions, WATCH_USAGE } from './options/watch-options.js';

/** Kinds whose lines watch makes itself: accept errors (their storms are folded) and any kind not asked for. */
function kindsLeftToJs(wanted: ReadonlySet<string> | undefined): EventKind[] {
  return (Object.keys(KIND_CODES) as EventKind[]).filter((k) => k === 'accept_error' || (wanted !== undefined && !wanted.has(k)));
}

/** How long a stop waits for output to reach a reader that is not reading (SIGTERM: out within 2 s). */
const STOP_FLUSH_MS = 1000;

export async function watchCommand(argv: string[]): Promise<number> {
  const options = parseWatchOptions(argv);
  if (options.help) {
    process.stdout.write(`${WATCH_USAGE}\n`);
    return 0;
  }
  // A backed-up stdout pauses the source: events then wait, or are dropped and counted, in the kernel.
  let source: RunningSource | undefined;
  const out = openJsonLines(process.stdout, { onBackedUp: () => source?.pause(), onDrained: () => source?.resume() });
  const clock = sampleWallClock();
  // Where each owner lives (cgroup, unit, container, pod), read once per process from /proc.
  const placements = new PlacementReader(podNames(), '/proc', hostCgroupIds());
  // Lines made by the addon (see native/line_formatter.h): whenever the core needs no events and no
  // filter but the kinds, which the kernel applies itself, is asked for.
  const nativeLines = options.summarySeconds === undefined && isFilterEmpty({ ...options.filter, kinds: undefined });
  // An owner's placement, once read, is told to the addon, which then makes that owner's lines itself.
  const placementOf: PlacementOf = (o) => {
    const placement = placements.of(o);
    if (nativeLines) source?.setLinePlacement(o, placementText(placement));
    return placement;
  };
  const lineOf = eventLineMaker(clock, placementOf);
  // A service out of fds retries accept() every few ms: one line a second per process, listener and
  // errno, then one folded line with the count (as the daemon folds its storms).
  const acceptStorms = new RateLimiter<EventRecord>(1000, 1);
  const wanted = (e: SockEvent) => {
    if (!matchesFilter(e, options.filter)) return null;
    if (e.kind === 'accept_error' && !acceptStorms.admit(rateLimitKey(e), () => toEventRecord(e, clock, placementOf), Date.now())) return null;
    return lineOf(e);
  };
  const drainAcceptStorms = (everything: boolean) => {
    for (const folded of acceptStorms.drain(Date.now(), everything)) out.write(foldedRecordOf(folded));
  };
  let sourceError: Error | undefined;
  let madeByAddon = 0;
  const stopRequested = new AbortController();

  const session = await startLiveSession(
    {
      source: {
        ringBytes: options.ringBytes,
        hooks: options.hooks,
        backend: options.backend,
        // Kinds and sockets nobody prints stay in the kernel, unless the summary's core needs every event.
        ...(options.summarySeconds === undefined ? { emitKinds: kindMask(options.filter.kinds), match: kernelMatchFor(options.filter) } : {}),
        // accept() storms are folded here; kinds not asked for (were any to cross) are filtered here too.
        ...(nativeLines ? { lines: nativeLineOptions(clock, kindsLeftToJs(options.filter.kinds)) } : {}),
      },
      core: options.core,
      trackState: options.summarySeconds !== undefined,
    },
    {
      onEvents(events) {
        out.writeBatch(events, wanted);
      },
      onLines(text, rawAt, raw, made) {
        madeByAddon += made;
        out.writeChunks(spliceLines(text, rawAt, raw.map((e) => (e ? wanted(e) : null))));
      },
      onLost(count, total) {
        out.warn(toLostRecord(count, total));
      },
      onError(error) {
        sourceError = error;
        stopRequested.abort();
      },
    },
  );
  source = session.source;
  // Listen for signals before saying "watching", so a SIGTERM right after it is a clean stop.
  const stopped = waitForStop({ durationSeconds: options.durationSeconds, signal: stopRequested.signal });
  out.onReaderGone(() => stopRequested.abort());
  for (const note of [...session.source.info.notes, ...session.startupProblems]) status(note);
  status(`watching (${describeHooks(session.source.info)}); ${session.seeded} pre-existing sockets' owners seeded; stop with Ctrl-C`);

  // Rows and findings as the filters select them (totals stay the host's: the record's scope says so).
  const scope = summaryScope(options.filter);
  const writeSummary = (final: boolean) => {
    session.reconcile();
    const summary = scopedSummary(session.core.summarize(Date.now()), options.filter);
    out.write(toSummaryRecord(summary, scope, final));
    for (const finding of toFindingRecords(summary)) out.warn(finding);
  };
  let timer: NodeJS.Timeout | undefined;
  if (options.summarySeconds !== undefined) {
    timer = setInterval(() => writeSummary(false), options.summarySeconds * 1000);
  }

  const folding = setInterval(() => drainAcceptStorms(false), 1000);
  // Each second: services' answer times (the kernel's histograms) and handshakes dropped at full accept
  // queues (counted per namespace by the kernel).
  const overflows = setInterval(() => {
    try {
      session.sampleExchangeTimings();
      for (const o of session.sampleListenOverflows()) if (matchesOverflowFilter(o, options.filter)) out.write(toListenOverflowRecord(o));
    } catch (error) {
      status(`kernel counters not sampled: ${(error as Error).message}`);
    }
  }, 1000);

  await stopped;
  if (timer) {
    clearInterval(timer);
    // The end of a watch is a summary too: what a --duration run found, whatever its period.
    try {
      writeSummary(true);
    } catch (error) {
      status(`final summary not written: ${(error as Error).message}`);
    }
  }
  clearInterval(folding);
  clearInterval(overflows);
  const stats = await session.stop();
  drainAcceptStorms(true);
  const unwritten = await out.close(STOP_FLUSH_MS);
  status(`stopped: ${describeStats(stats)}${nativeLines && stats.events > 0 ? `; ${madeByAddon} of its lines made by the addon` : ''}`);
  if (unwritten > 0) {
    status(`${unwritten} bytes of output were not written: the reader of standard output stopped reading`);
    // Node would wait for that write for as long as the reader does: a stop must not.
    process.exit(sourceError ? 1 : 0);
  }
  if (sourceError) throw sourceError;
  return 0;
}
