/** `socktrace snapshot`: the inventory, rollups and findings right now, then exit. */
import { readFileSync } from 'node:fs';
import { endQuietlyWhenReaderLeaves } from './console/quiet-epipe.js';
import { SocketCore } from '../core/socket-core.js';
import { takeInventory } from '../inventory/take-inventory.js';
import { snapshotDocument } from '../output/snapshot-document.js';
import { renderSnapshotTable } from '../output/snapshot-table.js';
import { CORE_OPTIONS, CORE_USAGE, coreConfigFromOptions } from './options/core-options.js';
import { parseChoice } from './options/option-values.js';
import { BACKENDS, type Backend } from '../backends/start-source.js';
import { BindingLoadError } from '../backends/native/binding.js';
import type { Inventory } from '../core/inventory-model.js';
import { parseCommandArgs } from './options/command-args.js';

export const SNAPSHOT_USAGE = `Usage: socktrace snapshot [--json] [options]

Lists every TCP socket on the host (IPv4 and IPv6, every network namespace) with the processes that
own it, rolled up per process, peer and listening port, with findings (CLOSE_WAIT leaks, fd pressure, …).

Options:
  --json                    one JSON document: sockets, rollups, findings
  --backend <auto|native|bpftrace>
                            native: socket tables through the addon (sock_diag: cookies, CLOSE_WAIT
                            ages); bpftrace (which needs no addon): /proc/<pid>/net/tcp{,6}; auto
                            (default): the addon, else /proc, saying why
${CORE_USAGE}
  -h, --help                show this help`;

const CAP_DAC_READ_SEARCH = 2;
const CAP_SYS_PTRACE = 19;
const CAP_SYS_ADMIN = 21;

function effectiveCaps(): bigint {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
    return line ? BigInt(`0x${line.slice(7).trim()}`) : 0n;
  } catch {
    return 0n;
  }
}

const hasCap = (caps: bigint, bit: number) => ((caps >> BigInt(bit)) & 1n) === 1n;

/**
 * What this process may not look at, in one line, or null when it may look at everything. Without
 * CAP_SYS_ADMIN no other network namespace can be entered (sock_diag runs inside each one), so the
 * tables come from /proc/<pid>/net/tcp{,6} of the namespaces this user's processes live in, as `ss`
 * reads its own; without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH other users' /proc/<pid>/fd stay shut,
 * and their sockets show with no owner.
 */
function limits(caps: bigint, inventory: Inventory, procfsTables: boolean): string | null {
  const parts: string[] = [];
  if (procfsTables && !hasCap(caps, CAP_SYS_ADMIN)) {
    parts.push(
      "only the network namespaces this user's processes live in, read from /proc/<pid>/net/tcp{,6} with no CLOSE_WAIT ages (entering other namespaces needs CAP_SYS_ADMIN)",
    );
  }
  const refused = inventory.problems.filter((p) => /^network namespace .*: setns: Operation not permitted/.test(p)).length;
  if (!procfsTables && refused > 0) {
    parts.push(`${refused} network namespaces could not be entered (sock_diag runs inside each; setns needs CAP_SYS_ADMIN): their sockets are missing; --backend auto reads this user's own from /proc instead`);
  }
  const unreadable = inventory.problems.map((p) => /^(\d+) processes' file descriptors could not be read/.exec(p)?.[1]).find(Boolean);
  if (unreadable) {
    const missing = [[CAP_SYS_PTRACE, 'CAP_SYS_PTRACE'], [CAP_DAC_READ_SEARCH, 'CAP_DAC_READ_SEARCH']].filter(([bit]) => !hasCap(caps, bit as number)).map(([, n]) => n);
    parts.push(`no owners for the sockets of ${unreadable} processes whose /proc/<pid>/fd this user may not read${missing.length ? ` (that needs ${missing.join(' and ')}, or root)` : ''}`);
  }
  return parts.length ? `partial view: ${parts.join('; ')}` : null;
}

/** A snapshot needs no tracer: the backend decides only how socket tables are read. */
function inventoryFor(backend: Backend, caps: bigint): Inventory {
  if (backend === 'bpftrace') return takeInventory('/proc', 'procfs');
  // sock_diag enters each namespace (setns), which needs CAP_SYS_ADMIN even for this process's own.
  if (backend === 'auto' && !hasCap(caps, CAP_SYS_ADMIN)) return takeInventory('/proc', 'procfs');
  try {
    return takeInventory('/proc', 'sock_diag');
  } catch (error) {
    if (backend === 'native' || !(error instanceof BindingLoadError)) throw error;
    const inventory = takeInventory('/proc', 'procfs');
    inventory.problems.unshift('socket tables read from /proc/<pid>/net: the native addon is not built or does not load (no cookies, no CLOSE_WAIT ages)');
    return inventory;
  }
}

export async function snapshotCommand(argv: string[]): Promise<number> {
  endQuietlyWhenReaderLeaves();
  const values = parseCommandArgs('snapshot', argv, { json: { type: 'boolean' }, backend: { type: 'string' }, ...CORE_OPTIONS });
  if (values.help) {
    process.stdout.write(`${SNAPSHOT_USAGE}\n`);
    return 0;
  }
  const backend = parseChoice('--backend', values.backend, BACKENDS) ?? 'auto';
  const core = new SocketCore(coreConfigFromOptions(values));
  const caps = effectiveCaps();
  const inventory = inventoryFor(backend, caps);
  const partial = limits(caps, inventory, backend === 'bpftrace' || (backend === 'auto' && !hasCap(caps, CAP_SYS_ADMIN)));
  core.applyInventory(inventory);
  const now = inventory.takenAtMs;
  const summary = core.summarize(now);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(snapshotDocument(summary, core.socketViews(now), inventory.problems, partial))}\n`);
  } else {
    // What could not be seen comes first: a short table must not read as "nothing there".
    process.stdout.write(`${partial ? `${partial}\n` : ''}${renderSnapshotTable(summary, inventory.problems)}\n`);
  }
  return 0;
}
