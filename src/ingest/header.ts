import { InputRejectedError } from '../errors.ts';
import type { ColumnMapping } from './mapping.ts';
import { SOURCE_COLUMNS, requiredColumns, type SourceName } from './sources.ts';

function norm(header: string): string {
  return header.trim().toLowerCase();
}

/** How a file's header lines up with the canonical columns. */
export interface HeaderLayout {
  /** For each canonical column (table order), its index in the file's row, or -1. */
  positions: number[];
  /** File headers that match no canonical column (ignored; named in the log). */
  ignored: string[];
  /** How many cells a row should have. */
  width: number;
}

/**
 * Match a header row to the canonical columns, case-insensitively after trimming, through the
 * mapping's renames. Fails the file naming every missing required column, a duplicated column,
 * or a delimiter that is plainly not a comma.
 */
export function resolveHeader(
  source: SourceName,
  header: readonly string[],
  mapping: ColumnMapping | undefined,
  displayName: string,
): HeaderLayout {
  const renames = new Map<string, string>();
  for (const [from, to] of Object.entries(mapping?.columns ?? {})) renames.set(norm(from), to);
  const delimiter = mapping?.delimiter ?? ',';
  if (header.length === 1) {
    const only = header[0] ?? '';
    for (const [char, name] of [[';', 'semicolons'], ['\t', 'tabs'], ['|', 'vertical bars']] as const) {
      if (char !== delimiter && only.split(char).length >= 3) {
        throw new InputRejectedError(displayName, `${displayName} is separated by ${name}, not commas`, {
          hint: `re-export it comma-separated, or give it a column mapping with \`delimiter: "${char === '\t' ? '\\t' : char}"\``,
        });
      }
    }
  }
  const canonical = SOURCE_COLUMNS[source].map((c) => c.name);
  const positions = canonical.map(() => -1);
  const ignored: string[] = [];
  header.forEach((raw, index) => {
    const key = norm(raw);
    const target = renames.get(key) ?? key;
    const at = canonical.indexOf(target);
    if (at < 0) {
      if (key !== '') ignored.push(raw.trim());
      return;
    }
    if (positions[at] !== -1) {
      throw new InputRejectedError(displayName, `${displayName}: column ${target} appears twice in the header`, {
        hint: 'remove or rename the duplicate column (or fix the column mapping) and load again',
      });
    }
    positions[at] = index;
  });
  const missing = requiredColumns(source).filter((name) => positions[canonical.indexOf(name)] === -1);
  if (missing.length > 0) {
    throw new InputRejectedError(
      displayName,
      `${displayName} is missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} for the ${source} extract`,
      {
        hint: mapping
          ? 'check the column mapping maps these headers'
          : `check it is the ${source} extract; if its headers differ, pass a column mapping (--mapping FILE)`,
      },
    );
  }
  return { positions, ignored, width: header.length };
}
