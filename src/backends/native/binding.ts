/**
 * Loads the native addon and declares its raw interface. The loader tries each place a build can be
 * and, when none loads, names every path it tried and why each failed.
 */
import type { KernelMatch } from '../../events/kernel-match.js';
import type { NativeLineOptions } from './line-options.js';
import { layoutMismatch } from './layout-check.js';
import type { HookInfo, KernelFilter, SweepStats } from '../event-source.js';
import type { NamespaceRef } from '../../inventory/network-namespaces.js';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeTracerOptions {
  ringBytes?: number;
  ownerEntries?: number;
  seedEntries?: number;
  maxBatchRecords?: number;
  /** 'classic' forces classic tracepoints (for kernels, and tests, where tp_btf is not wanted). */
  hooks?: 'auto' | 'classic';
  /** Hooks to plan as if the kernel lacked them, so fallbacks can be exercised on a new kernel. */
  pretendMissing?: string[];
  /** Hooks not to attach (a cost the configuration chose not to pay), e.g. the accept exits. */
  disabledHooks?: string[];
  /** How long (ms) the reader may sleep between polls: the longest an event waits (default 20). */
  pollMillis?: number;
  /** Bytes submitted (over all CPUs, each CPU counting its share) after which the kernel wakes the reader (default ringBytes / 8). */
  wakeupBytes?: number;
  /** Kinds that cross the ring, as a mask of 1 << kind code (default all). */
  emitKinds?: number;
  /** A filtered watch's match, applied in the kernel before events cross (default none). */
  match?: KernelMatch;
  /** State changes that cross the ring: old or new state in this mask of 1 << state (default all). */
  emitStates?: number;
  /** Keep who closed each connection, so RSTs its TIME_WAIT socket sends name them (default true). */
  rememberClosers?: boolean;
  /** accept()'s exit learns the owner of each accepted socket (default true); failed accepts are reported either way. */
  learnAccepted?: boolean;
  /** Count services' answer times and clients' waits in the kernel (default true). */
  measureExchanges?: boolean;
  /**
   * > 0: the kernel holds back each CLOSE_WAIT entry and reports only sockets still there after this
   * many ms (a sweep, with the exact entry time); their exits cross too, short CLOSE_WAITs never do.
   * 0 (default): every CLOSE_WAIT change crosses as it happens.
   */
  closeWaitDelayMs?: number;
  /** Batches cross as `watch`'s JSON lines, made natively (see line-options.ts), instead of records. */
  lines?: NativeLineOptions;
}

/** A batch's lines made natively: the records left to JavaScript, and where each one's line goes in the text. */
export interface NativeLines {
  raw: ArrayBuffer;
  rawAt: number[];
}

export interface BatchMeta {
  records: number;
  /** Failed ring-buffer reserves since start, summed over CPUs. */
  lostTotal: number;
  /** Records the programs submitted since start, summed over CPUs (all of them reach the reader). */
  submittedTotal: number;
  /** Records of an unexpected size since start. */
  malformedTotal: number;
  /** The last batch: nothing follows, and the programs are detached. */
  final: boolean;
  error?: string;
  /** With options.lines: the batch's buffer is text; these records are left to JavaScript. */
  lines?: NativeLines;
}

export interface NativeStartInfo {
  hooks: HookInfo[];
  notes: string[];
  ringBytes: number;
  ownerEntries: number;
  /** The CLOSE_WAIT deferral in effect: 0 when not asked for or when the kernel could not run the sweep (see notes). */
  closeWaitDelayMs: number;
  abi: number;
  recordSize: number;
  /** Names of the kernel's enum sk_rst_reason, index = value; empty before Linux 6.10. */
  rstReasons: string[];
}

export type BatchCallback = (buffer: ArrayBuffer, meta: BatchMeta) => void;

