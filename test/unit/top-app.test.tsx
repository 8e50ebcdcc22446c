/** socktrace top's components on synthetic snapshots (ink-testing-library): rendering and keys. */
import { EventEmitter } from 'node:events';
import { render as inkRender } from 'ink';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import type { InventorySocket, ProcessInfo } from '../../src/core/inventory-model.js';
import type { CoreSummary, ProcessRollup } from '../../src/core/summary-model.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { TopApp } from '../../src/top/TopApp.js';
import { layoutColumns, PROCESS_COLUMNS } from '../../src/top/top-columns.js';
import { buildTopSnapshot, type TopSnapshot } from '../../src/top/top-snapshot.js';
import { inventorySocket } from '../support/inventory-socket.js';

const T0 = 1_800_000_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The frames the shown app rendered so far (ink-testing-library keeps them all). */
let frames: readonly string[] = [];
/**
 * Lets ink take a key (or a new snapshot) and render it: waits for a new frame, then a moment more.
 * A fixed sleep was too short on a loaded machine; what renders nothing new waits out the 1 s bound.
 */
async function tick(): Promise<void> {
  const seen = frames.length;
  const deadline = Date.now() + 1000;
  while (frames.length <= seen && Date.now() < deadline) await sleep(5);
  await sleep(5);
}

/** Socket n of pid 100's service on 198.18.0.1:8080 (its own peer port and inode). */
const sock = (n: number, over: Partial<InventorySocket>): InventorySocket =>
  inventorySocket({ sock: `s${n}`, peer: { addr: `198.18.1.${n % 3}`, port: 40000 + n }, inode: n, ...over });

function proc(pid: number, comm: string, fds = 20, fdLimit = 1024): ProcessInfo {
  return { pid, comm, cmdline: `${comm} --serve`, uid: 0, fds, fdLimit };
}

/** A sick host: api leaks 7 CLOSE_WAIT sockets, worker is healthy, cache is near its fd limit. */
function sickSnapshot(comms: Record<number, string> = {}, at = T0, apiFds = 20): TopSnapshot {
  const core = new SocketCore(coreConfig({ thresholds: { closeWaitAgeSeconds: 60, closeWaitMinSockets: 5 } }));
  const sockets: InventorySocket[] = [
    sock(0, { state: 'LISTEN', peer: { addr: '0.0.0.0', port: 0 }, acceptQueue: { length: 5, limit: 4 } }),
    ...Array.from({ length: 7 }, (_, i) => sock(i + 1, { state: 'CLOSE_WAIT', ageLowerBoundMs: 600_000 + i * 1000 })),
    ...Array.from({ length: 3 }, (_, i) => sock(i + 20, { owners: [200], local: { addr: '198.18.0.1', port: 50000 + i } })),
    sock(30, { owners: [300], local: { addr: '198.18.0.1', port: 6379 }, state: 'TIME_WAIT' }),
  ];
  core.applyInventory({
    takenAtMs: at,
    sockets,
    processes: [proc(100, comms[100] ?? 'api', apiFds, apiFds === 20 ? 1024 : apiFds), proc(200, comms[200] ?? 'worker'), proc(300, comms[300] ?? 'cache', 990, 1000)],
    problems: [],
  });
  return buildTopSnapshot(core.summarize(at), { eventsPerSecond: 12, lostTotal: 0, backend: 'native (tp_btf)', problems: [] });
}

let unmount: (() => void) | undefined;
afterEach(() => {
  unmount?.();
  unmount = undefined;
});

function show(snapshot: TopSnapshot) {
  const app = render(<TopApp snapshot={snapshot} />);
  unmount = app.unmount;
  frames = app.frames;
  return app;
}

/** ink-testing-library's screen is 100x24; this one is `columns` x `rows` (ink reads both from stdout). */
class SizedStdout extends EventEmitter {
  frames: string[] = [];
  isTTY = false;
  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {
    super();
  }
  write = (frame: string) => {
    this.frames.push(frame);
    return true;
  };
  lastFrame = () => this.frames.at(-1);
}

