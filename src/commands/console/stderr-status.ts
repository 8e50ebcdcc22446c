/** Human-readable status on stderr, so stdout stays pure JSON lines. */
import type { SourceInfo, SourceStats } from '../../backends/event-source.js';

/**
 * The one place socktrace's name is put before what it says on stderr: errors and status lines alike
 * (messages are written without it, so they read the same in logs, notes and doctor).
 */
export function status(message: string): void {
  process.stderr.write(`socktrace: ${message}\n`);
}

export function describeHooks(info: SourceInfo): string {
  const byMode = new Map<string, string[]>();
  for (const h of info.hooks) {
    if (h.why.startsWith('not needed')) continue; // fallbacks for hooks this kernel has
    // An on-demand hook is attached only while it is needed (kfree_skb: while accept queues overflow).
    byMode.set(h.mode, [...(byMode.get(h.mode) ?? []), h.onDemand ? `${h.name}(on demand)` : h.name]);
  }
  const hooks = [...byMode].map(([mode, names]) => `${mode}: ${names.join(' ')}`).join('; ');
  return info.backend === 'native' ? hooks : `${info.backend}; ${hooks}`;
}

export function describeStats(stats: SourceStats): string {
  return `${stats.events} events, ${stats.lost} lost in the kernel, ${stats.rejected} rejected (of ${stats.produced} the kernel produced)`;
}
