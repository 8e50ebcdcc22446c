/** The typed event every consumer sees, whichever backend produced it. */
import type { TcpState } from './tcp-names.js';

export type EventKind = 'state_change' | 'rst_sent' | 'rst_received' | 'send_error' | 'recv_error' | 'destroy' | 'accept_error' | 'retransmit' | 'connection_error';

export const EVENT_KINDS: readonly EventKind[] = [
  'state_change',
  'rst_sent',
  'rst_received',
  'send_error',
  'recv_error',
  'destroy',
  'accept_error',
  'retransmit',
  'connection_error',
];

/** The kinds whose record carries an errno. */
export const ERRNO_KINDS: ReadonlySet<EventKind> = new Set(['send_error', 'recv_error', 'accept_error', 'connection_error']);

export interface Endpoint {
  addr: string;
  port: number;
}

/** Where the owner came from: see enum socktrace_owner_source in probes/socktrace_event.h. */
export type OwnerSource = 'socket' | 'listener' | 'seeded' | 'closed';

/** The process that owns the socket (not whatever task the kernel happened to run in). */
export interface Owner {
  pid: number;
  /** Escaped: safe to print anywhere (see events/kernel-text.ts). */
  comm: string;
  uid: number;
  cgroupId: number;
  /** The low 32 bits of the process's start (clock ticks after boot, /proc/<pid>/stat field 22); 0: unknown. */
  start?: number;
  source: OwnerSource;
}

export interface SockEvent {
  kind: EventKind;
  /** Kernel CLOCK_MONOTONIC nanoseconds. */
  tsNs: bigint;
  /** Stable for the socket's life: the kernel's socket cookie in hex, as `ss -e` prints it (sk:…). */
  sock: string;
  owner: Owner | null;
  /** The task that was running when the kernel emitted the event: context only, never the owner. */
  task: { pid: number; comm: string };
  family: 4 | 6 | 0;
  netns: number;
  local: Endpoint;
  peer: Endpoint;
  /** state_change: previous state. */
  oldState: TcpState | null;
  /** state_change: new state; otherwise the socket's state when it happened (null if unknown). */
  state: TcpState | null;
  /** rst_sent: the kernel's RST reason (null where the kernel does not say). */
  reason: string | null;
  /** send_error / recv_error: EPIPE, ECONNRESET, ...; accept_error: EMFILE, ENFILE, ENOBUFS, ENOMEM; connection_error: ETIMEDOUT, EHOSTUNREACH, ... */
  errno: string | null;
  /** rst_sent with no socket (e.g. answering a SYN to a closed port). */
  noSocket: boolean;
  /**
   * A CLOSE_WAIT entry the kernel held back until the socket had stayed there longer than the tracer's
   * closeWaitDelayMs (short CLOSE_WAITs never cross); tsNs is still when it entered, and task is empty.
   */
  deferred: boolean;
  /** connection_error: nothing ever acknowledged the connection (a connect that got no answer). */
  unanswered: boolean;
  flags: number;
}
