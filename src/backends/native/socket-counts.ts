/** The kernel's socket counts (the addon's countSockets()) as the typed rows consumers read. */
import type { NativeSocketCounts } from './binding.js';
import { decodeKernelText } from '../../events/kernel-text.js';
import { TCP_STATES } from '../../events/tcp-names.js';
import type { ListenQueueCount, RefusedAckCount, SocketCounts } from '../event-source.js';
import { AF_INET } from './record-layout.js';
import { formatIPv4, formatIPv6 } from '../../events/ip-address.js';
import type { NamespaceRef } from '../../inventory/network-namespaces.js';

export function socketCountsOf(native: NativeSocketCounts, namespaces: readonly NamespaceRef[] = []): SocketCounts {
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
  const address = (family: number, bytes: Uint8Array) => (family === AF_INET ? formatIPv4(bytes) : formatIPv6(bytes));
  const refusedAcks: RefusedAckCount[] = (native.refusedAcks ?? []).map((r) => ({
    netns: r.netns,
    local: { addr: address(r.family, r.local), port: r.port },
    peer: address(r.family, r.peer),
    count: r.count,
  }));
  const failed = new Set(native.errors.map((e) => e.path));
  const uncounted = namespaces.filter((n) => failed.has(n.path)).map((n) => n.inode);
  return { rows, listenQueues, uncounted, refusedAcks, problems: native.errors.map((e) => `${e.path}: ${e.message}`) };
}
