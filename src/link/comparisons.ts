import damerauLevenshtein from 'talisman/metrics/damerau-levenshtein.js';
import jaroWinkler from 'talisman/metrics/jaro-winkler.js';
import type { Comparison, ComparisonLevel, LinkRecord } from './model.ts';

/**
 * Comparison builders shared by every linkage task: each returns levels from strongest
 * agreement to "else", so EM learns how much each level is worth. String metrics come from
 * talisman (Jaro-Winkler, optimal string alignment).
 */

const missing = (field: string) => (a: LinkRecord, b: LinkRecord) => !a[field] || !b[field];

const exact = (field: string): ComparisonLevel => ({ label: 'exact', test: (a, b) => a[field] === b[field] });

const jaroAtLeast = (field: string, threshold: number): ComparisonLevel => ({
  label: `jaro-winkler >= ${threshold}`,
  test: (a, b) => jaroWinkler(a[field]!, b[field]!) >= threshold,
});

const editsAtMost = (field: string, edits: number): ComparisonLevel => ({
  label: `${edits} edit${edits > 1 ? 's' : ''} or fewer`,
  test: (a, b) => Math.abs(a[field]!.length - b[field]!.length) <= edits && damerauLevenshtein(a[field]!, b[field]!) <= edits,
});

const otherwise: ComparisonLevel = { label: 'else', test: () => true };

/** A name: exact, swapped with another name field, then Jaro-Winkler bands. */
export function nameComparison(field: string, opts: { swapWith?: string; bands?: number[] } = {}): Comparison {
  const levels: ComparisonLevel[] = [exact(field)];
  const other = opts.swapWith;
  if (other) {
    levels.push({ label: `swapped with ${other}`, test: (a, b) => a[field] === b[other] && !!a[field] });
  }
  for (const band of opts.bands ?? [0.92, 0.8]) levels.push(jaroAtLeast(field, band));
  levels.push(otherwise);
  return { name: field, isNull: missing(field), levels };
}

/** A date as `YYYYMMDD` (or ISO with dashes removed): exact, day and month transposed, one edit, else. */
export function dateComparison(field: string): Comparison {
  const transposed = (v: string) => `${v.slice(0, 4)}${v.slice(6, 8)}${v.slice(4, 6)}`;
  return {
    name: field,
    isNull: missing(field),
    levels: [
      exact(field),
      { label: 'day and month transposed', test: (a, b) => a[field]!.length === 8 && transposed(a[field]!) === b[field] },
      editsAtMost(field, 1),
      { label: 'same year', test: (a, b) => a[field]!.slice(0, 4) === b[field]!.slice(0, 4) },
      otherwise,
    ],
  };
}

/** An identifier or code: exact, one edit (a mistyped digit or swapped pair), else. */
export function idComparison(field: string): Comparison {
  return { name: field, isNull: missing(field), levels: [exact(field), editsAtMost(field, 1), otherwise] };
}

/** Free text such as a street or suburb: exact, Jaro-Winkler >= 0.9, else. */
export function textComparison(field: string, band = 0.9): Comparison {
  return { name: field, isNull: missing(field), levels: [exact(field), jaroAtLeast(field, band), otherwise] };
}

/** Exact or not. */
export function exactComparison(field: string): Comparison {
  return { name: field, isNull: missing(field), levels: [exact(field), otherwise] };
}
