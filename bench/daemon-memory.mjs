#!/usr/bin/env node
// The daemon's memory as its memory cgroup sees it, with N connections held in CLOSE_WAIT / FIN_WAIT2
// (2N sockets) in a network namespace made for the run. What counts is what cannot be reclaimed:
// anonymous memory (rss in memory.stat) plus kernel memory (the BPF maps, kmem), sampled every 100 ms
// from the start on: its peak (the start-up peak included) and its median over 40 s of running (two
// reconciliations, scrapes every 5 s), and from them the memory per socket. The cgroup's own peak,
// max_usage_in_bytes, also counts the page cache of the log file, which the kernel reclaims.
// Needs root and cgroup v1's memory controller (/sys/fs/cgroup/memory); cleans up after itself.
//
//   node bench/daemon-memory.mjs [--connections 0,10000,50000]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { connections: { type: 'string', default: '0,10000,50000' } } });
const counts = values.connections.split(',').map(Number);
if (!counts.every((n) => Number.isInteger(n) && n >= 0 && n <= 200_000)) {
  console.error('daemon-memory: --connections takes numbers from 0 to 200000, comma-separated');
  process.exit(2);
}
const MEMORY = '/sys/fs/cgroup/memory';
if (!existsSync(join(MEMORY, 'memory.limit_in_bytes'))) {
  console.error('daemon-memory: needs cgroup v1 memory controller at /sys/fs/cgroup/memory');
  process.exit(1);
}
const bin = join(root, 'bin', 'socktrace.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MiB = (b) => b / 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'socktrace-bench-memory-'));
console.log(`logs in ${dir}`);

async function tracked(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  return text.split('\n').filter((l) => l.startsWith('socktrace_sockets{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

async function measure(connections) {
  const netns = `socktrace-bench-${process.pid}`;
  const group = join(MEMORY, `socktrace-bench-${process.pid}`);
  let farm;
  let daemon;
  try {
    if (connections > 0) {
      execFileSync('ip', ['netns', 'add', netns]);
      execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      farm = spawn('ip', ['netns', 'exec', netns, 'python3', join(root, 'bench/close-wait-farm.py'), String(connections)], { stdio: ['pipe', 'pipe', 'inherit'] });
      await new Promise((resolve) => createInterface({ input: farm.stdout }).once('line', resolve));
    }
    mkdirSync(group);
    const port = 21_000 + (process.pid % 20_000);
    const config = join(dir, 'daemon.yaml');
    writeFileSync(config, `metrics:\n  listen: 127.0.0.1:${port}\nlog:\n  file: ${join(dir, `daemon-${connections}.log`)}\n`);
    const flags = process.env.SOCKTRACE_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
    daemon = spawn('sh', ['-c', `echo $$ > ${group}/cgroup.procs && exec "$0" "$@"`, process.execPath, ...flags, bin, 'daemon', '--config', config], { stdio: ['ignore', 'ignore', openSync(join(dir, `daemon-${connections}.stderr`), 'w')] });
    const started = Date.now();
    const resident = () => {
      const stat = readFileSync(join(group, 'memory.stat'), 'utf8');
      const rss = Number(/^rss (\d+)/m.exec(stat)?.[1] ?? 0);
      return rss + Number(readFileSync(join(group, 'memory.kmem.usage_in_bytes'), 'utf8'));
    };
    let residentPeak = 0;
    const sampler = setInterval(() => {
      try {
        residentPeak = Math.max(residentPeak, resident());
      } catch {
        // the group is going away
      }
    }, 100);
    let seen = 0;
    for (;;) {
      await sleep(500);
      try {
        seen = await tracked(port);
        if (seen >= 2 * connections) break;
      } catch {
        // not serving yet
      }
      if (Date.now() - started > 120_000) throw new Error(`the daemon tracks ${seen} sockets after 120 s`);
    }
    const samples = [];
    for (let i = 0; i < 40; i++) {
      await sleep(1000);
      if (i % 5 === 4) await tracked(port);
      samples.push(resident());
    }
    clearInterval(sampler);
    samples.sort((a, b) => a - b);
    const cgroupPeak = Number(readFileSync(join(group, 'memory.max_usage_in_bytes'), 'utf8'));
    const kmemPeak = Number(readFileSync(join(group, 'memory.kmem.max_usage_in_bytes'), 'utf8'));
    return { connections, sockets: await tracked(port), peakMiB: MiB(residentPeak), medianMiB: MiB(samples[20]), kmemPeakMiB: MiB(kmemPeak), cgroupPeakMiB: MiB(cgroupPeak) };
  } finally {
    if (daemon) {
      const gone = new Promise((r) => daemon.once('exit', r));
      daemon.kill('SIGTERM');
      await gone;
    }
    if (farm) {
      const gone = new Promise((r) => farm.once('exit', r));
      farm.stdin.end();
      await gone;
      execFileSync('ip', ['netns', 'del', netns]);
    }
    if (existsSync(group)) {
      for (let i = 0; i < 50 && readFileSync(join(group, 'cgroup.procs'), 'utf8').trim() !== ''; i++) await sleep(100);
      rmdirSync(group);
    }
  }
}

const rows = [];
for (const n of counts) {
  const r = await measure(n);
  rows.push(r);
  console.log(
    `${2 * n} sockets (daemon tracks ${r.sockets}): anonymous + kernel memory at most ${r.peakMiB.toFixed(0)} MiB, median ${r.medianMiB.toFixed(0)} MiB ` +
      `(kernel at most ${r.kmemPeakMiB.toFixed(0)} MiB); the cgroup's peak with page cache ${r.cgroupPeakMiB.toFixed(0)} MiB`,
  );
}
const base = rows.find((r) => r.connections === 0);
const result = { bench: 'daemon-memory', rows };
if (base) {
  for (const r of rows.filter((r) => r.connections > 0)) {
    r.medianBytesPerSocket = Math.round(((r.medianMiB - base.medianMiB) * 2 ** 20) / (2 * r.connections));
    r.peakBytesPerSocket = Math.round(((r.peakMiB - base.peakMiB) * 2 ** 20) / (2 * r.connections));
  }
}
console.log(JSON.stringify(result));
