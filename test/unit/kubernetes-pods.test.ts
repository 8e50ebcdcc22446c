/**
 * The pod directory against a local HTTPS server playing the Kubernetes API with recorded answers
 * (test/fixtures/kubernetes): a self-signed certificate made here with openssl is the CA it trusts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesPodDirectory, type PodDirectoryOptions } from '../../src/inventory/kubernetes-pods.js';
import { until } from '../support/until.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/kubernetes/${name}`, import.meta.url), 'utf8');
const PAGE1 = fixture('pods-node-a-page1.json');
const PAGE2 = fixture('pods-node-a-page2.json');
const METADATA = fixture('pods-node-a-metadata.json');
const CONTINUE = (JSON.parse(PAGE1) as { metadata: { continue: string } }).metadata.continue;

const COREDNS = '44eb3ce4-bd6f-49d1-abf3-80bc402f0c4a';
const WEB = '074a05f3-09d3-4816-b6c3-1736441a5034';
const APISERVER = '8b1f3e52-7c4d-4a9e-b0e6-5d2c1a9f8e70';
const APISERVER_HASH = '32ecd631478584789d048d97e146e4a0'; // the static pod's uid in its cgroup
const PROXY = '37566c46-d8c8-427f-88a8-40f8df26af58';
const API = '960c00cf-e07e-43f7-850a-69ba50a02f90';

interface Seen {
  query: URLSearchParams;
  path: string;
  authorization: string | undefined;
  accept: string | undefined;
}

let dir: string;
let server: Server;
let base: string;
let port: number;
const seen: Seen[] = [];
let respond: (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => void;
const directories: KubernetesPodDirectory[] = [];

function json(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(body);
}

/** The two recorded pages, the second one only for the first one's continue token. */
function paginated(_req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
  const next = query.get('continue');
  if (next === null) json(res, 200, PAGE1);
  else if (next === CONTINUE) json(res, 200, PAGE2);
  else json(res, 410, '{"kind":"Status","apiVersion":"v1","status":"Failure","message":"The provided continue parameter is too old","reason":"Expired","code":410}');
}

