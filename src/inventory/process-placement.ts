/**
 * Where a process lives — its cgroup, systemd unit, container and pod (core/placement.ts parses).
 * From the cgroup v2 id the kernel stamped on the owner, resolved to a path, where that is the whole
 * truth (a host with only cgroup v2); else from /proc/<pid>/cgroup, once per process and again after a
 * while (a process may be moved), and from the id when the process is gone by the time its event is
 * read. A pid is checked against the owner's start time from the kernel before anything of it is
 * read: a pid reused by another process meanwhile gets no placement from /proc, never the newcomer's.
 */
import { readFileSync } from 'node:fs';
import { parseCgroupFile, type Placement } from '../core/placement.js';
import { BoundedMap } from '../core/bounded-map.js';
import type { Owner } from '../events/sock-event.js';
import { CgroupPaths, readCgroupMounts } from './cgroup-paths.js';
import { parseStartTicks } from './process-scan.js';

/** Fills a pod's name and namespace from its uid where a directory knows them. */
export interface PodNames {
  lookup(uid: string): { name: string; namespace: string } | null;
}

const REREAD_MS = 30_000;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

/** A placement with the pod's name and namespace filled in where `pods` knows them. */
export function withPodNames(placement: Placement | null, pods: PodNames | null): Placement | null {
  if (!placement?.pod || !pods || placement.pod.name !== null) return placement;
  const named = pods.lookup(placement.pod.uid);
  return named ? { ...placement, pod: { ...placement.pod, ...named } } : placement;
}

/** /proc/<pid>/cgroup parsed, null when unreadable (the process is gone). */
export function readPlacement(pid: number, procRoot = '/proc'): Placement | null {
  const text = readText(`${procRoot}/${pid}/cgroup`);
  return text === null ? null : parseCgroupFile(text);
}

/** What the reader needs of an owner (the start and cgroup id as events carry them; 0 or absent: unknown). */
export type PlacementSubject = Pick<Owner, 'pid' | 'comm' | 'start'> & { cgroupId?: number };

/** How cgroup ids are resolved: the host's cgroup2 mount, and whether ids alone tell where (no v1 hierarchy). */
export interface CgroupIds {
  paths: CgroupPaths;
  authoritative: boolean;
}

/** This host's: ids are the whole truth only where no cgroup v1 hierarchy is mounted (v1 paths name containers on hybrid hosts). */
export function hostCgroupIds(): CgroupIds {
  const mounts = readCgroupMounts();
  return { paths: new CgroupPaths(mounts.unified), authoritative: mounts.unified !== null && !mounts.v1 };
}

export class PlacementReader {
  /**
   * By pid: the process it was read for (its start and cgroup id as events carry them, 0 without; the
   * start read from /proc then, to check again), its placement, when read.
   */
  private readonly cache: BoundedMap<number, { start: number; ticks: number | undefined; comm: string; cgroupId: number; placement: Placement | null; atMs: number }>;

  /** By cgroup id: its placement (null: unresolved, or the root, which tells nothing). */
  private readonly byId: BoundedMap<number, Placement | null>;

  constructor(
    private readonly pods: PodNames | null = null,
    private readonly procRoot = '/proc',
    private readonly ids: CgroupIds | null = null,
    capacity = 4096,
  ) {
    this.cache = new BoundedMap(capacity);
    this.byId = new BoundedMap(capacity);
  }

  /**
   * The placement of process `pid` that started at `start` (the low 32 bits of its start in clock
   * ticks, as events carry it; 0 or absent: unknown, then the name must match `comm` instead) and
   * was in cgroup `cgroupId` when the kernel learned it owned the socket. Null when unknown, or gone
   * without a cgroup id that resolves, or the pid now belongs to another process.
   */
  of({ pid, start, comm, cgroupId = 0 }: PlacementSubject, nowMs = Date.now()): Placement | null {
    if (this.ids?.authoritative) {
      const placed = this.ofCgroup(cgroupId, nowMs);
      if (placed) return placed;
    }
    const hit = this.cache.touch(pid);
    // The same object while cached: callers may keep what they made of it (a line's text). Without a
    // start from the event, the pid may have changed hands since the read: /proc's start is checked again.
    if (hit && hit.start === (start ?? 0) && hit.cgroupId === cgroupId && (start || (hit.comm === comm && this.startTicks(pid) === hit.ticks)) && nowMs - hit.atMs < REREAD_MS) {
      return hit.placement;
    }
    const { placement, ticks } = this.read(pid, start, comm);
    // Gone (or its pid taken) before its event was read: where the kernel saw it is still known.
    const named = ticks === undefined && placement === null ? this.ofCgroup(cgroupId, nowMs) : withPodNames(placement, this.pods);
    this.cache.set(pid, { start: start ?? 0, ticks, comm, cgroupId, placement: named, atMs: nowMs });
    return named;
  }

  /** The placement of cgroup `id`; null when it does not resolve or is the root (every v1-only process is there). */
  private ofCgroup(id: number, nowMs: number): Placement | null {
    if (!this.ids || !(id > 0)) return null;
    const known = this.byId.touch(id);
    if (known !== undefined) return known;
    const path = this.ids.paths.pathOf(id, nowMs);
    if (path === null) return null; // not cached: the cgroup may be found at a later walk
    const placement = path === '/' ? null : withPodNames(parseCgroupFile(`0::${path}\n`), this.pods);
    this.byId.set(id, placement);
    return placement;
  }

  private startTicks(pid: number): number | undefined {
    const stat = readText(`${this.procRoot}/${pid}/stat`);
    return stat === null ? undefined : parseStartTicks(stat);
  }

  private read(pid: number, start: number | undefined, comm: string): { placement: Placement | null; ticks: number | undefined } {
    const none = { placement: null, ticks: undefined };
    const dir = `${this.procRoot}/${pid}`;
    const stat = readText(`${dir}/stat`);
    if (stat === null) return none;
    if (start) {
      const ticks = parseStartTicks(stat);
      if (ticks === undefined || ticks % 2 ** 32 !== start) return none; // another process now
    } else {
      // No start time (the bpftrace backend): the name in stat must still be the owner's.
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name !== comm) return none;
    }
    const placement = readPlacement(pid, this.procRoot);
    // Read after the cgroup file: had the pid changed hands in between, the start would differ.
    const again = readText(`${dir}/stat`);
    const ticks = parseStartTicks(stat);
    return again !== null && parseStartTicks(again) === ticks ? { placement, ticks } : none;
  }
}
