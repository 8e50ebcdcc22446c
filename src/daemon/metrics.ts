/**
 * Prometheus metrics (prom-client): counters fed by events as they arrive, gauges computed from the
 * core when scraped. Per-process series are bounded: the `maxProcesses` with the most sockets get their
 * own, the rest are summed under comm="other".
 */
import type { PodDirectoryStatus } from '../inventory/kubernetes-pods.js';
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ServiceTimings } from '../core/exchange-timings.js';
import type { CoreSummary } from '../core/summary-model.js';
import type { ListenOverflow } from '../core/listen-overflows.js';
import type { SockEvent } from '../events/sock-event.js';
import { TCP_STATES } from '../events/tcp-names.js';
import type { SocketCounts, SourceStats } from '../backends/event-source.js';
import type { SweepStats } from '../backends/event-source.js';
import { TRANSITION_SLOTS } from '../backends/native/record-layout.js';

/** observe()'s key for received RSTs: no kernel reason name can contain a NUL. */
const RECEIVED = '\u0000received';

export interface MetricsInputs {
  /** A fresh (or recent) core summary. */
  summary(): CoreSummary;
  stats(): SourceStats;
  transitions(): number[];
  ownerEvictions(): number;
  sweepStats(): SweepStats;
  /** Every socket now, counted in the kernel by owner and state; null where the backend cannot. */
  socketCounts(): SocketCounts | null;
  maxProcesses(): number;
  /** The Kubernetes pod directory's health; absent or out of a cluster: no pod directory series. */
  podDirectory?(): PodDirectoryStatus;
}

/** Sockets by state, and by process and state, for the gauges: from one count taken at the scrape. */
interface ProcessSockets {
  pid: number;
  comm: string;
  sockets: Map<string, number>;
  total: number;
}

interface SocketGauges {
  byState: Map<string, number>;
  /** Its files: what `ss -p` lists for it. */
  byProcess: ProcessSockets[];
  /** Not its files yet: handshakes and accept queues of its listeners (the kernel's count only). */
  queuedByProcess: ProcessSockets[];
  /** Listeners' accept queues and limits per owner and port (summed over its listening sockets there). */
  listenQueues: ListenQueueRow[];
}

interface ListenQueueRow {
  pid: number | null;
  comm: string;
  port: number;
  queue: number;
  limit: number;
}

/** Sums queues per owner and port: a process listening on IPv4 and IPv6 (or in SO_REUSEPORT) has one series. */
function listenQueueRows(queues: readonly { pid: number | null; comm: string; port: number; queue: number; limit: number | null }[]): ListenQueueRow[] {
  const rows = new Map<string, ListenQueueRow>();
  for (const q of queues) {
    if (q.limit === null) continue; // a limit nobody can read makes no gauge
    const key = `${q.pid ?? ''} ${q.port}`;
    const row = rows.get(key);
    if (row) {
      row.queue += q.queue;
      row.limit += q.limit;
    } else rows.set(key, { pid: q.pid, comm: q.comm, port: q.port, queue: q.queue, limit: q.limit });
  }
  return [...rows.values()];
}

function addTo(processes: Map<number, ProcessSockets>, pid: number, comm: string, state: string, n: number): void {
  let p = processes.get(pid);
  if (!p) processes.set(pid, (p = { pid, comm, sockets: new Map(), total: 0 }));
  p.sockets.set(state, (p.sockets.get(state) ?? 0) + n);
  p.total += n;
}

/**
 * The kernel's count, as `ss` would see it at this scrape; where the backend cannot count (bpftrace),
 * the core's table, which follows events and is corrected by each inventory.
 */
