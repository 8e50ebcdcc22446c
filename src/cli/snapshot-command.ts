/** `socktrace snapshot`: the inventory, rollups and findings right now, then exit. */
import { endQuietlyWhenReaderLeaves } from './quiet-epipe.js';
import { SocketCore } from '../core/socket-core.js';
import { takeInventory } from '../inventory/take-inventory.js';
import { snapshotDocument } from '../output/snapshot-document.js';
import { renderSnapshotTable } from '../output/snapshot-table.js';
import { CORE_OPTIONS, CORE_USAGE, coreConfigFromOptions } from './core-options.js';
import { parseChoice } from './option-values.js';
import { BACKENDS, type Backend } from '../source/start-source.js';
import { BindingLoadError } from '../native/binding.js';
import type { Inventory } from '../core/inventory-model.js';
import { parseCommandArgs } from './command-args.js';

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

/** A snapshot needs no tracer: the backend decides only how socket tables are read. */
function inventoryFor(backend: Backend): Inventory {
  if (backend === 'bpftrace') return takeInventory('/proc', 'procfs');
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
  const inventory = inventoryFor(backend);
  core.applyInventory(inventory);
  const now = inventory.takenAtMs;
  const summary = core.summarize(now);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(snapshotDocument(summary, core.socketViews(now), inventory.problems))}\n`);
  } else {
    process.stdout.write(`${renderSnapshotTable(summary, inventory.problems)}\n`);
  }
  return 0;
}
