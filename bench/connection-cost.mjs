#!/usr/bin/env node
// What one connection costs a tracer, measured as cost, not as a throughput ratio (which is noise on a
// VM): the run time of the tracer's own BPF programs (kernel.bpf_stats_enabled) and its processes' CPU
// time, divided by the connections of a paced churn (bench/churn.c at a fixed rate, so the work is the
// same with and without a tracer). Tracers run one after the other, side by side in one run; each round
// takes a fresh tracer; the table gives the median of the rounds.
//
//   node bench/connection-cost.mjs [--seconds 5] [--rate 5000] [--rounds 3] [--request] [--by-program]
//        [--tracers bpftrace-count,daemon,tcplife,watch,watch-port,tcpstates,daemon-bpftrace] [--dispatch-ns 85]
//
// The hook dispatch the kernel's run_time_ns does not see (entering a tracepoint, its mitigations:
// ~85 ns a run on this CPU, measured with empty programs) is added from run_cnt: --dispatch-ns.
//
// --request: each connection carries a one-byte request before its answer (what services' answer
// times measure); without it the server answers at once.
//
// A tracer's programs are those its processes hold open (prog_id in the fdinfo of their fds).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TRACERS, buildBenchProgram, runChurn, startTracer } from './churn-harness.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rate: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    tracers: { type: 'string', default: 'bpftrace-count,daemon,tcplife,watch,watch-port,tcpstates' },
    'dispatch-ns': { type: 'string', default: '85' },
    'by-program': { type: 'boolean', default: false },
    request: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const rounds = Number(values.rounds);
const dispatchNs = Number(values['dispatch-ns']);
const tracers = values.tracers.split(',').filter(Boolean);
for (const t of tracers) if (!TRACERS[t]) throw new Error(`unknown tracer ${t}; known: ${Object.keys(TRACERS).join(', ')}`);
if (!(seconds > 0 && rate > 0 && rounds > 0)) throw new Error('--seconds, --rate and --rounds must be positive');

/** Ids of the BPF programs the processes hold open (their program and link fds name them in fdinfo). */
function heldPrograms(pids) {
  const ids = new Set();
  for (const pid of pids) {
    let fds = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const id = /^prog_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
        if (id) ids.add(Number(id));
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return ids;
}

/** Run time and run count summed over the given BPF programs, and per program name. */
function bpfCost(ids) {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' }));
  let ns = 0;
  let runs = 0;
  const byName = new Map();
  for (const p of progs) {
    if (!ids.has(p.id)) continue;
    ns += p.run_time_ns ?? 0;
    runs += p.run_cnt ?? 0;
    const name = p.name ?? String(p.id);
    const seen = byName.get(name) ?? { ns: 0, runs: 0 };
    byName.set(name, { ns: seen.ns + (p.run_time_ns ?? 0), runs: seen.runs + (p.run_cnt ?? 0) });
  }
  return { ns, runs, byName };
}

/** User + system CPU time of a process and its children (bpftrace runs under node), in ns. */
function cpuNs(pid) {
  const ticks = 1e9 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  let total = 0;
  const visit = (p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * ticks; // utime, stime (fields 14, 15)
      for (const child of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').split(' ').filter(Boolean)) visit(Number(child));
    } catch {
      /* gone */
    }
  };
  visit(pid);
  return total;
}

function descendants(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    try {
      all.push(...readFileSync(`/proc/${all[i]}/task/${all[i]}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      /* gone */
    }
  }
  return all;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

execFileSync('sysctl', ['-q', 'kernel.bpf_stats_enabled=1']);
const churn = buildBenchProgram('churn');
const results = {};
try {
  for (let round = 0; round < rounds; round++) {
    for (const name of tracers) {
      const tracer = startTracer(name);
      await tracer.ready;
      // Start-up work (inventory, seeding, the first reading of every listener a second in, which walks
      // every socket, TIME_WAIT ones from earlier rounds included) is not per connection.
      await new Promise((r) => setTimeout(r, 2500));
      const programs = heldPrograms(descendants(tracer.pid));
      const bpf0 = bpfCost(programs);
      const cpu0 = cpuNs(tracer.pid);
      const run = runChurn(churn, { seconds, rate, cpus: 'all', request: values.request });
      const bpf1 = bpfCost(programs);
      const cpu1 = cpuNs(tracer.pid);
      await tracer.stop();
      const conns = run.connections;
      const perProgram = {};
      for (const [prog, now] of bpf1.byName) {
        const was = bpf0.byName.get(prog) ?? { ns: 0, runs: 0 };
        if (now.runs > was.runs) perProgram[prog] = { ns: (now.ns - was.ns) / conns, runs: (now.runs - was.runs) / conns };
      }
      (results[name] ??= []).push({
        conns,
        bpfNs: (bpf1.ns - bpf0.ns) / conns,
        userNs: (cpu1 - cpu0) / conns,
        runs: (bpf1.runs - bpf0.runs) / conns,
        programs: perProgram,
      });
    }
  }
} finally {
  execFileSync('sysctl', ['-q', 'kernel.bpf_stats_enabled=0']);
}

console.log(`connection cost: paced churn at ${rate}/s for ${seconds} s${values.request ? ', a request per connection' : ''}, median of ${rounds} round(s)`);
console.log(`(dispatch: ${dispatchNs} ns per program run, from run_cnt; total = BPF + dispatch + user+sys)`);
console.log('| tracer | connections | BPF ns/conn | dispatch ns/conn | user+sys ns/conn | total ns/conn | program runs/conn |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [name, rs] of Object.entries(results)) {
  const bpf = median(rs.map((r) => r.bpfNs));
  const user = median(rs.map((r) => r.userNs));
  const runs = median(rs.map((r) => r.runs));
  console.log(
    `| ${name} | ${median(rs.map((r) => r.conns))} | ${Math.round(bpf)} | ${Math.round(runs * dispatchNs)} | ${Math.round(user)} | ${Math.round(bpf + runs * dispatchNs + user)} | ${runs.toFixed(1)} |`,
  );
}

if (values['by-program']) {
  for (const [name, rs] of Object.entries(results)) {
    console.log(`\n${name}, per program (median ns and runs per connection):`);
    const progs = new Set(rs.flatMap((r) => Object.keys(r.programs)));
    for (const prog of [...progs].sort()) {
      const ns = median(rs.map((r) => r.programs[prog]?.ns ?? 0));
      const runs = median(rs.map((r) => r.programs[prog]?.runs ?? 0));
      console.log(`  ${prog.padEnd(24)} ${String(Math.round(ns)).padStart(6)} ns  ${runs.toFixed(2)} runs`);
    }
  }
}
