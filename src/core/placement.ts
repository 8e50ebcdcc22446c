/**
 * Which service, which container, which pod: read from a process's cgroup path (the text of
 * /proc/<pid>/cgroup). Pure: the caller reads the file.
 *
 * The names are found anywhere in the path, segment by segment, because the path's start varies:
 * a nested runtime (kind, k3d, docker-in-docker) puts a whole tree under its node container, and a
 * reader in its own cgroup namespace (a Kubernetes pod on cgroup v2) sees `/../../<the rest>`.
 */
import { escapeUntrustedText } from '../events/kernel-text.js';

export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman';

export interface Placement {
  /** The cgroup path the placement was read from (the cgroup v2 `0::` line when it is not `/`, else the v1 `name=systemd` line, else the most specific v1 controller path; a line that names a container wins over one that does not). Escaped like every untrusted string (src/events/kernel-text.ts). */
  cgroup: string;
  /** The systemd unit the process runs in ('nginx.service', 'session-3.scope', 'user@1000.service'), null when none (a container's own scope is not reported as a unit, nor is a unit inside a container). */
  unit: string | null;
  /** The innermost container (full 64-hex id). */
  container: { runtime: ContainerRuntime; id: string } | null;
  /** Kubernetes pod: uid (with dashes, as the API spells it; a static pod's is the 32-hex hash the kubelet gives it); name/namespace null here (the API fills them). */
  pod: { uid: string; name: string | null; namespace: string | null } | null;
}

/** The kernel prints no longer path (cgroup_path_ns into a PATH_MAX buffer): a longer line is not from it. */
const PATH_MAX = 4096;

const ID = '([0-9a-f]{64})';
/** Container scopes and cgroups as each runtime names them (systemd driver, then cgroupfs). */
const CONTAINER_SEGMENTS: Array<[RegExp, ContainerRuntime]> = [
  [new RegExp(`^docker-${ID}\\.scope$`), 'docker'],
  [new RegExp(`^cri-containerd-${ID}\\.scope$`), 'containerd'],
  [new RegExp(`^nerdctl-${ID}\\.scope$`), 'containerd'],
  [new RegExp(`^crio-${ID}(?:\\.scope)?$`), 'cri-o'],
  [new RegExp(`^libpod-${ID}(?:\\.scope)?$`), 'podman'],
];
/** The runtimes' monitors (conmon): beside a container, not one, and not a service either. */
const MONITOR_SEGMENT = new RegExp(`^(?:crio|libpod)-conmon-${ID}(?:\\.scope)?$`);
const BARE_ID = new RegExp(`^${ID}$`);

const UID = '([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})';
/** `kubepods-burstable-pod<uid>.slice` (systemd driver: dashes become underscores) or `pod<uid>` (cgroupfs). */
const POD_SEGMENT = new RegExp(`^(?:[A-Za-z0-9_.:@-]*-)?pod${UID}\\.slice$|^pod${UID}$`);

/** What systemd accepts in a unit name, and the unit types that hold processes (a slice holds units). */
const UNIT_SEGMENT = /^[A-Za-z0-9:_.@\\-]+\.(?:service|scope|socket|mount|swap)$/;
const UNIT_NAME_MAX = 255;

interface Line {
  hierarchy: string;
  controllers: string;
  path: string;
}

interface Found {
  unit: string | null;
  container: { runtime: ContainerRuntime; id: string } | null;
  podUid: string | null;
}

function parseLines(text: string): Line[] {
  const lines: Line[] = [];
  for (const raw of text.split('\n')) {
    // hierarchy-ID:controller-list:cgroup-path; the path itself may hold colons.
    const first = raw.indexOf(':');
    const second = first < 0 ? -1 : raw.indexOf(':', first + 1);
    if (second < 0) continue;
    const hierarchy = raw.slice(0, first);
    const path = raw.slice(second + 1);
    if (!/^\d{1,10}$/.test(hierarchy) || !path.startsWith('/') || path.length >= PATH_MAX) continue;
    lines.push({ hierarchy, controllers: raw.slice(first + 1, second), path });
  }
  return lines;
}

