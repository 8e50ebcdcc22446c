/**
 * options.lines for the addon: the names and the clock its native line maker (native/line_formatter.cc)
 * writes `watch`'s lines with, taken from the tables decode-batch.ts and event-line.ts use, so the two
 * cannot name anything differently.
 */
import type { SampledWallClock } from '../../events/monotonic-clock.js';
import { ERRNO_KINDS, type EventKind } from '../../events/sock-event.js';
import { DEFAULT_RST_REASONS, ERRNO_NAMES, TCP_STATES } from '../../events/tcp-names.js';
import { KIND_CODES, OWNER_SOURCE_CODES } from './record-layout.js';

export interface NativeLineOptions {
  kinds: string[];
  sources: string[];
  states: string[];
  errnos: string[];
  rstReasons: string[];
  errnoKinds: number;
  rawKinds: number;
  wallMs: number;
  monoNs: bigint;
  placementTtlMs: number;
}

/** How long the addon uses an owner's placement before asking again (the reader re-reads /proc every 30 s). */
const PLACEMENT_TTL_MS = 10_000;

function byCode(codes: Readonly<Record<string, number>>, keep: (name: string) => boolean = () => true): string[] {
  const names: string[] = [];
  for (const [name, code] of Object.entries(codes)) names[code] = keep(name) ? name : '';
  return Array.from(names, (n) => n ?? '');
}

const maskOf = (kinds: Iterable<EventKind>) => [...kinds].reduce((mask, k) => mask | (1 << KIND_CODES[k]), 0);

/** `rawKinds`: kinds whose records still cross as records (their lines are made in JavaScript). */
export function nativeLineOptions(clock: SampledWallClock, rawKinds: readonly EventKind[]): NativeLineOptions {
  const errnos: string[] = [];
  for (const [errno, name] of Object.entries(ERRNO_NAMES)) errnos[Number(errno)] = name;
  return {
    kinds: byCode(KIND_CODES),
    sources: byCode(OWNER_SOURCE_CODES, (name) => name !== 'none'),
    states: Array.from(TCP_STATES, (s) => s ?? ''),
    errnos: Array.from(errnos, (n) => n ?? ''),
    rstReasons: [...DEFAULT_RST_REASONS],
    errnoKinds: maskOf(ERRNO_KINDS),
    rawKinds: maskOf(rawKinds),
    wallMs: clock.wallMs,
    monoNs: clock.monoNs,
    placementTtlMs: PLACEMENT_TTL_MS,
  };
}
