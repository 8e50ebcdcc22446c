/**
 * `socktrace top`: renders the snapshot it is given (data collection lives in top-command.ts) and keeps
 * only view state: which view, sort, selection, filter, pause, help, detail pane.
 */
import { Box, Text, useApp, useInput } from 'ink';
import { useState, type ReactElement } from 'react';
import { detailLines, type PaneLine } from './detail-lines.js';
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
import { fit, terminalSafe } from './terminal-text.js';
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

export function TopApp({ snapshot, initialView = 'processes', onQuit }: TopAppProps): ReactElement {
  const { exit } = useApp();
  const terminal = useTerminalSize();
  // One column short of the edge: a line that fills the last column makes terminals wrap early.
  const width = Math.max(20, terminal.columns - 1);
  const height = terminal.rows;
  const [view, setView] = useState<ViewName>(initialView);
  const [sorts, setSorts] = useState<Record<ViewName, SortState>>({
    processes: { column: DEFAULT_SORT.processes, descending: true },
    peers: { column: DEFAULT_SORT.peers, descending: true },
    services: { column: DEFAULT_SORT.services, descending: true },
  });
  const [selected, setSelected] = useState<Record<ViewName, string | null>>({ processes: null, peers: null, services: null });
  const [filter, setFilter] = useState('');
  const [draft, setDraft] = useState<string | null>(null);
  const [frozen, setFrozen] = useState<TopSnapshot | null>(null);
  const [help, setHelp] = useState(false);
  const [showDetail, setShowDetail] = useState(true);

  const shown = frozen ?? snapshot;
  const allColumns = COLUMNS[view];
  const columns = layoutColumns(allColumns, width);
  const sort = sorts[view];
  const sortColumn = allColumns.find((c) => c.id === sort.column);
  const rows = sortRows(rowsOf(shown, view), sortColumn, sort.descending).filter((r) => matches(r, allColumns, filter));
  const index = Math.max(0, rows.findIndex((r) => r.key === selected[view]));
  const current = rows[index];

  // Line budget: 2 header, 1 tabs, 1 column titles, 1 footer; the pane takes up to 40% of the rest.
  const fixed = 5;
  const paneHeight = showDetail && height >= 16 ? Math.max(4, Math.min(12, Math.floor((height - fixed) * 0.4))) : 0;
  const tableHeight = Math.max(1, height - 1 - fixed - paneHeight);
  const first = Math.min(Math.max(0, index - tableHeight + 1), Math.max(0, rows.length - tableHeight));
  const start = index < first ? index : first;
  const visible = rows.slice(start, start + tableHeight);

  const select = (i: number) => {
    const row = rows[Math.max(0, Math.min(rows.length - 1, i))];
    if (row) setSelected({ ...selected, [view]: row.key });
  };
  const cycleView = (step: number) => setView(VIEWS[(VIEWS.indexOf(view) + step + VIEWS.length) % VIEWS.length]!);
  const moveSort = (step: number) => {
    const i = allColumns.findIndex((c) => c.id === sort.column);
    const next = allColumns[(i + step + allColumns.length) % allColumns.length]!;
    const numeric = rows[0] ? typeof next.sortValue(rows[0]) === 'number' : true;
    setSorts({ ...sorts, [view]: { column: next.id, descending: numeric } });
  };

  useInput((input, key) => {
    if (help) {
      setHelp(false);
      return;
    }
    if (draft !== null) {
      if (key.return) {
        setFilter(draft);
        setDraft(null);
      } else if (key.escape) {
        setFilter('');
        setDraft(null);
      } else if (key.backspace || key.delete) setDraft(draft.slice(0, -1));
      else if (input && !key.ctrl && !key.meta) setDraft(draft + input);
      return;
    }
    if (input === 'q') {
      onQuit?.();
      exit();
    } else if (key.tab) cycleView(key.shift ? -1 : 1);
    else if (key.upArrow || input === 'k') select(index - 1);
    else if (key.downArrow || input === 'j') select(index + 1);
    else if (key.pageUp) select(index - tableHeight);
    else if (key.pageDown) select(index + tableHeight);
    else if (input === 'g') select(0);
    else if (input === 'G') select(rows.length - 1);
    else if (key.leftArrow) moveSort(-1);
    else if (key.rightArrow) moveSort(1);
    else if (input === 'r') setSorts({ ...sorts, [view]: { ...sort, descending: !sort.descending } });
    else if (input === '/') setDraft(filter);
    else if (key.escape) setFilter('');
    else if (input === ' ') setFrozen(frozen ? null : snapshot);
    else if (input === '?') setHelp(true);
    else if (key.return) setShowDetail(!showDetail);
  });

  const h = shown.header;
  const clock = new Date(h.atMs).toISOString().slice(11, 19);
  const tabs = VIEWS.map((v) => (v === view ? `[${VIEW_TITLES[v]}]` : ` ${VIEW_TITLES[v]} `)).join(' ');
  const sortText = `sort: ${sortColumn?.title ?? '-'} ${sort.descending ? '↓' : '↑'}`;
  const filterText = draft !== null ? `filter: ${draft}▏` : filter ? `filter: ${filter}` : '';
  const titleLine = (cols: TopColumn<AnyRow>[]) =>
    '  ' + cols.map((c) => fit(c.id === sort.column ? `${c.title}${sort.descending ? '↓' : '↑'}` : c.title, c.width, c.align)).join(' ');
  const rowLine = (r: AnyRow) => '  ' + columns.map((c) => fit(c.text(r), c.width, c.align)).join(' ');
  const findingsCount = shown.findings.length;
  const critical = shown.findings.filter((f) => f.severity === 'critical').length;

  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold>socktrace top</Text>
        {` ${clock}  ${terminalSafe(h.backend)}  events/s ${h.eventsPerSecond.toFixed(0)}  `}
        <Text color={h.lostTotal > 0 ? 'red' : undefined}>{`lost ${h.lostTotal}`}</Text>
        {frozen ? <Text inverse>{' PAUSED '}</Text> : null}
        {findingsCount > 0 ? <Text color={critical > 0 ? 'red' : 'yellow'}>{`  findings ${findingsCount}`}</Text> : null}
      </Text>
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
          {Array.from({ length: Math.max(0, tableHeight - Math.max(1, visible.length)) }, (_, i) => (
            <Text key={`pad${i}`}> </Text>
          ))}
          {paneHeight > 0 ? (
            <Box flexDirection="column" height={paneHeight}>
              <Text color="gray" wrap="truncate">{fit('─'.repeat(width), width)}</Text>
              {detailLines(view, current, shown, width)
                .slice(0, paneHeight - 1)
                .map((line, i) => (
                  <Text key={i} wrap="truncate" bold={line.tone === 'title'} color={toneColor(line.tone)}>
                    {fit(line.text, width)}
                  </Text>
                ))}
            </Box>
          ) : null}
        </>
      )}
      <Text color="gray" wrap="truncate">
        {fit(
          draft !== null
            ? 'type to filter, Enter to apply, Esc to clear'
            : `${rows.length} ${view}  Tab view  ←→ sort  / filter  Space pause  Enter details  q quit` +
                (h.problems.length ? `  (${h.problems.length} problems: see socktrace snapshot)` : ''),
          width,
        )}
      </Text>
    </Box>
  );
}
