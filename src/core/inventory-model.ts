/** What the core is told about the host at a moment: sockets that exist and the processes holding them. */
import type { Placement } from './placement.js';
import type { Endpoint } from '../events/sock-event.js';
import type { TcpState } from '../events/tcp-names.js';

export interface ProcessInfo {
  pid: number;
  /** Escaped (untrusted): see events/kernel-text.ts. */
  comm: string;
  /** Escaped, arguments joined by spaces, cut at a few hundred characters. */
  cmdline: string;
  uid: number;
  /** Open file descriptors now. */
  fds: number;
  /** Soft RLIMIT_NOFILE, null when unreadable or unlimited. */
  fdLimit: number | null;
  /** Start time in clock ticks after boot (/proc/<pid>/stat field 22): with the pid, the process's identity. */
  startTicks?: number;
  /** Where it lives: cgroup, systemd unit, container, pod (null or absent: unknown). */
  placement?: Placement | null;
}

/**
 * A listening socket's accept queue, as `ss -lnt` shows it: `length` connections wait for accept()
 * (Recv-Q, sk_ack_backlog) and `limit` is listen()'s backlog as the kernel capped it (Send-Q,
 * sk_max_ack_backlog; null where the source cannot say: /proc/net/tcp). The kernel drops handshakes
 * once length exceeds limit.
 */
export interface AcceptQueue {
  length: number;
  limit: number | null;
}

export interface InventorySocket {
  /** The socket cookie in hex: the same id events carry in `sock`. */
  sock: string;
  family: 4 | 6;
  netns: number;
  local: Endpoint;
  peer: Endpoint;
  state: TcpState;
  /** The socket's inode (0 for TIME_WAIT and not-yet-accepted sockets). */
  inode: number;
  uid: number;
  /** Every process holding the socket open (a socket can be shared, e.g. after fork). */
  owners: number[];
  /**
   * How long the socket has been in its state, at least, when the kernel can tell (CLOSE_WAIT: since
   * the last ACK arrived; TIME_WAIT: from its timer); null when it cannot.
   */
  ageLowerBoundMs: number | null;
  /** LISTEN sockets: the accept queue now; absent or null otherwise. */
  acceptQueue?: AcceptQueue | null;
}

export interface Inventory {
  /** Wall-clock time the inventory was taken. */
  takenAtMs: number;
  sockets: InventorySocket[];
  processes: ProcessInfo[];
  /** Namespaces or processes that could not be read, and why (nothing is skipped silently). */
  problems: string[];
}

/**
 * An inventory whose sockets are read as they are decoded (each pass anew), for consumers that apply
 * each socket and let it go: a daemon reconciling 100 000 sockets never holds them all at once.
 */
export interface StreamedInventory extends Omit<Inventory, 'sockets'> {
  sockets: Iterable<InventorySocket>;
  /** How many sockets a pass yields. */
  socketCount: number;
}