function containerOf(segment: string, parent: string | undefined, underKubepods: boolean): Found['container'] {
  for (const [pattern, runtime] of CONTAINER_SEGMENTS) {
    const m = pattern.exec(segment);
    if (m) return { runtime, id: m[1]! };
  }
  const bare = BARE_ID.exec(segment);
  if (!bare) return null;
  // cgroupfs names a container by its bare id; only the parent tells whose it is. Docker's is
  // /docker; under kubepods it is the CRI runtime's, containerd's (CRI-O says crio-, and the
  // kubelet's own docker support is gone since 1.24). Elsewhere it is not known to be a container.
  if (parent === 'docker') return { runtime: 'docker', id: bare[1]! };
  if (underKubepods) return { runtime: 'containerd', id: bare[1]! };
  return null;
}

/** A unit's name from its cgroup: systemd prefixes `_` to names that would clash with the kernel's files. */
function unitOf(segment: string): string | null {
  const name = segment.startsWith('_') ? segment.slice(1) : segment;
  return name.length <= UNIT_NAME_MAX && UNIT_SEGMENT.test(name) && !MONITOR_SEGMENT.test(name) ? name : null;
}

function readPath(path: string): Found {
  const segments = path.split('/').filter((s) => s !== '');
  let container: Found['container'] = null;
  let podUid: string | null = null;
  const units: string[] = [];
  let inContainer = false;
  let underKubepods = false;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === 'kubepods' || segment.startsWith('kubepods-') || segment.startsWith('kubepods.')) underKubepods = true;
    const c = containerOf(segment, segments[i - 1], underKubepods);
    if (c) {
      container = c; // the innermost wins: a nested runtime's node container holds the pod's
      inContainer = true;
      continue;
    }
    const pod = POD_SEGMENT.exec(segment);
    if (pod) {
      podUid = (pod[1] ?? pod[2]!).replaceAll('_', '-');
      continue;
    }
    // Units inside a container are the container's own, not the host's services.
    if (!inContainer) {
      const unit = unitOf(segment);
      if (unit) units.push(unit);
    }
  }
  // init.scope is where a systemd manager itself runs: user@1000.service/init.scope is the user manager.
  let unit = units.at(-1) ?? null;
  if (unit === 'init.scope' && units.length > 1) unit = units.at(-2)!;
  return { unit, container, podUid };
}

/** Parses the text of /proc/<pid>/cgroup; null when it has no usable line. */
export function parseCgroupFile(text: string): Placement | null {
  let lines: Line[];
  try {
    lines = parseLines(String(text));
  } catch {
    return null;
  }
  if (lines.length === 0) return null;
  const unified = lines.find((l) => l.hierarchy === '0' && l.controllers === '');
  const named = lines.find((l) => l.hierarchy !== '0' && l.controllers.split(',').includes('name=systemd'));
  const controllers = lines
    .filter((l) => l !== unified && l !== named)
    .map((l, index) => ({ l, index, depth: l.path.split('/').filter((s) => s !== '').length }))
    .sort((a, b) => b.depth - a.depth || a.index - b.index)
    .map((x) => x.l);
  const ordered = [unified, named, ...controllers].filter((l): l is Line => l !== undefined);
  const candidates = ordered.filter((l) => l.path !== '/');
  if (candidates.length === 0) return { cgroup: '/', unit: null, container: null, pod: null };

  // A line that names a container wins: with runc's cgroupfs driver on a hybrid host the unified
  // line can stay on the runtime's service while every v1 line is in the container.
  const read = candidates.map((l) => ({ l, found: readPath(l.path) }));
  const chosen = read.find((r) => r.found.container !== null) ?? read[0]!;
  const { unit, container, podUid } = chosen.found;
  return {
    cgroup: escapeUntrustedText(chosen.l.path),
    unit: unit === null ? null : escapeUntrustedText(unit),
    container,
    pod: podUid === null ? null : { uid: podUid, name: null, namespace: null },
  };
}
