/**
 * Every network namespace on the host: those some process lives in (one /proc/<pid>/ns/net per
 * namespace), and those only bind-mounted by `ip netns add` under /run/netns.
 */
import { readdirSync, statSync } from 'node:fs';

export interface NamespaceRef {
  /** A file naming the network namespace: /proc/<pid>/ns/net or /run/netns/<name>. */
  path: string;
  inode: number;
}

export function listNetworkNamespaces(procRoot = '/proc'): NamespaceRef[] {
  const byInode = new Map<number, NamespaceRef>();
  const add = (path: string) => {
    try {
      const inode = statSync(path).ino;
      if (!byInode.has(inode)) byInode.set(inode, { path, inode });
    } catch {
      // the process exited or the mount went away while we looked: nothing there to inventory
    }
  };
  add(`${procRoot}/self/ns/net`);
  for (const entry of readdirSync(procRoot)) {
    if (/^\d+$/.test(entry)) add(`${procRoot}/${entry}/ns/net`);
  }
  for (const dir of ['/run/netns', '/var/run/netns']) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) add(`${dir}/${name}`);
  }
  return [...byInode.values()];
}
