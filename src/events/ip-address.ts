/** IP addresses between bytes and text: RFC 5952 text for IPv6, IPv4-mapped IPv6 shown as IPv4. */
import { isIPv4, isIPv6 } from 'node:net';

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

function isV4Mapped(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 10; i++) if (b[o + i] !== 0) return false;
  return b[o + 10] === 0xff && b[o + 11] === 0xff;
}

/** RFC 5952: lowercase hex, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  if (isV4Mapped(bytes, offset)) return formatIPv4(bytes, offset + 12);
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** Parses IPv4 or IPv6 text into 4 or 16 bytes; IPv4-mapped IPv6 becomes its 4 IPv4 bytes. */
export function parseIP(text: string): Uint8Array | null {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!isIPv6(text)) return null;
  let head = text;
  let tailV4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tailV4 = text.slice(lastColon + 1).split('.').map(Number);
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const l = parse(left);
  const r = parse(right);
  const groups = right === undefined ? l : [...l, ...new Array(8 - l.length - r.length).fill(0), ...r];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tailV4.length === 4) bytes.set(tailV4, 12);
  if (isV4Mapped(bytes, 0)) return bytes.slice(12);
  return bytes;
}
