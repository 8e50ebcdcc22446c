/** The daemon's HTTP endpoint: GET and HEAD only, query strings ignored, bounded connections, failed scrapes counted. */
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { coreConfig } from '../../src/core/core-config.js';
import { SocketCore } from '../../src/core/socket-core.js';
import { DaemonMetrics, serveMetrics } from '../../src/daemon/metrics.js';
import { until } from '../support/until.js';
import { metricsInputs } from '../support/metrics-inputs.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

function metricsWith(summaryFails: () => boolean): DaemonMetrics {
  const core = new SocketCore(coreConfig());
  return new DaemonMetrics(
    metricsInputs({
      summary: () => {
        if (summaryFails()) throw new Error('EMFILE: too many open files');
        return core.summarize(Date.now());
      },
    }),
  );
}

async function serve(metrics: DaemonMetrics, limits?: Parameters<typeof serveMetrics>[3]): Promise<string> {
  server = await serveMetrics(metrics, '127.0.0.1', 0, limits);
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

it('answers GET and HEAD, 405 for any other method, and ignores query strings', async () => {
  const base = await serve(metricsWith(() => false));
  expect((await fetch(`${base}/metrics`)).status).toBe(200);
  expect((await fetch(`${base}/metrics?x=1`)).status).toBe(200);
  expect(await (await fetch(`${base}/metrics?x=1`)).text()).toContain('socktrace_events_total');
  expect((await fetch(`${base}/healthz?probe=1`)).status).toBe(200);
  const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
  expect(head.status).toBe(200);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    for (const path of ['/metrics', '/healthz']) {
      const res = await fetch(`${base}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
    }
  }
  expect((await fetch(`${base}/other`)).status).toBe(404);
});

it('counts a scrape that fails and says so, and the next one works', async () => {
  let fail = true;
  const failures: string[] = [];
  const base = await serve(metricsWith(() => fail), { maxConnections: 8, idleMs: 5000, onScrapeFailure: (e) => failures.push(e.message) });
  expect((await fetch(`${base}/metrics`)).status).toBe(500);
  expect(failures).toEqual(['EMFILE: too many open files']);
  fail = false;
  const text = await (await fetch(`${base}/metrics`)).text();
  expect(text).toMatch(/^socktrace_scrape_failures_total 1$/m);
  expect(text).toMatch(/^socktrace_reconcile_failures_total 0$/m);
});

it('holds at most maxConnections and closes idle ones', async () => {
  const base = await serve(metricsWith(() => false), { maxConnections: 4, idleMs: 2000 });
  const port = Number(new URL(base).port);
  const closedAt: number[] = [];
  const started = Date.now();
  const sockets = Array.from({ length: 10 }, () => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => closedAt.push(Date.now() - started));
    return s;
  });
  // The six beyond the bound are closed at once; the four held are closed once idle.
  await until('the connections beyond the bound to be closed', 1500, () => closedAt.length >= 6);
  expect(closedAt.length).toBe(6);
  await until('the idle connections to be closed', 10_000, () => closedAt.length === 10);
  expect(Math.min(...closedAt.slice(6))).toBeGreaterThanOrEqual(1500);
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  for (const s of sockets) s.destroy();
});
