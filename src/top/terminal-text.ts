/**
 * The last guard before the terminal: whatever reaches a cell passes through here. Kernel strings are
 * escaped at decode time already; this catches anything that was not (defense in depth), and fits text
 * to a column.
 */

// C0 and C1 controls, DEL, and the invisible reordering and line-breaking characters.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** Exactly `width` columns: cut with an ellipsis, or padded. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const safe = terminalSafe(text);
  const chars = [...safe];
  const cut = chars.length > width ? chars.slice(0, Math.max(0, width - 1)).join('') + '…' : safe;
  const pad = width - [...cut].length;
  return align === 'right' ? ' '.repeat(pad) + cut : cut + ' '.repeat(pad);
}