function socketGauges(inputs: MetricsInputs): SocketGauges {
  let counts: SocketCounts | null = null;
  try {
    counts = inputs.socketCounts();
  } catch {
    counts = null; // a count that failed: the core's view this time
  }
  const byState = new Map<string, number>();
  if (counts) {
    const files = new Map<number, ProcessSockets>();
    const queued = new Map<number, ProcessSockets>();
    for (const r of counts.rows) {
      byState.set(r.state, (byState.get(r.state) ?? 0) + r.count);
      if (r.pid !== null) addTo(r.queued ? queued : files, r.pid, r.comm, r.state, r.count);
    }
    const listenQueues = counts.listenQueues ? listenQueueRows(counts.listenQueues) : coreListenQueues(inputs.summary());
    return { byState, byProcess: [...files.values()], queuedByProcess: [...queued.values()], listenQueues };
  }
  const summary = inputs.summary();
  for (const [state, n] of Object.entries(summary.totals.byState)) byState.set(state, n ?? 0);
  const byProcess = summary.processes.rows.map((p) => ({
    pid: p.pid,
    comm: p.comm,
    sockets: new Map(Object.entries(p.sockets).map(([s, n]) => [s, n ?? 0])),
    total: p.totalSockets,
  }));
  return { byState, byProcess, queuedByProcess: [], listenQueues: coreListenQueues(summary) };
}

/** Where the kernel's count has no queues: the last inventory's, through the core (a socket with one owner only). */
function coreListenQueues(summary: CoreSummary): ListenQueueRow[] {
  return listenQueueRows(
    summary.services.rows.flatMap((s) =>
      s.acceptQueues.map((q) => {
        const sole = q.owners.length === 1 ? q.owners[0]! : null;
        return { pid: sole?.pid ?? null, comm: sole?.comm ?? '', port: s.port, queue: q.length, limit: q.limit };
      }),
    ),
  );
}

/**
 * Sets the accept-queue gauges: the `limit` processes whose queues are fullest get their own series,
 * the rest are summed per port as comm="other"; a listener with no known owner is pid="" comm="".
 */
function setListenQueues(queue: Gauge, limitGauge: Gauge, rows: readonly ListenQueueRow[], limit: number): void {
  queue.reset();
  limitGauge.reset();
  const fill = (r: ListenQueueRow) => (r.limit > 0 ? r.queue / r.limit : r.queue);
  const pids = [...new Set(rows.filter((r) => r.pid !== null).sort((a, b) => fill(b) - fill(a) || b.queue - a.queue).map((r) => r.pid))];
  const own = new Set(pids.slice(0, limit));
  const series = new Map<string, { labels: { pid: string; comm: string; port: string }; queue: number; limit: number }>();
  for (const r of rows) {
    const mine = r.pid === null || own.has(r.pid);
    const labels = { pid: mine && r.pid !== null ? String(r.pid) : '', comm: mine ? r.comm : 'other', port: String(r.port) };
    const key = `${labels.pid} ${labels.comm} ${labels.port}`;
    const s = series.get(key) ?? { labels, queue: 0, limit: 0 };
    s.queue += r.queue;
    s.limit += r.limit;
    series.set(key, s);
  }
  for (const s of series.values()) {
    queue.set(s.labels, s.queue);
    limitGauge.set(s.labels, s.limit);
  }
}

