/**
 * The daemon's accept-queue series: gauges from the kernel's count at the scrape (summed per process and
 * port, bounded by maxProcesses, fullest first), and overflows counted for the listener they were given to.
 */
import { expect, it } from 'vitest';
import type { ListenQueueCount, SocketCounts } from '../../src/backends/event-source.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { metricsInputs } from '../support/metrics-inputs.js';

function metrics(listenQueues: ListenQueueCount[], maxProcesses: number): DaemonMetrics {
  const counts: SocketCounts = { rows: [], listenQueues, problems: [] };
  return new DaemonMetrics(metricsInputs({ socketCounts: () => counts, maxProcesses: () => maxProcesses }));
}

const q = (pid: number | null, comm: string, port: number, queue: number, limit: number, family: 4 | 6 = 4): ListenQueueCount => ({
  pid,
  comm,
  netns: 4026531840,
  addr: family === 4 ? '0.0.0.0' : '::',
  port,
  family,
  queue,
  limit,
  listeners: 1,
});

it('gauges each process and port, IPv4 and IPv6 summed; past maxProcesses the emptiest go to comm="other"', async () => {
  const m = metrics([q(100, 'api', 8080, 5, 4), q(100, 'api', 8080, 0, 4, 6), q(200, 'web', 80, 100, 511), q(300, 'idle', 22, 0, 128), q(null, '', 9000, 1, 8)], 2);
  const text = await m.registry.metrics();
  expect(text).toMatch(/^socktrace_listen_queue\{pid="100",comm="api",port="8080"\} 5$/m);
  expect(text).toMatch(/^socktrace_listen_queue_limit\{pid="100",comm="api",port="8080"\} 8$/m);
  expect(text).toMatch(/^socktrace_listen_queue\{pid="200",comm="web",port="80"\} 100$/m);
  expect(text).toMatch(/^socktrace_listen_queue_limit\{pid="",comm="other",port="22"\} 128$/m);
  expect(text).toMatch(/^socktrace_listen_queue\{pid="",comm="",port="9000"\} 1$/m); // no owner known: named as nobody
  expect(text).not.toMatch(/pid="300"/);
});

it('counts overflows for the listener they were given to, and with empty labels when none was certain', async () => {
  const m = metrics([], 50);
  const base = { atMs: 0, netns: 1, drops: 0, peer: null, peers: [], refused: 0, queue: null, limit: null, candidates: [] };
  m.observeOverflows([
    { ...base, count: 66, proc: { pid: 100, comm: 'api' }, local: { addr: '0.0.0.0', port: 8080 }, queue: 5, limit: 4, attribution: 'only listener whose drop counter grew' },
    { ...base, count: 4, proc: null, local: null, attribution: 'several listeners dropped' },
  ]);
  const text = await m.registry.metrics();
  expect(text).toMatch(/^socktrace_listen_overflows_total\{pid="100",comm="api",port="8080"\} 66$/m);
  expect(text).toMatch(/^socktrace_listen_overflows_total\{pid="",comm="",port=""\} 4$/m);
});

it('names the reason of a received RST UNKNOWN (it is the peer kernel\'s), never an empty label', async () => {
  const m = metrics([], 50);
  const rst = (kind: 'rst_received' | 'rst_sent', reason: string | null) =>
    ({ kind, reason, owner: null, local: { addr: '198.18.0.1', port: 80 }, peer: { addr: '198.18.0.2', port: 5000 } }) as never;
  m.observe([rst('rst_received', null), rst('rst_received', null), rst('rst_sent', 'NO_SOCKET'), rst('rst_sent', null)]);
  const text = await m.registry.metrics();
  expect(text).toMatch(/^socktrace_rst_total\{direction="received",reason="UNKNOWN"\} 2$/m);
  expect(text).toMatch(/^socktrace_rst_total\{direction="sent",reason="NO_SOCKET"\} 1$/m);
  expect(text).toMatch(/^socktrace_rst_total\{direction="sent",reason="UNKNOWN"\} 1$/m);
  expect(text).not.toMatch(/reason=""/);
});
