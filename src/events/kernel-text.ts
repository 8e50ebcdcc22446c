/**
 * Strings from the kernel (process names, later command lines) are whatever a process chose to call
 * itself: terminal escapes, newlines, bidirectional overrides, invalid UTF-8. They are escaped once, here,
 * at decode time, so no output ever carries them raw, and nothing is dropped: every byte stays visible.
 *
 *   valid printable UTF-8  -> itself
 *   backslash              -> \\
 *   C0, DEL, C1 controls   -> \xNN / \u{NN}
 *   bidi and line controls -> \u{XXXX}
 *   invalid UTF-8 bytes    -> \xNN
 */

/** Code points that reorder or break text on a terminal although they are "printable". */
function isInvisibleControl(cp: number): boolean {
  return (
    cp === 0x061c || // ARABIC LETTER MARK
    (cp >= 0x200b && cp <= 0x200f) || // zero-width and directional marks
    (cp >= 0x2028 && cp <= 0x202e) || // line/paragraph separators, embeddings, overrides
    (cp >= 0x2060 && cp <= 0x2069) || // word joiner, isolates
    cp === 0xfeff // byte order mark
  );
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** The code point of a valid UTF-8 sequence at i and its length, or null if the bytes are not one. */
function readUtf8(b: Uint8Array, i: number, end: number): { cp: number; length: number } | null {
  const c = b[i]!;
  let need: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) [need, min] = [1, 0x80];
  else if (c >= 0xe0 && c <= 0xef) [need, min] = [2, 0x800];
  else if (c >= 0xf0 && c <= 0xf4) [need, min] = [3, 0x10000];
  else return null;
  if (i + need >= end) return null;
  let cp = c & (0x3f >> need);
  for (let k = 1; k <= need; k++) {
    const cc = b[i + k]!;
    if ((cc & 0xc0) !== 0x80) return null;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null; // overlong, surrogate
  return { cp, length: need + 1 };
}

/**
 * Runs of printable ASCII become strings through one decoder call: spreading the bytes into
 * String.fromCharCode cost a third of the whole decode (bench/decode-throughput.mjs). Only bytes
 * 0x20-0x7e reach it, which every single-byte decoding maps to themselves.
 */
const printableAscii = new TextDecoder('latin1');

/** Decodes bytes [offset, offset+length) up to the first NUL, escaping as described above. */
export function decodeKernelText(bytes: Uint8Array, offset = 0, length = bytes.length - offset): string {
  let end = offset;
  const limit = offset + length;
  while (end < limit && bytes[end] !== 0) end++;

  let out = '';
  let plainStart = offset;
  let i = offset;
  // Fast path: runs of printable ASCII are copied in one slice.
  const flushPlain = (upTo: number) => {
    if (upTo > plainStart) out += printableAscii.decode(bytes.subarray(plainStart, upTo));
  };
  while (i < end) {
    const c = bytes[i]!;
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) {
      i++;
      continue;
    }
    flushPlain(i);
    if (c === 0x5c) {
      out += '\\\\';
      i++;
    } else if (c < 0x80) {
      out += `\\x${hex2(c)}`;
      i++;
    } else {
      const seq = readUtf8(bytes, i, end);
      if (seq === null) {
        out += `\\x${hex2(c)}`;
        i++;
      } else {
        const { cp, length } = seq;
        if ((cp >= 0x80 && cp <= 0x9f) || isInvisibleControl(cp)) out += `\\u{${cp.toString(16)}}`;
        else out += String.fromCodePoint(cp);
        i += length;
      }
    }
    plainStart = i;
  }
  flushPlain(end);
  return out;
}

/** Escapes a JS string the same way (for strings that did not come as bytes, e.g. from /proc reads). */
export function escapeUntrustedText(text: string): string {
  return decodeKernelText(new TextEncoder().encode(text));
}