/** Sets a per-process gauge: the `limit` processes with the most sockets, the rest as comm="other". */
function setPerProcess(gauge: Gauge, rows: readonly ProcessSockets[], limit: number): void {
  gauge.reset();
  const sorted = [...rows].sort((a, b) => b.total - a.total || (b.sockets.get('CLOSE_WAIT') ?? 0) - (a.sockets.get('CLOSE_WAIT') ?? 0));
  const other = new Map<string, number>();
  sorted.forEach((p, i) => {
    for (const [state, n] of p.sockets) {
      if (i < limit) gauge.set({ pid: String(p.pid), comm: p.comm, state }, n);
      else other.set(state, (other.get(state) ?? 0) + n);
    }
  });
  for (const [state, n] of other) gauge.set({ pid: '', comm: 'other', state }, n);
}

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly rsts: Counter;
  private readonly errors: Counter;
  private readonly acceptErrors: Counter;
  private readonly retransmits: Counter;
  private readonly connectionErrors: Counter;
  /** Processes with their own accept-error series (at most maxProcesses; later ones count as "other"). */
  private readonly acceptSeries = new Set<number>();
  private readonly maxProcesses: () => number;
  private readonly listenOverflows: Counter;
  /** Processes with their own overflow series (at most maxProcesses; later ones count as "other"). */
  private readonly overflowSeries = new Set<number>();
  private readonly scrapeFailures: Counter;
  /** Reconciliations (inventories) that could not run and were skipped. */
  readonly reconcileFailures: Counter;

  constructor(inputs: MetricsInputs) {
    const r = this.registry;
    this.rsts = new Counter({ name: 'socktrace_rst_total', help: "TCP resets by direction (sent, received) and the kernel's reason for sending (UNKNOWN: before Linux 6.10, and always for received ones, whose reason is the peer's)", labelNames: ['direction', 'reason'], registers: [r] });
    this.scrapeFailures = new Counter({ name: 'socktrace_scrape_failures_total', help: 'Scrapes of /metrics that failed (answered 500; the next one retries)', registers: [r] });
    this.reconcileFailures = new Counter({
      name: 'socktrace_reconcile_failures_total',
      help: 'Inventories that could not be taken (out of file descriptors, say) and were skipped; tracing went on',
      registers: [r],
    });
    this.maxProcesses = () => inputs.maxProcesses();
    this.acceptErrors = new Counter({
      name: 'socktrace_accept_errors_total',
      help: 'accept() calls that failed for want of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM), by calling process and errno (metrics.maxProcesses processes; later ones as comm="other")',
      labelNames: ['pid', 'comm', 'errno'],
      registers: [r],
    });
    this.retransmits = new Counter({
      name: 'socktrace_retransmits_total',
      help: 'TCP segments sent again, by phase: connect (a SYN no one answered yet) or data',
      labelNames: ['phase'],
      registers: [r],
    });
    this.connectionErrors = new Counter({
      name: 'socktrace_connection_errors_total',
      help: 'Connections the kernel ended with an error (not an RST received), by errno and whether anything had ever answered (unanswered="true": a connect that got no answer)',
      labelNames: ['errno', 'unanswered'],
      registers: [r],
    });
    this.listenOverflows = new Counter({
      name: 'socktrace_listen_overflows_total',
      help: 'Handshakes the kernel dropped because an accept queue was full (TcpExt ListenOverflows, sampled per namespace each second), by the listener they are attributed to: the one whose own drop counter (sk_drops) grew by them; pid, comm and port empty when no listener counter tells (metrics.maxProcesses processes; later ones as comm="other")',
      labelNames: ['pid', 'comm', 'port'],
      registers: [r],
    });
    this.errors = new Counter({ name: 'socktrace_socket_errors_total', help: 'Errors returned to applications on TCP sockets, by direction (send, recv) and errno', labelNames: ['direction', 'errno'], registers: [r] });

    // Totals kept elsewhere become counters by adding what grew since the last scrape.
    const counterFrom = (name: string, help: string, read: () => number) => {
      let last = 0;
      new Counter({
        name,
        help,
        registers: [r],
        collect() {
          const now = read();
          if (now > last) this.inc(now - last);
          last = Math.max(last, now);
        },
      });
    };
    counterFrom('socktrace_events_total', 'Events the kernel delivered to socktrace', () => inputs.stats().events);
    counterFrom('socktrace_events_lost_total', 'Events the kernel could not deliver (ring buffer full), counted in the kernel', () => inputs.stats().lost);
    counterFrom('socktrace_events_produced_total', 'Events the kernel produced, counted in the kernel: delivered, rejected or lost', () => inputs.stats().produced);
    counterFrom('socktrace_events_rejected_total', 'Records that did not decode', () => inputs.stats().rejected);
    counterFrom('socktrace_table_evictions_total', 'Sockets and rollup keys evicted from the tables at their caps', () => {
      const t = inputs.summary().totals;
      return t.socketEvictions + t.rollupEvictions;
    });
    counterFrom(
      'socktrace_owner_evictions_total',
      "Socket owners the kernel's owner table displaced when full; raise tracer.ownerEntries if this grows",
      () => inputs.ownerEvictions(),
    );
    counterFrom(
      'socktrace_close_wait_sweeps_total',
      'Kernel sweeps for sockets that stayed in CLOSE_WAIT past tracer.closeWaitDelaySeconds',
      () => inputs.sweepStats().runs,
    );
    counterFrom(
      'socktrace_close_wait_sweep_seconds_total',
      'Time spent in CLOSE_WAIT sweeps (each scans the table of deferred CLOSE_WAITs)',
      () => inputs.sweepStats().seconds,
    );
    counterFrom(
      'socktrace_close_wait_sweep_failures_total',
      'CLOSE_WAIT sweeps that failed (the next one retries; sockets it missed are reported then)',
      () => inputs.sweepStats().failures,
    );

    const lastTransitions = new Array<number>(TRANSITION_SLOTS).fill(0);
    new Counter({
      name: 'socktrace_state_transitions_total',
      help: 'TCP state changes by new state, counted in the kernel',
      labelNames: ['state'],
      registers: [r],
      collect() {
        inputs.transitions().forEach((n, state) => {
          const name = TCP_STATES[state];
          if (!name || state === 0 || n <= lastTransitions[state]!) return;
          this.inc({ state: name }, n - lastTransitions[state]!);
          lastTransitions[state] = n;
        });
      },
    });

    // Both socket gauges of a scrape read one count: whichever is collected first takes it.
    let gauges: { atMs: number; value: SocketGauges } | null = null;
    const scrapeGauges = () => {
      const now = Date.now();
      if (!gauges || now - gauges.atMs > 250) gauges = { atMs: now, value: socketGauges(inputs) };
      return gauges.value;
    };
    new Gauge({
      name: 'socktrace_sockets',
      help: 'TCP sockets on the host by state, counted in the kernel at the scrape (as ss sees them)',
      labelNames: ['state'],
      registers: [r],
      collect() {
        this.reset();
        for (const [state, n] of scrapeGauges().byState) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'socktrace_process_sockets',
      help: 'TCP sockets per owning process and state, counted at the scrape (the processes with the most sockets; the rest as comm="other")',
      labelNames: ['pid', 'comm', 'state'],
      registers: [r],
      collect() {
        setPerProcess(this, scrapeGauges().byProcess, inputs.maxProcesses());
      },
    });
    new Gauge({
      name: 'socktrace_process_queued_sockets',
      help: "TCP sockets not yet a process's files, per owner of their listener and state: handshakes and accept queues (the processes with the most; the rest as comm=\"other\")",
      labelNames: ['pid', 'comm', 'state'],
      registers: [r],
      collect() {
        setPerProcess(this, scrapeGauges().queuedByProcess, inputs.maxProcesses());
      },
    });
    // Queue and limit come from the same count; the limit's collect sets both, so they cannot disagree.
    const listenQueue = new Gauge({
      name: 'socktrace_listen_queue',
      help: "Connections waiting in listeners' accept queues per owning process and port, counted at the scrape (ss -lnt Recv-Q; the metrics.maxProcesses processes with the fullest queues; the rest as comm=\"other\")",
      labelNames: ['pid', 'comm', 'port'],
      registers: [r],
      collect() {
        setListenQueues(this, listenQueueLimit, scrapeGauges().listenQueues, inputs.maxProcesses());
      },
    });
    const listenQueueLimit = new Gauge({
      name: 'socktrace_listen_queue_limit',
      help: "Listeners' accept queue limits (listen()'s backlog, capped by net.core.somaxconn) per owning process and port, counted at the scrape (ss -lnt Send-Q); the kernel drops handshakes once the queue exceeds it",
      labelNames: ['pid', 'comm', 'port'],
      registers: [r],
      collect() {
        setListenQueues(listenQueue, this, scrapeGauges().listenQueues, inputs.maxProcesses());
      },
    });
    new Gauge({
      name: 'socktrace_process_close_wait_oldest_seconds',
      help: 'Age of the oldest CLOSE_WAIT socket per process (a lower bound for sockets older than socktrace)',
      labelNames: ['pid', 'comm'],
      registers: [r],
      collect() {
        this.reset();
        const rows = inputs.summary().processes.rows.filter((p) => p.closeWait.oldestSeconds !== null);
        rows.sort((a, b) => b.closeWait.count - a.closeWait.count);
        for (const p of rows.slice(0, inputs.maxProcesses())) this.set({ pid: String(p.pid), comm: p.comm }, p.closeWait.oldestSeconds!);
      },
    });
    // Where processes live, as labels to join on (one series per process, so no other series grows).
    new Gauge({
      name: 'socktrace_process_info',
      help:
        'Where each process with sockets lives, always 1: join on pid (group_left) to give any per-process series its systemd unit, ' +
        'container and Kubernetes pod (the metrics.maxProcesses processes with the most sockets; empty labels where unknown)',
      labelNames: ['pid', 'comm', 'unit', 'container_runtime', 'container_id', 'k8s_namespace', 'k8s_pod', 'k8s_pod_uid'],
      registers: [r],
      collect() {
        this.reset();
        const rows = [...inputs.summary().processes.rows].sort((a, b) => b.totalSockets - a.totalSockets);
        for (const p of rows.slice(0, inputs.maxProcesses())) {
          const where = p.placement;
          this.set(
            {
              pid: String(p.pid),
              comm: p.comm,
              unit: where?.unit ?? '',
              container_runtime: where?.container?.runtime ?? '',
              container_id: where?.container?.id.slice(0, 12) ?? '',
              k8s_namespace: where?.pod?.namespace ?? '',
              k8s_pod: where?.pod?.name ?? '',
              k8s_pod_uid: where?.pod?.uid ?? '',
            },
            1,
          );
        }
      },
    });
    // Services' answer times over the last minute, from the kernel's histograms (one series per quantile).
    const servicesTimed = () => {
      const rows = inputs.summary().services.rows.filter((s) => s.timings !== null);
      rows.sort((a, b) => (b.timings!.clientWait?.count ?? 0) - (a.timings!.clientWait?.count ?? 0) || (b.timings!.latency?.count ?? 0) - (a.timings!.latency?.count ?? 0));
      return rows.slice(0, inputs.maxProcesses()).map((s) => {
        const owner = s.listeners.length === 1 ? s.listeners[0]! : null; // shared or unknown: no one is named
        return { labels: { pid: owner ? String(owner.pid) : '', comm: owner?.comm ?? '', port: String(s.port) }, timings: s.timings! };
      });
    };
    const quantileGauge = (name: string, help: string, pick: (t: ServiceTimings) => { p50Seconds: number; p99Seconds: number } | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['pid', 'comm', 'port', 'quantile'],
        registers: [r],
        collect() {
          this.reset();
          for (const { labels, timings } of servicesTimed()) {
            const q = pick(timings);
            if (!q) continue;
            this.set({ ...labels, quantile: '0.5' }, q.p50Seconds);
            this.set({ ...labels, quantile: '0.99' }, q.p99Seconds);
          }
        },
      });
    quantileGauge(
      'socktrace_service_answer_seconds',
      "A service's time from a request to its answer over the last minute (answers sent after the client left included), measured in the kernel; pid and comm empty when its listeners are shared or unknown",
      (t) => t.latency,
    );
    quantileGauge(
      'socktrace_service_client_wait_seconds',
      "How long a service's clients waited before closing with a request unanswered, over the last minute: their timeout",
      (t) => t.clientWait,
    );
    new Gauge({
      name: 'socktrace_service_abandoned_requests',
      help: "Requests a service's clients left unanswered (closed before the answer) in the last minute",
      labelNames: ['pid', 'comm', 'port'],
      registers: [r],
      collect() {
        this.reset();
        for (const { labels, timings } of servicesTimed()) this.set(labels, timings.clientWait?.count ?? 0);
      },
    });
    new Gauge({
      name: 'socktrace_timing_misses',
      help: "Answer-time samples the kernel's tables had no room for, since start: what=peer (counted under the service's all-zero client address), lost (not counted), late (a late answer not measured)",
      labelNames: ['what'],
      registers: [r],
      collect() {
        const m = inputs.summary().totals.timingMisses;
        this.set({ what: 'peer' }, m.peer);
        this.set({ what: 'lost' }, m.lost);
        this.set({ what: 'late' }, m.late);
      },
    });
    // Pod names come from the Kubernetes API: series only in a cluster, labelled with the node listed.
    const podDirectory = () => {
      const status = inputs.podDirectory?.();
      return status?.inCluster ? status : null;
    };
    new Gauge({
      name: 'socktrace_pod_directory_up',
      help: "1 when the last listing of this node's pods from the Kubernetes API worked, 0 when it failed or cannot run (pods are then named by uid alone; socktrace doctor says why). Only in a Kubernetes pod",
      labelNames: ['node'],
      registers: [r],
      collect() {
        this.reset();
        const p = podDirectory();
        if (p) this.set({ node: p.nodeName ?? '' }, p.enabled && p.consecutiveFailures === 0 && p.lastSuccessAt !== null ? 1 : 0);
      },
    });
    new Gauge({
      name: 'socktrace_pod_directory_pods',
      help: "Pods of this node known from the Kubernetes API's last listing. Only in a Kubernetes pod",
      labelNames: ['node'],
      registers: [r],
      collect() {
        this.reset();
        const p = podDirectory();
        if (p) this.set({ node: p.nodeName ?? '' }, p.pods);
      },
    });
    let lastPodFailures = 0;
    new Counter({
      name: 'socktrace_pod_directory_failures_total',
      help: "Listings of this node's pods from the Kubernetes API that failed. Only in a Kubernetes pod",
      labelNames: ['node'],
      registers: [r],
      collect() {
        const p = podDirectory();
        if (!p) return;
        this.inc({ node: p.nodeName ?? '' }, Math.max(0, p.failures - lastPodFailures));
        lastPodFailures = Math.max(lastPodFailures, p.failures);
      },
    });
    new Gauge({
      name: 'socktrace_findings',
      help: 'Current findings by kind and severity, and the process each is about (pid and comm empty for a peer or an address)',
      labelNames: ['kind', 'severity', 'pid', 'comm'],
      registers: [r],
      collect() {
        this.reset();
        for (const f of inputs.summary().findings) {
          this.inc({ kind: f.kind, severity: f.severity, pid: f.subject.pid === undefined ? '' : String(f.subject.pid), comm: f.subject.comm ?? '' });
        }
      },
    });
  }

  /** The exposition text; a failure is counted (and shows in the next scrape that works). */
  async scrape(): Promise<string> {
    try {
      return await this.registry.metrics();
    } catch (error) {
      this.scrapeFailures.inc();
      throw error;
    }
  }

  /** Counted per batch first: a counter increment with labels costs far more than a Map update. */
  /** Overflows sampled from the kernel's counters: each counted for its listener, when attributed. */
  observeOverflows(overflows: readonly ListenOverflow[]): void {
    for (const o of overflows) {
      const pid = o.proc?.pid ?? 0;
      if (pid && !this.overflowSeries.has(pid) && this.overflowSeries.size < this.maxProcesses()) this.overflowSeries.add(pid);
      const labels =
        o.proc && o.local
          ? this.overflowSeries.has(pid)
            ? { pid: String(pid), comm: o.proc.comm, port: String(o.local.port) }
            : { pid: '', comm: 'other', port: String(o.local.port) }
          : { pid: '', comm: '', port: o.local ? String(o.local.port) : '' };
      this.listenOverflows.inc(labels, o.count);
    }
  }

  observe(events: readonly SockEvent[]): void {
    const rsts = new Map<string, number>();
    const errors = new Map<string, number>();
    const accepts = new Map<string, { pid: string; comm: string; errno: string; n: number }>();
    const bump = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
    let connectRetransmits = 0;
    let dataRetransmits = 0;
    const connectionErrors = new Map<string, number>();
    for (const e of events) {
      if (e.kind === 'retransmit') {
        if (e.state === 'SYN_SENT') connectRetransmits++;
        else dataRetransmits++;
        continue;
      }
      if (e.kind === 'connection_error') {
        bump(connectionErrors, `${e.errno ?? 'UNKNOWN'} ${e.unanswered}`);
        continue;
      }
      if (e.kind === 'accept_error') {
        const pid = e.owner?.pid ?? 0;
        if (pid && !this.acceptSeries.has(pid) && this.acceptSeries.size < this.maxProcesses()) this.acceptSeries.add(pid);
        const own = this.acceptSeries.has(pid);
        const labels = { pid: own ? String(pid) : '', comm: own ? e.owner!.comm : 'other', errno: e.errno ?? 'UNKNOWN' };
        const key = `${labels.pid} ${labels.comm} ${labels.errno}`;
        const entry = accepts.get(key) ?? { ...labels, n: 0 };
        entry.n++;
        accepts.set(key, entry);
        continue;
      }
      if (e.kind === 'rst_sent') bump(rsts, e.reason ?? 'UNKNOWN');
      else if (e.kind === 'rst_received') bump(rsts, RECEIVED);
      else if (e.kind === 'send_error') bump(errors, `send ${e.errno ?? 'UNKNOWN'}`);
      else if (e.kind === 'recv_error') bump(errors, `recv ${e.errno ?? 'UNKNOWN'}`);
    }
    for (const [reason, n] of rsts) {
      // A received RST carries no reason (the peer's kernel had one): named UNKNOWN, never an empty label.
      this.rsts.inc(reason === RECEIVED ? { direction: 'received', reason: 'UNKNOWN' } : { direction: 'sent', reason }, n);
    }
    for (const { n, ...labels } of accepts.values()) this.acceptErrors.inc(labels, n);
    if (connectRetransmits) this.retransmits.inc({ phase: 'connect' }, connectRetransmits);
    if (dataRetransmits) this.retransmits.inc({ phase: 'data' }, dataRetransmits);
    for (const [key, n] of connectionErrors) {
      const [errno, unanswered] = key.split(' ') as [string, string];
      this.connectionErrors.inc({ errno, unanswered }, n);
    }
    for (const [key, n] of errors) {
      const [direction, errno] = key.split(' ') as [string, string];
      this.errors.inc({ direction, errno }, n);
    }
  }
}

