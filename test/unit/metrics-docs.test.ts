/** The metrics table in packaging/README.md is the daemon's registry: every metric, with its labels. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { DaemonMetrics } from '../../src/daemon/metrics.js';

function servedMetrics(): DaemonMetrics {
  return new DaemonMetrics({
    summary: () => {
      throw new Error('not scraped');
    },
    stats: () => ({ events: 0, batches: 0, lost: 0, rejected: 0, produced: 0 }),
    transitions: () => new Array<number>(16).fill(0),
    ownerEvictions: () => 0,
    sweepStats: () => ({ runs: 0, failures: 0, seconds: 0 }),
    socketCounts: () => null,
    maxProcesses: () => 10,
  });
}

it('packaging/README.md lists every metric the daemon serves, with its labels, and no other', () => {
  const metrics = servedMetrics();
  const served = new Map(
    metrics.registry.getMetricsAsArray().map((m) => [m.name, [...((m as unknown as { labelNames?: string[] }).labelNames ?? [])].sort().join(',')]),
  );
  const text = readFileSync(new URL('../../packaging/README.md', import.meta.url), 'utf8');
  const documented = new Map(
    [...text.matchAll(/^\| `(socktrace_\w+)` \| ([^|]*)\|/gm)].map((m) => [
      m[1]!,
      [...m[2]!.matchAll(/`(\w+)`/g)].map((l) => l[1]!).sort().join(','),
    ]),
  );
  expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(served));
});

it("README's daemon section names every metric the daemon serves, and no other", () => {
  const served = servedMetrics().registry.getMetricsAsArray().map((m) => m.name).sort();
  const text = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const named = [...new Set([...text.matchAll(/`(socktrace_\w+)[{`]/g)].map((m) => m[1]!))].sort();
  expect(named).toEqual(served);
});
