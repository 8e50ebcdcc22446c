/**
 * Where tracefs is: both backends and doctor look here, in the order the addon does (native/tracefs.cc:
 * libbpf prefers debugfs's copy when present, then /sys/kernel/tracing).
 */
import { existsSync } from 'node:fs';

export const TRACEFS_DIRS = ['/sys/kernel/debug/tracing', '/sys/kernel/tracing'] as const;

/** The first of `dirs` with an events/ directory this user can see, or null. */
export function tracefsDir(dirs: readonly string[] = TRACEFS_DIRS): string | null {
  return dirs.find((d) => existsSync(`${d}/events`)) ?? null;
}
