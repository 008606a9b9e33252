import type { CellValue } from './sources.ts';

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** Escape one text value for PostgreSQL's text COPY format. */
export function copyEscape(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

function arrayLiteral(items: readonly string[]): string {
  return `{${items.map((i) => `"${i.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

/** One value in text COPY format: `\N` for null, `t`/`f` for booleans, `{..}` for text arrays. */
export function copyValue(value: CellValue | undefined): string {
  if (value === null || value === undefined) return '\\N';
  switch (typeof value) {
    case 'string':
      return copyEscape(value);
    case 'number':
      return String(value);
    case 'boolean':
      return value ? 't' : 'f';
    default:
      return copyEscape(arrayLiteral(value));
  }
}

/** A whole row (leading columns first) as one text COPY line, newline included. */
export function copyLine(leading: readonly (string | number)[], values: readonly CellValue[]): string {
  let line = '';
  for (const v of leading) line += `${typeof v === 'number' ? String(v) : copyEscape(v)}\t`;
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += '\t';
    line += copyValue(values[i]);
  }
  return `${line}\n`;
}
