/**
 * `socktrace daemon`: runs unattended. Logs (JSON lines, rate-limited storms, summaries, findings),
 * Prometheus metrics, SIGHUP reload, SIGTERM exit. The configuration is checked before anything is
 * loaded into the kernel.
 */
import type { Server } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { parseCommandArgs } from './options/command-args.js';
import { parseChoice } from './options/option-values.js';
import { BACKENDS } from '../backends/start-source.js';
import { UsageError } from '../errors/usage-error.js';
import { parseListen, restartOnlyPaths } from '../config/config-schema.js';
import { DAEMON_SCHEMA, DEFAULT_DAEMON_CONFIG, mergeConfig, type DaemonConfig, type DaemonConfigPatch } from '../config/daemon-config.js';
import { checkConfigFileTrust, ConfigError, loadConfigFile } from '../config/load-config.js';
import { LogPathError } from '../daemon/log-path.js';
import { coreConfig } from '../core/core-config.js';
import type { CoreSummary } from '../core/summary-model.js';
import { startLiveSession, type LiveSession } from '../live/live-session.js';
import { toEventRecord, toListenOverflowRecord, toLostRecord, type PlacementOf } from '../output/event-record.js';
import { hostCgroupIds, PlacementReader } from '../inventory/process-placement.js';
import { podDirectory, podNames } from '../inventory/pod-names.js';
import type { SockEvent } from '../events/sock-event.js';
import { toSummaryRecord } from '../output/summary-records.js';
import { sampleWallClock } from '../events/monotonic-clock.js';
import { openDaemonLog, type DaemonLog } from '../daemon/daemon-log.js';
import { rateLimitKey, shouldLog } from '../daemon/event-log-policy.js';
import { disabledHooksFor, kernelFilterFor } from '../daemon/kernel-filter.js';
import { DaemonMetrics, DEFAULT_SERVE_LIMITS, serveMetrics, type ServeLimits } from '../daemon/metrics.js';
import { FindingChanges } from '../daemon/finding-changes.js';
import { foldedRecordOf, RateLimiter } from '../daemon/rate-limiter.js';

export const DAEMON_USAGE = `Usage: socktrace daemon [--config <file>] [--metrics <host:port|off>] [--log-file <path>]
                        [--backend auto|native|bpftrace]

Runs socktrace unattended: JSON-line logs (events, storms folded into counted records, periodic
summaries, findings as warn records) and Prometheus metrics (default 127.0.0.1:9637/metrics).
Sensible defaults without a config; --config <file> (JSON or YAML) sets everything (see
packaging/socktrace.yaml); flags override the file. SIGHUP reloads the config; SIGTERM exits.`;

/** SIGTERM must end the process within 2 s: whatever is still running by then is cut short. */
const STOP_DEADLINE_MS = 1500;
/** How often findings are looked at, so one is logged within seconds of appearing, not at the next summary. */
const FINDING_CHECK_MS = 2000;
/** How long the native reader may sleep between polls (the kernel wakes it early for a full eighth of the ring). */
const DAEMON_POLL_MS = 100;

interface Flags {
  configFile?: string;
  patch: DaemonConfigPatch;
}

function parseFlags(argv: string[]): Flags & { help: boolean } {
  const values = parseCommandArgs('daemon', argv, {
    config: { type: 'string' },
    metrics: { type: 'string' },
    'log-file': { type: 'string' },
    backend: { type: 'string' },
  });
  if (values.metrics !== undefined && parseListen(values.metrics) === null) {
    throw new UsageError(`--metrics: expected host:port (e.g. 127.0.0.1:9637) or "off", got "${values.metrics}"`);
  }
  const patch: DaemonConfigPatch = {};
  if (values.metrics !== undefined) patch.metrics = { listen: values.metrics };
  if (values['log-file'] !== undefined) patch.log = { file: values['log-file'] };
  const backend = parseChoice('--backend', values.backend, BACKENDS);
  if (backend !== undefined) patch.tracer = { backend };
  return { configFile: values.config, patch, help: values.help ?? false };
}

