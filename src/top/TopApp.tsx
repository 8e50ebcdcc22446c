/**
 * `socktrace top`: renders the snapshot it is given (data collection lives in top-command.ts) and keeps
 * only view state: which view, sort, selection, filter, pause, help, detail pane.
 */
import { Box, Text, useApp, useInput, type Key } from 'ink';
import { useRef, useState, type ReactElement } from 'react';
import { detailBlocks, type PaneLine } from './detail-lines.js';
import {
  DEFAULT_SORT,
  layoutColumns,
  PEER_COLUMNS,
  PROCESS_COLUMNS,
  SERVICE_COLUMNS,
  VIEW_TITLES,
  VIEWS,
  type TopColumn,
  type ViewName,
} from './top-columns.js';
import type { PeerRow, ProcessRow, RowBase, ServiceRow, TopSnapshot } from './top-snapshot.js';
import { displayWidth, fit, terminalSafe } from './terminal-text.js';
import { useTerminalSize } from './use-terminal-size.js';

export interface TopAppProps {
  snapshot: TopSnapshot;
  initialView?: ViewName;
  onQuit?: () => void;
}

interface SortState {
  column: string;
  descending: boolean;
}

type AnyRow = ProcessRow | PeerRow | ServiceRow;

const COLUMNS: Record<ViewName, TopColumn<AnyRow>[]> = {
  processes: PROCESS_COLUMNS as TopColumn<AnyRow>[],
  peers: PEER_COLUMNS as TopColumn<AnyRow>[],
  services: SERVICE_COLUMNS as TopColumn<AnyRow>[],
};

const HELP: [string, string][] = [
  ['Tab / Shift-Tab', 'switch view: processes, peers, services (listening ports)'],
  ['↑ ↓  j k  PgUp PgDn', 'move the selection'],
  ['← →', 'sort by the previous / next column'],
  ['r', 'reverse the sort'],
  ['/', 'filter rows (Enter applies, Esc clears)'],
  ['Enter', 'show or hide the detail pane (findings, peers, timeline)'],
  ['e', 'expand the detail pane: whole explanations, the table shrinks'],
  ['[ ]', 'scroll the detail pane'],
  ['Space', 'pause / resume updates'],
  ['?', 'this help (any key closes it)'],
  ['q', 'quit'],
];

function rowsOf(snapshot: TopSnapshot, view: ViewName): AnyRow[] {
  return view === 'processes' ? snapshot.processes : view === 'peers' ? snapshot.peers : snapshot.services;
}

function sortRows(rows: AnyRow[], column: TopColumn<AnyRow> | undefined, descending: boolean): AnyRow[] {
  if (!column) return rows;
  const sign = descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = column.sortValue(a);
    const y = column.sortValue(b);
    const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return sign * order || a.key.localeCompare(b.key);
  });
}

function matches(row: AnyRow, columns: TopColumn<AnyRow>[], filter: string): boolean {
  if (!filter) return true;
  const needle = filter.toLowerCase();
  const extra = 'cmdline' in row ? row.cmdline : '';
  return [...columns.map((c) => c.text(row)), extra].some((t) => t.toLowerCase().includes(needle));
}

function toneColor(tone: PaneLine['tone'] | RowBase['worstFinding']): string | undefined {
  return tone === 'critical' ? 'red' : tone === 'warning' ? 'yellow' : tone === 'dim' ? 'gray' : undefined;
}

function stateLine(snapshot: TopSnapshot): string {
  const states = Object.entries(snapshot.header.byState)
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
    .map(([s, n]) => `${s} ${n}`)
    .join('  ');
  return `sockets ${snapshot.header.sockets}: ${states || 'none'}`;
}

/** View state: everything the keys change. The snapshot shown while paused is part of it. */
interface UiState {
  view: ViewName;
  sorts: Record<ViewName, SortState>;
  selected: Record<ViewName, string | null>;
  filter: string;
  draft: string | null;
  frozen: TopSnapshot | null;
  help: boolean;
  showDetail: boolean;
  expanded: boolean;
  /** Lines the pane is scrolled, for the row `key` (another row starts at the top). */
  scroll: { key: string | null; lines: number };
  quit: boolean;
}

