/** The bench's tables as text: columns as wide as their widest cell, numbers right-aligned, the columns in `left` left-aligned. */
export function textTable(rows: readonly string[][], left: readonly number[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows
    .map((row) =>
      row
        .map((c, i) => (left.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