export interface NativeTracer {
  start(onBatch: BatchCallback): NativeStartInfo;
  /** Asks the native thread to finish; a batch with final=true follows. */
  stop(): void;
  /** Writes owners of pre-existing sockets (native/owner_seeding.h records); returns how many it took. */
  seedOwners(records: ArrayBuffer): number;
  /** Changes what crosses the ring, while running. */
  setFilter(filter: KernelFilter): void;
  /** true: leave records in the kernel ring (drops there are counted); false: read again. */
  pause(paused: boolean): void;
  /** State changes since start by new state (index = TCP state), emitted or not. */
  transitions(): number[];
  /** Owners displaced from full sets of the kernel's owner table since start, summed over CPUs. */
  ownerEvictions(): number;
  /** Runs of its programs the kernel skipped (another BPF program was running on the CPU) since load. */
  skippedRuns(): number;
  /** CLOSE_WAIT sweeps run and failed, and their time, since start (a failed one is retried at the next). */
  sweepStats(): SweepStats;
  /** Every TCP socket in these namespaces now, counted by owner and state in the kernel (throws where it cannot). */
  countSockets(namespaces: NamespaceRef[]): NativeSocketCounts;
  /** The kernel's answer-time histograms, cumulative since start, and the samples it had no room for. */
  exchangeTimings(): NativeExchangeTimings;
  /** Deletes these histograms (keys as exchangeTimings() gave them); returns how many existed. */
  forgetExchangeTimings(keys: Uint8Array[]): number;
  /** Attaches or detaches an on-demand hook (HookInfo.onDemand); false: there is none by that name, or it failed to attach. */
  setOnDemandHook(name: string, on: boolean): boolean;
  /** With options.lines: what follows "via" in the lines of owner (pid, start, cgroupId). */
  setLinePlacement(pid: number, start: number, cgroupId: number, text: string): void;
}

export interface NativeExchangeTimings {
  rows: { key: Uint8Array; netns: number; port: number; family: number; peer: Uint8Array; kind: number; buckets: Uint32Array }[];
  misses: { peer: number; lost: number; late: number };
}

export interface NativeSocketCounts {
  /**
   * pid 0: no living owner known; state: TCP state (request sockets as SYN_RECV); queued: not a file of
   * the process yet (a handshake, or waiting in its listener's accept queue); comm: the kernel's bytes.
   */
  counts: { pid: number; state: number; queued: boolean; count: number; comm: Uint8Array }[];
  /** Listening sockets' accept queues (sk_ack_backlog) and limits (sk_max_ack_backlog), summed per owner, namespace, port and family. */
  listenQueues: { pid: number; netns: number; port: number; family: number; addr: Uint8Array; queue: number; limit: number; listeners: number; drops: number; comm: Uint8Array }[];
  errors: { path: string; message: string }[];
  /** Clients whose final ACK a full accept queue refused since start, cumulative (6.15+; empty before). */
  refusedAcks: { netns: number; port: number; family: number; local: Uint8Array; peer: Uint8Array; count: number }[];
}

export interface NativeRecordLayout {
  abi: number;
  size: number;
  commLength: number;
  reasonUnknown: number;
  /** State-change counters: one per TCP state number. */
  transitionSlots: number;
  /** The answer-time histograms' kinds, bucket scheme and key size. */
  timings: { kinds: Record<string, number>; subBits: number; buckets: number; keySize: number };
  fields: Record<string, { offset: number; size: number }>;
  kinds: Record<string, number>;
  ownerSources: Record<string, number>;
  flags: Record<string, number>;
}

export interface NativeInventory {
  /** `count` inventory entries (native/inventory_entry.h), back to back. */
  buffer: ArrayBuffer;
  count: number;
  /** Namespaces that could not be read, and why. */
  errors: { path: string; message: string }[];
}

export interface NativeInventoryLayout {
  size: number;
  noInfo: number;
  fields: Record<string, { offset: number; size: number }>;
}

/** One of the addon's kernel hooks (native/hook_table.cc). */
export interface NativeHook {
  name: string;
  /** tracefs category, as "sock" */
  category: string;
  /** socktrace cannot work without it */
  required: boolean;
  /** The primary hook this one stands in for when that is missing; null for a primary. */
  fallbackFor: string | null;
}

