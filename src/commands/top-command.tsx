/**
 * `socktrace top`: the live core on a full screen. Collects (live session, periodic summaries and
 * inventories) and hands each snapshot to TopApp, which only renders.
 */
import { parseCommandArgs } from './options/command-args.js';
import { CORE_OPTIONS, CORE_USAGE, coreConfigFromOptions } from './options/core-options.js';
import { parseChoice, parseSeconds, parseSize } from './options/option-values.js';
import { UsageError } from '../errors/usage-error.js';
import { startLiveSession } from '../live/live-session.js';
import type { SourceInfo } from '../backends/event-source.js';
import { BACKENDS } from '../backends/start-source.js';
import { VIEWS } from '../top/top-columns.js';
import { buildTopSnapshot, type TopSnapshot } from '../top/top-snapshot.js';

export const TOP_USAGE = `Usage: socktrace top [options]

A live, full-screen view of who leaks CLOSE_WAIT sockets, to whom, and how fast: per process, per peer
and per listening port, with RSTs, broken pipes, fds against their limit, and findings.

Options:
  --interval <seconds>   refresh period (default 1)
  --view <name>          start in processes (default), peers or services
  --reconcile <seconds>  re-take the socket inventory this often (default 10)
  --ring-bytes <size>    kernel ring buffer size (default 8M)
  --backend <auto|native|bpftrace>
                         the addon, bpftrace, or (auto, default) the addon and bpftrace if it cannot load
${CORE_USAGE}
  -h, --help             show this help

Keys: Tab view, arrows move and sort, / filter, Space pause, Enter hide/show details, e expand them,
[ ] scroll them, ? help, q quit.`;

const ENTER_ALTERNATE_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALTERNATE_SCREEN = '\x1b[?1049l';

function backendText(info: SourceInfo): string {
  const modes = new Set(info.hooks.filter((h) => h.mode !== 'missing').map((h) => h.mode));
  return `${info.backend} (${[...modes].join('+')})`;
}

export async function topCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs('top', argv, {
    interval: { type: 'string' },
    view: { type: 'string' },
    reconcile: { type: 'string' },
    'ring-bytes': { type: 'string' },
    backend: { type: 'string' },
    ...CORE_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(`${TOP_USAGE}\n`);
    return 0;
  }
  const interval = parseSeconds('--interval', values.interval) ?? 1;
  const reconcileEvery = parseSeconds('--reconcile', values.reconcile) ?? 10;
  const view = parseChoice('--view', values.view, VIEWS) ?? 'processes';
  const ringBytes = parseSize('--ring-bytes', values['ring-bytes']);
  const backendChoice = parseChoice('--backend', values.backend, BACKENDS);
  const core = { ...coreConfigFromOptions(values), rollupRows: 500 };
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new UsageError('top needs a terminal; for pipes use `socktrace snapshot` or `socktrace watch --summary <s>`');
  }

  // Ink renders only its last frame when it believes it runs in CI (CI=true): an interactive terminal
  // is no CI log, so forget that before Ink looks (it reads the environment when first imported).
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  const { render } = await import('ink');
  const { TopApp } = await import('../top/TopApp.js');

  const session = await startLiveSession({ source: { ringBytes, backend: backendChoice }, core, trackState: true }, {});
  const backend = backendText(session.source.info);
  let lastEvents = 0;
  let lastAt = Date.now();
  const snapshot = (): TopSnapshot => {
    const now = Date.now();
    const stats = session.source.stats();
    const rate = ((stats.events - lastEvents) * 1000) / Math.max(1, now - lastAt);
    lastEvents = stats.events;
    lastAt = now;
    return buildTopSnapshot(session.core.summarize(now), {
      eventsPerSecond: rate,
      lostTotal: stats.lost,
      backend,
      problems: session.startupProblems,
    });
  };

  process.stdout.write(ENTER_ALTERNATE_SCREEN);
  const leave = () => process.stdout.write(LEAVE_ALTERNATE_SCREEN);
  process.once('exit', leave); // also on a crash: never leave the terminal in the alternate screen
  const app = render(<TopApp snapshot={snapshot()} initialView={view} />, {
    // Calm: at most 10 frames a second, each written whole in one write. (Ink's incremental mode drew
    // frames one line low in the alternate screen under tmux, so it stays off.)
    maxFps: 10,
    exitOnCtrlC: true,
  });
  const refresh = setInterval(() => app.rerender(<TopApp snapshot={snapshot()} initialView={view} />), interval * 1000);
  const reconcile = setInterval(() => session.reconcile(), reconcileEvery * 1000);
  // Accept-queue overflows reach the core (and its findings) through the kernel's counters, each second.
  const overflows = setInterval(() => {
    try {
      session.sampleExchangeTimings();
      session.sampleListenOverflows();
    } catch {
      // an unreadable counter: no overflow finding this second
    }
  }, 1000);
  const onTerm = () => app.unmount();
  process.once('SIGTERM', onTerm);
  try {
    await app.waitUntilExit();
  } finally {
    clearInterval(refresh);
    clearInterval(reconcile);
    clearInterval(overflows);
    process.off('SIGTERM', onTerm);
    await session.stop();
    leave();
    process.off('exit', leave);
  }
  return 0;
}
