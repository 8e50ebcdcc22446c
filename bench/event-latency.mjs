#!/usr/bin/env node
// Latency from the kernel event to its JSON line, as a reader of `socktrace watch` sees it: a paced
// EPIPE storm (bench/error-storm.c on CPU 0) under `watch --events send_error --pid <generator>`, and for
// every line the time it reached this process minus the event's own kernel time (its "time" field, the
// kernel timestamp in wall-clock milliseconds). Percentiles per backend and rate.
//
// Resolution: "time" is cut to the millisecond, so each figure may be up to 1 ms high. Both clocks are
// this host's wall clock (watch converts the kernel's monotonic time once at its start).
//
//   node bench/event-latency.mjs [--seconds 5] [--backends native,bpftrace] [--rates 100,1000,10000,100000]
import { parseArgs } from 'node:util';
import { buildBenchProgram, startTracer, tracerCounts } from './churn-harness.mjs';
import { startGenerator } from './storm-generator.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    backends: { type: 'string', default: 'native,bpftrace' },
    rates: { type: 'string', default: '100,1000,10000,100000' },
  },
});
const fail = (message) => {
  console.error(`event-latency: ${message}`);
  process.exit(2);
};
const seconds = Number(values.seconds);
const rates = values.rates.split(',').map(Number);
const backends = values.backends.split(',');
if (!(seconds > 0 && seconds <= 60)) fail('--seconds must be in (0, 60]');
if (rates.some((r) => !(Number.isFinite(r) && r > 0))) fail('--rates must be positive numbers');
for (const b of backends) if (!['native', 'bpftrace'].includes(b)) fail(`unknown backend "${b}"; known: native, bpftrace`);

const bin = buildBenchProgram('error-storm');
const TIME_AT = '{"level":"info","time":"'.length;

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(backend, rate) {
  const generator = await startGenerator(bin, seconds, rate);
  const tracer = startTracer(backend === 'native' ? 'watch' : 'watch-bpftrace', {
    extraArgs: ['--events', 'send_error', '--pid', String(generator.pid)],
    stdout: 'pipe',
  });
  // Float64Array: a 100,000/s run keeps half a million latencies without boxing them.
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let partial = '';
  tracer.stdout.setEncoding('latin1');
  tracer.stdout.on('data', (chunk) => {
    const arrivedMs = Date.now();
    const text = partial + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      if (text.startsWith('"event":"send_error"', text.indexOf('"event":', start + TIME_AT))) {
        if (count === latencies.length) {
          const bigger = new Float64Array(latencies.length * 2);
          bigger.set(latencies);
          latencies = bigger;
        }
        latencies[count++] = arrivedMs - Date.parse(text.slice(start + TIME_AT, start + TIME_AT + 24));
      }
      start = end + 1;
    }
    partial = text.slice(start);
  });
  await tracer.ready;
  const made = await generator.go();
  const counts = tracerCounts('watch', await tracer.stop());
  const sorted = latencies.slice(0, count).sort();
  const run = {
    backend,
    rate,
    lines: count,
    generated: made.errors,
    lost: counts.lost,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[count - 1] ?? NaN,
  };
  console.log(
    `${backend.padEnd(9)} ${String(rate).padStart(7)}/s  lines ${String(count).padStart(7)} of ${String(made.errors).padStart(7)}  lost ${counts.lost}  ` +
      `p50 ${run.p50Ms} ms  p99 ${run.p99Ms} ms  max ${run.maxMs} ms`,
  );
  return run;
}

const summary = { bench: 'event-latency', seconds };
for (const backend of backends) {
  for (const rate of rates) {
    const run = await measure(backend, rate);
    summary[`${backend}_${rate}_p50_ms`] = run.p50Ms;
    summary[`${backend}_${rate}_p99_ms`] = run.p99Ms;
    summary[`${backend}_${rate}_lost`] = run.lost;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
console.log(JSON.stringify(summary));
