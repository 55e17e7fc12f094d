// Text tables for the terminal (the `table` package), in one house style: a rule under the header and
// around the whole, none between rows, so long tables stay readable.

import { table } from "table";

/** Renders rows (the first is the header) as a boxed text table; `totals` adds a rule before the last row. */
export function textTable(rows: (string | number)[][], totals = false): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  return table(cells, { drawHorizontalLine: (i, n) => i <= 1 || i === n || (totals && i === n - 1) }).trimEnd();
}

/** Formats an integer with thousands separators (1234567 → "1,234,567"). */
export function fmtInt(n: number): string {
  return n.toLocaleString("en-US");
}
