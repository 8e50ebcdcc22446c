/**
 * `socktrace doctor`: can socktrace run here, with which backend and hooks, and if not, what to do.
 * This file reads the host and prints; the checks themselves, one a function, are in doctor-checks.ts.
 */
import { endQuietlyWhenReaderLeaves } from './console/quiet-epipe.js';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { loadBinding, loadedBindingPath, type NativeBinding } from '../backends/native/binding.js';
import { parseCommandArgs } from './options/command-args.js';
import { checkBpftraceBackend } from '../backends/bpftrace/bpftrace-source.js';
import { BACKENDS, type Backend } from '../backends/start-source.js';
import { parseChoice } from './options/option-values.js';
import { tracefsDir } from '../backends/tracefs.js';
import { HOOK_TABLE } from '../backends/native/hook-table.js';
import { readCgroupMounts } from '../inventory/cgroup-paths.js';
import { podDirectory } from '../inventory/pod-names.js';
import {
  bpftraceNeedsAsking,
  type AddonLoad,
  type DoctorFacts,
  type DoctorReport,
  doctorTracepoints,
  judge,
  type LoadTest,
  missingLoadCaps,
  reportText,
} from './doctor-checks.js';

export const DOCTOR_USAGE = `Usage: socktrace doctor [--json] [--no-load] [--backend auto|native|bpftrace]

Checks the kernel (version, BTF, tracepoints, ring buffers), privileges and the native addon, says
which backend and which hook for each tracepoint socktrace will use and why, and what to do about
anything missing. Unless --no-load, it also loads and detaches socktrace's programs once, as proof.
With --backend, whether that backend can run (default auto: either). Exit status 0 when socktrace can
run, 1 when it cannot.`;

function effectiveCaps(): bigint | null {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
    return line ? BigInt(`0x${line.slice(7).trim()}`) : null;
  } catch {
    return null;
  }
}

/** Where tracefs is mounted, whether or not this user may read it (it is root's only by default). */
function tracefsMounts(): string[] {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2] === 'tracefs')
      .map((f) => f[1]!);
  } catch {
    return [];
  }
}

/** An executable named `name` on PATH. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/** bpftrace as the backend would run it: SOCKTRACE_BPFTRACE (a name on PATH or a path), else bpftrace. */
function installedBpftrace(): string | null {
  const asked = process.env.SOCKTRACE_BPFTRACE;
  return onPath(asked ?? 'bpftrace') ?? (asked && existsSync(asked) ? asked : null);
}

async function askBpftrace(): Promise<{ version: string; parts: string[]; notes: string[] } | { error: string }> {
  try {
    const { version, plan } = await checkBpftraceBackend();
    return { version, parts: plan.parts.map((p) => p.file), notes: plan.notes };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function loadTest(binding: NativeBinding): LoadTest {
  try {
    const tracer = new binding.Tracer({ ringBytes: 64 * 1024 });
    const info = tracer.start(() => {});
    tracer.stop();
    return { hooks: info.hooks, notes: info.notes };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Reads the host: all of doctor's I/O, in the order the checks come. */
export async function gatherFacts(load: boolean): Promise<DoctorFacts> {
  const tracefs = tracefsDir();
  const caps = effectiveCaps();
  let binding: NativeBinding | null = null;
  let addon: AddonLoad;
  try {
    binding = loadBinding();
    addon = { loaded: true, path: loadedBindingPath() ?? 'loaded' };
  } catch (error) {
    addon = { loaded: false, error: (error as Error).message };
  }
  const hookTable = binding?.hookTable() ?? HOOK_TABLE;
  const tracepoints = doctorTracepoints(hookTable);
  const kernel = binding?.kernelFacts(tracepoints.map((t) => t.name)) ?? null;
  const classic = new Set(
    tracepoints
      .map((t) => `${t.category}/${t.name}`)
      .filter((t) => tracefs !== null && existsSync(`${tracefs}/events/${t}`)),
  );
  const root = process.getuid?.() === 0;
  const tested = load && binding && root ? loadTest(binding) : null;
  const installed = installedBpftrace();
  const asked = bpftraceNeedsAsking(installed, missingLoadCaps(caps)) ? await askBpftrace() : null;
  const pods = podDirectory();
  await pods.refresh(); // one listing (bounded by its request timeout); nothing when not in a cluster
  return {
    release: release(),
    btf: existsSync('/sys/kernel/btf/vmlinux'),
    tracefs,
    tracefsMounts: tracefsMounts(),
    caps,
    root,
    addon,
    hookTable,
    kernel,
    classic,
    loadTest: tested,
    bpftraceInstalled: installed,
    bpftrace: asked,
    cgroups: readCgroupMounts(),
    pods: pods.status(),
  };
}

export async function runChecks(load: boolean, choice: Backend = 'auto'): Promise<DoctorReport> {
  return judge(await gatherFacts(load), choice);
}

export async function doctorCommand(argv: string[]): Promise<number> {
  endQuietlyWhenReaderLeaves();
  const values = parseCommandArgs('doctor', argv, {
    json: { type: 'boolean' },
    'no-load': { type: 'boolean' },
    backend: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(`${DOCTOR_USAGE}\n`);
    return 0;
  }
  const report = await runChecks(!values['no-load'], parseChoice('--backend', values.backend, BACKENDS) ?? 'auto');
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : reportText(report));
  return report.canRun ? 0 : 1;
}