/** Defaults <- file <- flags. Throws ConfigError (exit 2) naming the file and the key. */
function resolveConfig(flags: Flags): DaemonConfig {
  if (flags.configFile) checkConfigFileTrust(flags.configFile);
  const fromFile = flags.configFile ? loadConfigFile<DaemonConfigPatch>(flags.configFile, DAEMON_SCHEMA) : {};
  return mergeConfig(DEFAULT_DAEMON_CONFIG, fromFile, flags.patch);
}

/**
 * Opens the log the configuration names; a path that cannot be used is a usage error (exit 2) naming
 * where it came from: the flag, or the file and key.
 */
function openLogFor(flags: Flags, config: DaemonConfig): DaemonLog {
  try {
    return openDaemonLog(config.log);
  } catch (error) {
    if (!(error instanceof LogPathError)) throw error;
    if (flags.patch.log?.file !== undefined) throw new UsageError(`--log-file: ${error.message}`);
    throw new ConfigError(flags.configFile ?? '(configuration)', 'log.file', error.message);
  }
}

/** Why the daemon leaves a hook unattached, by hook (see disabledHooksFor). */
const OFF_BECAUSE: Record<string, string> = {
  tcp_destroy_sock: 'off: log.events has no destroy',
};

/**
 * File descriptors kept free for the tracer's own work (an inventory opens /proc directories and one
 * namespace file per network namespace; a log rotation opens a file): metrics connections get what is
 * left, between 1 and 64.
 */
const FD_RESERVE = 32;

