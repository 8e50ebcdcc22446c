#!/usr/bin/env node
// What one summary costs (rollups and findings: what every scrape, summary record and finding check of
// the daemon, and every frame of top, computes) over N tracked sockets in the shape of the disease the
// tool exists for: a server leaking N connections in CLOSE_WAIT, each over a minute old (a
// close_wait_leak), their client ends in FIN_WAIT2. No kernel: the core is fed an inventory. Prints the
// median wall time of a summarize() per N and per 1,000 sockets; a cost per socket that grows with N
// (a pass that is quadratic) shows in the last column.
//
//   node bench/summary-cost.mjs [--sockets 1000,10000,50000,100000] [--runs 5]
// (run `npm run build` first: it uses dist/)
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { root } from './churn-harness.mjs';

const { values } = parseArgs({ options: { sockets: { type: 'string', default: '1000,10000,50000,100000' }, runs: { type: 'string', default: '5' } } });
const counts = values.sockets.split(',').map(Number);
const runs = Number(values.runs);
if (!counts.every((n) => Number.isInteger(n) && n % 2 === 0 && n >= 2 && n <= 1_000_000) || !(Number.isInteger(runs) && runs >= 1 && runs <= 100)) {
  console.error('summary-cost: --sockets takes even counts from 2 to 1000000, comma-separated; --runs a whole number from 1 to 100');
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

console.log('sockets   summarize ms (median)   ms per 1,000 sockets   leak found over');
for (const n of counts) {
  const now = Date.now();
  const core = new SocketCore(coreConfig({ maxSockets: Math.max(n * 2, 1000) }));
  core.applyInventory(inventory(n, now));
  const times = [];
  let leak;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const summary = core.summarize(now + r);
    times.push(performance.now() - t0);
    leak = summary.findings.find((f) => f.kind === 'close_wait_leak');
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor((times.length - 1) / 2)];
  console.log(`${String(n).padStart(7)}   ${median.toFixed(1).padStart(20)}   ${(median / (n / 1000)).toFixed(2).padStart(20)}   ${leak ? leak.evidence.closeWaitOverThreshold : 'NOT FOUND'}`);
}
