/**
 * The kernel's listen counters per network namespace (TcpExt ListenOverflows, ListenDrops), read from
 * /proc/<pid>/net/netstat through one process living in each namespace: the only record of handshakes
 * dropped because an accept queue was full. A namespace no process lives in (only bind-mounted under
 * /run/netns) cannot be read that way and is named in `problems`.
 */
import { readFileSync } from 'node:fs';
import type { NetstatSample } from '../core/listen-overflows.js';
import { listNetworkNamespaces, type NamespaceRef } from './network-namespaces.js';

/** TcpExt's ListenOverflows and ListenDrops from a netstat file's text (header line, then values). */
export function parseListenCounters(text: string): { listenOverflows: number; listenDrops: number } | null {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith('TcpExt:') || !lines[i + 1]!.startsWith('TcpExt:')) continue;
    const names = lines[i]!.trim().split(/\s+/);
    const values = lines[i + 1]!.trim().split(/\s+/);
    const at = (name: string) => Number(values[names.indexOf(name)]);
    const listenOverflows = at('ListenOverflows');
    const listenDrops = at('ListenDrops');
    return Number.isFinite(listenOverflows) && Number.isFinite(listenDrops) ? { listenOverflows, listenDrops } : null;
  }
  return null;
}

export function readListenCounters(namespaces: NamespaceRef[] = listNetworkNamespaces(), procRoot = '/proc'): { samples: NetstatSample[]; problems: string[] } {
  const samples: NetstatSample[] = [];
  const problems: string[] = [];
  for (const ns of namespaces) {
    const pid = /\/proc\/([^/]+)\/ns\/net$/.exec(ns.path)?.[1];
    if (!pid) {
      problems.push(`${ns.path}: no process lives in this namespace, its listen counters cannot be read`);
      continue;
    }
    try {
      const counters = parseListenCounters(readFileSync(`${procRoot}/${pid}/net/netstat`, 'utf8'));
      if (counters) samples.push({ netns: ns.inode, ...counters });
      else problems.push(`${procRoot}/${pid}/net/netstat: no TcpExt ListenOverflows`);
    } catch (error) {
      problems.push(`${procRoot}/${pid}/net/netstat: ${(error as Error).message}`); // the process exited meanwhile
    }
  }
  return { samples, problems };
}
