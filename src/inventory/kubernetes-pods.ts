/**
 * Pod names for the pod uids the cgroups show: the pods of this node, listed from the Kubernetes API
 * with the pod's in-cluster configuration (the ServiceAccount token and CA the kubelet mounts, the
 * API's address from KUBERNETES_SERVICE_HOST/PORT, the node from NODE_NAME, set by the DaemonSet from
 * spec.nodeName).
 *
 * Lookups answer from a cache and never wait or throw: a refresh runs in the background every 30 s,
 * and sooner (rate-limited) when a uid is not known yet, e.g. a pod that just started. A failed
 * refresh keeps the last list; its error is counted and kept for doctor and the metrics.
 */
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { escapeUntrustedText } from '../events/kernel-text.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface PodName {
  name: string;
  namespace: string;
}

export interface PodDirectoryOptions {
  /** Where KUBERNETES_SERVICE_HOST/PORT and NODE_NAME are read (process.env). */
  env?: Record<string, string | undefined>;
  /** The ServiceAccount's token and ca.crt (the kubelet's mount). */
  serviceAccountDir?: string;
  /** The API's base URL, e.g. https://10.96.0.1:443 (from KUBERNETES_SERVICE_HOST/PORT). */
  baseUrl?: string;
  /** The node whose pods are listed (NODE_NAME). */
  nodeName?: string;
  refreshIntervalMs?: number;
  /** The shortest time between two refreshes that unknown uids ask for. */
  missRefreshGapMs?: number;
  /** The longest one request (one page) may take. */
  requestTimeoutMs?: number;
  pageLimit?: number;
  maxPageBytes?: number;
  now?: () => number;
}

export interface PodDirectoryStatus {
  /** Whether this process runs in a Kubernetes pod (KUBERNETES_SERVICE_HOST/PORT set). */
  inCluster: boolean;
  enabled: boolean;
  /** Why the directory is disabled; null when enabled. */
  disabledReason: string | null;
  nodeName: string | null;
  /** Pods of the node in the cache. */
  pods: number;
  /** Refreshes that listed every page. */
  refreshes: number;
  failures: number;
  consecutiveFailures: number;
  lastError: string | null;
  /** Epoch ms. */
  lastErrorAt: number | null;
  lastSuccessAt: number | null;
}

/** The kubelet names a static pod's cgroup by this hash; the API's mirror pod has another uid. */
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
/** Metadata only when the API offers it (a pod's spec and status are most of its size), the full PodList otherwise. */
const ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const MAX_ERROR_CHARS = 400;

class RefreshError extends Error {}
/** stop() during a refresh: not the API's failure. */
class Stopped extends RefreshError {}

export class KubernetesPodDirectory {
  private readonly disabledReason: string | null;
  private readonly baseUrl: string | null;
  private readonly nodeName: string | null;
  private readonly dir: string;
  private readonly refreshIntervalMs: number;
  private readonly missRefreshGapMs: number;
  private readonly requestTimeoutMs: number;
  private readonly pageLimit: number;
  private readonly maxPageBytes: number;
  private readonly now: () => number;

  private pods = new Map<string, PodName>();
  private podCount = 0;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private abortCurrent: ((error: Error) => void) | undefined;
  private lastStartedAt = -Infinity;
  private refreshes = 0;
  private failures = 0;
  private consecutiveFailures = 0;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;
  private lastSuccessAt: number | null = null;

