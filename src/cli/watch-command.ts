/** `socktrace watch`: events as JSON lines until a signal or --duration. Orchestration only. */
import { matchesFilter } from '../events/event-filter.js';
import { openJsonLines } from '../output/json-lines.js';
import { toEventRecord, toLostRecord } from '../output/event-record.js';
import { sampleWallClock } from '../source/monotonic-clock.js';
import { startNativeSource } from '../source/native-source.js';
import { describeHooks, describeStats, status } from './stderr-status.js';
import { parseWatchOptions, WATCH_USAGE } from './watch-options.js';
import { waitForStop } from './stop-signal.js';

export async function watchCommand(argv: string[]): Promise<number> {
  const options = parseWatchOptions(argv);
  if (options.help) {
    process.stdout.write(`${WATCH_USAGE}\n`);
    return 0;
  }
  const out = openJsonLines(1);
  const clock = sampleWallClock();
  let sourceError: Error | undefined;
  const stopRequested = new AbortController();

  const source = startNativeSource(
    { ringBytes: options.ringBytes, hooks: options.hooks },
    {
      onEvents(events) {
        for (const e of events) if (matchesFilter(e, options.filter)) out.write(toEventRecord(e, clock));
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
  // Listen for signals before saying "watching", so a SIGTERM right after it is a clean stop.
  const stopped = waitForStop({ durationSeconds: options.durationSeconds, signal: stopRequested.signal });
  out.onReaderGone(() => stopRequested.abort());
  for (const note of source.info.notes) status(note);
  status(`watching (${describeHooks(source.info)}); stop with Ctrl-C`);
  await stopped;
  const stats = await source.stop();
  await out.close();
  status(`stopped: ${describeStats(stats)}`);
  if (sourceError) throw sourceError;
  return 0;
}
