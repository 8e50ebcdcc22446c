/** The columns of each view: title, width, how a cell reads, and what it sorts by. */
import type { AgeCell, PeerRow, ProcessRow, RowBase, ServiceRow } from './top-snapshot.js';

export interface TopColumn<R> {
  id: string;
  title: string;
  width: number;
  /** Title and width for narrow terminals (80 columns). */
  short: string;
  narrow: number;
  align: 'left' | 'right';
  sortValue: (row: R) => number | string;
  text: (row: R) => string;
  /** Wide columns shrink first when the terminal is narrow. */
  flexible?: boolean;
  /** Never narrower than this (an address cut short names no one): columns drop from the right first. */
  min?: number;
}

export type ViewName = 'processes' | 'peers' | 'services';
export const VIEWS: readonly ViewName[] = ['processes', 'peers', 'services'];
export const VIEW_TITLES: Record<ViewName, string> = { processes: 'Processes', peers: 'Peers', services: 'Services' };

/** "1.4s", "13s", "16m6s", "3h12m", "2d4h": at most two units, no spaces. */
export function compactDuration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  const two = (a: number, au: string, b: number, bu: string) => `${a}${au}${b > 0 ? `${b}${bu}` : ''}`;
  if (seconds < 3600) return two(Math.floor(seconds / 60), 'm', Math.floor(seconds % 60), 's');
  if (seconds < 86_400) return two(Math.floor(seconds / 3600), 'h', Math.floor((seconds % 3600) / 60), 'm');
  return two(Math.floor(seconds / 86_400), 'd', Math.floor((seconds % 86_400) / 3600), 'h');
}

function age(a: AgeCell | null): string {
  if (!a) return '-';
  return `${a.lowerBound ? '>=' : ''}${compactDuration(a.seconds)}`;
}

function rate(n: number): string {
  return n === 0 ? '0' : n < 10 ? n.toFixed(1) : n.toFixed(0);
}

function common<R extends RowBase>(): TopColumn<R>[] {
  return [
    { id: 'cw', title: 'CLOSE_WAIT', short: 'CW', narrow: 5, width: 11, align: 'right', sortValue: (r) => r.closeWait, text: (r) => String(r.closeWait) },
    { id: 'oldest', title: 'OLDEST CW', short: 'OLDEST', narrow: 8, width: 10, align: 'right', sortValue: (r) => r.oldestCloseWait?.seconds ?? -1, text: (r) => age(r.oldestCloseWait) },
    { id: 'rsts', title: 'RST>/s', short: 'RST>', narrow: 5, width: 7, align: 'right', sortValue: (r) => r.rstSentPerSec, text: (r) => rate(r.rstSentPerSec) },
    { id: 'rstr', title: 'RST</s', short: 'RST<', narrow: 5, width: 7, align: 'right', sortValue: (r) => r.rstReceivedPerSec, text: (r) => rate(r.rstReceivedPerSec) },
    { id: 'broken', title: 'PIPE/s', short: 'PIPE', narrow: 5, width: 7, align: 'right', sortValue: (r) => r.brokenPerSec, text: (r) => rate(r.brokenPerSec) },
  ];
}

function tail<R extends RowBase>(): TopColumn<R>[] {
  return [
    { id: 'estab', title: 'ESTAB', short: 'EST', narrow: 5, width: 6, align: 'right', sortValue: (r) => r.established, text: (r) => String(r.established) },
    { id: 'tw', title: 'TIME_WAIT', short: 'TW', narrow: 5, width: 10, align: 'right', sortValue: (r) => r.timeWait, text: (r) => String(r.timeWait) },
  ];
}

