/** Names for the numbers the kernel records: TCP states, errno values and RST reasons. */

/** include/net/tcp_states.h; index = state number. */
export const TCP_STATES = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
  'BOUND_INACTIVE',
] as const;

export type TcpState = (typeof TCP_STATES)[number];

export function tcpStateName(state: number): TcpState {
  return TCP_STATES[state] ?? 'UNKNOWN';
}

/** The errno values the probes report (connection failures), by Linux number. */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  12: 'ENOMEM',
  23: 'ENFILE',
  24: 'EMFILE',
  32: 'EPIPE',
  101: 'ENETUNREACH',
  103: 'ECONNABORTED',
  104: 'ECONNRESET',
  105: 'ENOBUFS',
  110: 'ETIMEDOUT',
  111: 'ECONNREFUSED',
  113: 'EHOSTUNREACH',
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/**
 * enum sk_rst_reason as Linux 6.10-6.18 number it. Only a fallback for recorded buffers: a live tracer
 * reads the running kernel's own names from its BTF (NativeStartInfo.rstReasons), since they move.
 */
export const DEFAULT_RST_REASONS: readonly string[] = [
  'NOT_SPECIFIED',
  'NO_SOCKET',
  'TCP_INVALID_ACK_SEQUENCE',
  'TCP_RFC7323_PAWS',
  'TCP_TOO_OLD_ACK',
  'TCP_ACK_UNSENT_DATA',
  'TCP_FLAGS',
  'TCP_OLD_ACK',
  'TCP_ABORT_ON_DATA',
  'TCP_TIMEWAIT_SOCKET',
  'INVALID_SYN',
  'TCP_ABORT_ON_CLOSE',
  'TCP_ABORT_ON_LINGER',
  'TCP_ABORT_ON_MEMORY',
  'TCP_STATE',
  'TCP_KEEPALIVE_TIMEOUT',
  'TCP_DISCONNECT_WITH_DATA',
  'MPTCP_RST_EUNSPEC',
  'MPTCP_RST_EMPTCP',
  'MPTCP_RST_ERESOURCE',
  'MPTCP_RST_EPROHIBIT',
  'MPTCP_RST_EWQ2BIG',
  'MPTCP_RST_EBADPERF',
  'MPTCP_RST_EMIDDLEBOX',
  'ERROR',
];
