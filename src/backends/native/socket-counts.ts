/** The kernel's socket counts (the addon's countSockets()) as the typed rows consumers read. */
import type { NativeSocketCounts } from './binding.js';
import { decodeKernelText } from '../../events/kernel-text.js';
import { TCP_STATES } from '../../events/tcp-names.js';
import type { ListenQueueCount, SocketCounts } from '../event-source.js';
import { AF_INET } from './record-layout.js';
import { formatIPv4, formatIPv6 } from '../../events/ip-address.js';

export function socketCountsOf(native: NativeSocketCounts): SocketCounts {
  const rows: SocketCounts['rows'] = [];
  for (const c of native.counts) {
    const state = TCP_STATES[c.state];
    if (!state || c.state === 0) continue;
    rows.push({ pid: c.pid || null, comm: c.pid ? decodeKernelText(c.comm) : '', state, queued: c.queued, count: c.count });
  }
  const listenQueues: ListenQueueCount[] = native.listenQueues.map((q) => ({
    pid: q.pid || null,
    comm: q.pid ? decodeKernelText(q.comm) : '',
    netns: q.netns,
    addr: q.family === AF_INET ? formatIPv4(q.addr) : formatIPv6(q.addr),
    port: q.port,
    family: q.family === AF_INET ? 4 : 6,
    queue: q.queue,
    limit: q.limit,
    listeners: q.listeners,
    drops: q.drops,
  }));
  return { rows, listenQueues, problems: native.errors.map((e) => `${e.path}: ${e.message}`) };
}
