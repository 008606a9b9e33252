/**
 * Make a cell safe to open in a spreadsheet: a value that starts with `=`, `+`, `-`, `@`, a tab
 * or a carriage return could be run as a formula, so it gets a leading apostrophe, which
 * spreadsheets show as text and people still recognise (`'=SUM(A1)`, `'-5`).
 */
export function spreadsheetSafe(value: string): string {
  if (value === '') return value;
  const first = value.charCodeAt(0);
  // = + - @ \t \r
  if (first === 61 || first === 43 || first === 45 || first === 64 || first === 9 || first === 13) return `'${value}`;
  return value;
}

/**
 * {@link spreadsheetSafe} as a SQL expression over `column` (a column name or expression), for
 * files written by `COPY ... TO` without passing through JavaScript. NULL stays NULL.
 */
export function spreadsheetSafeSql(column: string): string {
  return `CASE WHEN left(${column}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || ${column} ELSE ${column} END`;
}