function fdBudget(): { limit: number; open: number; maxConnections: number } {
  const text = readFileSyncSafe('/proc/self/limits');
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  const limit = m && m[1] !== 'unlimited' ? Number(m[1]) : 1 << 20;
  let open = 0;
  try {
    open = readdirSync('/proc/self/fd').length;
  } catch {
    open = limit; // cannot even look: assume the worst
  }
  return { limit, open, maxConnections: Math.max(1, Math.min(64, limit - open - FD_RESERVE)) };
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Keys a SIGHUP cannot apply: the schema marks them. */
const RESTART_ONLY = restartOnlyPaths(DAEMON_SCHEMA);

/** Dotted paths whose values differ between two configurations. */
function changedPaths(a: unknown, b: unknown, path = ''): string[] {
  if (typeof a === 'object' && a !== null && !Array.isArray(a) && typeof b === 'object' && b !== null && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  }
  return isDeepStrictEqual(a, b) ? [] : [path];
}

class Daemon {
  private config: DaemonConfig;
  private log: DaemonLog;
  private session!: LiveSession;
  /** The stop record is written (and the log closing): nothing more may be logged. */
  private stopLogged = false;
  private metrics!: DaemonMetrics;
  private readonly limiter: RateLimiter<Record<string, unknown>>;
  private server: Server | null = null;
  private timers: NodeJS.Timeout[] = [];
  private cachedSummary: { atMs: number; summary: CoreSummary } | null = null;
  private readonly findingChanges = new FindingChanges();
  private readonly clock = sampleWallClock();
  /** Where each owner lives (cgroup, unit, container, pod), for its log lines. */
  private readonly placements = new PlacementReader(podNames(), '/proc', hostCgroupIds());
  private readonly placementOf: PlacementOf = (o) => this.placements.of(o);
  private serveLimits: ServeLimits = DEFAULT_SERVE_LIMITS;

  constructor(
    private readonly flags: Flags,
    config: DaemonConfig,
  ) {
    this.config = config;
    this.log = openLogFor(flags, config);
    this.limiter = new RateLimiter(config.log.rateLimit.windowSeconds * 1000, config.log.rateLimit.maxPerKey);
  }

  /** Loads and attaches (the only part that touches the kernel), then serves. */
  async start(): Promise<void> {
    const config = this.config;
    // Before the session: a backend may deliver events while it starts (bpftrace's arrive while
    // socktrace waits for every probe to attach). The inputs are read only when scraped, after start.
    this.metrics = new DaemonMetrics({
      summary: () => this.summary(),
      stats: () => this.session.source.stats(),
      transitions: () => this.session.source.transitions(),
      ownerEvictions: () => this.session.source.ownerEvictions(),
      sweepStats: () => this.session.source.sweepStats(),
      socketCounts: () => this.session.source.countSockets(),
      maxProcesses: () => this.config.metrics.maxProcesses,
      podDirectory: () => podDirectory().status(),
    });
    this.session = await startLiveSession(
      {
        source: {
          ringBytes: config.tracer.ringBytes,
          ownerEntries: config.tracer.ownerEntries,
          hooks: config.tracer.hooks,
          disabledHooks: disabledHooksFor(config),
          rememberClosers: config.tracer.timeWaitOwners,
          learnAccepted: config.tracer.acceptHooks,
          measureExchanges: config.tracer.serviceTimings,
          closeWaitDelayMs: Math.round(config.tracer.closeWaitDelaySeconds * 1000),
          // Its findings are judged every 2 s: a reader waking 10 times a second, not 50 as watch's, is
          // soon enough, and each wake-up is a poll, a read of the ring and of its counters.
          pollMillis: DAEMON_POLL_MS,
          ...kernelFilterFor(config),
          backend: config.tracer.backend,
        },
        core: coreConfig({ maxSockets: config.core.maxSockets, thresholds: config.core.thresholds }),
        trackState: true,
      },
      {
        onEvents: (events) => {
          this.metrics.observe(events);
          const now = Date.now();
          const recordOf = (e: SockEvent) => toEventRecord(e, this.clock, this.placementOf) as unknown as Record<string, unknown>;
          for (const e of events) {
            if (!shouldLog(e, this.config.log)) continue;
            if (this.limiter.admit(rateLimitKey(e), () => recordOf(e), now)) this.log.logger.info(recordOf(e));
          }
        },
        onLost: (count, total) => {
          if ((this.config.log.events as string[]).includes('lost')) this.log.logger.warn(toLostRecord(count, total));
        },
        onError: (error) => this.log.logger.error({ msg: error.message }),
      },
    );
    const info = this.session.source.info;
    // Node raised the soft RLIMIT_NOFILE to the hard one as it started; what is left after loading
    // bounds the metrics connections, FD_RESERVE kept back.
    const fds = fdBudget();
    this.serveLimits = {
      maxConnections: fds.maxConnections,
      idleMs: DEFAULT_SERVE_LIMITS.idleMs,
      onScrapeFailure: (error) => this.warn(`scrape failed, answered 500 (counted in socktrace_scrape_failures_total): ${error.message}`),
    };
    const offBecause = new Set(disabledHooksFor(config));
    this.log.logger.info({
      msg: 'socktrace daemon started',
      hooks: info.hooks
        .filter((h) => !h.why.startsWith('not needed'))
        .map((h) => (h.mode === 'missing' && offBecause.has(h.name) ? `${h.name}:${OFF_BECAUSE[h.name] ?? 'off: turned off by configuration'}` : `${h.name}:${h.mode}`)),
      fds: { limit: fds.limit, openAtStart: fds.open, reserve: FD_RESERVE, metricsConnections: fds.maxConnections },
      notes: info.notes,
      closeWaitDelayMs: info.closeWaitDelayMs,
      seededOwners: this.session.seeded,
      problems: this.session.startupProblems,
      metrics: this.config.metrics.listen,
    });
    await this.openMetrics();
    this.schedule();
  }

  /** A summary at most a second old: scrapes and summaries share it. */
  private summary(): CoreSummary {
    const now = Date.now();
    if (!this.cachedSummary || now - this.cachedSummary.atMs > 1000) {
      this.cachedSummary = { atMs: now, summary: this.session.core.summarize(now) };
    }
    return this.cachedSummary.summary;
  }

  private async openMetrics(): Promise<void> {
    const listen = parseListen(this.config.metrics.listen);
    if (listen === null || listen === 'off') return;
    try {
      this.server = await serveMetrics(this.metrics, listen.host, listen.port, this.serveLimits);
      // Accept errors beyond EMFILE (which libuv absorbs) must not end the daemon.
      this.server.on('error', (error) => this.warn(`metrics server: ${error.message}`));
    } catch (error) {
      throw new Error(`cannot serve metrics on ${this.config.metrics.listen}: ${(error as Error).message}`);
    }
  }

  /** A warn record; if even that cannot be written, the daemon still goes on. */
  private warn(msg: string): void {
    try {
      this.log.logger.warn({ msg });
    } catch {
      // nowhere left to say it
    }
  }

  /** A timer's work: whatever it throws is logged, and the daemon (and its tracing) goes on. */
  private guarded(what: string, work: () => void): () => void {
    return () => {
      try {
        work();
      } catch (error) {
        this.warn(`${what} failed, skipped (tracing goes on): ${(error as Error).message}`);
      }
    };
  }

  private schedule(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [
      setInterval(() => this.reconcile(), this.config.tracer.reconcileSeconds * 1000),
      setInterval(this.guarded('draining folded records', () => this.drainFolded(false)), 1000),
      setInterval(this.guarded('sampling listen counters', () => this.sampleListenOverflows()), 1000),
      setInterval(this.guarded('sampling answer times', () => this.session.sampleExchangeTimings()), 1000),
      setInterval(this.guarded('findings', () => this.logFindingChanges()), FINDING_CHECK_MS),
    ];
    if (this.config.log.summarySeconds > 0) {
      this.timers.push(setInterval(this.guarded('summary', () => this.logSummary()), this.config.log.summarySeconds * 1000));
    }
  }

  /** Re-takes the inventory; one that cannot be taken (EMFILE, say) is skipped, counted and logged. */
  private reconcile(): void {
    let inventory;
    try {
      inventory = this.session.reconcile();
    } catch (error) {
      this.metrics.reconcileFailures.inc();
      this.warn(`reconciliation skipped (counted in socktrace_reconcile_failures_total); tracing goes on: ${(error as Error).message}`);
      return;
    }
    for (const p of inventory.problems) this.warn(`inventory: ${p}`);
    this.cachedSummary = null;
  }

  /** Accept-queue overflows since the last second: counted, and logged when listen_overflow is. */
  private sampleListenOverflows(): void {
    const overflows = this.session.sampleListenOverflows();
    this.metrics.observeOverflows(overflows);
    if (overflows.length > 0) this.cachedSummary = null;
    if (!(this.config.log.events as string[]).includes('listen_overflow')) return;
    for (const o of overflows) this.log.logger.info(toListenOverflowRecord(o));
  }

  private logSummary(): void {
    this.cachedSummary = null;
    const summary = this.summary();
    this.log.logger.info(toSummaryRecord(summary));
    this.logFindingChanges();
  }

  /** Findings that appeared, escalated, eased or cleared since the last look: logged once each. */
  private logFindingChanges(): void {
    const summary = this.summary();
    const time = new Date(summary.atMs).toISOString();
    for (const { change, finding } of this.findingChanges.update(summary.findings)) {
      const record = { time, event: 'finding', change, ...finding };
      if (change === 'appeared' || change === 'escalated') this.log.logger.warn(record);
      else this.log.logger.info(record);
    }
  }

  /** Storms the rate limiter held back, each as one record with its count. */
  private drainFolded(everything: boolean): void {
    for (const folded of this.limiter.drain(Date.now(), everything)) this.log.logger.info(foldedRecordOf(folded));
  }

  async reload(): Promise<void> {
    let next: DaemonConfig;
    try {
      next = resolveConfig(this.flags);
    } catch (error) {
      this.log.logger.error({ msg: `reload failed, keeping the running configuration: ${(error as Error).message}` });
      return;
    }
    const changed = changedPaths(this.config, next);
    const needRestart = changed.filter((p) => RESTART_ONLY.includes(p));
    if (!isDeepStrictEqual(disabledHooksFor(next), disabledHooksFor(this.config)) && !needRestart.includes('log.events')) {
      needRestart.push('log.events'); // destroy events need the tcp_destroy_sock hook, attached at start
    }
    const previous = this.config;
    // bpftrace compiled the filter into its script at start: a reload can narrow it (below), not widen it.
    if (this.session.source.info.backend === 'bpftrace' && !isDeepStrictEqual(kernelFilterFor(next), kernelFilterFor(previous))) {
      needRestart.push('what crosses from the kernel (log.events, log.states, tracer.states): the bpftrace backend keeps what it started with');
    }
    // Opening the new log is part of validating the reload: a log that cannot be opened refuses it.
    let nextLog: DaemonLog | null = null;
    if (changed.some((p) => p.startsWith('log.file') || p.startsWith('log.maxBytes') || p.startsWith('log.keep') || p === 'log.level')) {
      try {
        nextLog = openLogFor(this.flags, next);
      } catch (error) {
        this.log.logger.error({ msg: `reload failed, keeping the running configuration: ${(error as Error).message}` });
        return;
      }
    }
    this.config = next;
    if (nextLog) {
      const old = this.log;
      this.log = nextLog;
      await old.close();
    }
    this.limiter.reconfigure(next.log.rateLimit.windowSeconds * 1000, next.log.rateLimit.maxPerKey);
    Object.assign(this.session.core.config.thresholds, next.core.thresholds);
    this.session.source.setFilter(kernelFilterFor(next));
    if (next.metrics.listen !== previous.metrics.listen) {
      await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
      this.server = null;
      try {
        await this.openMetrics();
      } catch (error) {
        this.log.logger.error({ msg: (error as Error).message });
      }
    }
    this.schedule();
    this.cachedSummary = null;
    this.log.logger.info({ msg: 'configuration reloaded', changed });
    if (needRestart.length) this.log.logger.warn({ msg: 'these settings take effect at the next start', settings: needRestart });
  }

  /** A reload that failed part way (the metrics address, say): said, and the daemon goes on. */
  reportReloadFailure(error: Error): void {
    this.warn(`reload failed part way: ${error.message}`);
  }

  async stop(signal: string): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.server?.close();
    this.server?.closeAllConnections?.();
    if (!this.session) return; // it never started: nothing is attached
    const stats = await this.session.stop();
    this.drainFolded(true);
    this.log.logger.info({ msg: `socktrace daemon stopped (${signal})`, events: stats.events, lost: stats.lost, rejected: stats.rejected });
    this.stopLogged = true;
    await this.log.close();
  }

  /** The stop deadline passed: says so, with what the tracer had delivered, before the process exits. */
  cutShort(signal: string): void {
    if (this.stopLogged) return; // the stop finished and closed the log; only the exit was still to come
    const stats = this.session?.source.stats();
    this.log.logger.warn({
      msg: `socktrace daemon stopped (${signal}), cut short: the tracer had not stopped within ${STOP_DEADLINE_MS / 1000} s`,
      events: stats?.events,
      lost: stats?.lost,
      rejected: stats?.rejected,
    });
    this.log.flushSync();
  }
}

