#!/usr/bin/env node
// What one connection costs a tracer, measured as cost, not as a throughput ratio (which is noise on a
// VM): the run time of the tracer's own BPF programs (kernel.bpf_stats_enabled) and its processes' CPU
// time (user+sys: the scheduler's run time of each of their threads), divided by the connections of a
// paced churn (bench/churn.c at a fixed rate, so the work is the same with and without a tracer). Tracers run one after the other, side by side in one run; each round
// takes a fresh tracer; the table gives the median of the rounds.
//
//   node bench/connection-cost.mjs [--seconds 5] [--rate 5000] [--rounds 3] [--request] [--by-program]
//        [--tracers bpftrace-count,daemon,tcplife,watch,watch-port,tcpstates,tcpstates-pipe,daemon-bpftrace] [--dispatch-ns 85]
//
// The hook dispatch the kernel's run_time_ns does not see (entering a tracepoint, its mitigations:
// ~85 ns a run on this CPU, measured with empty programs) is added from run_cnt: --dispatch-ns.
//
// --request: each connection carries a one-byte request before its answer (what services' answer
// times measure); without it the server answers at once.
//
// Each run churns in a network namespace of its own, deleted afterwards with its TIME_WAIT sockets: every
// tracer meets the same quiet host, whatever ran before it.
//
// A tracer's programs are those its processes hold open (prog_id in the fdinfo of their fds).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TRACERS, buildBenchProgram, churnNamespace, descendants, heldPrograms, runChurn, startTracer } from './churn-harness.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rate: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    tracers: { type: 'string', default: 'bpftrace-count,daemon,tcplife,watch,watch-port,tcpstates,tcpstates-pipe' },
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

/**
 * CPU time of a process's threads and its children's (bpftrace runs under node), in ns: the scheduler's
 * own sum of run time (/proc/<pid>/task/<tid>/schedstat), not utime+stime, which are sampled at timer
 * ticks: a tracer that wakes for each batch of events and is done before the next tick (tcpstates at
 * 50,000 lines/s) was charged 0 ticks.
 */
function cpuNs(pid) {
  let total = 0;
  for (const p of descendants(pid)) {
    let tids = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // gone
    }
    for (const tid of tids) {
      try {
        total += Number(readFileSync(`/proc/${p}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* gone */
      }
    }
  }
  return total;
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
      const ns = churnNamespace(`${round}-${name}`);
      let run;
      let bpf0, bpf1, cpu0, cpu1;
      try {
        bpf0 = bpfCost(programs);
        cpu0 = cpuNs(tracer.pid);
        run = await runChurn(churn, { seconds, rate, cpus: 'all', request: values.request, netns: ns.name });
        // What the tracer still had to do with the run's last events (watch's poll is 20 ms).
        await new Promise((r) => setTimeout(r, 250));
        bpf1 = bpfCost(programs);
        cpu1 = cpuNs(tracer.pid);
      } finally {
        await tracer.stop();
        ns.remove();
      }
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
