#!/usr/bin/env node
// The highest event rate each backend carries without losing one, measured side by side in one run:
// `socktrace watch --backend <b> > /dev/null` (the whole path: kernel, reader, decoding, JSON lines)
// while bench/churn.c makes connections at a paced rate on CPU 0 (the reader has the other CPU). Rates
// climb until a backend loses events twice in a row; its highest rate with none lost, and the events
// per second it carried there, are its figure. A run loses events when the kernel counted drops, or when
// fewer events arrived than the churn made (12 per connection: every state change and both destroys,
// plus the churn's listener): the whole count is checked, not only what the kernel admits to.
//
//   node bench/lossless-rate.mjs [--seconds 3] [--backends native,bpftrace]
//                                [--rates 500,1000,2000,3000,4000,6000,8000,12000,16000,0]
// (a rate of 0: as fast as the churn can go)
import { parseArgs } from 'node:util';
import { buildBenchProgram, runChurn, startTracer, tracerCounts } from './churn-harness.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    backends: { type: 'string', default: 'native,bpftrace' },
    rates: { type: 'string', default: '500,1000,2000,3000,4000,6000,8000,12000,16000,0' },
  },
});
const seconds = Number(values.seconds);
const rates = values.rates.split(',').map(Number);
const backends = values.backends.split(',');
if (!(seconds > 0 && seconds <= 60) || rates.some((r) => !Number.isFinite(r) || r < 0)) {
  console.error('lossless-rate: --seconds must be in (0, 60] and --rates non-negative numbers');
  process.exit(2);
}
const tracerOf = { native: 'watch', bpftrace: 'watch-bpftrace' };
for (const b of backends) {
  if (!tracerOf[b]) {
    console.error(`lossless-rate: unknown backend "${b}"; known: ${Object.keys(tracerOf).join(', ')}`);
    process.exit(2);
  }
}

const EVENTS_PER_CONNECTION = 12;
const bin = buildBenchProgram();
const runs = [];
const summary = { bench: 'lossless-rate', seconds };
for (const backend of backends) {
  let best = null;
  let lossyInARow = 0;
  for (const rate of rates) {
    const tracer = startTracer(tracerOf[backend]);
    await tracer.ready;
    const churn = await runChurn(bin, { seconds, cpus: '0', rate });
    const counts = tracerCounts(tracerOf[backend], await tracer.stop());
    const expected = churn.connections * EVENTS_PER_CONNECTION;
    const missing = Math.max(0, expected - counts.events - counts.lost);
    const run = {
      backend,
      target: rate || 'max',
      connPerSec: Math.round(churn.rate),
      eventsPerSec: Math.round(counts.events / churn.seconds),
      lost: counts.lost,
      missing,
    };
    runs.push(run);
    console.log(
      `${backend.padEnd(9)} target ${String(run.target).padStart(6)}  ${String(run.connPerSec).padStart(6)} conn/s  ` +
        `${String(run.eventsPerSec).padStart(7)} events/s  lost ${run.lost}  missing ${missing}`,
    );
    if (run.lost === 0 && missing === 0) {
      lossyInARow = 0;
      if (!best || run.connPerSec > best.connPerSec) best = run;
    } else if (++lossyInARow === 2) {
      break;
    }
  }
  summary[`${backend}_lossless_conn_per_s`] = best?.connPerSec ?? 0;
  summary[`${backend}_lossless_events_per_s`] = best?.eventsPerSec ?? 0;
}
console.log(JSON.stringify(summary));
