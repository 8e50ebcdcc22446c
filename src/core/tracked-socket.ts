/** One socket as the core knows it: state, owners, peer, and the story of its connection. */
import type { Endpoint } from '../events/sock-event.js';
import type { TcpState } from '../events/tcp-names.js';
import type { AcceptQueue } from './inventory-model.js';

export interface OwnerRef {
  pid: number;
  comm: string;
}

export type TimelineStep =
  | 'opened'
  | 'peer_closed'
  | 'app_closed'
  | 'rst_sent'
  | 'rst_received'
  | 'send_error'
  | 'recv_error'
  | 'retransmit'
  | 'connection_error'
  | 'closed'
  | 'time_wait';

export interface TimelineEntry {
  atMs: number;
  step: TimelineStep;
  /** RST reason, errno, or the state the step led to. */
  detail?: string;
  /** After the peer closed: how long after its FIN this happened. */
  afterPeerCloseMs?: number;
  /**
   * The same step (and detail) again right after: counted here instead of pushing the timeline's
   * beginning out (a storm of EPIPEs would otherwise leave only EPIPEs). `lastAtMs` is the latest one.
   */
  repeats?: number;
  lastAtMs?: number;
}

export interface TrackedSocket {
  sock: string;
  family: 4 | 6 | 0;
  netns: number;
  local: Endpoint;
  peer: Endpoint;
  state: TcpState;
  /** When it entered `state` (epoch ms); at most this when stateSinceIsLowerBound. */
  stateSinceMs: number;
  /** True when the kernel could not say when the state began (sockets older than socktrace). */
  stateSinceIsLowerBound: boolean;
  /** May be shared with other sockets of the same inventory: replaced, never changed in place. */
  owners: OwnerRef[];
  /**
   * The owners came from an event (the kernel's owner then), not from an inventory: an event naming
   * nobody later means the kernel no longer vouches for them (their process exited), so they go.
   */
  ownersFromEvents: boolean;
  /**
   * Still in its listener's accept queue: no process holds it as a file yet (an inventory found no
   * inode, or the kernel named its owner through the listener).
   */
  queued: boolean;
  /** A listener's accept queue at the last inventory (null: not a listener, or not inventoried yet). */
  acceptQueue: AcceptQueue | null;
  /** When the peer's FIN arrived (CLOSE_WAIT began), if it did. */
  peerClosedAtMs: number | null;
  peerCloseIsLowerBound: boolean;
  /** The app wrote (and failed) after the peer had closed: counted once per connection. */
  wroteAfterPeerClose: boolean;
  rstSent: number;
  rstReceived: number;
  errors: number;
  /** Closed from FIN_WAIT/CLOSING without an RST: the kernel keeps a TIME_WAIT socket. */
  closedIntoTimeWait: boolean;
  /** TIME_WAIT entries the core inferred expire then. */
  expiresAtMs: number | null;
  /** Last time an event or an inventory touched it. */
  lastSeenMs: number;
  timeline: TimelineEntry[];
}