  constructor(options: PodDirectoryOptions = {}) {
    const env = options.env ?? process.env;
    this.dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 30_000;
    this.missRefreshGapMs = options.missRefreshGapMs ?? 5_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.pageLimit = options.pageLimit ?? 500;
    this.maxPageBytes = options.maxPageBytes ?? 64 * 1024 * 1024;
    this.now = options.now ?? Date.now;

    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    this.baseUrl = options.baseUrl ?? (host && port ? `https://${host.includes(':') ? `[${host}]` : host}:${port}` : null);
    this.nodeName = options.nodeName ?? (env.NODE_NAME || null);

    let reason: string | null = null;
    if (this.baseUrl === null) reason = 'not in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset';
    else if (this.nodeName === null) reason = 'NODE_NAME is unset (the DaemonSet sets it from spec.nodeName)';
    else {
      try {
        readFileSync(`${this.dir}/token`);
      } catch (error) {
        reason = `no ServiceAccount token at ${this.dir}/token (automountServiceAccountToken: false?): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
      }
    }
    this.disabledReason = reason;
  }

  get enabled(): boolean {
    return this.disabledReason === null;
  }

  /** Lists the pods now and then every refreshIntervalMs, in the background. */
  start(): void {
    if (!this.enabled || this.running) return;
    this.running = true;
    void this.refresh();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abortCurrent?.(new Stopped('stopped'));
  }

  /** The pod with this uid (as the cgroup shows it), from the cache; null when not (yet) known. */
  lookup(podUid: string): PodName | null {
    try {
      const pod = this.pods.get(podUid);
      if (pod) return pod;
      if (this.running && this.inFlight === undefined && this.now() - this.lastStartedAt >= this.missRefreshGapMs) void this.refresh();
      return null;
    } catch {
      return null;
    }
  }

  status(): PodDirectoryStatus {
    return {
      inCluster: this.baseUrl !== null,
      enabled: this.enabled,
      disabledReason: this.disabledReason,
      nodeName: this.nodeName,
      pods: this.podCount,
      refreshes: this.refreshes,
      failures: this.failures,
      consecutiveFailures: this.consecutiveFailures,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastSuccessAt: this.lastSuccessAt,
    };
  }

  /** Lists the node's pods once (joining one under way). Never rejects. */
  refresh(): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    if (this.inFlight) return this.inFlight;
    clearTimeout(this.timer);
    this.lastStartedAt = this.now();
    this.inFlight = this.listAll()
      .then(({ pods, count }) => {
        this.pods = pods;
        this.podCount = count;
        this.refreshes++;
        this.consecutiveFailures = 0;
        this.lastSuccessAt = this.now();
      })
      .catch((error: unknown) => {
        if (error instanceof Stopped) return;
        this.failures++;
        this.consecutiveFailures++;
        this.lastError = escapeUntrustedText(String((error as Error)?.message ?? error)).slice(0, MAX_ERROR_CHARS);
        this.lastErrorAt = this.now();
      })
      .finally(() => {
        this.inFlight = undefined;
        this.abortCurrent = undefined;
        if (this.running) {
          this.timer = setTimeout(() => void this.refresh(), this.refreshIntervalMs);
          this.timer.unref();
        }
      });
    return this.inFlight;
  }

  /** Every page of the node's pods; the cache is replaced only by a complete list. */
  private async listAll(): Promise<{ pods: Map<string, PodName>; count: number }> {
    // Read on every refresh: bound tokens rotate (the kubelet rewrites the file), and so may the CA.
    let token: string;
    let ca: Buffer;
    try {
      token = readFileSync(`${this.dir}/token`, 'utf8').trim();
      ca = readFileSync(`${this.dir}/ca.crt`);
    } catch (error) {
      throw new RefreshError(`cannot read the ServiceAccount: ${(error as Error).message}`);
    }
    const pods = new Map<string, PodName>();
    let count = 0;
    let continueToken: string | null = null;
    for (let page = 0; ; page++) {
      const query = new URLSearchParams({ fieldSelector: `spec.nodeName=${this.nodeName}`, limit: String(this.pageLimit) });
      // resourceVersion=0 lets the API server answer from its cache instead of etcd (every node
      // lists every 30 s); a continued list must not name one.
      if (continueToken === null) query.set('resourceVersion', '0');
      else query.set('continue', continueToken);
      const path = `/api/v1/pods?${query.toString()}`;
      const body = await this.get(path, token, ca);
      const list = parsePodList(body);
      for (const pod of list.pods) {
        count++;
        pods.set(pod.uid, { name: pod.name, namespace: pod.namespace });
        if (pod.mirrorOf !== null) pods.set(pod.mirrorOf, { name: pod.name, namespace: pod.namespace });
      }
      continueToken = list.continueToken;
      if (continueToken === null) break;
      if (page > 10_000) throw new RefreshError('the API never ended the list');
    }
    return { pods, count };
  }

  private get(path: string, token: string, ca: Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(path, this.baseUrl!);
      } catch (error) {
        reject(new RefreshError(`bad API address ${this.baseUrl}: ${(error as Error).message}`));
        return;
      }
      const what = 'GET /api/v1/pods';
      const options: RequestOptions = {
        method: 'GET',
        ca,
        agent: false, // a connection per refresh: one every 30 s needs no pool, and the CA may change
        headers: { Authorization: `Bearer ${token}`, Accept: ACCEPT, 'User-Agent': 'socktrace' },
      };
      let settled = false;
      const finish = (error: Error | null, body?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (error) {
          req.destroy();
          reject(error);
        } else resolve(body!);
      };
      const req = request(url, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxPageBytes) finish(new RefreshError(`${what}: answer larger than ${this.maxPageBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', (error) => finish(new RefreshError(`${what}: ${error.message}`)));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) finish(null, body);
          else finish(new RefreshError(`${what}: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() + statusMessage(body)));
        });
      });
      // A deadline for the whole request: a server that trickles bytes never lets a socket idle out.
      const deadline = setTimeout(() => finish(new RefreshError(`${what}: no answer within ${this.requestTimeoutMs} ms`)), this.requestTimeoutMs);
      deadline.unref();
      this.abortCurrent = (error) => finish(error);
      req.on('error', (error) => finish(new RefreshError(`${what}: ${error.message}`)));
      req.end();
    });
  }
}

/** The message of a Kubernetes Status body (401, 403 ...), if that is what the body is. */
function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { kind?: unknown; message?: unknown };
    if (status?.kind === 'Status' && typeof status.message === 'string') return `: ${status.message}`;
  } catch {
    // not JSON: the status line says enough
  }
  return '';
}

interface ListedPod {
  uid: string;
  name: string;
  namespace: string;
  mirrorOf: string | null;
}

/** A PodList or PartialObjectMetadataList page: its pods' metadata and the continue token. */
export function parsePodList(body: string): { pods: ListedPod[]; continueToken: string | null } {
  let list: unknown;
  try {
    list = JSON.parse(body);
  } catch (error) {
    throw new RefreshError(`the pod list is not JSON: ${(error as Error).message}`);
  }
  const l = list as { kind?: unknown; items?: unknown; metadata?: { continue?: unknown } } | null;
  if (typeof l !== 'object' || l === null || !Array.isArray(l.items)) throw new RefreshError(`the answer is not a pod list (kind ${JSON.stringify(l?.kind ?? null)})`);
  if (l.kind !== 'PodList' && l.kind !== 'PartialObjectMetadataList') throw new RefreshError(`the answer is a ${JSON.stringify(l.kind)}, not a PodList`);
  const pods: ListedPod[] = [];
  for (const item of l.items as unknown[]) {
    const m = (item as { metadata?: Record<string, unknown> } | null)?.metadata;
    if (!m || typeof m.uid !== 'string' || typeof m.name !== 'string' || typeof m.namespace !== 'string') continue;
    const mirror = (m.annotations as Record<string, unknown> | undefined)?.[MIRROR_ANNOTATION];
    pods.push({
      uid: m.uid,
      name: escapeUntrustedText(m.name),
      namespace: escapeUntrustedText(m.namespace),
      mirrorOf: typeof mirror === 'string' && mirror !== '' ? mirror : null,
    });
  }
  const next = l.metadata?.continue;
  return { pods, continueToken: typeof next === 'string' && next !== '' ? next : null };
}
