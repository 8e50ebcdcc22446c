/** `socktrace snapshot`: the inventory, rollups and findings right now, then exit. */
import { SocketCore } from '../core/socket-core.js';
import { takeInventory } from '../inventory/take-inventory.js';
import { snapshotDocument } from '../output/snapshot-document.js';
import { renderSnapshotTable } from '../output/snapshot-table.js';
import { CORE_OPTIONS, CORE_USAGE, coreConfigFromOptions } from './core-options.js';
import { parseCommandArgs } from './command-args.js';

export const SNAPSHOT_USAGE = `Usage: socktrace snapshot [--json] [options]

Lists every TCP socket on the host (IPv4 and IPv6, every network namespace) with the processes that
own it, rolled up per process, peer and listening port, with findings (CLOSE_WAIT leaks, fd pressure, …).

Options:
  --json                    one JSON document: sockets, rollups, findings
${CORE_USAGE}
  -h, --help                show this help`;

export async function snapshotCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs('snapshot', argv, { json: { type: 'boolean' }, ...CORE_OPTIONS });
  if (values.help) {
    process.stdout.write(`${SNAPSHOT_USAGE}\n`);
    return 0;
  }
  const core = new SocketCore(coreConfigFromOptions(values));
  const inventory = takeInventory();
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
