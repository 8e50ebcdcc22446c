// Private network namespace + veth pair, for integration tests where one TCP peer
// must live outside the test's own network stack (real routing, real veth, no loopback
// shortcuts).
//
//   root namespace                       namespace `name`
//   hostIf  hostV4/30  hostV6/64  <--veth-->  nsIf  nsV4/30  nsV6/64   (+ lo up)
//
// Addresses come only from the benchmarking ranges 198.18.0.0/15 (RFC 2544) and
// 2001:2::/48 (RFC 5180), so they can never collide with real networks.
//
// Everything runs `ip` through execFile (no shell) with a timeout. Requires root
// (CAP_SYS_ADMIN + CAP_NET_ADMIN) and iproute2.

import { execFile, execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';

export interface NetnsPeer {
  /** Namespace name, `st-<pid>-<4 hex>`. */
  name: string;
  /** veth end in the root namespace (≤ 15 chars, unique per run). */
  hostIf: string;
  /** veth end inside the namespace. */
  nsIf: string;
  hostV4: string;
  nsV4: string;
  hostV6: string;
  nsV6: string;
  /** argv prefix to run a command inside the namespace: ['ip','netns','exec',name]. */
  execPrefix: string[];
  /** Idempotent; deletes the veth pair and the namespace. */
  cleanup(): Promise<void>;
}

const IP_TIMEOUT_MS = 5_000;
const SETTLE_TIMEOUT_MS = 2_000;
const NAME_RE = /^st-(\d+)-[0-9a-f]{4}$/;

/** Error from a failed `ip` invocation; the message names the command and its stderr. */
export class IpCommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly stderr: string,
    cause?: unknown,
  ) {
    super(`command failed: ${argv.join(' ')}: ${stderr.trim() || String(cause)}`, { cause });
    this.name = 'IpCommandError';
  }
}

function ip(args: string[]): Promise<string> {
  const argv = ['ip', ...args];
  return new Promise((resolve, reject) => {
    execFile(
      'ip',
      args,
      { timeout: IP_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(new IpCommandError(argv, stderr || '', err));
        else resolve(stdout);
      },
    );
  });
}

/** Like ip(), but "already gone" errors count as success (for idempotent cleanup). */
async function ipIgnoringMissing(args: string[]): Promise<void> {
  try {
    await ip(args);
  } catch (e) {
    const stderr = e instanceof IpCommandError ? e.stderr : '';
    if (/Cannot find device|No such file or directory|does not exist|Invalid namespace/i.test(stderr)) return;
    throw e;
  }
}

function findIp(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin'])) {
    if (!dir) continue;
    const candidate = path.join(dir, 'ip');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** True if `bit` is set in this process's effective capability mask. */
function hasCapability(bit: number): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] !== undefined && ((BigInt(`0x${m[1]}`) >> BigInt(bit)) & 1n) === 1n;
  } catch {
    return false;
  }
}

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21; // `ip netns add` bind-mounts /run/netns/<name>

/** Cheap, synchronous check for use in `describe.skipIf(...)`. */
export function canCreateNetns(): { ok: boolean; reason?: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root' };
  if (!hasCapability(CAP_SYS_ADMIN) || !hasCapability(CAP_NET_ADMIN)) {
    return { ok: false, reason: 'missing CAP_SYS_ADMIN or CAP_NET_ADMIN' };
  }
  if (!findIp()) return { ok: false, reason: '`ip` (iproute2) not found' };
  return { ok: true };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Namespaces from earlier runs whose creating process is gone; returns how many were deleted. */
export async function removeStaleNamespaces(): Promise<number> {
  const out = await ip(['netns', 'list']);
  let removed = 0;
  for (const line of out.split('\n')) {
    const name = line.trim().split(/\s+/)[0] ?? ''; // "st-123-abcd (id: 3)"
    const m = NAME_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    // Deleting the namespace destroys its veth end, and with it the host end.
    await ipIgnoringMissing(['netns', 'del', name]);
    removed++;
  }
  return removed;
}

/** Subnets already configured in the root namespace, to avoid picking a clashing one. */
async function usedSubnetIndexes(): Promise<Set<number>> {
  const used = new Set<number>();
  const out = await ip(['-o', 'addr', 'show']);
  for (const m of out.matchAll(/inet (198\.1[89])\.(\d+)\.(\d+)\//g)) {
    const v = ((Number(m[1]!.slice(-2)) - 18) << 16) | (Number(m[2]) << 8) | Number(m[3]);
    used.add(v >> 2);
  }
  for (const m of out.matchAll(/inet6 2001:2:0:([0-9a-f]{1,4})::/gi)) used.add(parseInt(m[1]!, 16) & 0x7fff);
  return used;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait until both links are operationally UP and no IPv6 address is tentative. */
async function waitSettled(peer: NetnsPeer): Promise<void> {
  const ends: Array<{ pre: string[]; dev: string; v6: string }> = [
    { pre: [], dev: peer.hostIf, v6: peer.hostV6 },
    { pre: ['-n', peer.name], dev: peer.nsIf, v6: peer.nsV6 },
  ];
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let last = '';
  for (;;) {
    let settled = true;
    for (const end of ends) {
      const link = await ip([...end.pre, '-o', 'link', 'show', 'dev', end.dev]);
      const addrs = await ip([...end.pre, '-6', 'addr', 'show', 'dev', end.dev]);
      if (/dadfailed/.test(addrs)) {
        throw new Error(`IPv6 DAD failed on ${end.dev}: ${addrs.trim()}`);
      }
      if (!/state UP/.test(link) || /tentative/.test(addrs) || !addrs.includes(`${end.v6}/64`)) {
        settled = false;
        last = `${link.trim()}\n${addrs.trim()}`;
      }
    }
    if (settled) return;
    if (Date.now() > deadline) {
      throw new Error(`veth ${peer.hostIf}/${peer.nsIf} not ready after ${SETTLE_TIMEOUT_MS} ms:\n${last}`);
    }
    await sleep(50);
  }
}

/** Peers not yet cleaned up; removed synchronously at process exit as a last resort. */
const live = new Set<NetnsPeer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const peer of live) {
      for (const args of [['link', 'del', peer.hostIf], ['netns', 'del', peer.name]]) {
        try {
          execFileSync('ip', args, { timeout: IP_TIMEOUT_MS, stdio: 'ignore' });
        } catch {
          // best effort; removeStaleNamespaces() catches anything left over
        }
      }
    }
  });
}

