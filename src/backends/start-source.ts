/**
 * Picks the backend: `native` (the addon), `bpftrace` (the script in probes/bpftrace/ through bpftrace), or `auto`:
 * the addon, and bpftrace only when the addon is missing or cannot load its programs, saying why once
 * (the first note of the source's info). Options the addon refuses are an error, never a fallback.
 */
import { BindingLoadError } from './native/binding.js';
import { startBpftraceSource } from './bpftrace/bpftrace-source.js';
import type { RunningSource, SourceHandlers } from './event-source.js';
import { startNativeSource, type NativeSourceOptions } from './native/native-source.js';

export const BACKENDS = ['auto', 'native', 'bpftrace'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface SourceOptions extends NativeSourceOptions {
  backend?: Backend;
}

/** Why the addon is unusable, in one line: the first build that exists and failed, else none built. */
function addonProblem(error: BindingLoadError): string {
  const failed = error.attempts.find((a) => a.error !== 'not found');
  return failed ? `the native addon ${failed.path} does not load: ${failed.error}` : 'the native addon is not built or does not load';
}

/**
 * Errors bpftrace could not get past either: missing privileges, and too few file descriptors (it
 * needs more than the addon: a perf buffer per CPU). Falling back then only hid the cause behind
 * bpftrace's long start.
 */
function isHostLimitError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'EPERM' || code === 'EACCES' || code === 'EMFILE' || code === 'ENFILE';
}

export async function startSource(options: SourceOptions, handlers: SourceHandlers): Promise<RunningSource> {
  const { backend = 'auto', ...native } = options;
  const bpftraceOptions = { ringBytes: native.ringBytes, ownerEntries: native.ownerEntries, emitKinds: native.emitKinds, emitStates: native.emitStates };
  if (backend === 'bpftrace') return startBpftraceSource(bpftraceOptions, handlers);
  try {
    return startNativeSource(native, handlers);
  } catch (error) {
    if (backend === 'native' || isHostLimitError(error)) throw error;
    // The addon refused an option (a ring size, a table size): the user's own setting is wrong, and
    // bpftrace would hide that behind a slower backend.
    if (error instanceof RangeError || error instanceof TypeError) {
      throw new Error(`the native backend refuses your settings, not this host: ${error.message}`);
    }
    const why = error instanceof BindingLoadError ? addonProblem(error) : (error as Error).message.split('\n')[0];
    const source = await startBpftraceSource(bpftraceOptions, handlers);
    source.info.notes.unshift(`using the bpftrace backend: ${why}`);
    return source;
  }
}
