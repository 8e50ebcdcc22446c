/** The core's limits and finding thresholds: sensible defaults, each one configurable. */
export interface FindingThresholds {
  /** CLOSE_WAIT older than this counts toward a leak. */
  closeWaitAgeSeconds: number;
  /** A process with at least this many such sockets has a CLOSE_WAIT leak. */
  closeWaitMinSockets: number;
  /** The early warning: CLOSE_WAIT sockets younger than closeWaitAgeSeconds but at least this old… */
  closeWaitRisingAgeSeconds: number;
  /** …at least this many of them held by one process, to warn. */
  closeWaitRisingMin: number;
  /** Writes after the peer closed, per process in the last minute, that make a finding. */
  writeAfterCloseMin: number;
  /** fds / RLIMIT_NOFILE at or above this: warning; at or above fdCriticalRatio: critical. */
  fdWarnRatio: number;
  fdCriticalRatio: number;
  /** RSTs per second (sent + received, over 10 s) to or from one peer that make a storm. */
  rstStormPerSecond: number;
  /** New connections per second (over 1 min) from one process to one peer that count as churn. */
  churnPerSecond: number;
  /** Share of the ephemeral port range one local address holds toward one peer address and port. */
  ephemeralPortShare: number;
  /** Failed accepts (EMFILE, ENFILE, ENOBUFS, ENOMEM) per process in the last minute that make a finding. */
  acceptErrorsMin: number;
  /** Connects from one process to one peer that got no answer, in the last minute, that make a finding. */
  connectTimeoutsMin: number;
  /** Segments sent again per second (over 1 min) from one process to one peer that make a finding. */
  retransmitsPerSecond: number;
  /** Handshakes dropped at one full accept queue (or one namespace's, unattributed) in the last minute that make a finding. */
  listenOverflowsMin: number;
  /** Requests to one service left unanswered by clients that closed, in the last minute, that make a finding. */
  impatientClientsMin: number;
}

export interface CoreConfig {
  /** Most sockets tracked at once; beyond it the oldest are evicted (and counted). */
  maxSockets: number;
  /** Most keys per rollup (processes, peers, process-peer pairs, services) kept for rates. */
  maxRollupKeys: number;
  /** Timeline entries kept per connection. */
  maxTimelineEntries: number;
  /** Finished connections kept with their timeline because they ended with an RST or an error. */
  maxStories: number;
  /** Rollup rows reported per kind (the rest are counted as omitted). */
  rollupRows: number;
  /** Size of the ephemeral port range (net.ipv4.ip_local_port_range), for port-pressure findings. */
  ephemeralPorts: number;
  /** How long TIME_WAIT lasts (TCP_TIMEWAIT_LEN). */
  timeWaitSeconds: number;
  thresholds: FindingThresholds;
}

export const DEFAULT_THRESHOLDS: FindingThresholds = {
  closeWaitAgeSeconds: 60,
  closeWaitMinSockets: 5,
  closeWaitRisingAgeSeconds: 2,
  closeWaitRisingMin: 10,
  writeAfterCloseMin: 1,
  fdWarnRatio: 0.8,
  fdCriticalRatio: 0.95,
  rstStormPerSecond: 10,
  churnPerSecond: 20,
  ephemeralPortShare: 0.5,
  acceptErrorsMin: 1,
  connectTimeoutsMin: 1,
  retransmitsPerSecond: 5,
  listenOverflowsMin: 1,
  impatientClientsMin: 3,
};

export const DEFAULT_CORE_CONFIG: CoreConfig = {
  maxSockets: 262_144,
  maxRollupKeys: 10_000,
  maxTimelineEntries: 16,
  maxStories: 256,
  rollupRows: 100,
  ephemeralPorts: 60999 - 32768 + 1,
  timeWaitSeconds: 60,
  thresholds: DEFAULT_THRESHOLDS,
};

export function coreConfig(overrides: Partial<Omit<CoreConfig, 'thresholds'>> & { thresholds?: Partial<FindingThresholds> } = {}): CoreConfig {
  return {
    ...DEFAULT_CORE_CONFIG,
    ...overrides,
    thresholds: { ...DEFAULT_THRESHOLDS, ...overrides.thresholds },
  };
}
