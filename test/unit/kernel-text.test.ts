import { describe, expect, it } from 'vitest';
import { decodeKernelText, escapeUntrustedText } from '../../src/events/kernel-text.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

describe('kernel strings are escaped, never passed raw, never dropped', () => {
  it('keeps ordinary names and stops at NUL', () => {
    expect(decodeKernelText(bytes(0x6e, 0x67, 0x69, 0x6e, 0x78, 0, 0x41))).toBe('nginx');
    expect(decodeKernelText(new TextEncoder().encode('größe-сервер'))).toBe('größe-сервер');
  });

  it('escapes C0 controls, DEL and the backslash itself', () => {
    expect(escapeUntrustedText('a\x1b[31mb\nc\x7f')).toBe('a\\x1b[31mb\\x0ac\\x7f');
    expect(escapeUntrustedText('C:\\x1b')).toBe('C:\\\\x1b'); // a literal backslash cannot forge an escape
  });

  it('escapes C1 controls and bidirectional overrides', () => {
    expect(escapeUntrustedText('a\u009bb')).toBe('a\\u{9b}b'); // 8-bit CSI
    expect(escapeUntrustedText('evil\u202etxt.exe')).toBe('evil\\u{202e}txt.exe');
    expect(escapeUntrustedText('x\u2066y\u2069')).toBe('x\\u{2066}y\\u{2069}');
  });

  it('shows invalid UTF-8 byte by byte', () => {
    expect(decodeKernelText(bytes(0x61, 0xc3, 0x28, 0x62))).toBe('a\\xc3(b'); // bad continuation
    expect(decodeKernelText(bytes(0xe2, 0x82))).toBe('\\xe2\\x82'); // truncated at the end
    expect(decodeKernelText(bytes(0xc0, 0xaf))).toBe('\\xc0\\xaf'); // overlong '/'
    expect(decodeKernelText(bytes(0xed, 0xa0, 0x80))).toBe('\\xed\\xa0\\x80'); // surrogate
  });

  it('respects the length it is given (fixed-size comm fields)', () => {
    expect(decodeKernelText(bytes(0x61, 0x62, 0x63, 0x64), 1, 2)).toBe('bc');
  });
});
