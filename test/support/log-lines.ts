/** The JSON records of a daemon's log file so far (none while it does not exist yet). */
import { existsSync, readFileSync } from 'node:fs';

export function logLines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
