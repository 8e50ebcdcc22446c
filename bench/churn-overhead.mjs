#!/usr/bin/env node
// Connection-churn overhead of socktrace, measured side by side in one run: each round runs the same
// loopback churn (bench/churn.c) with no tracer, then with each tracer attached in turn
// (`socktrace daemon` with its default configuration, `socktrace watch > /dev/null`), so drift
// (TIME_WAIT build-up, other load) hits all alike. Prints a table and a JSON summary with ratios.
//
// The churn's client and server are pinned to CPU 0 by default (--cpus). Unpinned, this 2-core machine
// runs loopback churn ~40% *faster* as soon as anything keeps the other core busy (client and server then
// share a CPU: no cross-CPU wakeups), which would make any tracer look like a speed-up. Pinned, both
// phases run the churn the same way and the ratio shows what tracing costs the traced CPU.
//
//   node bench/churn-overhead.mjs [--seconds 5] [--rounds 3] [--family ipv4|ipv6] [--cpus 0|all]
//                                 [--tracers daemon,watch,daemon-lean,watch-bpftrace,daemon-bpftrace]
import { parseArgs } from 'node:util';
import { buildBenchProgram, runChurn as runChurnWith, startTracer, TRACERS, tracerCounts } from './churn-harness.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    family: { type: 'string', default: 'ipv4' },
    cpus: { type: 'string', default: '0' },
    tracers: { type: 'string', default: 'daemon,watch' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
if (!(seconds > 0 && seconds <= 120) || !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) {
  console.error('churn-overhead: --seconds must be in (0, 120] and --rounds a whole number from 1 to 20');
  process.exit(2);
}
if (!['ipv4', 'ipv6'].includes(values.family)) {
  console.error('churn-overhead: --family must be ipv4 or ipv6');
  process.exit(2);
}

const tracers = values.tracers.split(',').filter(Boolean);
for (const t of tracers) {
  if (!TRACERS[t]) {
    console.error(`churn-overhead: unknown tracer "${t}"; known: ${Object.keys(TRACERS).join(', ')}`);
    process.exit(2);
  }
}

const bin = buildBenchProgram();
const runChurn = (b) => runChurnWith(b, { seconds, family: values.family, cpus: values.cpus });
const phases = [];
for (let r = 0; r < rounds; r++) {
  // Odd rounds run in reverse order (ABBA), so a drift over the run (TIME_WAIT build-up, a neighbour's
  // load) weighs on every phase alike instead of always on the last.
  const order = ['none', ...tracers];
  if (r % 2 === 1) order.reverse();
  for (const name of order) {
    if (name === 'none') {
      phases.push({ round: r + 1, tracer: 'none', ...(await runChurn(bin)) });
      continue;
    }
    const tracer = startTracer(name);
    await tracer.ready;
    const traced = await runChurn(bin);
    const counts = tracerCounts(name, await tracer.stop());
    phases.push({ round: r + 1, tracer: name, ...traced, ...counts });
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rateOf = (name) => mean(phases.filter((p) => p.tracer === name).map((p) => p.rate));
const baseRate = rateOf('none');
console.log('round  tracer  connections/s  events   lost');
for (const p of phases) {
  console.log(
    `${String(p.round).padEnd(6)} ${p.tracer.padEnd(7)} ${p.rate.toFixed(0).padStart(13)}  ${String(p.events ?? '-').padStart(7)} ${String(p.lost ?? '-').padStart(6)}`,
  );
}
const summary = { bench: 'churn-overhead', family: values.family, cpus: values.cpus, seconds, rounds, rate_without: Math.round(baseRate) };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const name of tracers) {
  summary[`rate_with_${name}`] = Math.round(rateOf(name));
  summary[`ratio_${name}`] = Number((rateOf(name) / baseRate).toFixed(3));
  // The same round's untraced rate as the reference: the spread shows how far one round can be trusted.
  const perRound = [];
  for (let r = 1; r <= rounds; r++) {
    const none = phases.find((p) => p.round === r && p.tracer === 'none');
    const traced = phases.find((p) => p.round === r && p.tracer === name);
    perRound.push(traced.rate / none.rate);
  }
  summary[`round_ratios_${name}`] = perRound.map((x) => Number(x.toFixed(3)));
  summary[`median_ratio_${name}`] = Number(median(perRound).toFixed(3));
}
console.log(JSON.stringify(summary));