export async function daemonCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv);
  if (flags.help) {
    process.stdout.write(`${DAEMON_USAGE}\n`);
    return 0;
  }
  // Everything about the configuration (and the log it names) is settled before any BPF is loaded.
  const config = resolveConfig(flags);
  const daemon = new Daemon(flags, config);
  // SIGHUP's default action ends the process: it is handled from before the start (the start record
  // is written before the start is over), and one that comes while starting reloads once started.
  let started = false;
  let hupWhileStarting = false;
  const onHup = () => {
    if (!started) {
      hupWhileStarting = true;
      return;
    }
    void daemon.reload().catch((error: Error) => daemon.reportReloadFailure(error));
  };
  process.on('SIGHUP', onHup);
  try {
    await daemon.start();
  } catch (error) {
    process.off('SIGHUP', onHup);
    await daemon.stop('startup failure').catch(() => {});
    throw error;
  }
  started = true;
  if (hupWhileStarting) onHup();

  return await new Promise<number>((resolve) => {
    const finish = (signal: NodeJS.Signals) => {
      process.off('SIGHUP', onHup);
      // The programs detach when the process ends even if the clean path stalls.
      setTimeout(() => {
        daemon.cutShort(signal);
        process.exit(0);
      }, STOP_DEADLINE_MS).unref();
      daemon.stop(signal).finally(() => resolve(0));
    };
    process.once('SIGTERM', () => finish('SIGTERM'));
    process.once('SIGINT', () => finish('SIGINT'));
  });
}


