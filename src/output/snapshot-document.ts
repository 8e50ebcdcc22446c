/** The `socktrace snapshot --json` document: sockets, rollups and findings under their own keys. */
import type { CoreSummary, SocketView } from '../core/summary-model.js';

export interface SnapshotDocument {
  /** What this process could not see and why (privileges), or null when it saw everything. */
  partial: string | null;
  generatedAt: string;
  totals: CoreSummary['totals'];
  sockets: SocketView[];
  rollups: {
    processes: CoreSummary['processes'];
    peers: CoreSummary['peers'];
    processPeers: CoreSummary['processPeers'];
    services: CoreSummary['services'];
  };
  findings: CoreSummary['findings'];
  stories: CoreSummary['stories'];
  /** What could not be read (namespaces, processes): the picture may be incomplete there. */
  problems: string[];
  notes: string[];
}

export function snapshotDocument(summary: CoreSummary, sockets: SocketView[], problems: string[], partial: string | null = null): SnapshotDocument {
  return {
    partial,
    generatedAt: new Date(summary.atMs).toISOString(),
    totals: summary.totals,
    sockets,
    rollups: {
      processes: summary.processes,
      peers: summary.peers,
      processPeers: summary.processPeers,
      services: summary.services,
    },
    findings: summary.findings,
    stories: summary.stories,
    problems,
    notes: [
      'stateAgeIsLowerBound: the kernel does not record when a socket entered its state; for sockets older ' +
        'than this snapshot, CLOSE_WAIT ages count from the last ACK the peer sent and TIME_WAIT ages from ' +
        'its timer (both lower bounds); other states report 0 as the lower bound.',
    ],
  };
}
