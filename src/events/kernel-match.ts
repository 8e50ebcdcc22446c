/**
 * A watch's filters as the kernel applies them before events cross (probes/lib/match.bpf.h). The kernel
 * may let through more than asked (user space filters again), never less: a comm the kernel cannot
 * compare byte for byte (escaped: not printable ASCII) leaves --comm to user space, and an IPv4 range
 * is matched as the IPv4-mapped IPv6 one, which IPv4 and mapped peers both fall in.
 */
import type { EventFilter } from './event-filter.js';

/** The kernel's match tables (options.match of the addon's Tracer). */
export interface KernelMatch {
  ports?: number[];
  pids?: number[];
  comms?: Uint8Array[];
  peers?: { addr: Uint8Array; prefixlen: number }[];
}

/** Names the kernel compares byte for byte with what user space prints: printable ASCII, no escape. */
const PLAIN = /^[\x20-\x5b\x5d-\x7e]{1,15}$/;

export function kernelMatchFor(f: EventFilter): KernelMatch {
  const match: KernelMatch = {};
  if (f.ports?.length) match.ports = [...f.ports];
  if (f.pids?.length) match.pids = [...f.pids];
  if (f.comms?.length && f.comms.every((c) => PLAIN.test(c))) match.comms = f.comms.map((c) => Buffer.from(c, 'latin1'));
  if (f.peers?.length) {
    match.peers = f.peers.map((c) => {
      if (c.bytes.length === 16) return { addr: c.bytes, prefixlen: c.prefix };
      const addr = new Uint8Array(16);
      addr[10] = 0xff;
      addr[11] = 0xff;
      addr.set(c.bytes, 12);
      return { addr, prefixlen: 96 + c.prefix };
    });
  }
  return match;
}
