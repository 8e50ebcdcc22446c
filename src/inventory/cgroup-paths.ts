/**
 * A cgroup v2 id — what the kernel stamps on an owner when it learns it (its cgroup's kernfs id) —
 * resolved to the cgroup's path. On a cgroup2 mount a cgroup's directory has that id as its inode
 * number, so the tree is walked once and again when an id is missing (a cgroup made since). Ids are
 * never reused, so what was resolved stays true; a cgroup removed before it was seen stays unknown.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { BoundedMap } from '../core/bounded-map.js';

/** What /proc/self/mountinfo says of this host's cgroups. */
export interface CgroupMounts {
  /** A cgroup2 mount of the hierarchy's root, or null. */
  unified: string | null;
  /** Whether any cgroup v1 hierarchy is mounted (a v1 or hybrid host: v2 paths may not name containers). */
  v1: boolean;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescapeMountField = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parses /proc/self/mountinfo: `id parent major:minor root mountpoint options [optional…] - fstype source super`. */
export function cgroupMountsOf(mountinfo: string): CgroupMounts {
  let unified: string | null = null;
  let height = -1;
  let v1 = false;
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || dash + 1 >= fields.length) continue;
    const fstype = fields[dash + 1];
    if (fstype === 'cgroup') v1 = true;
    if (fstype !== 'cgroup2') continue;
    // Roots show relative to the reader's cgroup namespace: `/` is its own (in a container, only its
    // subtree), `/../..` the hierarchy's root above it (the host's, bind-mounted). The highest wins.
    const root = fields[3]!;
    if (!/^\/(\.\.(\/|$))*$/.test(root)) continue;
    const up = root.split('..').length - 1;
    if (up > height) {
      height = up;
      unified = unescapeMountField(fields[4]!);
    }
  }
  return { unified, v1 };
}

export function readCgroupMounts(path = '/proc/self/mountinfo'): CgroupMounts {
  try {
    return cgroupMountsOf(readFileSync(path, 'utf8'));
  } catch {
    return { unified: null, v1: false };
  }
}

export interface CgroupPathsOptions {
  /** Walk at most this many directories (a host has hundreds to a few thousand cgroups). */
  maxDirs?: number;
  /** Walk again for a missing id at most this often. */
  rewalkMs?: number;
  /** Resolved ids kept. */
  capacity?: number;
}

export class CgroupPaths {
  private readonly paths: BoundedMap<number, string>;
  private readonly maxDirs: number;
  private readonly rewalkMs: number;
  private walkedAtMs = -Infinity;
  /** Walks made, and those cut short at maxDirs (shown by whoever reports on the host). */
  walks = 0;
  truncatedWalks = 0;

  /** `root`: a cgroup2 mount of the hierarchy's root; null: nothing resolves. */
  constructor(
    readonly root: string | null,
    options: CgroupPathsOptions = {},
  ) {
    this.maxDirs = options.maxDirs ?? 65_536;
    this.rewalkMs = options.rewalkMs ?? 1000;
    this.paths = new BoundedMap(options.capacity ?? 16_384);
  }

  /** The path of cgroup `id` (`/` for the root), or null when it cannot be found. */
  pathOf(id: number, nowMs = Date.now()): string | null {
    if (!this.root || !(id > 0)) return null;
    const known = this.paths.touch(id);
    if (known !== undefined) return known;
    if (nowMs - this.walkedAtMs < this.rewalkMs) return null;
    this.walkedAtMs = nowMs;
    this.walk();
    return this.paths.get(id) ?? null;
  }

  private walk(): void {
    this.walks++;
    const root = this.root!;
    const queue: string[] = [''];
    for (let next = 0; next < queue.length; next++) {
      if (next >= this.maxDirs) {
        this.truncatedWalks++;
        return;
      }
      const rel = queue[next]!;
      const dir = root + rel;
      try {
        const id = statSync(dir).ino;
        if (!this.paths.has(id)) this.paths.set(id, rel || '/');
        for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) queue.push(`${rel}/${entry.name}`);
      } catch {
        // Removed while walking: nothing of it to resolve.
      }
    }
  }
}
