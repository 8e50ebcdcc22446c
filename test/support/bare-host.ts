/**
 * A host without a compiler (and, asked for, without Node), as a mount namespace: every compiler,
 * linker, cmake and bpftool masked (/dev/null bound over each binary, so running it fails),
 * /usr/include and gcc's own programs empty, and this checkout hidden, so an installed socktrace
 * cannot fall back on the developer build.
 */
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const checkout = realpathSync(fileURLToPath(new URL('../..', import.meta.url)));

// Not ld.so: that is the dynamic loader every program needs.
const TOOLCHAIN = /^(cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|cmake|bpftool|ld|ld\.(bfd|gold|lld)|(x86_64|aarch64)-linux-gnu-(gcc|g\+\+|cpp|ld)(\.(bfd|gold))?|(gcc|g\+\+|clang|cpp)-[\d.]+|(x86_64|aarch64)-linux-gnu-(gcc|g\+\+|cpp)-[\d.]+)$/;
const NODE = /^(node|nodejs|npm|npx|corepack)$/;

/** The binaries on this host whose names match (resolved through symlinks and alternatives). */
function binaries(names: RegExp): string[] {
  const dirs = new Set([...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin', '/bin', '/sbin']);
  const found = new Set<string>();
  for (const dir of dirs) {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries.filter((n) => names.test(n))) {
      try {
        found.add(realpathSync(join(dir, name)));
      } catch {
        // a dangling alternative: nothing to hide
      }
    }
  }
  return [...found].sort();
}

export interface BareHost {
  /** Binaries masked. */
  tools: string[];
  /** Directories emptied (tmpfs). */
  dirs: string[];
}

export function bareHost(options: { withoutNode?: boolean } = {}): BareHost {
  const tools = binaries(TOOLCHAIN);
  const dirs = ['/usr/include', '/usr/lib/gcc', '/usr/local/include', checkout];
  if (options.withoutNode) {
    tools.push(...binaries(NODE), realpathSync(process.execPath));
    dirs.push('/usr/lib/node_modules', '/usr/local/lib/node_modules');
  }
  return { tools: [...new Set(tools)].sort(), dirs: dirs.filter((d) => existsSync(d)) };
}

/**
 * `unshare` arguments that run `command` in a new mount namespace made bare as `host` says. Run it with
 * a cwd outside the checkout: a process whose cwd was inside would still reach it under the mount.
 */
export function bareHostArgs(host: BareHost, command: string[]): string[] {
  const script = [
    'set -eu',
    'for f in $BARE_TOOLS; do mount --bind /dev/null "$f"; done',
    'for d in $BARE_DIRS; do mount -t tmpfs -o size=1m,mode=0755 none "$d"; done',
    'unset BARE_TOOLS BARE_DIRS',
    'exec "$@"',
  ].join('\n');
  return ['-m', '--propagation', 'private', '--', 'env', `BARE_TOOLS=${host.tools.join(' ')}`, `BARE_DIRS=${host.dirs.join(' ')}`, 'bash', '-c', script, 'bare-host', ...command];
}

/** Shell, run in the namespace, that prints what it can still reach: tools of `names` that run, files in emptied directories. */
export function leakProbe(host: BareHost, names: string[]): string {
  return (
    `for t in ${names.join(' ')}; do if "$t" --version >/dev/null 2>&1; then echo "runs: $t"; fi; done; ` +
    `ls -A ${host.dirs.join(' ')} | grep -v ':$' | grep . || true`
  );
}

/** The libraries ldd lists that a host without a compiler might lack: anything beyond glibc, libstdc++ and libgcc. */
export function unexpectedLibraries(lddOutput: string): string[] {
  const allowed = /^(linux-vdso\.so\.1|\/lib64\/ld-linux-x86-64\.so\.2|lib(c|m|pthread|dl|rt|stdc\+\+|gcc_s)\.so\.\d+)$/;
  return lddOutput
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0]!)
    .filter((l) => l && !allowed.test(l));
}
