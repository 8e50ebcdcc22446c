/** `socktrace watch` options: parsed and validated before anything is loaded into the kernel. */
import { parseCidr } from '../../events/cidr.js';
import type { EventFilter } from '../../events/event-filter.js';
import { EVENT_KINDS } from '../../events/sock-event.js';
import { listValues, nonEmptyListValues, parseChoice, parseIntegerIn, parseSeconds, parseSize } from './option-values.js';
import { UsageError } from '../../errors/usage-error.js';
import { parseCommandArgs } from './command-args.js';
import { CORE_OPTIONS, CORE_USAGE, coreConfigFromOptions } from './core-options.js';
import type { CoreConfig } from '../../core/core-config.js';
import { BACKENDS, type Backend } from '../../backends/start-source.js';

export const WATCH_USAGE = `Usage: socktrace watch [options]

Streams TCP socket events as JSON lines, each attributed to the process that owns the socket.

Options:
  --duration <seconds>   stop after this long (default: until SIGINT/SIGTERM)
  --pid <pid>            only sockets owned by this process (repeatable, or a,b,c)
  --comm <name>          only sockets owned by processes of this name (repeatable)
  --port <port>          only sockets with this local or peer port (repeatable)
  --peer <addr|CIDR>     only sockets whose peer is in this range (repeatable)
  --events <kinds>       event kinds to print (default: all but destroy):
                         ${[...EVENT_KINDS, 'listen_overflow'].join(', ')}
  --ring-bytes <size>    kernel ring buffer size, a power of two (default 8M)
  --hooks <auto|classic> prefer tp_btf (auto) or force classic tracepoints
  --backend <auto|native|bpftrace>
                         native: the addon; bpftrace: probes/bpftrace/ through bpftrace; auto
                         (default): the addon, or bpftrace when the addon cannot load
  --summary <seconds>    also print, this often, a summary record (rollups per process, peer and
                         service) and one finding record per finding
${CORE_USAGE}
  -h, --help             show this help`;

export interface WatchOptions {
  durationSeconds?: number;
  filter: EventFilter;
  ringBytes?: number;
  hooks?: 'auto' | 'classic';
  backend?: Backend;
  summarySeconds?: number;
  core: CoreConfig;
  help: boolean;
}

/** The kernel keeps 15 bytes of a process name (TASK_COMM_LEN): a longer name never matches. */
function checkComm(name: string): string {
  const bytes = Buffer.byteLength(name);
  // An escaped name (\x1b, \u{202e}) is longer than the bytes it stands for: only plain ones are measured.
  if (bytes > 15 && !name.includes('\\')) {
    throw new UsageError(`--comm: "${name}" is ${bytes} bytes; the kernel keeps 15 bytes of a process name, so it can never match (use its first 15)`);
  }
  return name;
}

/** The kernel's event kinds, and listen_overflow: sampled from the kernel's counters, not traced. */
const WATCH_KINDS: readonly string[] = [...EVENT_KINDS, 'listen_overflow'];
const DEFAULT_KINDS = WATCH_KINDS.filter((k) => k !== 'destroy');

export function parseWatchOptions(argv: string[]): WatchOptions {
  const values = parseCommandArgs('watch', argv, {
    duration: { type: 'string' },
    pid: { type: 'string', multiple: true },
    comm: { type: 'string', multiple: true },
    port: { type: 'string', multiple: true },
    peer: { type: 'string', multiple: true },
    events: { type: 'string', multiple: true },
    'ring-bytes': { type: 'string' },
    hooks: { type: 'string' },
    backend: { type: 'string' },
    summary: { type: 'string' },
    ...CORE_OPTIONS,
  });

  const kinds = listValues(values.events);
  for (const k of kinds) {
    if (!WATCH_KINDS.includes(k)) {
      throw new UsageError(`--events: unknown event kind "${k}"; known: ${WATCH_KINDS.join(', ')}`);
    }
  }
  const filter: EventFilter = {
    pids: listValues(values.pid).map((p) => parseIntegerIn('--pid', p, 1, 2 ** 31 - 1)),
    comms: nonEmptyListValues('--comm', values.comm, 'an empty name matches no process').map(checkComm),
    ports: listValues(values.port).map((p) => parseIntegerIn('--port', p, 1, 65535, p.trim() === '0' ? "port 0 is never a connection's port" : '')),
    peers: listValues(values.peer).map(parseCidr),
    kinds: new Set(kinds.length > 0 ? kinds : DEFAULT_KINDS),
  };
  const ringBytes = parseSize('--ring-bytes', values['ring-bytes']);
  if (ringBytes !== undefined && (ringBytes < 4096 || ringBytes > 2 ** 30 || (ringBytes & (ringBytes - 1)) !== 0)) {
    throw new UsageError(`--ring-bytes: expected a power of two from 4K to 1G, got "${values['ring-bytes']}"`);
  }
  return {
    durationSeconds: parseSeconds('--duration', values.duration),
    filter,
    ringBytes,
    hooks: parseChoice('--hooks', values.hooks, ['auto', 'classic'] as const),
    backend: parseChoice('--backend', values.backend, BACKENDS),
    summarySeconds: parseSeconds('--summary', values.summary),
    core: { ...coreConfigFromOptions(values), rollupRows: 20 },
    help: values.help ?? false,
  };
}