function initialState(view: ViewName): UiState {
  return {
    view,
    sorts: {
      processes: { column: DEFAULT_SORT.processes, descending: true },
      peers: { column: DEFAULT_SORT.peers, descending: true },
      services: { column: DEFAULT_SORT.services, descending: true },
    },
    selected: { processes: null, peers: null, services: null },
    filter: '',
    draft: null,
    frozen: null,
    help: false,
    showDetail: true,
    expanded: false,
    scroll: { key: null, lines: 0 },
    quit: false,
  };
}

type KeyPress = { input: string; key: Partial<Key> };

/**
 * One key per press. Ink hands over escape sequences one by one but a run of plain text (keys typed
 * or repeated faster than a read, a paste) as one string: each of its characters is a key.
 */
export function splitKeys(input: string, key: Key): KeyPress[] {
  const plain = !key.ctrl && !key.meta && !key.upArrow && !key.downArrow && !key.leftArrow && !key.rightArrow;
  if (!plain || [...input].length <= 1) return [{ input, key }];
  return [...input].map((c) => {
    if (c === '\r' || c === '\n') return { input: '', key: { return: true } };
    if (c === '\t') return { input: '', key: { tab: true } };
    if (c === '\x7f' || c === '\b') return { input: '', key: { backspace: true } };
    return { input: c, key: {} };
  });
}

/** What the screen shows for a state: rows in order, the selection, and the lines each part gets. */
interface Frame {
  shown: TopSnapshot;
  allColumns: TopColumn<AnyRow>[];
  columns: TopColumn<AnyRow>[];
  sortColumn: TopColumn<AnyRow> | undefined;
  rows: AnyRow[];
  index: number;
  current: AnyRow | undefined;
  tableHeight: number;
  /** The pane's lines below its rule, and how many it gets (0: no pane). */
  pane: PaneLine[];
  paneHeight: number;
  /** Lines the pane can scroll: 0 when everything fits. */
  maxScroll: number;
}

/** Takes whole blocks while they fit `room` lines; cuts only a first block that alone is too long. */
function wholeBlocks(blocks: PaneLine[][], room: number): PaneLine[] {
  const out: PaneLine[] = [];
  for (const b of blocks) {
    if (out.length + b.length <= room) out.push(...b);
    else {
      if (out.length <= 1) out.push(...b.slice(0, room - out.length));
      break;
    }
  }
  return out;
}

