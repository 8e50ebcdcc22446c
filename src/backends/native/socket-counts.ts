/** The kernel's socket counts (the addon's countSockets()) as the typed rows consumers read. */
import type { NativeSocketCounts } from './binding.js';
import { decodeKernelText } from '../../events/kernel-text.js';
import { TCP_STATES } from '../../events/tcp-names.js';
import type { SocketCounts } from '../event-source.js';

export function socketCountsOf(native: NativeSocketCounts): SocketCounts {
  const rows: SocketCounts['rows'] = [];
  for (const c of native.counts) {
    const state = TCP_STATES[c.state];
    if (!state || c.state === 0) continue;
    rows.push({ pid: c.pid || null, comm: c.pid ? decodeKernelText(c.comm) : '', state, queued: c.queued, count: c.count });
  }
  return { rows, problems: native.errors.map((e) => `${e.path}: ${e.message}`) };
}
