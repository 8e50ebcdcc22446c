#!/usr/bin/env node
// What one summary costs (rollups and findings: what every scrape, summary record and finding check of
// the daemon, and every frame of top, computes) over N tracked sockets, in two shapes. No kernel: the
// core is fed an inventory. Prints the median wall time of a summarize() per N and per 1,000 sockets;
// a cost per socket that grows with N (a pass that is quadratic) shows in that column.
// - leak: the disease the tool exists for, a server leaking N/2 connections in CLOSE_WAIT, each over a
//   minute old (a close_wait_leak), their client ends in FIN_WAIT2;
// - spread: a busy host, N sockets over N/10 processes (each listening), in 50 namespaces, a peer
//   address for every 1 to 2 sockets (so as many peer and process-peer rows), in four states.
//
//   node bench/summary-cost.mjs [--sockets 1000,10000,50000,100000] [--runs 5]
// (run `npm run build` first: it uses dist/)
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { root } from './churn-harness.mjs';

const { values } = parseArgs({ options: { sockets: { type: 'string', default: '1000,10000,50000,100000' }, runs: { type: 'string', default: '5' } } });
const counts = values.sockets.split(',').map(Number);
const runs = Number(values.runs);
if (!counts.every((n) => Number.isInteger(n) && n % 10 === 0 && n >= 10 && n <= 1_000_000) || !(Number.isInteger(runs) && runs >= 1 && runs <= 100)) {
  console.error('summary-cost: --sockets takes multiples of 10 from 10 to 1000000, comma-separated; --runs a whole number from 1 to 100');
  process.exit(2);
}
const dist = (p) => import(join(root, 'dist', p));
const { SocketCore } = await dist('core/socket-core.js');
const { coreConfig } = await dist('core/core-config.js');

const SERVER = 4100;
const CLIENT = 4200;
function inventory(n, nowMs) {
  const sockets = [];
  for (let i = 0; i < n / 2; i++) {
    const clientPort = 10_000 + (i % 50_000);
    const clientAddr = `198.18.${(i >> 16) & 255}.${1 + ((i >> 8) & 127)}`;
    const common = { family: 4, netns: 4026531840, uid: 0, acceptQueue: null };
    sockets.push({ ...common, sock: (2 * i + 1).toString(16), local: { addr: '198.19.0.1', port: 8080 }, peer: { addr: clientAddr, port: clientPort }, state: 'CLOSE_WAIT', inode: 1_000_000 + 2 * i, owners: [SERVER], ageLowerBoundMs: 120_000 });
    sockets.push({ ...common, sock: (2 * i + 2).toString(16), local: { addr: clientAddr, port: clientPort }, peer: { addr: '198.19.0.1', port: 8080 }, state: 'FIN_WAIT2', inode: 1_000_001 + 2 * i, owners: [CLIENT], ageLowerBoundMs: null });
  }
  sockets.push({ family: 4, netns: 4026531840, uid: 0, sock: 'ffffff01', local: { addr: '198.19.0.1', port: 8080 }, peer: { addr: '0.0.0.0', port: 0 }, state: 'LISTEN', inode: 999_999, owners: [SERVER], ageLowerBoundMs: null, acceptQueue: { length: 0, limit: 4096 } });
  const processes = [
    { pid: SERVER, comm: 'leaky-server', cmdline: 'leaky-server', uid: 0, fds: n / 2 + 10, fdLimit: 1_048_576, startTicks: 1 },
    { pid: CLIENT, comm: 'client', cmdline: 'client', uid: 0, fds: n / 2 + 10, fdLimit: 1_048_576, startTicks: 2 },
  ];
  return { takenAtMs: nowMs, sockets, processes, problems: [] };
}

function spread(n, nowMs) {
  const owners = n / 10;
  const processes = [];
  const sockets = [];
  const states = ['CLOSE_WAIT', 'ESTABLISHED', 'TIME_WAIT', 'FIN_WAIT2'];
  for (let p = 0; p < owners; p++) {
    processes.push({ pid: 10_000 + p, comm: `worker-${p}`, cmdline: 'worker', uid: 0, fds: 20, fdLimit: 1024, startTicks: p });
    sockets.push({ family: 4, netns: 1 + (p % 50), uid: 0, sock: `f${p.toString(16)}`, local: { addr: '0.0.0.0', port: 1000 + p }, peer: { addr: '0.0.0.0', port: 0 }, state: 'LISTEN', inode: 5_000_000 + p, owners: [10_000 + p], ageLowerBoundMs: null, acceptQueue: { length: 0, limit: 128 } });
  }
  for (let i = 0; i < n - owners; i++) {
    const p = i % owners;
    sockets.push({ family: 4, netns: 1 + (p % 50), uid: 0, sock: (i + 1).toString(16), local: { addr: '198.19.0.1', port: 1000 + p }, peer: { addr: `198.18.${(i >> 8) & 255}.${i & 255}`, port: 30_000 + (i % 20_000) }, state: states[i % 4], inode: 1_000_000 + i, owners: [10_000 + p], ageLowerBoundMs: 120_000 });
  }
  return { takenAtMs: nowMs, sockets, processes, problems: [] };
}

for (const [shape, make] of [['leak', inventory], ['spread', spread]]) {
console.log(`${shape}:`);
console.log(shape === 'leak' ? 'sockets   summarize ms (median)   ms per 1,000 sockets   leak found over' : 'sockets   summarize ms (median)   ms per 1,000 sockets   findings');
for (const n of counts) {
  const now = Date.now();
  const core = new SocketCore(coreConfig({ maxSockets: Math.max(n * 2, 1000) }));
  core.applyInventory(make(n, now));
  const times = [];
  let summary;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    summary = core.summarize(now + r);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor((times.length - 1) / 2)];
  const leak = summary.findings.find((f) => f.kind === 'close_wait_leak');
  const last = shape === 'leak' ? (leak ? leak.evidence.closeWaitOverThreshold : 'NOT FOUND') : summary.findings.length;
  console.log(`${String(n).padStart(7)}   ${median.toFixed(1).padStart(20)}   ${(median / (n / 1000)).toFixed(2).padStart(20)}   ${last}`);
}
}
