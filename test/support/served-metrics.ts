/** Every metric the daemon serves, with its label names, from a registry that is never scraped. */
import { DaemonMetrics } from '../../src/daemon/metrics.js';

export function servedMetrics(): Map<string, string[]> {
  const metrics = new DaemonMetrics({
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
  return new Map(metrics.registry.getMetricsAsArray().map((m) => [m.name, [...((m as unknown as { labelNames?: string[] }).labelNames ?? [])]]));
}
