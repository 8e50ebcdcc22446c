/** What DaemonMetrics reads, for unit tests: an idle source over an empty core unless told otherwise. */
import { coreConfig } from '../../src/core/core-config.js';
import { SocketCore } from '../../src/core/socket-core.js';
import type { MetricsInputs } from '../../src/daemon/metrics.js';

export function metricsInputs(over: Partial<MetricsInputs> = {}): MetricsInputs {
  const core = new SocketCore(coreConfig());
  return {
    summary: () => core.summarize(Date.now()),
    stats: () => ({ events: 0, lost: 0, rejected: 0, produced: 0 }) as never,
    transitions: () => [],
    ownerEvictions: () => 0,
    sweepStats: () => ({ runs: 0, seconds: 0, failures: 0 }),
    socketCounts: () => null,
    maxProcesses: () => 50,
    ...over,
  };
}
