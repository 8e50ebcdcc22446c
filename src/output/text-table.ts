/** Plain text tables: columns padded to their widest cell, numbers right-aligned. */
export interface Column<T> {
  title: string;
  cell: (row: T) => string | number;
  align?: 'left' | 'right';
}

export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], indent = '  '): string {
  const cells = rows.map((r) => columns.map((c) => String(c.cell(r))));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    indent +
    values
      .map((v, i) => ((columns[i]!.align ?? 'left') === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)].join('\n');
}
