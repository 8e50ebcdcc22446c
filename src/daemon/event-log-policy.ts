/** Which events the daemon logs, and what makes two of them "the same" for rate limiting. */
import type { DaemonConfig } from '../config/daemon-config.js';
import type { SockEvent } from '../events/sock-event.js';

export function shouldLog(e: SockEvent, config: DaemonConfig['log']): boolean {
  if (!(config.events as string[]).includes(e.kind)) return false;
  if (e.kind === 'state_change') return e.state !== null && config.states.includes(e.state);
  return true;
}

/** Same kind, same owner, same peer address, same reason/errno/state: one storm. */
export function rateLimitKey(e: SockEvent): string {
  return `${e.kind}|${e.owner?.pid ?? '-'}|${e.peer.addr}|${e.reason ?? e.errno ?? e.state ?? ''}`;
}
