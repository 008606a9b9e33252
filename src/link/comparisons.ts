import damerauLevenshtein from 'talisman/metrics/damerau-levenshtein.js';
import jaroWinkler from 'talisman/metrics/jaro-winkler.js';
import { levelsByValue, MISSING } from './columns.ts';
import { levelOf, type Comparison, type ComparisonLevel, type LinkRecord } from './model.ts';
import { sameNameFamily } from './nicknames.ts';

/**
 * Comparison builders shared by every linkage task: each returns levels from strongest
 * agreement to "else", so EM learns how much each level is worth. String metrics come from
 * talisman (Jaro-Winkler, optimal string alignment).
 */

const missing = (field: string) => (a: LinkRecord, b: LinkRecord) => !a[field] || !b[field];

const exact = (field: string): ComparisonLevel => ({ label: 'exact', test: (a, b) => a[field] === b[field] });

// The bands of one comparison test the same two values in turn: remember the last similarity.
let lastA = '';
let lastB = '';
let lastSimilarity = 0;
function similarity(a: string, b: string): number {
  if (a !== lastA || b !== lastB) {
    lastA = a;
    lastB = b;
    lastSimilarity = jaroWinkler(a, b);
  }
  return lastSimilarity;
}

const jaroAtLeast = (field: string, threshold: number): ComparisonLevel => ({
  label: `jaro-winkler >= ${threshold}`,
  test: (a, b) => similarity(a[field]!, b[field]!) >= threshold,
});

const editsAtMost = (field: string, edits: number): ComparisonLevel => ({
  label: `${edits} edit${edits > 1 ? 's' : ''} or fewer`,
  test: (a, b) => Math.abs(a[field]!.length - b[field]!.length) <= edits && damerauLevenshtein(a[field]!, b[field]!) <= edits,
});

const otherwise: ComparisonLevel = { label: 'else', test: () => true };

/** Known-as forms of one forename (William and Bill, Bill and Will): see nicknames.ts. */
const nickname = (field: string): ComparisonLevel => ({
  label: 'nickname or other form of one name',
  test: (a, b) => sameNameFamily(a[field]!, b[field]!),
});

export interface NameComparisonOptions {
  /** Another name field: a value equal to the other record's value there is a swap (a level after exact). */
  swapWith?: string;
  /** Jaro-Winkler bands, strongest first (default 0.92 and 0.80). */
  bands?: number[];
  /**
   * A level for a forename and its diminutive or another form of one name (nicknames.ts), after
   * exact and swap and before the Jaro-Winkler bands; with a number, after the bands at or above it.
   */
  nicknames?: boolean | number;
  /** Term-frequency adjustment of the exact level (an exact match on a rare name weighs more). */
  termFrequency?: boolean;
}

/** A name: exact, swapped with another name field, optionally a nickname level, then Jaro-Winkler bands. */
export function nameComparison(field: string, opts: NameComparisonOptions = {}): Comparison {
  const levels: ComparisonLevel[] = [exact(field)];
  const other = opts.swapWith;
  if (other) {
    levels.push({ label: `swapped with ${other}`, test: (a, b) => a[field] === b[other] && !!a[field] });
  }
  const bands = opts.bands ?? [0.92, 0.8];
  const nicknameAfter = opts.nicknames === true ? Number.POSITIVE_INFINITY : typeof opts.nicknames === 'number' ? opts.nicknames : undefined;
  if (nicknameAfter === Number.POSITIVE_INFINITY) levels.push(nickname(field));
  for (const band of bands) {
    levels.push(jaroAtLeast(field, band));
    if (nicknameAfter === band) levels.push(nickname(field));
  }
  levels.push(otherwise);
  const comparison: Comparison = { name: field, isNull: missing(field), levels, ...(opts.termFrequency ? { termFrequency: { field, level: 0 } } : {}) };
  // Over columns: null, exact and swapped by value numbers; the levels after those read this field
  // alone, so they are worked out once per pair of distinct names.
  const fuzzyFrom = other ? 2 : 1;
  const fuzzy: Comparison = { name: field, isNull: () => false, levels: levels.slice(fuzzyFrom) };
  comparison.prepare = (columns) => {
    const { left: x, right: y, values } = columns.field(field);
    const fuzzyLevel = levelsByValue(columns.field(field), (a, b) => fuzzyFrom + levelOf(fuzzy, { [field]: a }, { [field]: b }));
    if (!other) return (i, j) => (x[i] === MISSING || y[j] === MISSING ? -1 : x[i] === y[j] ? 0 : fuzzyLevel(x[i]!, y[j]!));
    const otherColumn = columns.field(other);
    // Each value's number among the other field's values (-1: never there), so a swap is one comparison.
    const asOther = Int32Array.from(values, (v) => (v ? (otherColumn.numberOf.get(v) ?? -1) : -1));
    const otherRight = otherColumn.right;
    return (i, j) => {
      const a = x[i]!;
      const b = y[j]!;
      if (a === MISSING || b === MISSING) return -1;
      if (a === b) return 0;
      if (asOther[a] === otherRight[j]) return 1;
      return fuzzyLevel(a, b);
    };
  };
  return comparison;
}

/** A date as `YYYYMMDD` (or ISO with dashes removed): exact, day and month transposed, one edit, else. */
export function dateComparison(field: string): Comparison {
  const transposed = (v: string) => `${v.slice(0, 4)}${v.slice(6, 8)}${v.slice(4, 6)}`;
  return {
    name: field,
    field,
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
  return { name: field, field, isNull: missing(field), levels: [exact(field), editsAtMost(field, 1), otherwise] };
}

/** Free text such as a street or suburb: exact, Jaro-Winkler >= 0.9, else. */
export function textComparison(field: string, band = 0.9): Comparison {
  return { name: field, field, isNull: missing(field), levels: [exact(field), jaroAtLeast(field, band), otherwise] };
}

/** Exact or not. */
export function exactComparison(field: string): Comparison {
  return { name: field, field, isNull: missing(field), levels: [exact(field), otherwise] };
}
