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
