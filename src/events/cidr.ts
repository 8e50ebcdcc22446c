/** Address ranges for --peer: `198.18.0.0/15`, `2001:2::/48`, or a single address. */
import { parseIP } from './ip-address.js';
import { UsageError } from '../errors/usage-error.js';

export interface Cidr {
  text: string;
  bytes: Uint8Array;
  prefix: number;
}

export function parseCidr(text: string): Cidr {
  const [addr, prefixText, extra] = text.split('/');
  const bytes = addr === undefined ? null : parseIP(addr);
  if (!bytes || extra !== undefined) {
    throw new UsageError(`--peer: "${text}" is not an IP address or CIDR range (e.g. 198.18.0.0/15, 2001:2::/48)`);
  }
  const bits = bytes.length * 8;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits || (prefixText ?? '').trim() !== (prefixText ?? '')) {
    throw new UsageError(`--peer: prefix length in "${text}" must be a whole number from 0 to ${bits}`);
  }
  return { text, bytes, prefix };
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const bytes = parseIP(address);
  if (!bytes || bytes.length !== cidr.bytes.length) return false;
  let remaining = cidr.prefix;
  for (let i = 0; remaining > 0; i++, remaining -= 8) {
    const mask = remaining >= 8 ? 0xff : (0xff << (8 - remaining)) & 0xff;
    if ((bytes[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}
