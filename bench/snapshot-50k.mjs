#!/usr/bin/env node
// Inventory at scale: `socktrace snapshot` with 50 000 sockets in CLOSE_WAIT (and their 50 000 client
// ends in FIN_WAIT2), its wall time and peak resident memory, the live core's heap per tracked socket,
// and a running daemon's resident memory per tracked socket, measured in one run.
//
//   node bench/snapshot-50k.mjs [--connections 50000] [--runs 3]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { connections: { type: 'string', default: '50000' }, runs: { type: 'string', default: '3' } } });
const connections = Number(values.connections);
const runs = Number(values.runs);
if (!(Number.isInteger(connections) && connections >= 1 && connections <= 200_000) || !(runs >= 1 && runs <= 10)) {
  console.error('snapshot-50k: --connections must be 1..200000 and --runs 1..10');
  process.exit(2);
}

/** Runs a command under GNU time: wall seconds and peak resident memory. */
function run(argv) {
  const result = spawnSyncTimed(argv);
  const match = /TIME ([\d.]+) (\d+)/.exec(result);
  if (!match) throw new Error(`no timing from ${argv.join(' ')}: ${result}`);
  return { seconds: Number(match[1]), maxRssMiB: Number(match[2]) / 1024 };
}

/** GNU time's report (it writes to stderr). */
function spawnSyncTimed(argv) {
  const result = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', ...argv], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr}`);
  return result.stderr;
}

