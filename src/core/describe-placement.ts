/** A process's placement in a few words, for tables: its pod, else its container, else its systemd unit. */
import type { Placement } from './placement.js';

export function describePlacement(p: Placement | null | undefined): string {
  if (!p) return '-';
  if (p.pod) return p.pod.name ? `pod ${p.pod.namespace}/${p.pod.name}` : `pod ${p.pod.uid}`;
  if (p.container) return `${p.container.runtime} ${p.container.id.slice(0, 12)}`;
  return p.unit ?? '-';
}