export const PROCESS_COLUMNS: TopColumn<ProcessRow>[] = [
  { id: 'pid', title: 'PID', short: 'PID', narrow: 7, width: 7, align: 'right', sortValue: (r) => r.pid, text: (r) => String(r.pid) },
  { id: 'comm', title: 'COMM', short: 'COMM', narrow: 10, width: 15, align: 'left', sortValue: (r) => r.comm, text: (r) => r.comm, flexible: true },
  ...common<ProcessRow>(),
  {
    id: 'fds',
    title: 'FDS/LIMIT',
    short: 'FDS/LIM',
    narrow: 9,
    width: 11,
    align: 'right',
    sortValue: (r) => (r.fds !== null && r.fdLimit ? r.fds / r.fdLimit : -1),
    text: (r) => (r.fds === null ? '-' : `${r.fds}/${r.fdLimit ?? '∞'}`),
  },
  ...tail<ProcessRow>(),
];

export const PEER_COLUMNS: TopColumn<PeerRow>[] = [
  { id: 'peer', title: 'PEER', short: 'PEER', narrow: 15, width: 24, min: 15, align: 'left', sortValue: (r) => r.peer, text: (r) => r.peer, flexible: true },
  // Which end it is and from where: a service's own address seen from its clients' namespace is a server.
  { id: 'side', title: 'SIDE', short: 'SIDE', narrow: 6, width: 6, align: 'left', sortValue: (r) => r.side, text: (r) => r.side },
  { id: 'netns', title: 'NETNS', short: 'NETNS', narrow: 10, width: 10, align: 'right', sortValue: (r) => r.netns, text: (r) => r.netns },
  ...common<PeerRow>(),
  { id: 'opened', title: 'NEW/s', short: 'NEW', narrow: 5, width: 6, align: 'right', sortValue: (r) => r.openedPerSec, text: (r) => rate(r.openedPerSec) },
  ...tail<PeerRow>(),
];

export const SERVICE_COLUMNS: TopColumn<ServiceRow>[] = [
  { id: 'port', title: 'PORT', short: 'PORT', narrow: 6, width: 6, align: 'right', sortValue: (r) => r.port, text: (r) => String(r.port) },
  { id: 'listeners', title: 'LISTENERS', short: 'LISTENERS', narrow: 12, width: 16, align: 'left', sortValue: (r) => r.listeners, text: (r) => r.listeners || '-', flexible: true },
  { id: 'queue', title: 'ACCEPTQ', short: 'ACCQ', narrow: 5, width: 7, align: 'right', sortValue: (r) => r.acceptQueueFill, text: (r) => r.acceptQueue },
  ...common<ServiceRow>(),
  { id: 'opened', title: 'NEW/s', short: 'NEW', narrow: 5, width: 6, align: 'right', sortValue: (r) => r.openedPerSec, text: (r) => rate(r.openedPerSec) },
  ...tail<ServiceRow>(),
];

export const DEFAULT_SORT: Record<ViewName, string> = { processes: 'cw', peers: 'cw', services: 'cw' };

/**
 * Columns that fit `width`: full titles, flexible columns shrinking to 10; else the narrow set (short
 * titles, compact widths: every process column fits 80) with flexible columns shrinking to 6; then
 * columns drop from the right.
 */
export function layoutColumns<R>(columns: TopColumn<R>[], width: number): TopColumn<R>[] {
  const total = (cols: TopColumn<R>[]) => cols.reduce((n, c) => n + c.width + 1, 2);
  const shrink = (cols: TopColumn<R>[], floor: number) => {
    let excess = total(cols) - width;
    for (const c of cols) {
      if (excess <= 0) break;
      const least = Math.max(floor, c.min ?? 0);
      if (!c.flexible || c.width <= least) continue;
      const give = Math.min(excess, c.width - least);
      c.width -= give;
      excess -= give;
    }
    return cols;
  };
  let cols = shrink(columns.map((c) => ({ ...c })), 10);
  if (total(cols) > width) cols = shrink(columns.map((c) => ({ ...c, title: c.short, width: c.narrow })), 6);
  while (cols.length > 2 && total(cols) > width) cols = cols.slice(0, -1);
  return cols;
}