function frameOf(ui: UiState, snapshot: TopSnapshot, width: number, height: number): Frame {
  const shown = ui.frozen ?? snapshot;
  const allColumns = COLUMNS[ui.view];
  const columns = layoutColumns(allColumns, width);
  const sort = ui.sorts[ui.view];
  const sortColumn = allColumns.find((c) => c.id === sort.column);
  const rows = sortRows(rowsOf(shown, ui.view), sortColumn, sort.descending).filter((r) => matches(r, allColumns, ui.filter));
  const index = Math.max(0, rows.findIndex((r) => r.key === ui.selected[ui.view]));
  const current = rows[index];

  // Lines: 2 header, 1 tabs, 1 column titles, 1 footer, and one spare (a full last line scrolls some
  // terminals). The pane takes what the table leaves, and at least 60% when it has more to say.
  const available = Math.max(1, height - 6);
  const tableWanted = Math.max(1, rows.length);
  let paneHeight = 0;
  let pane: PaneLine[] = [];
  let maxScroll = 0;
  if (ui.showDetail && available >= 6) {
    const full = detailBlocks(ui.view, current, shown, width).flat();
    paneHeight = ui.expanded
      ? available - 1 // the table keeps the selected row
      : Math.min(1 + full.length, Math.max(available - tableWanted, Math.ceil(available * 0.6)));
    const room = paneHeight - 1;
    maxScroll = Math.max(0, full.length - room);
    const scroll = ui.scroll.key === (current?.key ?? null) ? Math.min(ui.scroll.lines, maxScroll) : 0;
    if (maxScroll === 0) pane = full;
    else if (scroll > 0 || ui.expanded) {
      // Scrolled or expanded: the whole text from the scroll position; the last line says what is below.
      pane = full.slice(scroll, scroll + room);
      const below = full.length - scroll - room;
      if (below > 0) pane = [...pane.slice(0, -1), { text: `… ${below + 1} more lines: ] scrolls`, tone: 'dim' }];
    } else {
      // Too little room for everything: each finding as its title and remedy, whole, then a way on.
      const briefer = ([1, 2] as const).map((b) => detailBlocks(ui.view, current, shown, width, b));
      const brief = briefer.find((blocks) => blocks.flat().length <= room - 1) ?? briefer[1]!;
      pane = [...wholeBlocks(brief, room - 1), { text: '… e: whole explanations, ] scroll', tone: 'dim' }];
    }
  }
  const tableHeight = Math.max(1, available - paneHeight);
  return { shown, allColumns, columns, sortColumn, rows, index, current, tableHeight, pane, paneHeight, maxScroll };
}

/** One key applied to the state (pure: the screen's size and the live snapshot come in). */
function applyKey(ui: UiState, { input, key }: KeyPress, snapshot: TopSnapshot, width: number, height: number): UiState {
  if (ui.help) return { ...ui, help: false };
  if (ui.draft !== null) {
    if (key.return) return { ...ui, filter: ui.draft, draft: null };
    if (key.escape) return { ...ui, filter: '', draft: null };
    if (key.backspace || key.delete) return { ...ui, draft: ui.draft.slice(0, -1) };
    if (input && !key.ctrl && !key.meta) return { ...ui, draft: ui.draft + input };
    return ui;
  }
  const f = frameOf(ui, snapshot, width, height);
  const view = ui.view;
  const select = (i: number): UiState => {
    const row = f.rows[Math.max(0, Math.min(f.rows.length - 1, i))];
    return row ? { ...ui, selected: { ...ui.selected, [view]: row.key } } : ui;
  };
  const sort = ui.sorts[view];
  const moveSort = (step: number): UiState => {
    const i = f.allColumns.findIndex((c) => c.id === sort.column);
    const next = f.allColumns[(i + step + f.allColumns.length) % f.allColumns.length]!;
    const numeric = f.rows[0] ? typeof next.sortValue(f.rows[0]) === 'number' : true;
    return { ...ui, sorts: { ...ui.sorts, [view]: { column: next.id, descending: numeric } } };
  };
  const scrollBy = (step: number): UiState => {
    const key = f.current?.key ?? null;
    const from = ui.scroll.key === key ? Math.min(ui.scroll.lines, f.maxScroll) : 0;
    return { ...ui, scroll: { key, lines: Math.max(0, Math.min(f.maxScroll, from + step)) } };
  };
  const page = Math.max(1, Math.floor((f.paneHeight - 1) / 2));

  if (input === 'q') return { ...ui, quit: true };
  if (key.tab) return { ...ui, view: VIEWS[(VIEWS.indexOf(view) + (key.shift ? -1 : 1) + VIEWS.length) % VIEWS.length]! };
  if (key.upArrow || input === 'k') return select(f.index - 1);
  if (key.downArrow || input === 'j') return select(f.index + 1);
  if (key.pageUp) return select(f.index - f.tableHeight);
  if (key.pageDown) return select(f.index + f.tableHeight);
  if (input === 'g') return select(0);
  if (input === 'G') return select(f.rows.length - 1);
  if (key.leftArrow) return moveSort(-1);
  if (key.rightArrow) return moveSort(1);
  if (input === 'r') return { ...ui, sorts: { ...ui.sorts, [view]: { ...sort, descending: !sort.descending } } };
  if (input === '/') return { ...ui, draft: ui.filter };
  if (key.escape) return { ...ui, filter: '' };
  if (input === ' ') return { ...ui, frozen: ui.frozen ? null : snapshot };
  if (input === '?') return { ...ui, help: true };
  if (input === 'e') return { ...ui, expanded: !ui.expanded, showDetail: true };
  if (input === ']') return scrollBy(page);
  if (input === '[') return scrollBy(-page);
  if (key.return) return { ...ui, showDetail: !ui.showDetail };
  return ui;
}

