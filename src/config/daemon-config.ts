/** The daemon's configuration: its schema, its defaults, and how a file and flags combine. */
import { DEFAULT_THRESHOLDS, type FindingThresholds } from '../core/core-config.js';
import { EVENT_KINDS } from '../events/sock-event.js';
import { TCP_STATES } from '../events/tcp-names.js';
import type { Schema } from './config-schema.js';
import { THRESHOLD_BOUNDS } from './threshold-bounds.js';

export const LOGGED_KINDS = [...EVENT_KINDS, 'lost', 'listen_overflow'] as const;
export type LoggedKind = (typeof LOGGED_KINDS)[number];

export interface DaemonConfig {
  metrics: { listen: string; maxProcesses: number };
  log: {
    file: string;
    maxBytes: number;
    keep: number;
    level: 'debug' | 'info' | 'warn' | 'error';
    events: LoggedKind[];
    states: string[];
    rateLimit: { windowSeconds: number; maxPerKey: number };
    summarySeconds: number;
  };
  tracer: {
    ringBytes: number;
    ownerEntries: number;
    hooks: 'auto' | 'classic';
    reconcileSeconds: number;
    states: string[];
    acceptHooks: boolean;
    timeWaitOwners: boolean;
    serviceTimings: boolean;
    closeWaitDelaySeconds: number;
    backend: 'auto' | 'native' | 'bpftrace';
  };
  core: { maxSockets: number; thresholds: FindingThresholds };
}

export const DEFAULT_DAEMON_CONFIG: DaemonConfig = {
  metrics: { listen: '127.0.0.1:9637', maxProcesses: 50 },
  log: {
    file: '',
    maxBytes: 100 * 1024 * 1024,
    keep: 5,
    level: 'info',
    events: ['rst_sent', 'rst_received', 'send_error', 'recv_error', 'accept_error', 'connection_error', 'listen_overflow', 'lost', 'state_change'],
    states: ['CLOSE_WAIT'],
    rateLimit: { windowSeconds: 10, maxPerKey: 5 },
    summarySeconds: 60,
  },
  // Only changes into or out of these states cross from the kernel (the rest are counted there):
  // CLOSE_WAIT for exact leak ages, LISTEN for services; inventories keep every other count right.
  // CLOSE_WAIT is reported once a socket has stayed there closeWaitDelaySeconds (with its exact entry
  // time): most last microseconds, and sending those two events per connection cost ~1.5% of the churn
  // rate. 0 reports every CLOSE_WAIT change as it happens.
  // acceptHooks and timeWaitOwners are off: learning at each accept (an fd lookup and a map write; the
  // accept exits themselves are watched anyway, for failing accepts) and remembering closers cost more
  // per connection than they give a fleet. Without them, a socket accepted but never read or written
  // takes its listener's owner until the next inventory names it from /proc, and RSTs sent by
  // TIME_WAIT sockets carry no process (their peer and reason still count).
  tracer: {
    ringBytes: 8 * 1024 * 1024,
    ownerEntries: 262_144,
    hooks: 'auto',
    reconcileSeconds: 15,
    states: ['CLOSE_WAIT', 'LISTEN'],
    acceptHooks: false,
    timeWaitOwners: false,
    serviceTimings: true,
    closeWaitDelaySeconds: 1,
    backend: 'auto',
  },
  core: { maxSockets: 262_144, thresholds: DEFAULT_THRESHOLDS },
};

const thresholdFields: Record<string, Schema> = Object.fromEntries(
  Object.entries(THRESHOLD_BOUNDS).map(([k, b]) => [k, { kind: b.integer ? 'int' : 'number', min: b.min, max: b.max } as Schema]),
);

// restart: true marks what is fixed when the kernel side loads (map sizes, hooks, the backend) or the
// core is made; everything else a SIGHUP applies live.
export const DAEMON_SCHEMA: Schema = {
  kind: 'object',
  fields: {
    metrics: {
      kind: 'object',
      fields: { listen: { kind: 'listen' }, maxProcesses: { kind: 'int', min: 1, max: 10_000 } },
    },
    log: {
      kind: 'object',
      fields: {
        file: { kind: 'string' },
        maxBytes: { kind: 'size', min: 65_536, max: 2 ** 40 },
        keep: { kind: 'int', min: 0, max: 1000 },
        level: { kind: 'enum', values: ['debug', 'info', 'warn', 'error'] },
        events: { kind: 'list', of: { kind: 'enum', values: LOGGED_KINDS } },
        states: { kind: 'list', of: { kind: 'enum', values: TCP_STATES.slice(1) } },
        rateLimit: {
          kind: 'object',
          fields: { windowSeconds: { kind: 'number', min: 0.1, max: 86_400 }, maxPerKey: { kind: 'int', min: 1, max: 1_000_000 } },
        },
        summarySeconds: { kind: 'number', min: 1, max: 86_400, orZero: 'no summaries' },
      },
    },
    tracer: {
      kind: 'object',
      fields: {
        ringBytes: { kind: 'size', min: 4096, max: 2 ** 30, powerOfTwo: true, restart: true },
        ownerEntries: { kind: 'int', min: 1024, max: 2 ** 24, restart: true },
        hooks: { kind: 'enum', values: ['auto', 'classic'], restart: true },
        reconcileSeconds: { kind: 'number', min: 1, max: 86_400 },
        states: { kind: 'list', of: { kind: 'enum', values: TCP_STATES.slice(1) } },
        acceptHooks: { kind: 'boolean', restart: true },
        timeWaitOwners: { kind: 'boolean', restart: true },
        serviceTimings: { kind: 'boolean', restart: true },
        closeWaitDelaySeconds: { kind: 'number', min: 0.1, max: 3600, orZero: 'report every CLOSE_WAIT as it happens', restart: true },
        backend: { kind: 'enum', values: ['auto', 'native', 'bpftrace'], restart: true },
      },
    },
    core: {
      kind: 'object',
      fields: {
        maxSockets: { kind: 'int', min: 1024, max: 50_000_000, restart: true },
        thresholds: { kind: 'object', fields: thresholdFields },
      },
    },
  },
};

type Partial2<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : Partial2<T[K]>) : T[K] };
export type DaemonConfigPatch = Partial2<DaemonConfig>;

/** Defaults, then the file, then flags: objects merge key by key, lists and values replace. */
export function mergeConfig(base: DaemonConfig, ...patches: DaemonConfigPatch[]): DaemonConfig {
  const merge = (a: unknown, b: unknown): unknown => {
    if (b === undefined) return a;
    if (typeof a !== 'object' || a === null || Array.isArray(a) || typeof b !== 'object' || b === null || Array.isArray(b)) return b;
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
    return out;
  };
  return patches.reduce<DaemonConfig>((acc, p) => merge(acc, p) as DaemonConfig, base);
}
