#!/usr/bin/env node
// Error storms: bench/error-storm.c fails send() with EPIPE as fast as it can (pinned to CPU 0) while a
// socktrace consumer runs on the other CPU, and every error must be accounted for: delivered + counted
// as lost = what the generator counted. Then paced storms climb until a consumer loses errors twice in a
// row: its highest rate with nothing lost is its figure.
//
// Consumers, for each backend:
//   watch   `socktrace watch --events send_error --pid <generator>`, lines counted by `grep -c` (the
//           whole path: kernel, reader, decoding, JSON lines); lost from its stderr summary
//   daemon  `socktrace daemon` (default config): the EPIPE count and lost count from its metrics, read
//           once its event count has stopped moving
//
//   node bench/error-storm.mjs [--seconds 10] [--backends native,bpftrace] [--consumers watch,daemon]
//                              [--rates 50000,100000,200000,300000,500000,750000,1000000] [--step-seconds 3]
// (--rates "" skips the paced climb)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { buildBenchProgram, startTracer, tracerCounts } from './churn-harness.mjs';
import { startGenerator } from './storm-generator.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    backends: { type: 'string', default: 'native,bpftrace' },
    consumers: { type: 'string', default: 'watch,daemon' },
    rates: { type: 'string', default: '50000,100000,200000,300000,500000,750000,1000000' },
    'step-seconds': { type: 'string', default: '3' },
  },
});
const fail = (message) => {
  console.error(`error-storm: ${message}`);
  process.exit(2);
};
const seconds = Number(values.seconds);
const stepSeconds = Number(values['step-seconds']);
const rates = values.rates.split(',').filter(Boolean).map(Number);
if (!(seconds > 0 && seconds <= 120) || !(stepSeconds > 0 && stepSeconds <= 60)) fail('--seconds must be in (0, 120] and --step-seconds in (0, 60]');
if (rates.some((r) => !(Number.isFinite(r) && r > 0))) fail('--rates must be positive numbers');
const backends = values.backends.split(',');
const consumers = values.consumers.split(',');
for (const b of backends) if (!['native', 'bpftrace'].includes(b)) fail(`unknown backend "${b}"; known: native, bpftrace`);
for (const c of consumers) if (!['watch', 'daemon'].includes(c)) fail(`unknown consumer "${c}"; known: watch, daemon`);

const METRICS = '127.0.0.1:19637';
const bin = buildBenchProgram('error-storm');

async function metricValue(name, labels = '') {
  const response = await fetch(`http://${METRICS}/metrics`);
  const text = await response.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The daemon's figures once its event count has not moved for half a second (the pipeline is drained). */
async function settledDaemonCounts() {
  let previous = -1;
  for (;;) {
    const events = await metricValue('socktrace_events_total');
    if (events === previous) break;
    previous = events;
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    delivered: await metricValue('socktrace_socket_errors_total', '{direction="send",errno="EPIPE"}'),
    lost: await metricValue('socktrace_events_lost_total'),
  };
}

/** One storm under one consumer: generated, delivered, lost, and what none of them explains. */
async function storm(backend, consumer, stormSeconds, rate) {
  const generator = await startGenerator(bin, stormSeconds, rate);
  let counter;
  let tracer;
  if (consumer === 'watch') {
    counter = spawn('grep', ['-c', '-F', '"event":"send_error"'], { stdio: ['pipe', 'pipe', 'inherit'] });
    counter.stdout.setEncoding('utf8');
    let counted = '';
    counter.stdout.on('data', (d) => (counted += d));
    counter.done = once(counter, 'exit').then(() => Number(counted.trim()));
    tracer = startTracer(backend === 'native' ? 'watch' : 'watch-bpftrace', {
      extraArgs: ['--events', 'send_error', '--pid', String(generator.pid)],
      stdout: counter.stdin,
    });
  } else {
    tracer = startTracer(backend === 'native' ? 'daemon' : 'daemon-bpftrace', { extraArgs: ['--metrics', METRICS] });
  }
  await tracer.ready;
  const made = await generator.go();
  let delivered;
  let lost;
  if (consumer === 'watch') {
    const output = await tracer.stop();
    counter.stdin.destroy(); // our copy of the pipe's write end: grep ends when the tracer's closes too
    delivered = await counter.done;
    lost = tracerCounts('watch', output).lost;
  } else {
    ({ delivered, lost } = await settledDaemonCounts());
    await tracer.stop();
  }
  const run = {
    backend,
    consumer,
    target: rate || 'max',
    generated: made.errors,
    errorsPerSec: Math.round(made.rate),
    delivered,
    lost,
    // > 0: errors neither delivered nor counted lost; < 0: lost also counts other events of the host
    unaccounted: made.errors - delivered - lost,
  };
  console.log(
    `${`${consumer}/${backend}`.padEnd(16)} ${String(run.target).padStart(8)}  ${String(run.errorsPerSec).padStart(8)} errors/s  ` +
      `generated ${run.generated}  delivered ${delivered}  lost ${lost}  unaccounted ${run.unaccounted}`,
  );
  return run;
}

// Let the kernel settle between runs (the daemon's and bpftrace's programs detach on exit).
const pause = () => new Promise((r) => setTimeout(r, 1000));
const summary = { bench: 'error-storm', seconds };
const runs = [];
for (const backend of backends) {
  for (const consumer of consumers) {
    const key = `${consumer}_${backend}`;
    const full = await storm(backend, consumer, seconds, 0);
    runs.push(full);
    summary[`${key}_storm_errors_per_s`] = full.errorsPerSec;
    summary[`${key}_storm_lost`] = full.lost;
    summary[`${key}_storm_unaccounted`] = full.unaccounted;
    await pause();
    let best = null;
    let lossyInARow = 0;
    for (const rate of rates) {
      const run = await storm(backend, consumer, stepSeconds, rate);
      runs.push(run);
      await pause();
      if (run.lost === 0 && run.unaccounted === 0) {
        lossyInARow = 0;
        if (!best || run.errorsPerSec > best.errorsPerSec) best = run;
      } else if (++lossyInARow === 2) {
        break;
      }
    }
    if (rates.length > 0) summary[`${key}_lossless_errors_per_s`] = best?.errorsPerSec ?? 0;
  }
}
console.log(JSON.stringify(summary));
