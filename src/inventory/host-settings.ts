/** Host settings the findings depend on, read from /proc/sys. */
import { readFileSync } from 'node:fs';

/** Size of net.ipv4.ip_local_port_range, or null when unreadable. */
export function ephemeralPortCount(path = '/proc/sys/net/ipv4/ip_local_port_range'): number | null {
  try {
    const [low, high] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    return low !== undefined && high !== undefined && high >= low ? high - low + 1 : null;
  } catch {
    return null;
  }
}