export interface NativeBinding {
  Tracer: new (options?: NativeTracerOptions) => NativeTracer;
  recordLayout(): NativeRecordLayout;
  /** Every TCP socket in these network namespaces (sock_diag), synchronously. */
  /** `reuse`: a buffer from an earlier call, refilled if large enough (`buffer` may then be it). */
  inventory(namespaces: NamespaceRef[], reuse?: ArrayBuffer): NativeInventory;
  inventoryLayout(): NativeInventoryLayout;
  /** The seed record (struct socktrace_seed) as the addon was compiled with it. */
  seedLayout(): { size: number; fields: Record<string, { offset: number; size: number }> };
  /** For doctor: vmlinux BTF, tp_btf targets among `tracepoints`, ring buffer support. */
  kernelFacts(tracepoints: string[]): { btf: boolean; tpBtf: Record<string, boolean>; ringbuf: string };
  /** The hooks the addon has (native/hook_table.cc), primaries before their fallbacks; needs no privileges. */
  hookTable(): NativeHook[];
  /** Lines of records as a batch with options.lines would carry them, no kernel involved (for tests). */
  formatLines(records: ArrayBuffer, lines: NativeLineOptions, placements: [number, number, number, string][]): NativeLines & { text: Buffer };
}

export class BindingLoadError extends Error {
  readonly code = 'ERR_SOCKTRACE_ADDON';
  constructor(readonly attempts: { path: string; error: string }[]) {
    super(
      'the native addon could not be loaded. An installed package carries it in prebuilds/ (linux-x64); in a ' +
        'checkout, build it with `npm run build` (scripts/setup does). Tried:\n' +
        attempts.map((a) => `  ${a.path}: ${a.error}`).join('\n'),
    );
  }
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The prebuild's place, after the Node-API convention (prebuildify, node-gyp-build): one directory per
 * platform-arch, the tags in the name. `napi`: built against Node-API only, so any Node of this
 * platform loads it; `glibc`: it links glibc (and libstdc++, libgcc) and nothing else.
 */
export function prebuildPath(root = packageRoot, platform: string = process.platform, arch: string = process.arch): string {
  return resolve(root, 'prebuilds', `${platform}-${arch}`, 'node.napi.glibc.node');
}

/**
 * Where the addon may be, in the order tried. An installed package has only its prebuild; a checkout
 * (it has CMakeLists.txt, which the package leaves out) tries its own build first, since a prebuild
 * there is whatever `npm pack` last staged and may be older than the build.
 */
export function candidatePaths(root = packageRoot): string[] {
  // A build named explicitly is the one meant: no silent fallback to another.
  if (process.env.SOCKTRACE_ADDON) return [resolve(process.env.SOCKTRACE_ADDON)];
  const builds = [resolve(root, 'build', 'Release', 'socktrace.node'), resolve(root, 'build', 'Debug', 'socktrace.node')];
  const checkout = existsSync(resolve(root, 'CMakeLists.txt'));
  return checkout ? [...builds, prebuildPath(root)] : [prebuildPath(root), ...builds];
}

let cached: { binding: NativeBinding; path: string } | undefined;

/** The path the addon was loaded from; undefined before loadBinding() succeeded. */
export function loadedBindingPath(): string | undefined {
  return cached?.path;
}

export function loadBinding(): NativeBinding {
  if (cached) return cached.binding;
  const require = createRequire(import.meta.url);
  const attempts: { path: string; error: string }[] = [];
  for (const path of candidatePaths()) {
    if (!existsSync(path)) {
      attempts.push({ path, error: 'not found' });
      continue;
    }
    try {
      const binding = require(path) as NativeBinding;
      const mismatch = layoutMismatch(binding.recordLayout());
      if (mismatch) {
        attempts.push({ path, error: mismatch });
        continue;
      }
      cached = { binding, path };
      return binding;
    } catch (error) {
      attempts.push({ path, error: error instanceof Error ? error.message : String(error) });
    }
  }
  throw new BindingLoadError(attempts);
}
