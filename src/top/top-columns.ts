/** The columns of each view: title, width, how a cell reads, and what it sorts by. */
import { formatDuration } from '../core/findings.js';
import type { AgeCell, PeerRow, ProcessRow, RowBase, ServiceRow } from './top-snapshot.js';

export interface TopColumn<R> {
  id: string;
  title: string;
  width: number;
  align: 'left' | 'right';
  sortValue: (row: R) => number | string;
  text: (row: R) => string;
  /** Wide columns shrink first when the terminal is narrow. */
  flexible?: boolean;
}

export type ViewName = 'processes' | 'peers' | 'services';
export const VIEWS: readonly ViewName[] = ['processes', 'peers', 'services'];
export const VIEW_TITLES: Record<ViewName, string> = { processes: 'Processes', peers: 'Peers', services: 'Services' };

function age(a: AgeCell | null): string {
  if (!a) return '-';
  return `${a.lowerBound ? '>=' : ''}${formatDuration(a.seconds).replace(/ (?=\d)/g, '').replace(/ /g, '')}`;
}

function rate(n: number): string {
  return n === 0 ? '0' : n < 10 ? n.toFixed(1) : n.toFixed(0);
}

function common<R extends RowBase>(): TopColumn<R>[] {
  return [
    { id: 'cw', title: 'CLOSE_WAIT', width: 11, align: 'right', sortValue: (r) => r.closeWait, text: (r) => String(r.closeWait) },
    { id: 'oldest', title: 'OLDEST CW', width: 10, align: 'right', sortValue: (r) => r.oldestCloseWait?.seconds ?? -1, text: (r) => age(r.oldestCloseWait) },
    { id: 'rsts', title: 'RST>/s', width: 7, align: 'right', sortValue: (r) => r.rstSentPerSec, text: (r) => rate(r.rstSentPerSec) },
    { id: 'rstr', title: 'RST</s', width: 7, align: 'right', sortValue: (r) => r.rstReceivedPerSec, text: (r) => rate(r.rstReceivedPerSec) },
    { id: 'broken', title: 'PIPE/s', width: 7, align: 'right', sortValue: (r) => r.brokenPerSec, text: (r) => rate(r.brokenPerSec) },
  ];
}

function tail<R extends RowBase>(): TopColumn<R>[] {
  return [
    { id: 'estab', title: 'ESTAB', width: 6, align: 'right', sortValue: (r) => r.established, text: (r) => String(r.established) },
    { id: 'tw', title: 'TIME_WAIT', width: 10, align: 'right', sortValue: (r) => r.timeWait, text: (r) => String(r.timeWait) },
  ];
}

export const PROCESS_COLUMNS: TopColumn<ProcessRow>[] = [
  { id: 'pid', title: 'PID', width: 7, align: 'right', sortValue: (r) => r.pid, text: (r) => String(r.pid) },
  { id: 'comm', title: 'COMM', width: 15, align: 'left', sortValue: (r) => r.comm, text: (r) => r.comm, flexible: true },
  ...common<ProcessRow>(),
  {
    id: 'fds',
    title: 'FDS/LIMIT',
    width: 11,
    align: 'right',
    sortValue: (r) => (r.fds !== null && r.fdLimit ? r.fds / r.fdLimit : -1),
    text: (r) => (r.fds === null ? '-' : `${r.fds}/${r.fdLimit ?? '∞'}`),
  },
  ...tail<ProcessRow>(),
];

export const PEER_COLUMNS: TopColumn<PeerRow>[] = [
  { id: 'peer', title: 'PEER', width: 24, align: 'left', sortValue: (r) => r.peer, text: (r) => r.peer, flexible: true },
  ...common<PeerRow>(),
  { id: 'opened', title: 'NEW/s', width: 6, align: 'right', sortValue: (r) => r.openedPerSec, text: (r) => rate(r.openedPerSec) },
  ...tail<PeerRow>(),
];

export const SERVICE_COLUMNS: TopColumn<ServiceRow>[] = [
  { id: 'port', title: 'PORT', width: 6, align: 'right', sortValue: (r) => r.port, text: (r) => String(r.port) },
  { id: 'listeners', title: 'LISTENERS', width: 16, align: 'left', sortValue: (r) => r.listeners, text: (r) => r.listeners || '-', flexible: true },
  ...common<ServiceRow>(),
  { id: 'opened', title: 'NEW/s', width: 6, align: 'right', sortValue: (r) => r.openedPerSec, text: (r) => rate(r.openedPerSec) },
  ...tail<ServiceRow>(),
];

export const DEFAULT_SORT: Record<ViewName, string> = { processes: 'cw', peers: 'cw', services: 'cw' };

/** Columns that fit `width`: flexible ones shrink to 6, then columns drop from the right. */
export function layoutColumns<R>(columns: TopColumn<R>[], width: number): TopColumn<R>[] {
  const gap = 1;
  const total = (cols: TopColumn<R>[]) => cols.reduce((n, c) => n + c.width + gap, 2);
  let cols = columns.map((c) => ({ ...c }));
  let excess = total(cols) - width;
  for (const c of cols) {
    if (excess <= 0) break;
    if (!c.flexible) continue;
    const give = Math.min(excess, c.width - 6);
    c.width -= give;
    excess -= give;
  }
  while (cols.length > 2 && total(cols) > width) cols = cols.slice(0, -1);
  return cols;
}