export async function createNetnsPeer(): Promise<NetnsPeer> {
  const used = await usedSubnetIndexes();
  // 15-bit subnet index k: 198.18.0.0 + 4k is a /30 inside 198.18.0.0/15 and
  // 2001:2:0:k::/64 a /64 inside 2001:2::/48. k = 0 is skipped (198.18.0.0 network).
  let k = 0;
  for (let i = 0; i < 64 && (k === 0 || used.has(k)); i++) k = randomInt(1, 0x8000);
  if (k === 0 || used.has(k)) throw new Error('no free subnet found in 198.18.0.0/15');
  const base = k << 2; // offset within 198.18.0.0/15
  const v4 = (host: number) =>
    `198.${18 + ((base >> 16) & 1)}.${(base >> 8) & 0xff}.${(base & 0xff) + host}`;
  const v6 = (host: number) => `2001:2:0:${k.toString(16)}::${host}`;

  const rand = randomInt(0, 0x10000).toString(16).padStart(4, '0');
  const name = `st-${process.pid}-${rand}`;
  // Interface names: at most 15 chars (IFNAMSIZ - 1). "sth"/"stn" + pid in base 36
  // (≤ 5 chars for pid_max 4194304) + 4 hex = ≤ 12 chars; the random part keeps two
  // peers of the same process apart.
  const tag = `${process.pid.toString(36)}${rand}`;
  const hostIf = `sth${tag}`;
  const nsIf = `stn${tag}`;

  // Only what this call created is ever deleted (a name clash must not remove another peer).
  let madeNs = false;
  let madeLink = false;
  let cleaned: Promise<void> | undefined;
  const peer: NetnsPeer = {
    name,
    hostIf,
    nsIf,
    hostV4: v4(1),
    nsV4: v4(2),
    hostV6: v6(1),
    nsV6: v6(2),
    execPrefix: ['ip', 'netns', 'exec', name],
    cleanup() {
      cleaned ??= (async () => {
        // Delete the link first: it goes away synchronously, even if some process
        // still runs inside the namespace (which would keep the namespace, and a veth
        // inside it, alive after `ip netns del`).
        if (madeLink) await ipIgnoringMissing(['link', 'del', hostIf]);
        if (madeNs) await ipIgnoringMissing(['netns', 'del', name]);
        live.delete(peer);
      })();
      return cleaned;
    },
  };

  installExitHook();
  live.add(peer);
  const inNs = ['-n', name];
  try {
    await ip(['netns', 'add', name]);
    madeNs = true;
    // Create the peer end directly inside the namespace.
    await ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', name]);
    madeLink = true;
    // No link-local addresses: their DAD would leave them "tentative" for a second or
    // two. Neighbour discovery works from the global (nodad) addresses alone.
    await ip(['link', 'set', 'dev', hostIf, 'addrgenmode', 'none']);
    await ip([...inNs, 'link', 'set', 'dev', nsIf, 'addrgenmode', 'none']);
    await ip(['addr', 'add', `${peer.hostV4}/30`, 'dev', hostIf]);
    await ip(['-6', 'addr', 'add', `${peer.hostV6}/64`, 'dev', hostIf, 'nodad']);
    await ip([...inNs, 'addr', 'add', `${peer.nsV4}/30`, 'dev', nsIf]);
    await ip([...inNs, '-6', 'addr', 'add', `${peer.nsV6}/64`, 'dev', nsIf, 'nodad']);
    await ip([...inNs, 'link', 'set', 'dev', 'lo', 'up']);
    await ip([...inNs, 'link', 'set', 'dev', nsIf, 'up']);
    await ip(['link', 'set', 'dev', hostIf, 'up']);
    await waitSettled(peer);
  } catch (e) {
    await peer.cleanup().catch(() => undefined);
    throw e;
  }
  return peer;
}
