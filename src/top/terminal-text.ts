/**
 * The last guard before the terminal: whatever reaches a cell passes through here. Kernel strings are
 * escaped at decode time already; this catches anything that was not (defense in depth), and fits text
 * to a column by its display width (what the terminal draws: wide CJK takes two cells, a combining
 * mark none), not its length in code points.
 */
import stringWidth from 'string-width';

// C0 and C1 controls, DEL, and the invisible reordering and line-breaking characters.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Cells the terminal gives `text` (already terminal-safe). */
export function displayWidth(text: string): number {
  return stringWidth(text);
}

/** The longest prefix of whole graphemes (a base and its marks, an emoji sequence) within `width` cells. */
function prefixWithin(text: string, width: number): { text: string; width: number } {
  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const w = stringWidth(segment);
    if (used + w > width) break;
    out += segment;
    used += w;
  }
  return { text: out, width: used };
}

/** Exactly `width` cells: cut with an ellipsis, or padded. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const safe = terminalSafe(text);
  const full = stringWidth(safe);
  let cut = safe;
  let used = full;
  if (full > width) {
    // A wide character that would straddle the cut goes whole: the ellipsis takes its cells, padded.
    const head = prefixWithin(safe, width - 1);
    cut = `${head.text}…`;
    used = head.width + 1;
  }
  const pad = ' '.repeat(width - used);
  return align === 'right' ? pad + cut : cut + pad;
}
