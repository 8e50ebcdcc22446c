/**
 * A batch of lines the addon made (options.lines), with the lines of the records it left to JavaScript
 * put back where they belong: the text is cut at each such record's offset. The pieces are written in
 * one go (json-lines.ts writeChunks); nothing of the text is copied.
 */
export function spliceLines(text: Uint8Array, rawAt: readonly number[], rawLines: readonly (string | null)[]): (Uint8Array | string)[] {
  const chunks: (Uint8Array | string)[] = [];
  let from = 0;
  for (let i = 0; i < rawAt.length; i++) {
    const at = rawAt[i]!;
    if (at > from) chunks.push(text.subarray(from, at));
    from = at;
    const line = rawLines[i];
    if (line) chunks.push(line);
  }
  if (text.length > from) chunks.push(text.subarray(from));
  return chunks;
}
