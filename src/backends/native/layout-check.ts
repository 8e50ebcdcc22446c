/**
 * The addon and this JavaScript must agree on the event record (probes/socktrace_event.h), or every
 * event would decode into garbage: a build of one without the other (an old build/ beside a new dist/)
 * is refused at load, naming both versions.
 */
import type { NativeRecordLayout } from './binding.js';
import { FIELDS, FLAG_BITS, KIND_CODES, OWNER_SOURCE_CODES, RECORD_ABI, RECORD_SIZE, TIMING_LAYOUT } from './record-layout.js';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Why the addon's record layout is not this socktrace's, or null when they agree. */
export function layoutMismatch(native: NativeRecordLayout): string | null {
  const ours = `ABI ${RECORD_ABI}, ${RECORD_SIZE}-byte records`;
  const theirs = `ABI ${native.abi}, ${native.size}-byte records`;
  if (native.abi !== RECORD_ABI || native.size !== RECORD_SIZE) {
    return `its event record is ${theirs}; this socktrace reads ${ours}: rebuild it (npm run build)`;
  }
  const differs = [
    ['fields', native.fields, FIELDS],
    ['event kinds', native.kinds, KIND_CODES],
    ['owner sources', native.ownerSources, OWNER_SOURCE_CODES],
    ['flags', native.flags, FLAG_BITS],
    ['answer-time histograms', native.timings, TIMING_LAYOUT],
  ].find(([, a, b]) => !same(a, b));
  if (differs) {
    return `its event record (${theirs}) numbers its ${differs[0] as string} differently from this socktrace's (${ours}): rebuild it (npm run build)`;
  }
  return null;
}