function directory(options: PodDirectoryOptions = {}): KubernetesPodDirectory {
  const d = new KubernetesPodDirectory({ env: {}, serviceAccountDir: dir, baseUrl: base, nodeName: 'node-a', ...options });
  directories.push(d);
  return d;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'socktrace-k8s-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'),
      '-out', join(dir, 'ca.crt'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.crt')) }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    seen.push({ query: url.searchParams, path: url.pathname, authorization: req.headers.authorization, accept: req.headers.accept });
    respond(req, res, url.searchParams);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `https://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  writeFileSync(join(dir, 'token'), 'token-1\n');
  seen.length = 0;
  respond = paginated;
});

afterEach(() => {
  for (const d of directories.splice(0)) d.stop();
  server.closeAllConnections(); // the slow answers that never end
});

describe('without in-cluster configuration it is disabled, saying why', () => {
  it.each([
    ['outside a pod', {}, /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset/],
    ['without NODE_NAME', { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, /NODE_NAME is unset/],
  ])('%s', async (_what, env, reason) => {
    const d = new KubernetesPodDirectory({ env, serviceAccountDir: dir });
    directories.push(d);
    d.start();
    expect(d.status()).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(reason), pods: 0, failures: 0 });
    expect(d.lookup(COREDNS)).toBeNull();
    await d.refresh();
    expect(seen).toEqual([]);
  });

  it('without a mounted ServiceAccount token', () => {
    const d = new KubernetesPodDirectory({
      env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '443', NODE_NAME: 'node-a' },
      serviceAccountDir: join(dir, 'absent'),
    });
    expect(d.status()).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(/no ServiceAccount token at .*absent\/token.*ENOENT/) });
  });
});

describe('listing the pods of its node', () => {
  it('from the in-cluster environment: every page, with the token, only this node, from the cache', async () => {
    const d = new KubernetesPodDirectory({
      env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port), NODE_NAME: 'node-a' },
      serviceAccountDir: dir,
    });
    directories.push(d);
    expect(d.lookup(COREDNS)).toBeNull(); // not started: nothing listed, nothing asked
    await d.refresh();

    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect(s.path).toBe('/api/v1/pods');
      expect(s.authorization).toBe('Bearer token-1');
      expect(s.query.get('fieldSelector')).toBe('spec.nodeName=node-a');
      expect(s.query.get('limit')).toBe('500');
      expect(s.accept).toMatch(/^application\/json;as=PartialObjectMetadataList;g=meta\.k8s\.io;v=v1,application\/json$/);
    }
    expect(seen[0]!.query.get('resourceVersion')).toBe('0');
    expect(seen[0]!.query.has('continue')).toBe(false);
    expect(seen[1]!.query.get('continue')).toBe(CONTINUE);
    expect(seen[1]!.query.has('resourceVersion')).toBe(false); // the API refuses both together

    expect(d.lookup(COREDNS)).toEqual({ name: 'coredns-7db6d8ff4d-x4r2v', namespace: 'kube-system' });
    expect(d.lookup(WEB)).toEqual({ name: 'web-6d4cf56db6-7x9lq', namespace: 'shop' });
    expect(d.lookup(PROXY)).toEqual({ name: 'kube-proxy-5qz8w', namespace: 'kube-system' });
    expect(d.status()).toMatchObject({ enabled: true, nodeName: 'node-a', pods: 4, refreshes: 1, failures: 0, lastError: null });
  });

  it("finds a static pod by the hash its cgroup is named with, as well as by its mirror pod's uid", async () => {
    const d = directory();
    await d.refresh();
    expect(d.lookup(APISERVER_HASH)).toEqual({ name: 'kube-apiserver-node-a', namespace: 'kube-system' });
    expect(d.lookup(APISERVER)).toEqual({ name: 'kube-apiserver-node-a', namespace: 'kube-system' });
  });

  it('reads the metadata-only list the API answers when it can', async () => {
    respond = (_req, res) => json(res, 200, METADATA);
    const d = directory({ pageLimit: 2 });
    await d.refresh();
    expect(seen[0]!.query.get('limit')).toBe('2');
    expect(d.lookup(API)).toEqual({ name: 'api-7f9c6b5d48-qk2mz', namespace: 'shop' });
    expect(d.status().pods).toBe(2);
  });

  it('re-reads the token on every refresh (bound tokens rotate)', async () => {
    const d = directory();
    await d.refresh();
    writeFileSync(join(dir, 'token'), 'token-2\n');
    await d.refresh();
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2', 'Bearer token-2']);
  });

  it('refreshes periodically in the background until stopped', async () => {
    respond = (_req, res) => json(res, 200, METADATA);
    const d = directory({ refreshIntervalMs: 30 });
    d.start();
    await until('three refreshes', 5_000, () => d.status().refreshes >= 3);
    d.stop();
    const asked = seen.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(seen.length).toBe(asked);
  });

  it('an unknown uid asks for a refresh, at most once per gap, and the answer comes from the cache later', async () => {
    let clock = 1_000_000;
    let items = METADATA;
    respond = (_req, res) => json(res, 200, items);
    const d = directory({ now: () => clock, missRefreshGapMs: 5_000 });
    d.start();
    await until('the first list', 5_000, () => d.status().refreshes === 1);
    expect(seen).toHaveLength(1);

    // A pod that started since: unknown, and too soon after the last refresh to ask again.
    const NEW = '0f3a6c1e-9b2d-4e8f-a7c5-6d1b2e3f4a5b';
    items = METADATA.replace(API, NEW);
    clock += 1_000;
    expect(d.lookup(NEW)).toBeNull();
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(1);

    clock += 5_000;
    expect(d.lookup(NEW)).toBeNull(); // never waits: the refresh runs in the background
    expect(d.lookup(NEW)).toBeNull(); // one refresh under way is enough
    await until('the refresh the unknown uid asked for', 5_000, () => d.status().refreshes === 2);
    expect(seen).toHaveLength(2);
    expect(d.lookup(NEW)).toEqual({ name: 'api-7f9c6b5d48-qk2mz', namespace: 'shop' });
    expect(d.lookup(API)).toBeNull(); // gone from the list, gone from the cache
  });
});

describe('failures are counted and kept, never thrown, and the last list stays', () => {
  const cases: Array<[string, (req: IncomingMessage, res: ServerResponse) => void, RegExp]> = [
    ['401 (a token the API no longer accepts)', (_q, res) => json(res, 401, fixture('status-401.json')), /^GET \/api\/v1\/pods: HTTP 401 Unauthorized: Unauthorized$/],
    ['403 (no RBAC for pods)', (_q, res) => json(res, 403, fixture('status-403.json')), /HTTP 403 Forbidden: pods is forbidden: User "system:serviceaccount:socktrace:socktrace" cannot list/],
    ['500 with a plain-text body', (_q, res) => { res.writeHead(500, { 'Content-Type': 'text/plain' }); res.end('etcdserver: request timed out'); }, /HTTP 500 Internal Server Error$/],
    ['a malformed body', (_q, res) => json(res, 200, PAGE1.slice(0, 700)), /the pod list is not JSON/],
    ['a Status instead of a list', (_q, res) => json(res, 200, fixture('status-403.json')), /not a pod list \(kind "Status"\)/],
    ['a connection closed mid-answer', (_q, res) => { res.writeHead(200); res.write(PAGE1.slice(0, 100)); res.socket?.destroy(); }, /GET \/api\/v1\/pods: .*(aborted|socket hang up|ECONNRESET)/],
  ];

  it.each(cases)('%s', async (_what, failure, error) => {
    const d = directory();
    await d.refresh();
    expect(d.status().refreshes).toBe(1);

    respond = failure;
    await expect(d.refresh()).resolves.toBeUndefined();
    expect(d.status()).toMatchObject({ refreshes: 1, failures: 1, consecutiveFailures: 1, pods: 4, lastError: expect.stringMatching(error) });
    expect(d.status().lastErrorAt).not.toBeNull();
    expect(d.lookup(COREDNS)).toEqual({ name: 'coredns-7db6d8ff4d-x4r2v', namespace: 'kube-system' });

    respond = paginated;
    await d.refresh();
    expect(d.status()).toMatchObject({ refreshes: 2, failures: 1, consecutiveFailures: 0 });
  });

  it('an expired continue token fails the whole refresh: a half list never replaces the cache', async () => {
    respond = (_req, res, query) => (query.has('continue') ? json(res, 410, '{"kind":"Status","message":"The provided continue parameter is too old","code":410}') : json(res, 200, PAGE1));
    const d = directory();
    await d.refresh();
    expect(d.status()).toMatchObject({ refreshes: 0, failures: 1, pods: 0, lastError: expect.stringMatching(/HTTP 410 Gone: The provided continue parameter is too old/) });
    expect(d.lookup(COREDNS)).toBeNull();
  });

  it('a CA that is not the server\'s', async () => {
    const other = mkdtempSync(join(tmpdir(), 'socktrace-k8s-other-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(other, 'key.pem'),
        '-out', join(other, 'ca.crt'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
      writeFileSync(join(other, 'token'), 'token-1\n');
      const d = directory({ serviceAccountDir: other });
      await d.refresh();
      expect(d.status()).toMatchObject({ failures: 1, lastError: expect.stringMatching(/self[- ]signed certificate/) });
      expect(seen).toEqual([]); // the token never went to a server it does not trust
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('a slow server: lookups answer from the cache meanwhile, and the request gives up at its deadline', async () => {
    const d = directory({ requestTimeoutMs: 300, missRefreshGapMs: 0 });
    d.start();
    await until('the first list', 5_000, () => d.status().refreshes === 1);

    // Trickles a byte at a time and never ends: only a deadline on the whole request stops it.
    respond = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(' ')), 20);
      res.on('close', () => clearInterval(drip));
    };
    const started = Date.now();
    const slow = d.refresh();
    const asked = seen.length;
    expect(d.lookup(COREDNS)).toEqual({ name: 'coredns-7db6d8ff4d-x4r2v', namespace: 'kube-system' });
    expect(d.lookup('00000000-0000-0000-0000-000000000000')).toBeNull(); // asks for nothing more while one is under way
    expect(Date.now() - started).toBeLessThan(100);
    await slow;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(seen.length).toBeLessThanOrEqual(asked + 1);
    expect(d.status()).toMatchObject({ failures: 1, pods: 4, lastError: 'GET /api/v1/pods: no answer within 300 ms' });
  });

  it('stop() ends a refresh under way without counting it as a failure', async () => {
    respond = () => {}; // never answers
    const d = directory();
    d.start();
    await until('the request', 5_000, () => seen.length === 1);
    const under = d.refresh();
    d.stop();
    await under;
    expect(d.status()).toMatchObject({ refreshes: 0, failures: 0, lastError: null });
  });

  it('an API that is not there', async () => {
    const d = directory({ baseUrl: 'https://127.0.0.1:1' });
    await d.refresh();
    expect(d.status()).toMatchObject({ failures: 1, lastError: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('a token file removed after start', async () => {
    const d = directory();
    rmSync(join(dir, 'token'));
    await d.refresh();
    expect(d.status()).toMatchObject({ enabled: true, failures: 1, lastError: expect.stringMatching(/cannot read the ServiceAccount: ENOENT/) });
  });

  it('escapes what the API says', async () => {
    respond = (_req, res) => json(res, 403, JSON.stringify({ kind: 'Status', message: 'no\x1b[2J\u202e', code: 403 }));
    const d = directory();
    await d.refresh();
    expect(d.status().lastError).toBe('GET /api/v1/pods: HTTP 403 Forbidden: no\\x1b[2J\\u{202e}');
  });
});