const bin = join(root, 'bin', 'socktrace.js');
const METRICS = '127.0.0.1:19638';
const residentKiB = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function trackedSockets() {
  const text = await (await fetch(`http://${METRICS}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('socktrace_sockets{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

// A previous run's sockets linger in TIME_WAIT for a minute: the baseline waits for them to go.
for (let waited = 0; waited < 70_000; waited += 2000) {
  const timeWait = Number(/timewait (\d+)/.exec(execFileSync('ss', ['-s'], { encoding: 'utf8' }))?.[1] ?? 0);
  if (timeWait < 1000) break;
  if (waited === 0) console.log(`waiting for ${timeWait} TIME_WAIT sockets of an earlier run to expire`);
  await sleep(2000);
}

// The daemon's resident memory per tracked socket: started before the farm, measured once settled
// without it and again once it tracks every farm socket (learned from events and its reconciliation).
const daemon = spawn(process.execPath, [...(process.env.SOCKTRACE_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), bin, 'daemon', '--metrics', METRICS], { stdio: ['ignore', 'pipe', 'inherit'] });
daemon.stdout.resume();
for (let i = 0; ; i++) {
  await sleep(500);
  try {
    await trackedSockets();
    break;
  } catch (error) {
    if (i > 60) throw new Error(`the daemon did not serve metrics on ${METRICS}: ${error.message}`);
  }
}
await sleep(3000);
const daemonBefore = { kib: residentKiB(daemon.pid), sockets: await trackedSockets() };

const farm = spawn('python3', [join(root, 'bench', 'close-wait-farm.py'), String(connections)], { stdio: ['pipe', 'pipe', 'inherit'] });
const started = Date.now();
const ready = JSON.parse(await new Promise((resolve) => createInterface({ input: farm.stdout }).once('line', resolve)));
console.log(`farm: ${ready.connections} connections in CLOSE_WAIT (server pids ${ready.servers.join(' ')}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

// Scraped as Prometheus would (every 15 s): each scrape summarizes every socket, which costs memory too.
for (let waited = 0; (await trackedSockets()) < daemonBefore.sockets + 2 * connections && waited < 90_000; waited += 5000) {
  await sleep(5000);
}
// Resident memory moves with each reconciliation (every 15 s), scrape and collection: sampled each
// second over 30 s, the median is what the daemon holds, the maximum its peaks.
const samples = [];
for (let i = 0; i < 30; i++) {
  await sleep(1000);
  if (i % 15 === 14) await trackedSockets();
  samples.push(residentKiB(daemon.pid));
}
const trackedAfter = await trackedSockets();
daemon.kill('SIGTERM');
await new Promise((r) => daemon.on('exit', r));
samples.sort((a, b) => a - b);
const perSocket = (kib) => ((kib - daemonBefore.kib) * 1024) / Math.max(1, trackedAfter - daemonBefore.sockets);
const daemonPerSocket = perSocket(samples[Math.floor(samples.length / 2)]);
const daemonPeakPerSocket = perSocket(samples.at(-1));
console.log(
  `daemon: ${daemonBefore.sockets} sockets tracked in ${(daemonBefore.kib / 1024).toFixed(0)} MiB resident; ${trackedAfter} in ` +
    `${(samples[Math.floor(samples.length / 2)] / 1024).toFixed(0)} MiB (median of 30 s), at most ${(samples.at(-1) / 1024).toFixed(0)} MiB: ` +
    `${daemonPerSocket.toFixed(0)} bytes per socket (peaks ${daemonPeakPerSocket.toFixed(0)})`,
);

const rows = [];
try {
  const json = JSON.parse(execFileSync(process.execPath, [bin, 'snapshot', '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 }));
  const closeWait = json.sockets.filter((s) => s.state === 'CLOSE_WAIT' && ready.servers.includes(s.proc?.pid)).length;
  console.log(`snapshot sees ${json.sockets.length} sockets, ${closeWait} in CLOSE_WAIT owned by the server`);
  for (let i = 0; i < runs; i++) {
    rows.push({ mode: 'json', ...run([process.execPath, bin, 'snapshot', '--json']) });
    rows.push({ mode: 'table', ...run([process.execPath, bin, 'snapshot']) });
  }
  const empty = run([process.execPath, '-e', '0']);
  // The live core's own memory: a process holding the core with every socket vs. one holding none.
  const coreProbe = (n) =>
    `const { takeInventory } = await import(${JSON.stringify(join(root, 'dist/inventory/take-inventory.js'))});` +
    `const { SocketCore } = await import(${JSON.stringify(join(root, 'dist/core/socket-core.js'))});` +
    `const inv = takeInventory(); const core = new SocketCore(); if (${n}) core.applyInventory(inv);` +
    `inv.sockets.length = 0; globalThis.gc(); globalThis.gc();` +
    `const m = process.memoryUsage(); console.log(JSON.stringify({ rss: m.rss, heap: m.heapUsed, sockets: core.sockets.size }));`;
  const probe = (n) =>
    JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', coreProbe(n)], { encoding: 'utf8', maxBuffer: 1 << 30 }));
  const without = probe(0);
  const withCore = probe(1);
  const perSocket = (withCore.heap - without.heap) / withCore.sockets;

  console.log('\nmode   seconds  peak RSS (MiB)');
  for (const r of rows) console.log(`${r.mode.padEnd(6)} ${r.seconds.toFixed(2).padStart(7)}  ${r.maxRssMiB.toFixed(0).padStart(14)}`);
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    JSON.stringify({
      bench: 'snapshot-50k',
      connections,
      sockets_seen: json.sockets.length,
      snapshot_json_seconds: median(rows.filter((r) => r.mode === 'json').map((r) => r.seconds)),
      snapshot_json_peak_rss_mib: Math.round(median(rows.filter((r) => r.mode === 'json').map((r) => r.maxRssMiB))),
      snapshot_table_seconds: median(rows.filter((r) => r.mode === 'table').map((r) => r.seconds)),
      snapshot_table_peak_rss_mib: Math.round(median(rows.filter((r) => r.mode === 'table').map((r) => r.maxRssMiB))),
      node_baseline_rss_mib: Math.round(empty.maxRssMiB),
      core_heap_bytes_per_socket: Math.round(perSocket),
      daemon_resident_bytes_per_socket: Math.round(daemonPerSocket),
      daemon_resident_peak_bytes_per_socket: Math.round(daemonPeakPerSocket),
      daemon_tracked_sockets: trackedAfter,
      core_sockets: withCore.sockets,
    }),
  );
} finally {
  farm.stdin.end();
  await new Promise((r) => farm.on('exit', r));
}