export interface ServeLimits {
  /** Connections held at once; more are closed as they arrive (each one holds a file descriptor). */
  maxConnections: number;
  /** A connection that sends nothing for this long is closed. */
  idleMs: number;
  /** A scrape that could not be answered (already counted in socktrace_scrape_failures_total). */
  onScrapeFailure?(error: Error): void;
}

export const DEFAULT_SERVE_LIMITS: ServeLimits = { maxConnections: 64, idleMs: 10_000 };

/**
 * Serves /metrics and /healthz (GET and HEAD only, query strings ignored, as Prometheus exporters do);
 * resolves once listening, rejects with the bind error. Connections are bounded in number and idle
 * time: a host's file descriptors are not for whoever can reach the port to hold.
 */
export function serveMetrics(metrics: DaemonMetrics, host: string, port: number, limits: ServeLimits = DEFAULT_SERVE_LIMITS): Promise<Server> {
  const server = createServer({ requestTimeout: limits.idleMs, headersTimeout: limits.idleMs, keepAliveTimeout: Math.min(5000, limits.idleMs), connectionsCheckingInterval: Math.min(1000, limits.idleMs) }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if ((path === '/metrics' || path === '/healthz') && req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' });
      res.end('only GET and HEAD\n');
    } else if (path === '/metrics') {
      metrics
        .scrape()
        .then((body) => {
          res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
          res.end(body);
        })
        .catch((error: Error) => {
          limits.onScrapeFailure?.(error);
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`metrics failed: ${error.message}\n`);
        });
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('try /metrics or /healthz\n');
    }
  });
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.idleMs, (socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