interface Part {
  text: string;
  /** Higher stays longer: the lowest goes first when the line is too narrow. */
  keep: number;
  color?: string;
  bold?: boolean;
  inverse?: boolean;
}

/** The parts that fit `width` (two spaces apart), dropping the least important first; order kept. */
function fitParts(parts: Part[], width: number): Part[] {
  let kept = parts.filter((p) => p.text);
  const total = (ps: Part[]) => ps.reduce((n, p) => n + displayWidth(p.text), 0) + 2 * Math.max(0, ps.length - 1);
  while (kept.length > 1 && total(kept) > width) {
    const least = kept.reduce((a, b) => (b.keep < a.keep ? b : a));
    kept = kept.filter((p) => p !== least);
  }
  return kept;
}

function PartsLine({ parts, width, color }: { parts: Part[]; width: number; color?: string }): ReactElement {
  const kept = fitParts(parts, width);
  const used = kept.reduce((n, p) => n + displayWidth(p.text), 0) + 2 * Math.max(0, kept.length - 1);
  return (
    <Text wrap="truncate" color={color}>
      {kept.map((p, i) => (
        <Text key={i} color={p.color} bold={p.bold} inverse={p.inverse}>
          {(i > 0 ? '  ' : '') + (used > width ? fit(p.text, Math.max(1, width - (used - displayWidth(p.text)))) : p.text)}
        </Text>
      ))}
    </Text>
  );
}

