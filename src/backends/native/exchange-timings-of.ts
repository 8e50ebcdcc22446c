/** The kernel's answer-time histograms (the addon's exchangeTimings()) as the readings the core takes. */
import type { NativeExchangeTimings } from './binding.js';
import type { ExchangeTimings } from '../event-source.js';
import type { TimingKind } from '../../core/exchange-timings.js';
import { AF_INET, TIMING_LAYOUT } from './record-layout.js';
import { formatIPv4, formatIPv6 } from '../../events/ip-address.js';

const KIND_NAMES = new Map<number, TimingKind>(Object.entries(TIMING_LAYOUT.kinds).map(([name, code]) => [code, name as TimingKind]));

export function exchangeTimingsOf(native: NativeExchangeTimings): ExchangeTimings {
  const rows: ExchangeTimings['rows'] = [];
  for (const r of native.rows) {
    const kind = KIND_NAMES.get(r.kind);
    if (!kind) continue; // a kind this build does not know: the record-layout test keeps them equal
    rows.push({ key: r.key, netns: r.netns, port: r.port, peer: r.family === AF_INET ? formatIPv4(r.peer) : formatIPv6(r.peer), kind, buckets: r.buckets });
  }
  return { rows, misses: { ...native.misses } };
}
