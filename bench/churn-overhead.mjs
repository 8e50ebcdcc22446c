#!/usr/bin/env node
// Connection-churn overhead of `socktrace watch > /dev/null`, measured side by side in one run:
// rounds alternate "no tracer" and "watch attached" phases of the same loopback churn (bench/churn.c),
// so drift (TIME_WAIT build-up, other load) hits both alike. Prints a table and a JSON summary.
//
// The churn's client and server are pinned to CPU 0 by default (--cpus). Unpinned, this 2-core machine
// runs loopback churn ~40% *faster* as soon as anything keeps the other core busy (client and server then
// share a CPU: no cross-CPU wakeups), which would make any tracer look like a speed-up. Pinned, both
// phases run the churn the same way and the ratio shows what tracing costs the traced CPU.
//
//   node bench/churn-overhead.mjs [--seconds 5] [--rounds 3] [--family ipv4|ipv6] [--cpus 0|all]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    family: { type: 'string', default: 'ipv4' },
    cpus: { type: 'string', default: '0' },
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

function buildChurn() {
  const src = join(root, 'bench', 'churn.c');
  const bin = join(root, 'build', 'bench', 'churn');
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(dirname(bin), { recursive: true });
    execFileSync('cc', ['-O2', '-Wall', '-o', bin, src], { stdio: 'inherit' });
  }
  return bin;
}

function runChurn(bin) {
  const argv = [bin, String(seconds), values.family];
  const pinned = values.cpus === 'all' ? argv : ['taskset', '-c', values.cpus, ...argv];
  const out = execFileSync(pinned[0], pinned.slice(1), { encoding: 'utf8' });
  return JSON.parse(out.trim());
}

/** Starts `socktrace watch` with stdout to /dev/null; resolves once it says it is watching. */
function startWatch() {
  const child = spawn(process.execPath, [join(root, 'bin', 'socktrace.js'), 'watch'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const ready = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('watching')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`watch exited early (${code}): ${stderr}`)));
  });
  const stop = () =>
    new Promise((resolve) => {
      child.on('exit', () => resolve(stderr));
      child.kill('SIGINT');
    });
  return { ready, stop };
}

const bin = buildChurn();
const phases = [];
for (let r = 0; r < rounds; r++) {
  const base = runChurn(bin);
  phases.push({ round: r + 1, tracer: 'none', ...base });
  const watch = startWatch();
  await watch.ready;
  const traced = runChurn(bin);
  const summary = await watch.stop();
  const stats = /stopped: (\d+) events, (\d+) lost/.exec(summary);
  phases.push({ round: r + 1, tracer: 'watch', ...traced, events: Number(stats?.[1]), lost: Number(stats?.[2]) });
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const baseRate = mean(phases.filter((p) => p.tracer === 'none').map((p) => p.rate));
const watchRate = mean(phases.filter((p) => p.tracer === 'watch').map((p) => p.rate));
console.log('round  tracer  connections/s  events   lost');
for (const p of phases) {
  console.log(
    `${String(p.round).padEnd(6)} ${p.tracer.padEnd(7)} ${p.rate.toFixed(0).padStart(13)}  ${String(p.events ?? '-').padStart(7)} ${String(p.lost ?? '-').padStart(6)}`,
  );
}
console.log(
  JSON.stringify({
    bench: 'churn-overhead',
    family: values.family,
    cpus: values.cpus,
    seconds,
    rounds,
    rate_without: Math.round(baseRate),
    rate_with_watch: Math.round(watchRate),
    ratio_watch: Number((watchRate / baseRate).toFixed(3)),
  }),
);