export function TopApp({ snapshot, initialView = 'processes', onQuit }: TopAppProps): ReactElement {
  const { exit } = useApp();
  const terminal = useTerminalSize();
  // One column short of the edge: a line that fills the last column makes terminals wrap early.
  const width = Math.max(20, terminal.columns - 1);
  const height = terminal.rows;
  const [ui, setUi] = useState<UiState>(() => initialState(initialView));
  // Keys of one chunk arrive before React renders again: each applies to what the one before left.
  const latest = useRef(ui);
  latest.current = ui;

  useInput((input, key) => {
    let next = latest.current;
    for (const k of splitKeys(input, key)) {
      next = applyKey(next, k, snapshot, width, height);
      if (next.quit) break;
    }
    latest.current = next;
    setUi(next);
    if (next.quit) {
      onQuit?.();
      exit();
    }
  });

  const { view, filter, draft, frozen, help, showDetail } = ui;
  const f = frameOf(ui, snapshot, width, height);
  const { shown, columns, sortColumn, rows, current, tableHeight } = f;
  const sort = ui.sorts[view];
  const first = Math.min(Math.max(0, f.index - tableHeight + 1), Math.max(0, rows.length - tableHeight));
  const start = f.index < first ? f.index : first;
  const visible = rows.slice(start, start + tableHeight);

  const h = shown.header;
  const clock = new Date(h.atMs).toISOString().slice(11, 19);
  const tabs = VIEWS.map((v) => (v === view ? `[${VIEW_TITLES[v]}]` : ` ${VIEW_TITLES[v]} `)).join(' ');
  const sortText = `sort: ${sortColumn?.title ?? '-'} ${sort.descending ? '↓' : '↑'}`;
  const filterText = draft !== null ? `filter: ${draft}▏` : filter ? `filter: ${filter}` : '';
  const titleLine = (cols: TopColumn<AnyRow>[]) =>
    '  ' + cols.map((c) => fit(c.id === sort.column ? `${c.title}${sort.descending ? '↓' : '↑'}` : c.title, c.width, c.align)).join(' ');
  const rowLine = (r: AnyRow) => '  ' + columns.map((c) => fit(c.text(r), c.width, c.align)).join(' ');
  const findingsCount = shown.findings.length;
  const critical = shown.findings.filter((x) => x.severity === 'critical').length;
  // What matters survives a narrow screen: lost events, the pause, the findings; decoration goes first.
  const header: Part[] = [
    { text: 'socktrace top', keep: 4, bold: true },
    { text: clock, keep: 2 },
    { text: terminalSafe(h.backend), keep: 1 },
    { text: `events/s ${h.eventsPerSecond.toFixed(0)}`, keep: 3 },
    { text: `lost ${h.lostTotal}`, keep: 10, color: h.lostTotal > 0 ? 'red' : undefined },
    { text: frozen ? ' PAUSED ' : '', keep: 10, inverse: true },
    { text: findingsCount > 0 ? `findings ${findingsCount}` : '', keep: 10, color: critical > 0 ? 'red' : 'yellow' },
  ];
  const footer: Part[] =
    draft !== null
      ? [{ text: 'type to filter, Enter to apply, Esc to clear', keep: 10 }]
      : [
          { text: `${rows.length} ${view}`, keep: 5 },
          { text: 'Tab view', keep: 3 },
          { text: '←→ sort', keep: 2 },
          { text: '/ filter', keep: 2 },
          { text: 'Space pause', keep: 1 },
          { text: showDetail ? 'Enter hide details' : 'Enter show details', keep: 6 },
          { text: showDetail && (f.maxScroll > 0 || ui.expanded) ? (ui.expanded ? 'e shrink' : 'e expand') : '', keep: 4 },
          { text: '? help', keep: 7 },
          { text: 'q quit', keep: 8 },
          { text: h.problems.length ? `(${h.problems.length} problems: see socktrace snapshot)` : '', keep: 0 },
        ];
  const padding = Math.max(0, tableHeight + f.paneHeight - Math.max(1, visible.length) - f.paneHeight);

  return (
    <Box flexDirection="column" width={width}>
      <PartsLine parts={header} width={width} />
      <Text wrap="truncate">{fit(stateLine(shown), width)}</Text>
      <Text wrap="truncate">{fit(`${tabs}   ${sortText}   ${filterText}   ?: help`, width)}</Text>
      {help ? (
        <Box flexDirection="column" height={height - 1 - 4}>
          <Text bold>{fit('Keys', width)}</Text>
          {HELP.map(([k, what]) => (
            <Text key={k} wrap="truncate">{fit(`  ${k.padEnd(22)} ${what}`, width)}</Text>
          ))}
        </Box>
      ) : (
        <>
          <Text bold wrap="truncate">{fit(titleLine(columns), width)}</Text>
          {visible.map((r) => (
            <Text key={r.key} wrap="truncate" inverse={r.key === current?.key} color={toneColor(r.worstFinding)}>
              {fit(rowLine(r), width)}
            </Text>
          ))}
          {visible.length === 0 ? <Text color="gray">{fit(filter ? '  no rows match the filter' : '  no sockets yet', width)}</Text> : null}
          {f.paneHeight > 0 ? (
            <Box flexDirection="column" height={f.paneHeight}>
              <Text color="gray" wrap="truncate">{fit('─'.repeat(width), width)}</Text>
              {f.pane.map((line, i) => (
                <Text key={i} wrap="truncate" bold={line.tone === 'title'} color={toneColor(line.tone)}>
                  {fit(line.text, width)}
                </Text>
              ))}
            </Box>
          ) : null}
          {Array.from({ length: padding }, (_, i) => (
            <Text key={`pad${i}`}> </Text>
          ))}
        </>
      )}
      <PartsLine parts={footer} width={width} color="gray" />
    </Box>
  );
}
