/** The readable `socktrace snapshot`: host totals, processes, services, peers, findings. */
import { formatDuration } from '../core/findings.js';
import { acceptQueueText, peerNetnsText, peerSideText } from '../core/rollups.js';
import type { CloseWaitStats, CoreSummary, RollupList } from '../core/summary-model.js';
import { renderTable, type Column } from './text-table.js';
import { describePlacement } from '../core/describe-placement.js';

function oldest(cw: CloseWaitStats): string {
  if (cw.oldestSeconds === null) return '-';
  return `${cw.oldestIsLowerBound ? '>=' : ''}${formatDuration(cw.oldestSeconds)}`;
}

function omitted(list: RollupList<unknown>): string {
  return list.omitted > 0 ? `\n  … ${list.omitted} more` : '';
}

export function renderSnapshotTable(summary: CoreSummary, problems: string[]): string {
  const t = summary.totals;
  const states = Object.entries(t.byState)
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  const out: string[] = [
    `socktrace snapshot ${new Date(summary.atMs).toISOString()}: ${t.sockets} TCP sockets (${states || 'none'})`,
  ];

  const procs = summary.processes.rows.filter((p) => p.totalSockets > 0 || (p.fdLimit && p.fds));
  out.push('', 'PROCESSES');
  out.push(
    renderTable(procs, [
      { title: 'PID', cell: (p) => p.pid, align: 'right' },
      { title: 'COMM', cell: (p) => p.comm },
      { title: 'CLOSE_WAIT', cell: (p) => p.closeWait.count, align: 'right' },
      { title: 'OLDEST CW', cell: (p) => oldest(p.closeWait), align: 'right' },
      { title: 'ESTAB', cell: (p) => p.sockets.ESTABLISHED ?? 0, align: 'right' },
      { title: 'TIME_WAIT', cell: (p) => p.sockets.TIME_WAIT ?? 0, align: 'right' },
      { title: 'LISTEN', cell: (p) => p.sockets.LISTEN ?? 0, align: 'right' },
      { title: 'FDS/LIMIT', cell: (p) => (p.fds === null ? '-' : `${p.fds}/${p.fdLimit ?? '∞'}`), align: 'right' },
      { title: 'WHERE', cell: (p) => describePlacement(p.placement) },
    ]) + omitted(summary.processes),
  );

  out.push('', 'SERVICES (listening ports)');
  const serviceColumns: Column<CoreSummary['services']['rows'][number]>[] = [
    { title: 'PORT', cell: (s) => s.port, align: 'right' },
    { title: 'NETNS', cell: (s) => s.netns, align: 'right' },
    { title: 'LISTENERS', cell: (s) => s.listeners.map((l) => `${l.comm}/${l.pid}`).join(',') || '-' },
    { title: 'ACCEPTQ', cell: (s) => acceptQueueText(s.acceptQueues), align: 'right' },
    { title: 'CLOSE_WAIT', cell: (s) => s.closeWait.count, align: 'right' },
    { title: 'OLDEST CW', cell: (s) => oldest(s.closeWait), align: 'right' },
    { title: 'ESTAB', cell: (s) => s.sockets.ESTABLISHED ?? 0, align: 'right' },
  ];
  out.push(renderTable(summary.services.rows, serviceColumns) + omitted(summary.services));

  // SIDE: client (of a service here) or server (called from here), from the namespace NETNS.
  out.push('', 'PEERS');
  out.push(
    renderTable(summary.peers.rows, [
      { title: 'PEER', cell: (p) => p.peer },
      { title: 'SIDE', cell: (p) => peerSideText(p.seenFrom) },
      { title: 'NETNS', cell: (p) => peerNetnsText(p.seenFrom), align: 'right' },
      { title: 'SOCKETS', cell: (p) => p.totalSockets, align: 'right' },
      { title: 'CLOSE_WAIT', cell: (p) => p.closeWait.count, align: 'right' },
      { title: 'ESTAB', cell: (p) => p.sockets.ESTABLISHED ?? 0, align: 'right' },
      { title: 'TIME_WAIT', cell: (p) => p.sockets.TIME_WAIT ?? 0, align: 'right' },
    ]) + omitted(summary.peers),
  );

  out.push('', summary.findings.length === 0 ? 'FINDINGS: none' : 'FINDINGS');
  for (const f of summary.findings) {
    out.push(`  [${f.severity}] ${f.title}`);
    out.push(...wrap(f.explanation, 96).map((l) => `      ${l}`));
  }
  if (t.socketEvictions > 0) out.push('', `note: ${t.socketEvictions} sockets evicted at the table cap (--max-sockets)`);
  for (const p of problems) out.push(`note: ${p}`);
  if (summary.processes.rows.some((p) => p.closeWait.oldestIsLowerBound)) {
    out.push('', 'note: ">=" ages are lower bounds: the kernel does not record when a socket entered CLOSE_WAIT.');
  }
  return out.join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