class KeyStdin extends EventEmitter {
  isTTY = true;
  private data: string | null = null;
  write = (data: string) => {
    this.data = data;
    this.emit('readable');
    this.emit('data', data);
  };
  read = () => {
    const d = this.data;
    this.data = null;
    return d;
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

function showAt(snapshot: TopSnapshot, columns: number, rows: number) {
  const stdout = new SizedStdout(columns, rows);
  const stdin = new KeyStdin();
  const instance = inkRender(<TopApp snapshot={snapshot} />, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: new SizedStdout(columns, rows) as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  unmount = () => {
    instance.unmount();
    instance.cleanup();
  };
  frames = stdout.frames;
  return { lastFrame: stdout.lastFrame, stdin };
}

/** The detail pane's text (below the rule), its wrapped lines joined: sentences read whole. */
function paneText(frame: string): string {
  const lines = frame.split('\n');
  const rule = lines.findIndex((l) => /^─{10,}/.test(l));
  return lines
    .slice(rule + 1, -1)
    .map((l) => l.trim())
    .join(' ')
    .replace(/\s+/g, ' ');
}

/** A header line in the pane is followed by what it heads. */
function expectNoBareHeaders(frame: string): void {
  const lines = frame.split('\n').map((l) => l.trim());
  lines.forEach((l, i) => {
    if (/:$/.test(l)) expect(lines[i + 1] ?? '', `"${l}" heads nothing`).not.toBe('');
  });
}

/** The incident's 2 findings with their whole explanations: the longest pane this host gives. */
const LEAK_REMEDY =
  'Look for a code path that stops using a connection after read() returns 0 (EOF) or after an error or timeout without closing it; restarting the process only buys time.';
const FD_REMEDY = 'Fix the leak first; raising LimitNOFILE only delays the outage.';

/** Many live processes, one CLOSE_WAIT each less than the one before: rows in a known order. */
function crowdSnapshot(n: number): TopSnapshot {
  const core = new SocketCore(coreConfig({}));
  const sockets: InventorySocket[] = [];
  const processes: ProcessInfo[] = [];
  for (let p = 0; p < n; p++) {
    processes.push(proc(1000 + p, `p${p}`));
    for (let i = 0; i < n - p; i++) sockets.push(sock(p * 100 + i, { owners: [1000 + p], state: 'CLOSE_WAIT' }));
  }
  core.applyInventory({ takenAtMs: T0, sockets, processes, problems: [] });
  return buildTopSnapshot(core.summarize(T0), { eventsPerSecond: 1, lostTotal: 0, backend: 'native (tp_btf)', problems: [] });
}

function selectedLine(frame: string): string {
  // The selection is drawn inverse; without colors (tests), the pane's title names it.
  return frame.split('\n').find((l) => /\(pid \d+\)/.test(l)) ?? '';
}

/** Cells a terminal gives the line (wide CJK: two). */
function cells(s: string): number {
  return [...s].reduce((n, c) => n + (/[\u3000-\u9fff\uff00-\uffef]/.test(c) ? 2 : 1), 0);
}

/** The row's column ends where its title ends, and no line is wider than the screen. */
function expectAligned(frame: string, titleLine: RegExp, title: RegExp, rowLine: RegExp): string {
  const lines = frame.split('\n');
  const header = lines.find((l) => titleLine.test(l))!;
  const row = lines.find((l) => rowLine.test(l))!;
  expect(row).toBeDefined();
  const titleEnd = cells(header.slice(0, header.search(title) + header.match(title)![0].length));
  expect(cells(row.match(rowLine)![0])).toBe(titleEnd);
  const width = cells(lines[0]!) + 1;
  for (const l of lines) expect(cells(l)).toBeLessThanOrEqual(Math.max(width, 99));
  return row;
}

/**
 * The incident's two namespaces: the service (8080, netns 1) with its clients, and in netns 2 a client
 * process whose sockets see the service's own address as their peer.
 */
function twoNamespacesSnapshot(): TopSnapshot {
  const core = new SocketCore(coreConfig({}));
  const sockets: InventorySocket[] = [
    sock(0, { state: 'LISTEN', peer: { addr: '0.0.0.0', port: 0 } }),
    ...Array.from({ length: 3 }, (_, i) => sock(i + 1, {})),
    ...Array.from({ length: 4 }, (_, i) =>
      sock(i + 10, { netns: 2, owners: [500], local: { addr: '198.18.1.9', port: 41000 + i }, peer: { addr: '198.18.0.1', port: 8080 } }),
    ),
  ];
  core.applyInventory({ takenAtMs: T0, sockets, processes: [proc(100, 'api'), proc(500, 'client')], problems: [] });
  return buildTopSnapshot(core.summarize(T0), { eventsPerSecond: 1, lostTotal: 0, backend: 'native (tp_btf)', problems: [] });
}

function rowOrder(frame: string, names: string[]): string[] {
  return frame
    .split('\n')
    .map((l) => names.find((n) => new RegExp(`\\b${n}\\b`).test(l) && /^\s+\d+ /.test(l)))
    .filter((n): n is string => n !== undefined);
}

describe('socktrace top', () => {
  it('shows host totals, the backend, and processes worst first with their columns', () => {
    const { lastFrame } = show(sickSnapshot());
    const frame = lastFrame()!;
    expect(frame).toMatch(/socktrace top/);
    expect(frame).toMatch(/native \(tp_btf\)/);
    expect(frame).toMatch(/events\/s 12/);
    expect(frame).toMatch(/lost 0/);
    expect(frame).toMatch(/CLOSE_WAIT 7/);
    expect(frame).toMatch(/PID\s+COMM\s+CLOSE_WAIT↓\s+OLDEST CW\s+RST>\/s\s+RST<\/s\s+PIPE\/s\s+FDS\/LIMIT/);
    const api = frame.split('\n').find((l) => /\b100 api\b/.test(l))!;
    expect(api).toMatch(/\b7\s+>=10m6s/);
    expect(api).toMatch(/20\/1024/);
    expect(rowOrder(frame, ['api', 'worker', 'cache'])[0]).toBe('api');
  });

  it('explains the findings for the selected process in the detail pane', () => {
    const frame = show(sickSnapshot()).lastFrame()!;
    expect(frame).toMatch(/\[warning\] CLOSE_WAIT leak: api \(pid 100\) holds 7 connections its peers closed over 1 min ago/);
    expect(frame).toMatch(/never called close\(\)/);
    expect(frame).toMatch(/peers: 198\.18\.1\.\d/);
    expect(frame).toMatch(/findings 2/); // the leak and cache's fd pressure
  });

  it('tells findings about one process as one outage, root cause first, above them', () => {
    const frame = show(sickSnapshot({}, T0, 32)).lastFrame()!;
    expect(frame).toMatch(/\[critical\] one outage: close_wait_leak → fd_pressure/);
    expect(frame).toMatch(/One outage of api \(pid 100\), root cause first: it never closes the connections its/);
    expect(frame.indexOf('one outage:')).toBeLessThan(frame.indexOf('CLOSE_WAIT leak: api'));
  });

  it('moves the selection and follows it into the detail pane', async () => {
    const { lastFrame, stdin } = show(sickSnapshot());
    stdin.write('j');
    await tick();
    stdin.write('j');
    await tick();
    const frame = lastFrame()!;
    expect(frame).toMatch(/cache \(pid 300\)/);
    expect(frame).toMatch(/\[critical\] File descriptors near the limit: cache \(pid 300\) uses 990 of 1000/);
  });

  it('switches views with Tab', async () => {
    const { lastFrame, stdin } = show(sickSnapshot());
    stdin.write('\t');
    await tick();
    expect(lastFrame()).toMatch(/\[Peers\]/);
    expect(lastFrame()).toMatch(/PEER\s+SIDE\s+NETNS\s+CW/); // at 100 columns, the narrow titles
    expect(lastFrame()).toMatch(/198\.18\.1\.1/);
    stdin.write('\t');
    await tick();
    expect(lastFrame()).toMatch(/\[Services\]/);
    expect(lastFrame()).toMatch(/8080\s+api\/100\s+5\/4\s+7/); // the accept queue, as ss -lnt: full
  });

  it('sorts by another column, and reverses', async () => {
    const { lastFrame, stdin } = show(sickSnapshot());
    stdin.write('\u001b[D'); // ←: from CLOSE_WAIT to COMM
    await tick();
    expect(lastFrame()).toMatch(/COMM↑/);
    expect(rowOrder(lastFrame()!, ['api', 'worker', 'cache'])).toEqual(['api', 'cache', 'worker']);
    stdin.write('r');
    await tick();
    expect(rowOrder(lastFrame()!, ['api', 'worker', 'cache'])).toEqual(['worker', 'cache', 'api']);
  });

  it('filters rows with /, and Esc clears the filter', async () => {
    const { lastFrame, stdin } = show(sickSnapshot());
    for (const key of ['/', 'w', 'o', 'r', '\r']) {
      stdin.write(key);
      await tick();
    }
    expect(rowOrder(lastFrame()!, ['api', 'worker', 'cache'])).toEqual(['worker']);
    expect(lastFrame()).toMatch(/filter: wor/);
    stdin.write('\u001b');
    await tick();
    expect(rowOrder(lastFrame()!, ['api', 'worker', 'cache'])).toHaveLength(3);
  });

  it('pauses on Space: new snapshots wait until it resumes', async () => {
    const app = show(sickSnapshot());
    app.stdin.write(' ');
    await tick();
    app.rerender(<TopApp snapshot={sickSnapshot({ 100: 'api-v2' })} />);
    await tick();
    expect(app.lastFrame()).toMatch(/PAUSED/);
    expect(app.lastFrame()).toMatch(/\bapi\b/);
    expect(app.lastFrame()).not.toMatch(/api-v2/);
    app.stdin.write(' ');
    await tick();
    expect(app.lastFrame()).toMatch(/api-v2/);
  });

  it('shows help on ?, and any key closes it', async () => {
    const { lastFrame, stdin } = show(sickSnapshot());
    stdin.write('?');
    await tick();
    expect(lastFrame()).toMatch(/Keys/);
    expect(lastFrame()).toMatch(/Space\s+pause \/ resume updates/);
    stdin.write('x');
    await tick();
    expect(lastFrame()).not.toMatch(/pause \/ resume updates/);
  });

  it('never lets a control character from a process name reach the terminal', () => {
    // Raw, as if a name had bypassed the decoder's escaping: the view must still neutralise it.
    const hostile = 'evil\u001b]0;owned\u0007\u001b[2J\n\u009b31m\u202etxt';
    const frame = show(sickSnapshot({ 100: hostile })).lastFrame()!;
    expect(frame).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(frame).toMatch(/evil\\u\{1b\}/);
    expect(frame).toMatch(/\\u\{202e\}txt/);
  });

  it('keeps every line within the terminal width', () => {
    const frame = show(sickSnapshot({ 100: 'a-very-long-process-name-indeed' })).lastFrame()!;
    for (const line of frame.split('\n')) expect([...line].length).toBeLessThanOrEqual(100);
  });

  it('fits 80 columns: flexible columns shrink first, then columns drop from the right', () => {
    // 80 columns: every process column, with short titles.
    const at80 = layoutColumns(PROCESS_COLUMNS, 79);
    expect(at80.reduce((n, c) => n + c.width + 1, 2)).toBeLessThanOrEqual(79);
    expect(at80.map((c) => c.id)).toEqual(['pid', 'comm', 'cw', 'oldest', 'rsts', 'rstr', 'broken', 'fds', 'estab', 'tw']);
    expect(at80.map((c) => c.title)).toContain('TW');
    const wide = layoutColumns(PROCESS_COLUMNS, 200);
    expect(wide.map((c) => c.title)).toContain('TIME_WAIT');
    // Narrower still: the flexible name shrinks, then columns go from the right.
    const at60 = layoutColumns(PROCESS_COLUMNS, 60);
    expect(at60.reduce((n, c) => n + c.width + 1, 2)).toBeLessThanOrEqual(60);
    expect(at60.map((c) => c.id).slice(0, 3)).toEqual(['pid', 'comm', 'cw']);
  });

  it('gives a long explanation the free space at 120x40: whole, remedy included, no bare headers', () => {
    const frame = showAt(sickSnapshot({}, T0, 32), 120, 40).lastFrame()!;
    const pane = paneText(frame);
    expect(pane).toContain(LEAK_REMEDY);
    expect(pane).toContain(FD_REMEDY);
    expect(pane).toMatch(/never called close\(\) on its side/); // the middle of the explanation too
    expectNoBareHeaders(frame);
    for (const line of frame.split('\n')) expect(line.length).toBeLessThanOrEqual(119);
  });

  it('keeps each remedy whole at 80x24, and e expands the pane to the whole explanation', async () => {
    const { lastFrame, stdin } = showAt(sickSnapshot({}, T0, 32), 80, 24);
    let pane = paneText(lastFrame()!);
    expect(pane).toContain(LEAK_REMEDY);
    expect(pane).toContain(FD_REMEDY);
    expectNoBareHeaders(lastFrame()!);
    expect(lastFrame()!.split('\n')).toHaveLength(23);
    stdin.write('e');
    await tick();
    pane = paneText(lastFrame()!);
    expect(pane).toMatch(/never called close\(\) on its side/);
    expect(lastFrame()!.split('\n').length).toBeLessThanOrEqual(23);
  });

  it('scrolls the detail pane with ] and [', async () => {
    const { lastFrame, stdin } = showAt(sickSnapshot({}, T0, 32), 80, 24);
    const before = paneText(lastFrame()!);
    stdin.write(']');
    await tick();
    const after = paneText(lastFrame()!);
    expect(after).not.toBe(before);
    expect(after).not.toMatch(/^api \(pid 100\) api --serve/); // scrolled past the title
    stdin.write('[');
    await tick();
    expect(paneText(lastFrame()!)).toMatch(/^api \(pid 100\) api --serve/);
  });

  it('handles every key of a chunk: three arrows or three j in one write move three rows', async () => {
    const { lastFrame, stdin } = show(crowdSnapshot(6));
    expect(selectedLine(lastFrame()!)).toMatch(/p0 \(pid 1000\)/);
    stdin.write('\u001b[B\u001b[B\u001b[B');
    await tick();
    expect(selectedLine(lastFrame()!)).toMatch(/p3 \(pid 1003\)/);
    stdin.write('kkk');
    await tick();
    expect(selectedLine(lastFrame()!)).toMatch(/p0 \(pid 1000\)/);
    stdin.write('jjj');
    await tick();
    expect(selectedLine(lastFrame()!)).toMatch(/p3 \(pid 1003\)/);
  });

  it('moves the sort three columns for three ← in one write', async () => {
    const { lastFrame, stdin } = show(sickSnapshot());
    stdin.write('\u001b[D\u001b[D\u001b[D'); // from CLOSE_WAIT: COMM, PID, then round to TIME_WAIT
    await tick();
    expect(lastFrame()).toMatch(/TIME_WAIT[↓↑]/);
  });

  it('aligns a row whose name has wide characters, by the cells the terminal draws', () => {
    const frame = show(sickSnapshot({ 100: '漢字サーバ' })).lastFrame()!;
    const row = expectAligned(frame, /^\s+PID\s+COMM\s+CLOSE_WAIT↓/, /CLOSE_WAIT↓/, /^\s+100 漢字サーバ\s+7/);
    expect(row).not.toMatch(/…/);
  });

  it('cuts a wide name at a character boundary when its column shrinks (60 columns)', () => {
    const frame = showAt(sickSnapshot({ 100: '漢字サーバ' }), 60, 15).lastFrame()!;
    const row = expectAligned(frame, /^\s+PID\s+COMM\s+CW↓/, /CW↓/, /^\s+100 [漢字サーバ]+…\s+7/);
    expect(row).toMatch(/^\s+100 漢字…\s+7/); // COMM is 6 cells here: two wide characters and the ellipsis
  });

  it('keeps lost events and the findings count in the header at 80x24 and 60x15, dropping decoration first', () => {
    const snap = sickSnapshot();
    const busy = { ...snap, header: { ...snap.header, backend: 'native (tp_btf+kprobe+fentry)', lostTotal: 1234, eventsPerSecond: 45678 } };
    for (const [cols, rows] of [
      [80, 24],
      [60, 15],
    ] as const) {
      const header = showAt(busy, cols, rows).lastFrame()!.split('\n')[0]!;
      expect(header).toMatch(/lost 1234/);
      expect(header).toMatch(/findings 2\b/);
      expect(header).not.toMatch(/…/);
      unmount?.();
    }
  });

  it('drops a process that exited once nothing of it remains', () => {
    const core = new SocketCore(coreConfig({}));
    core.applyInventory({ takenAtMs: T0, sockets: [sock(1, {})], processes: [proc(100, 'api')], problems: [] });
    const summary = core.summarize(T0);
    const live = summary.processes.rows[0]!;
    // Gone: no socket, no /proc entry (fds unknown), only the last minute's counters remain.
    const gone: ProcessRollup = {
      ...live,
      pid: 4242,
      comm: 'gone',
      fds: null,
      fdLimit: null,
      sockets: {},
      totalSockets: 0,
      activity: { ...live.activity, closed: { total: 3, perSecond10s: 0.3, perSecond1m: 0.05 } },
    };
    const withGone: CoreSummary = { ...summary, processes: { rows: [live, gone], omitted: 0 } };
    const snap = buildTopSnapshot(withGone, { eventsPerSecond: 1, lostTotal: 0, backend: 'native', problems: [] });
    expect(snap.processes.map((p) => p.pid)).toEqual([100]);
  });

  it("shows the findings of a listener's processes in the Services detail", async () => {
    const { lastFrame, stdin } = show(sickSnapshot({}, T0, 32));
    stdin.write('\t\t');
    await tick();
    const frame = lastFrame()!;
    expect(frame).toMatch(/port 8080/);
    expect(frame).toMatch(/\[critical\] CLOSE_WAIT leak: api \(pid 100\)/);
    expect(frame).not.toMatch(/no findings/);
  });

  it('says what Enter does now: hide the open pane, then show it', async () => {
    const { lastFrame, stdin } = show(sickSnapshot());
    expect(lastFrame()).toMatch(/Enter hide details/);
    stdin.write('\r');
    await tick();
    expect(lastFrame()).toMatch(/Enter show details/);
    expect(lastFrame()).not.toMatch(/never called close\(\)/);
  });

  it("explains an RST from a TIME_WAIT remnant in the timeline: late data for a connection closed here", () => {
    const snap = sickSnapshot();
    const story = {
      sock: 's99',
      owners: [{ pid: 100, comm: 'api' }],
      local: { addr: '198.18.0.1', port: 8080 },
      peer: { addr: '198.18.1.1', port: 40099 },
      state: 'TIME_WAIT',
      timeline: [{ atMs: T0 - 1000, step: 'rst_sent' as const, detail: 'TCP_TIMEWAIT_SOCKET' }],
    };
    const frame = showAt({ ...snap, summary: { ...snap.summary, stories: [story] } }, 120, 40).lastFrame()!;
    expect(paneText(frame)).toMatch(/latest timeline: \S+ 198\.18\.1\.1:40099 rst_sent TCP_TIMEWAIT_SOCKET \(late data for a connection already closed here: its TIME_WAIT remnant answered with RST\)/);
  });

  it('says which side and which namespace each peer is: clients of a service here, servers called', async () => {
    const { lastFrame, stdin } = show(twoNamespacesSnapshot());
    stdin.write('\t');
    await tick();
    const lines = lastFrame()!.split('\n');
    expect(lines.find((l) => /PEER\s/.test(l))).toMatch(/PEER\s+SIDE\s+NETNS/);
    expect(lines.find((l) => /^\s+198\.18\.0\.1\s/.test(l))).toMatch(/198\.18\.0\.1\s+server\s+2\s/);
    expect(lines.find((l) => /^\s+198\.18\.1\.1\s/.test(l))).toMatch(/198\.18\.1\.1\s+client\s+1\s/);
    stdin.write('g'); // 198.18.0.1 has the most sockets: first
    await tick();
    expect(paneText(lastFrame()!)).toMatch(/a server called from netns 2 \(4 sockets\)/);
  });

  it('wraps explanations after escaping: an escaped name in an explanation is never cut', () => {
    const frame = showAt(sickSnapshot({ 100: 'a\u0007b\u0007c\u0007d' }, T0, 32), 120, 40).lastFrame()!;
    const pane = frame.split('\n').slice(frame.split('\n').findIndex((l) => /^─{10}/.test(l)) + 1);
    const explanation = pane.filter((l) => /^  \S/.test(l));
    expect(explanation.length).toBeGreaterThan(3);
    for (const l of explanation) expect(l).not.toMatch(/…/);
    expect(paneText(frame)).toContain('a\\u{7}b\\u{7}c\\u{7}d (pid 100) has 7 sockets in CLOSE_WAIT');
  });

  it('keeps peer addresses whole at 80 columns: columns drop from the right first', async () => {
    const { lastFrame, stdin } = showAt(twoNamespacesSnapshot(), 80, 24);
    stdin.write('\t');
    await tick();
    const lines = lastFrame()!.split('\n');
    expect(lines.find((l) => /^\s+PEER/.test(l))).toMatch(/PEER\s+SIDE\s+NETNS\s+CW/);
    expect(lines.some((l) => /^\s+198\.18\.0\.1\s+server\s+2\s/.test(l))).toBe(true);
    expect(lines.some((l) => /^\s+198\.18\.1\.1\s+client\s+1\s/.test(l))).toBe(true);
  });
});
