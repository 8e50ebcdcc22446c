#!/usr/bin/env node
// A storm soak: `socktrace daemon` (default configuration) under the heaviest load this machine makes
// for a minute — an EPIPE storm (bench/error-storm.c, CPU 0) and connection churn (bench/churn.c, CPU 1)
// at once — then left idle. Its resident memory is sampled each second: it must stay bounded during the
// storm and come back near where it started afterwards, and the daemon must still be running and
// answering, with every drop counted (lost and produced from its metrics).
//
//   node bench/storm-soak.mjs [--seconds 60] [--idle 30]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBenchProgram, NODE_FLAGS, root } from './churn-harness.mjs';
import { startGenerator } from './storm-generator.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, idle: { type: 'string', default: '30' } } });
const seconds = Number(values.seconds);
const idle = Number(values.idle);
if (!(seconds > 0 && seconds <= 600) || !(idle >= 5 && idle <= 600)) {
  console.error('storm-soak: --seconds must be in (0, 600] and --idle in [5, 600]');
  process.exit(2);
}

const METRICS = '127.0.0.1:19642';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const residentMiB = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
async function metric(name) {
  const text = await (await fetch(`http://${METRICS}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? NaN);
}

const stormBin = buildBenchProgram('error-storm');
const churnBin = buildBenchProgram('churn');
const daemon = spawn(process.execPath, [...NODE_FLAGS, join(root, 'bin', 'socktrace.js'), 'daemon', '--metrics', METRICS], { stdio: ['ignore', 'ignore', 'inherit'] });
let exited = false;
daemon.on('exit', () => (exited = true));
for (let i = 0; ; i++) {
  await sleep(500);
  if (await metric('socktrace_events_total').catch(() => NaN) >= 0) break;
  if (i > 60 || exited) throw new Error('the daemon did not come up');
}
await sleep(2000);
const startMiB = residentMiB(daemon.pid);

const generator = await startGenerator(stormBin, seconds, 0);
const storm = generator.go();
const churn = new Promise((resolve, reject) => {
  const c = spawn('taskset', ['-c', '1', churnBin, String(seconds), 'ipv4'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`churn exited ${code}`))));
});
const during = [];
const sampler = setInterval(() => !exited && during.push(residentMiB(daemon.pid)), 1000);
const [made, churned] = await Promise.all([storm, churn]);
clearInterval(sampler);

const after = [];
for (let i = 0; i < idle; i++) {
  await sleep(1000);
  if (!exited) after.push(residentMiB(daemon.pid));
}
const alive = !exited && (await metric('socktrace_events_total').catch(() => NaN)) > 0;
const lost = alive ? await metric('socktrace_events_lost_total') : NaN;
const produced = alive ? await metric('socktrace_events_produced_total') : NaN;
const delivered = alive ? await metric('socktrace_events_total') : NaN;
daemon.kill('SIGTERM');
await new Promise((r) => (exited ? r() : daemon.on('exit', r)));

const summary = {
  bench: 'storm-soak',
  seconds,
  errors_per_s: Math.round(made.rate),
  connections_per_s: Math.round(churned.rate),
  daemon_alive_after: alive,
  resident_start_mib: Math.round(startMiB),
  resident_max_mib: Math.round(Math.max(...during)),
  resident_end_mib: Math.round(after.at(-1) ?? NaN),
  events_delivered: delivered,
  events_lost: lost,
  events_produced: produced,
};
console.log(
  `${seconds} s of ${summary.errors_per_s} EPIPE/s and ${summary.connections_per_s} connections/s: resident ${summary.resident_start_mib} MiB before, ` +
    `at most ${summary.resident_max_mib} MiB during, ${summary.resident_end_mib} MiB after ${idle} s idle; daemon ${alive ? 'still running' : 'GONE'}; ` +
    `${delivered} delivered + ${lost} lost of ${produced} produced`,
);
console.log(JSON.stringify(summary));
