/** The periodic records of `watch --summary`: one summary line, then one line per finding. */
import type { CoreSummary, Finding } from '../core/summary-model.js';
import type { SummaryScope } from './summary-scope.js';

export interface SummaryRecord {
  time: string;
  event: 'summary';
  totals: CoreSummary['totals'];
  processes: CoreSummary['processes'];
  peers: CoreSummary['peers'];
  processPeers: CoreSummary['processPeers'];
  services: CoreSummary['services'];
  findings: number;
  /** 'host', or the filters the rows and findings were chosen by (totals stay the host's). */
  scope: SummaryScope;
  /** The last summary, at exit. */
  final?: true;
}

export type FindingRecord = { time: string; event: 'finding' } & Finding;

export function toSummaryRecord(summary: CoreSummary, scope: SummaryScope = 'host', final = false): SummaryRecord {
  return {
    time: new Date(summary.atMs).toISOString(),
    event: 'summary',
    totals: summary.totals,
    processes: summary.processes,
    peers: summary.peers,
    processPeers: summary.processPeers,
    services: summary.services,
    findings: summary.findings.length,
    scope,
    ...(final ? { final: true as const } : {}),
  };
}

export function toFindingRecords(summary: CoreSummary): FindingRecord[] {
  const time = new Date(summary.atMs).toISOString();
  return summary.findings.map((f) => ({ time, event: 'finding', ...f }));
}
