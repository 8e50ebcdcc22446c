/** watch --summary with filters: rows and findings the filters select, the scope said, totals the host's. */
import { expect, it } from 'vitest';
import type { CoreSummary, Finding } from '../../src/core/summary-model.js';
import { parseCidr } from '../../src/events/cidr.js';
import { scopedSummary, summaryScope } from '../../src/output/summary-scope.js';
import { toSummaryRecord } from '../../src/output/summary-records.js';

const finding = (kind: string, subject: Finding['subject']) => ({ kind, severity: 'warning', title: kind, explanation: '', subject, evidence: {} }) as unknown as Finding;
const list = <T>(rows: T[]) => ({ rows, omitted: 0 });
const summary = {
  atMs: 0,
  totals: { sockets: 99 },
  processes: list([{ pid: 100, comm: 'api' }, { pid: 200, comm: 'web' }]),
  peers: list([{ peer: '198.18.0.2' }, { peer: '198.19.0.9' }]),
  processPeers: list([{ pid: 100, comm: 'api', peer: '198.18.0.2' }, { pid: 200, comm: 'web', peer: '198.19.0.9' }]),
  services: list([{ port: 8080, listeners: [{ pid: 100, comm: 'api' }] }, { port: 80, listeners: [{ pid: 200, comm: 'web' }] }]),
  findings: [
    finding('close_wait_leak', { pid: 100, comm: 'api', port: 8080 }),
    finding('accept_queue_overflow', { pid: 200, comm: 'web', port: 80, local: '0.0.0.0:80' }),
    finding('ephemeral_port_pressure', {}),
    finding('connect_timeouts', { pid: 200, comm: 'web', peer: '198.19.0.9' }),
  ],
  stories: [
    { sock: '1', owners: [{ pid: 100, comm: 'api' }], local: { addr: '198.18.0.1', port: 8080 }, peer: { addr: '198.18.0.2', port: 5000 }, state: 'CLOSE', timeline: [] },
    { sock: '2', owners: [{ pid: 200, comm: 'web' }], local: { addr: '198.18.0.1', port: 80 }, peer: { addr: '198.19.0.9', port: 6000 }, state: 'CLOSE', timeline: [] },
  ],
} as unknown as CoreSummary;

it('without filters: the whole host, said so', () => {
  expect(scopedSummary(summary, {})).toBe(summary);
  expect(toSummaryRecord(summary, summaryScope({ kinds: new Set(['rst_sent']) })).scope).toBe('host');
});

it("--port keeps that port's services, their processes and their findings, never another port's", () => {
  // A process whose finding names no port counts when it is on the port (write_after_peer_close).
  const withLate = { ...summary, findings: [...summary.findings, finding('write_after_peer_close', { pid: 100, comm: 'api' }), finding('write_after_peer_close', { pid: 200, comm: 'web' })] };
  expect(scopedSummary(withLate, { ports: [8080] }).findings.map((x) => `${x.kind} ${x.subject.pid}`)).toEqual(['close_wait_leak 100', 'write_after_peer_close 100']);
  const f = { ports: [8080] };
  const s = scopedSummary(summary, f);
  expect(s.services.rows.map((r) => r.port)).toEqual([8080]);
  expect(s.processes.rows.map((r) => r.pid)).toEqual([100]);
  expect(s.processPeers.rows.map((r) => r.pid)).toEqual([100]);
  expect(s.peers.rows).toEqual([]);
  expect(s.findings.map((x) => x.kind)).toEqual(['close_wait_leak']);
  expect(s.stories.map((x) => x.sock)).toEqual(['1']);
  const record = toSummaryRecord(s, summaryScope(f), true);
  expect(record).toMatchObject({ scope: { ports: [8080], totals: 'host' }, final: true, findings: 1, totals: { sockets: 99 } });
});

it('--pid, --comm and --peer select by what each row and finding names', () => {
  expect(scopedSummary(summary, { pids: [200] }).findings.map((x) => x.kind)).toEqual(['accept_queue_overflow', 'connect_timeouts']);
  expect(scopedSummary(summary, { comms: ['api'] }).services.rows.map((r) => r.port)).toEqual([8080]);
  const byPeer = scopedSummary(summary, { peers: [parseCidr('198.19.0.0/16')] });
  // The peer's own finding, and those of the process that talks to it; nothing of api's.
  expect(byPeer.findings.map((x) => x.kind)).toEqual(['accept_queue_overflow', 'connect_timeouts']);
  expect(byPeer.peers.rows.map((r) => r.peer)).toEqual(['198.19.0.9']);
  expect(byPeer.processes.rows.map((r) => r.pid)).toEqual([200]);
  expect(summaryScope({ peers: [parseCidr('198.19.0.0/16')] })).toEqual({ peers: ['198.19.0.0/16'], totals: 'host' });
});
