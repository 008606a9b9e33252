import { Rng } from '../synth/random.ts';
import { hash53 } from '../util/hash.ts';
import { columnsOf, forgetColumns, isNumberedOnly, levelsByValue, PairNumbers, type RecordColumns } from './columns.ts';

/**
 * Unsupervised Fellegi-Sunter linkage, independent of where records come from: a record is a
 * map of normalised field values; a comparison turns a pair into a level per field; u
 * probabilities come from random pairs, m probabilities from EM over the candidate pairs, and
 * the prior from the data. Pure logic: no database, no I/O, so it is tested on FEBRL directly
 * and runs the same wherever the pairs come from.
 */

/** A record as linkage sees it: normalised values by field, `''` for missing. */
export type LinkRecord = Record<string, string>;

/** One level of a comparison: the first level whose test passes is the pair's level. */
export interface ComparisonLevel {
  label: string;
  test(a: LinkRecord, b: LinkRecord): boolean;
}

/**
 * A comparison of one aspect of two records (a name, the date of birth...). `isNull` says the
 * comparison has no evidence either way for this pair (a value missing); the last level should be
 * an "else" that always passes.
 */
export interface Comparison {
  name: string;
  isNull(a: LinkRecord, b: LinkRecord): boolean;
  levels: ComparisonLevel[];
  /**
   * Term-frequency adjustment (Splink's): at `level` (an exact match on `field`), the u of the
   * level is replaced by the frequency of the pair's value among the records, so agreeing on a
   * rare name weighs more than agreeing on a common one.
   */
  termFrequency?: { field: string; level: number };
  /**
   * The one field `isNull` and the tests read, when they read one: the level is then a function of
   * the two values, worked out once per pair of distinct values (see levelsByValue).
   */
  field?: string;
  /**
   * The comparison over numbered columns (see columns.ts), for speed: it must give, for every
   * pair, the level `isNull` and `levels` give (-1 for null).
   */
  prepare?(columns: RecordColumns): PairLevel;
}

/** A comparison's level for records `i` (left) and `j` (right) of a task: an index into its levels, -1 for null. */
export type PairLevel = (i: number, j: number) => number;

/** The level `isNull` and `levels` give for two records, -1 for null. */
export function levelOf(c: Comparison, a: LinkRecord, b: LinkRecord): number {
  if (c.isNull(a, b)) return -1;
  for (let l = 0; l < c.levels.length - 1; l++) if (c.levels[l]!.test(a, b)) return l;
  return c.levels.length - 1;
}

/**
 * The comparison as a level function over a task's columns, made once per task: its own
 * `prepare`, or by values of its `field`, or else record by record.
 */
export function preparedLevel(c: Comparison, columns: RecordColumns): PairLevel {
  return columns.once(c, (): PairLevel => {
    if (c.prepare) return c.prepare(columns);
    const { left, right } = columns;
    const field = c.field;
    if (field === undefined) {
      if (isNumberedOnly(left) || isNumberedOnly(right)) throw new Error(`comparison ${c.name} needs whole records, and only numbered columns were given`);
      return (i, j) => levelOf(c, left[i]!, right[j]!);
    }
    const column = columns.field(field);
    const byValue = levelsByValue(column, (a, b) => levelOf(c, { [field]: a }, { [field]: b }));
    const { left: x, right: y } = column;
    return (i, j) => byValue(x[i]!, y[j]!);
  });
}

/** The level of each comparison for a pair: an index into `levels`, or -1 for null. */
export type Gamma = Int8Array;

export function gammaOf(comparisons: readonly Comparison[], a: LinkRecord, b: LinkRecord): Gamma {
  return Int8Array.from(comparisons, (c) => levelOf(c, a, b));
}

/**
 * The levels of many pairs in one flat array (`width` comparisons per pair): one allocation for
 * millions of pairs instead of one object each, which is what kept the garbage collector busy.
 */
export interface GammaTable {
  width: number;
  length: number;
  levels: Int8Array;
}

/** Candidate pairs as two parallel index arrays (left index, right index). */
export interface PairList {
  length: number;
  left: Int32Array;
  right: Int32Array;
}

/** The levels of every pair in `pairs` (the same as gammaOf gives, pair by pair). */
export function gammaTable(comparisons: readonly Comparison[], left: readonly LinkRecord[], right: readonly LinkRecord[], pairs: PairList): GammaTable {
  const width = comparisons.length;
  const levels = new Int8Array(pairs.length * width);
  const columns = columnsOf(left, right);
  for (let k = 0; k < width; k++) {
    // A comparison at a time: its columns and remembered levels stay in the processor's cache.
    const level = preparedLevel(comparisons[k]!, columns);
    for (let n = 0, at = k; n < pairs.length; n++, at += width) levels[at] = level(pairs.left[n]!, pairs.right[n]!);
  }
  return { width, length: pairs.length, levels };
}

/** One pair's levels, as a view into the table (no copy). */
export function gammaAt(table: GammaTable, n: number): Gamma {
  return table.levels.subarray(n * table.width, (n + 1) * table.width);
}

/**
 * Distinct level patterns and how many pairs have each. EM only needs these: a few hundred
 * patterns stand for millions of pairs (Splink does the same), so training costs no more at 4x.
 */
interface Patterns {
  width: number;
  levels: Int8Array;
  counts: Float64Array;
}

function patternsOf(gammas: readonly Gamma[] | GammaTable): Patterns {
  const table = isTable(gammas) ? gammas : tableOf(gammas);
  const { width, length, levels } = table;
  const index = new Map<number, number>();
  const rows: number[] = [];
  const counts: number[] = [];
  for (let n = 0; n < length; n++) {
    let key = 0;
    for (let k = 0; k < width; k++) key = key * 33 + (levels[n * width + k]! + 1);
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, counts.length);
      rows.push(n);
      counts.push(1);
    } else counts[at]!++;
  }
  const unique = new Int8Array(rows.length * width);
  rows.forEach((n, i) => unique.set(levels.subarray(n * width, (n + 1) * width), i * width));
  return { width, levels: unique, counts: Float64Array.from(counts) };
}

function isTable(g: readonly Gamma[] | GammaTable): g is GammaTable {
  return !Array.isArray(g) && (g as GammaTable).levels instanceof Int8Array;
}

function tableOf(gammas: readonly Gamma[]): GammaTable {
  const width = gammas[0]?.length ?? 0;
  const levels = new Int8Array(gammas.length * width);
  gammas.forEach((g, n) => levels.set(g, n * width));
  return { width, length: gammas.length, levels };
}

/** Trained parameters: m and u per comparison level, and the prior over all possible pairs. */
export interface LinkModel {
  comparisons: { name: string; levels: { label: string; m: number; u: number }[] }[];
  /** Probability that two records drawn at random are the same person. */
  prior: number;
  /** EM iterations run and whether it converged. */
  iterations: number;
  converged: boolean;
  /**
   * Term frequencies by comparison name, for comparisons with a term-frequency adjustment.
   * Absent in models trained without one (and in models stored before it existed): scoring is
   * then unadjusted.
   */
  termFrequencies?: Record<string, TermFrequencyTable>;
}

/**
 * How often each value of a field occurs among the records linked (both sides of a link task),
 * for the term-frequency adjustment of an exact level. Only values seen more than once are
 * listed: any other value is taken as seen once.
 */
export interface TermFrequencyTable {
  field: string;
  /** The level adjusted (the comparison's exact level). */
  level: number;
  /** Records with a value in the field. */
  total: number;
  /** Records holding each value, for values held by more than one record. */
  counts: Record<string, number>;
  /** Lowest frequency used (the floor), so one rare value cannot outweigh everything else. */
  minimum: number;
}

/** The frequency of a value in a term-frequency table, at least the table's floor. */
export function termFrequencyOf(table: TermFrequencyTable, value: string): number {
  // Own properties only: a name such as `constructor` would otherwise read the object's prototype.
  const count = Object.hasOwn(table.counts, value) ? table.counts[value]! : 1;
  return Math.max(count / Math.max(table.total, 1), table.minimum);
}

/**
 * The term-frequency adjustment of a level for one value, in bits: log2(u / tf). Added to the
 * level's weight log2(m / u), it makes the weight log2(m / tf): positive for a value rarer than
 * the average agreement, negative for a common one.
 */
export function termFrequencyWeight(table: TermFrequencyTable, u: number, value: string): number {
  return Math.log2(u / termFrequencyOf(table, value));
}

/**
 * Term-frequency tables of the comparisons that ask for one, counted over the records (left and
 * right of a link task; left alone when deduplicating). The floor is the frequency of a value
 * held by `minimumCount` records (default 1: a value seen once).
 */
export function termFrequencyTables(
  comparisons: readonly Comparison[],
  left: readonly LinkRecord[],
  right: readonly LinkRecord[] | undefined,
  opts: { minimumCount?: number } = {},
): Record<string, TermFrequencyTable> | undefined {
  const tables: Record<string, TermFrequencyTable> = {};
  let any = false;
  for (const c of comparisons) {
    if (!c.termFrequency) continue;
    const { field, level } = c.termFrequency;
    const counts = new Map<string, number>();
    let total = 0;
    for (const list of right && right !== left ? [left, right] : [left]) {
      for (const r of list) {
        const v = r[field];
        if (!v) continue;
        total++;
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
    }
    const repeated: Record<string, number> = {};
    for (const [v, n] of [...counts].sort((x, y) => (x[0] < y[0] ? -1 : 1))) if (n > 1) repeated[v] = n;
    tables[c.name] = { field, level, total, counts: repeated, minimum: (opts.minimumCount ?? 1) / Math.max(total, 1) };
    any = true;
  }
  return any ? tables : undefined;
}

/** Term-frequency tables by comparison index, prepared once per model for fast scoring. */
const preparedTf = new WeakMap<LinkModel, ({ table: TermFrequencyTable; counts: Map<string, number> } | undefined)[]>();

function tfByComparison(model: LinkModel) {
  let prepared = preparedTf.get(model);
  if (!prepared) {
    prepared = model.comparisons.map((c) => {
      const table = model.termFrequencies?.[c.name];
      return table ? { table, counts: new Map(Object.entries(table.counts)) } : undefined;
    });
    preparedTf.set(model, prepared);
  }
  return prepared;
}

/** termFrequencyWeight over a prepared table (its counts as a Map: a value such as `constructor` is not a key of an object). */
function preparedTfWeight(t: { table: TermFrequencyTable; counts: Map<string, number> }, u: number, value: string): number {
  return Math.log2(u / Math.max((t.counts.get(value) ?? 1) / Math.max(t.table.total, 1), t.table.minimum));
}

/** Match weight (log2 Bayes factor) of each level. */
export function levelWeight(level: { m: number; u: number }): number {
  return Math.log2(level.m / level.u);
}

/**
 * A scored pair: the total match weight including the prior, its probability, and each
 * comparison's contribution (its level's weight plus any term-frequency adjustment).
 */
export interface PairScore {
  weight: number;
  probability: number;
  contributions: number[];
  /** The term-frequency adjustment inside each contribution (0 where none); present when the pair's records were given. */
  termFrequencyAdjustments?: number[];
}

/**
 * Score a pair from its levels. With the pair's records (`a`, `b`) and a model holding
 * term-frequency tables, an exact level of an adjusted comparison weighs log2(m / tf(value))
 * instead of log2(m / u); without them the score is unadjusted, as before.
 */
export function scorePair(model: LinkModel, gamma: Gamma, a?: LinkRecord, b?: LinkRecord): PairScore {
  let weight = Math.log2(model.prior / (1 - model.prior));
  const contributions: number[] = [];
  const tf = a && b && model.termFrequencies ? tfByComparison(model) : undefined;
  const adjustments: number[] | undefined = tf ? [] : undefined;
  for (let k = 0; k < gamma.length; k++) {
    const level = gamma[k]!;
    let w = level < 0 ? 0 : levelWeight(model.comparisons[k]!.levels[level]!);
    if (adjustments) {
      const t = tf![k];
      let adjust = 0;
      if (t && level === t.table.level) adjust = preparedTfWeight(t, model.comparisons[k]!.levels[level]!.u, a![t.table.field] ?? '');
      adjustments.push(adjust);
      w += adjust;
    }
    contributions.push(w);
    weight += w;
  }
  const score: PairScore = { weight, probability: 1 / (1 + 2 ** -weight), contributions };
  if (adjustments) score.termFrequencyAdjustments = adjustments;
  return score;
}

/**
 * The total match weight of every pair in a table (what {@link scorePair} gives, without the
 * per-comparison breakdown), with the term-frequency adjustment from the pairs' records. No
 * allocation per pair: this is the hot loop of linkage.
 */
export function scoreWeights(model: LinkModel, table: GammaTable, left: readonly LinkRecord[], right: readonly LinkRecord[], pairs: PairList): Float64Array {
  const K = table.width;
  const prior = Math.log2(model.prior / (1 - model.prior));
  const weights = model.comparisons.map((c) => c.levels.map((l) => levelWeight(l)));
  const columns = columnsOf(left, right);
  // The term-frequency adjustment of each value of an adjusted field, worked out once per value.
  const tf = tfByComparison(model).map((t, k) => {
    if (!t) return undefined;
    const column = columns.field(t.table.field);
    const u = model.comparisons[k]!.levels[t.table.level]!.u;
    const adjustment = Float64Array.from(column.values, (value) => preparedTfWeight(t, u, value));
    return { level: t.table.level, valueOf: column.left, adjustment };
  });
  const out = new Float64Array(table.length);
  for (let n = 0; n < table.length; n++) {
    let w = prior;
    for (let k = 0; k < K; k++) {
      const level = table.levels[n * K + k]!;
      if (level < 0) continue;
      w += weights[k]![level]!;
      const t = tf[k];
      if (t && level === t.level) w += t.adjustment[t.valueOf[pairs.left[n]!]!]!;
    }
    out[n] = w;
  }
  return out;
}

/** The probability of a match weight. */
export function probabilityOf(weight: number): number {
  return 1 / (1 + 2 ** -weight);
}

const FLOOR = 1e-6;

function smoothed(counts: Float64Array, total: number): number[] {
  // Add-one smoothing: a level never seen in random pairs is rare, not impossible.
  const levels = counts.length;
  return Array.from(counts, (c) => Math.max(FLOOR, (c + 1) / (total + levels)));
}

/** The seed and number of random pairs u is estimated from, unless told otherwise (estimateU, trainModel). */
const U_SEED = 1;
const U_PAIRS = 200_000;

/**
 * u probabilities: how often each level occurs between two random records (nearly all of which
 * are different people). `pairs` random pairs are drawn with a seeded generator.
 */
export function estimateU(
  comparisons: readonly Comparison[],
  left: readonly LinkRecord[],
  right: readonly LinkRecord[],
  opts: { pairs?: number; seed?: number } = {},
): number[][] {
  const rng = new Rng(opts.seed ?? U_SEED);
  // A pair of one record with itself is skipped; a stand-in list (numberedRecords) holds distinct records.
  const sameRecord = isNumberedOnly(left) ? (i: number, j: number) => left === right && i === j : (i: number, j: number) => left[i] === right[j];
  const pairs = opts.pairs ?? U_PAIRS;
  const counts = comparisons.map((c) => new Float64Array(c.levels.length));
  const totals = new Float64Array(comparisons.length);
  const columns = columnsOf(left, right);
  const prepared = comparisons.map((c) => preparedLevel(c, columns));
  for (let n = 0; n < pairs; n++) {
    const i = rng.int(0, left.length - 1);
    const j = rng.int(0, right.length - 1);
    if (sameRecord(i, j)) continue;
    for (let k = 0; k < prepared.length; k++) {
      const level = prepared[k]!(i, j);
      if (level < 0) continue;
      counts[k]![level]!++;
      totals[k]!++;
    }
  }
  return counts.map((c, k) => smoothed(c, totals[k]!));
}

/**
 * m probabilities and the share of matches among candidate pairs, by expectation-maximisation
 * with u held fixed (as Splink does): no labels are used.
 */
export function estimateM(
  comparisons: readonly Comparison[],
  gammas: readonly Gamma[] | GammaTable,
  u: number[][],
  opts: { maxIterations?: number; tolerance?: number; initialM?: number[][]; initialLambda?: number } = {},
): { m: number[][]; lambda: number; iterations: number; converged: boolean } {
  return estimateMOverPatterns(comparisons, patternsOf(gammas), u, opts);
}

function estimateMOverPatterns(
  comparisons: readonly Comparison[],
  patterns: Patterns,
  u: number[][],
  opts: { maxIterations?: number; tolerance?: number; initialM?: number[][]; initialLambda?: number } = {},
): { m: number[][]; lambda: number; iterations: number; converged: boolean } {
  const K = comparisons.length;
  const { levels, counts } = patterns;
  const P = counts.length;
  let total = 0;
  for (let p = 0; p < P; p++) total += counts[p]!;
  // Start from "better levels are likelier among matches".
  let m =
    opts.initialM ??
    comparisons.map((c) => {
      const n = c.levels.length;
      const raw = Array.from({ length: n }, (_, l) => 2 ** (n - 1 - l) * (l === n - 1 ? 0.1 : 1));
      const sum = raw.reduce((s, x) => s + x, 0);
      return raw.map((x) => x / sum);
    });
  let lambda = opts.initialLambda ?? 0.1;
  const maxIterations = opts.maxIterations ?? 50;
  const tolerance = opts.tolerance ?? 1e-5;
  let iterations = 0;
  let converged = false;
  const logU = u.map((ls) => ls.map(Math.log));
  while (iterations < maxIterations) {
    iterations++;
    const logM = m.map((ls) => ls.map((p) => Math.log(Math.max(p, FLOOR))));
    const mCounts = comparisons.map((c) => new Float64Array(c.levels.length));
    const mTotals = new Float64Array(K);
    let pSum = 0;
    const logPrior = Math.log(lambda / (1 - lambda));
    for (let p = 0; p < P; p++) {
      let logRatio = logPrior;
      for (let k = 0; k < K; k++) {
        const l = levels[p * K + k]!;
        if (l >= 0) logRatio += logM[k]![l]! - logU[k]![l]!;
      }
      const match = (logRatio > 40 ? 1 : 1 / (1 + Math.exp(-logRatio))) * counts[p]!;
      pSum += match;
      for (let k = 0; k < K; k++) {
        const l = levels[p * K + k]!;
        if (l < 0) continue;
        mCounts[k]![l]! += match;
        mTotals[k]! += match;
      }
    }
    const next = mCounts.map((c, k) => Array.from(c, (x) => Math.max(FLOOR, x / Math.max(mTotals[k]!, FLOOR))));
    const nextLambda = Math.min(1 - FLOOR, Math.max(FLOOR, pSum / Math.max(total, 1)));
    let change = Math.abs(nextLambda - lambda);
    for (let k = 0; k < K; k++) for (let l = 0; l < next[k]!.length; l++) change = Math.max(change, Math.abs(next[k]![l]! - m[k]![l]!));
    m = next;
    lambda = nextLambda;
    if (change < tolerance) {
      converged = true;
      break;
    }
  }
  return { m, lambda, iterations, converged };
}

/**
 * One part of a blocking key: a field of the record or something derived from some fields (a
 * Soundex code, a postcode sector). Worked out once per distinct combination of the fields'
 * values, not once per record.
 */
export interface KeyPart {
  /** The fields it is worked out from. */
  fields: readonly string[];
  /** The part from the fields' values, in `fields` order (`''` for a missing field); undefined or `''` when the record has none. */
  of(values: readonly string[]): string | undefined;
}

/** Candidate pairs from blocking rules OR-ed together: pairs that agree on any rule's key. */
export interface BlockingRule {
  name: string;
  /**
   * The key is these parts together; a record missing any part is not blocked by the rule.
   * Rules that use one part should share the object (see `fieldPart`): candidatePairs numbers
   * each part once.
   */
  parts: readonly KeyPart[];
  /** Keep only the blocks whose key hashes below this share of the 53-bit range (see sampledRule). */
  sample?: number;
}

const fieldParts = new Map<string, KeyPart>();

/** The part that is a field's value as it stands; one object per field, so rules share it. */
export function fieldPart(field: string): KeyPart {
  let part = fieldParts.get(field);
  if (!part) fieldParts.set(field, (part = { fields: [field], of: ([value]) => value || undefined }));
  return part;
}

/** The part of one record. */
function partOf(part: KeyPart, r: LinkRecord): string | undefined {
  return part.of(part.fields.map((field) => r[field] ?? ''));
}

/** A rule's key of a record as text (parts joined by `|`), or undefined when a part is missing. */
export function blockingKey(rule: BlockingRule, r: LinkRecord): string | undefined {
  let key = '';
  for (let n = 0; n < rule.parts.length; n++) {
    const value = partOf(rule.parts[n]!, r);
    if (!value) return undefined;
    key = n === 0 ? value : `${key}|${value}`;
  }
  if (rule.sample !== undefined && hash53(key) / 2 ** 53 >= rule.sample) return undefined;
  return key;
}

/** Each record's number for one part or key (-1: none), the same number for the same value on both sides. */
export interface NumberedPart {
  left: Int32Array;
  right: Int32Array;
  values: number;
}

/** The number of `value` among `numbers`, numbering it next (0, 1, 2, ...) when new. */
function denseNumber<K>(numbers: Map<K, number>, value: K): number {
  let n = numbers.get(value);
  if (n === undefined) {
    n = numbers.size;
    numbers.set(value, n);
  }
  return n;
}

/**
 * Two numberings folded into one dense number per distinct combination (-1 where either is -1),
 * with one dictionary for both sides; `firstOf[t]` and `secondOf[t]` are the two numbers of combination `t`.
 */
function fold(a: NumberedPart, b: NumberedPart, dedupe: boolean): NumberedPart & { firstOf: Int32Array; secondOf: Int32Array } {
  const numbers = new PairNumbers(Math.min(a.values * b.values, a.right.length + (dedupe ? 0 : a.left.length)));
  const folded = (x: Int32Array, y: Int32Array) => {
    const ids = new Int32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const p = x[i]!;
      const q = y[i]!;
      ids[i] = p < 0 || q < 0 ? -1 : numbers.numberOf(p, q);
    }
    return ids;
  };
  const right = folded(a.right, b.right);
  const left = dedupe ? right : folded(a.left, b.left);
  return { left, right, values: numbers.size, firstOf: numbers.firsts, secondOf: numbers.seconds };
}

/**
 * Each record's number for a part: the numbers of its fields' values (columns.ts) folded into one
 * per distinct combination, the part worked out once per combination, then numbered.
 */
function numberPart(part: KeyPart, columns: RecordColumns): NumberedPart {
  const dedupe = columns.left === columns.right;
  const fieldColumns = part.fields.map((field) => columns.field(field));
  let combined: NumberedPart = { left: fieldColumns[0]!.left, right: fieldColumns[0]!.right, values: fieldColumns[0]!.values.length };
  let valuesOf = (t: number): string[] => [fieldColumns[0]!.values[t]!];
  for (let f = 1; f < fieldColumns.length; f++) {
    const column = fieldColumns[f]!;
    const next = fold(combined, { left: column.left, right: column.right, values: column.values.length }, dedupe);
    const before = valuesOf;
    valuesOf = (t) => [...before(next.firstOf[t]!), column.values[next.secondOf[t]!]!];
    combined = next;
  }
  const numbers = new Map<string, number>();
  const partOfCombination = new Int32Array(combined.values);
  for (let t = 0; t < combined.values; t++) {
    const value = part.of(valuesOf(t));
    partOfCombination[t] = value ? denseNumber(numbers, value) : -1;
  }
  // Plain loops: Int32Array.from(records, fn) goes through the iterator protocol, twice as slow.
  const numbered = (combinations: Int32Array) => {
    const ids = new Int32Array(combinations.length);
    for (let i = 0; i < combinations.length; i++) ids[i] = partOfCombination[combinations[i]!]!;
    return ids;
  };
  const right = numbered(combined.right);
  return { left: dedupe ? right : numbered(combined.left), right, values: numbers.size };
}

/**
 * A rule's key numbers: its parts' numbers folded pairwise into one dense number per distinct
 * combination. Numbers, not joined strings: a million records times nine rules of concatenated
 * keys cost more than all the comparisons.
 */
function numberRule(rule: BlockingRule, partNumbers: (part: KeyPart) => NumberedPart, columns: RecordColumns): NumberedPart {
  const { left, right } = columns;
  let folded = partNumbers(rule.parts[0]!);
  for (let p = 1; p < rule.parts.length; p++) folded = fold(folded, partNumbers(rule.parts[p]!), left === right);
  if (rule.sample === undefined) return folded;
  // Sampled: whole blocks kept or dropped by the hash of the key's text, worked out once per block
  // from a record's values in the columns (the same values as the record's fields).
  const keep = new Int8Array(folded.values).fill(-1);
  const fields = [...new Set(rule.parts.flatMap((part) => part.fields))].map((name) => ({ name, column: columns.field(name) }));
  const sampled = (ids: Int32Array, side: 'left' | 'right') =>
    ids.map((k, i) => {
      if (k < 0) return -1;
      if (keep[k] === -1) {
        const record: LinkRecord = {};
        for (const { name, column } of fields) record[name] = column.values[column[side][i]!]!;
        keep[k] = blockingKey(rule, record) === undefined ? 0 : 1;
      }
      return keep[k] === 1 ? k : -1;
    });
  const rightIds = sampled(folded.right, 'right');
  return { left: left === right ? rightIds : sampled(folded.left, 'left'), right: rightIds, values: folded.values };
}

/** Each part numbered once per call, however many rules use it. */
function partNumbering(columns: RecordColumns): (part: KeyPart) => NumberedPart {
  const cache = new Map<KeyPart, NumberedPart>();
  return (part) => {
    let numbered = cache.get(part);
    if (!numbered) cache.set(part, (numbered = numberPart(part, columns)));
    return numbered;
  };
}

/**
 * The key numbers of the rules at `indexes` (as candidatePairs numbers them), to hand to
 * candidatePairs as its `keys`: a second thread can number some rules while the first numbers the others.
 */
export function numberRules(rules: readonly BlockingRule[], left: readonly LinkRecord[], right: readonly LinkRecord[], indexes: Iterable<number>): Map<number, NumberedPart> {
  const columns = columnsOf(left, right);
  const partNumbers = partNumbering(columns);
  return new Map([...indexes].map((index) => [index, numberRule(rules[index]!, partNumbers, columns)]));
}

/**
 * Candidate pairs (indexes into left and right) that share a key under at least one rule,
 * each pair once (under the first rule that finds it). With `dedupe`, left and right are the
 * same list and pairs are i < j. A pair is recognised as found by an earlier rule by comparing
 * that rule's keys (as Splink does), so no set of pairs is kept.
 *
 * Keys are numbered per rule (one Int32Array per side) and blocks laid out in one array, so a
 * million records cost a few megabytes per rule, not a million strings and arrays kept alive.
 */
export function candidatePairs(
  rules: readonly BlockingRule[],
  left: readonly LinkRecord[],
  right: readonly LinkRecord[],
  opts: {
    dedupe?: boolean;
    maxBlockSize?: number;
    /** Only pairs with at least one record flagged here (left index in link mode: i, or either side when deduping). */
    involving?: Uint8Array;
    /** Rules' key numbers worked out already (by {@link numberRules}, on another thread), by the rule's index. */
    keys?: ReadonlyMap<number, NumberedPart>;
  } = {},
): { pairs: PairList; byRule: Record<string, number> } {
  const involving = opts.involving;
  // Pairs must involve a flagged record and none is flagged (the same month again): no key to compute.
  if (involving && !involving.includes(1)) {
    return { pairs: { length: 0, left: new Int32Array(0), right: new Int32Array(0) }, byRule: Object.fromEntries(rules.map((rule) => [rule.name, 0])) };
  }
  const byRule: Record<string, number> = {};
  const maxBlock = opts.maxBlockSize ?? 5_000;
  let capacity = 1 << 16;
  let li = new Int32Array(capacity);
  let ri = new Int32Array(capacity);
  let length = 0;
  const columns = columnsOf(left, right);
  const partNumbers = partNumbering(columns);
  // Each earlier rule's key numbers, -1 where a record has no key or its block was skipped.
  const earlier: { leftIds: Int32Array; rightIds: Int32Array }[] = [];
  for (const [index, rule] of rules.entries()) {
    const { left: leftIds, right: rightIds, values: keys } = opts.keys?.get(index) ?? numberRule(rule, partNumbers, columns);
    // Blocks of the right side: members of key k are members[start[k] .. start[k + 1]), ascending.
    const start = new Int32Array(keys + 1);
    for (const k of rightIds) if (k >= 0) start[k + 1]!++;
    for (let k = 0; k < keys; k++) start[k + 1]! += start[k]!;
    const members = new Int32Array(start[keys]!);
    const filled = start.slice(0, keys);
    rightIds.forEach((k, j) => {
      if (k >= 0) members[filled[k]!++] = j;
    });
    // A key shared by thousands of records (a blank-ish value) says nothing: skip its block.
    const skipped = (k: number) => k >= 0 && start[k + 1]! - start[k]! > maxBlock;
    let added = 0;
    for (let i = 0; i < left.length; i++) {
      const k = leftIds[i]!;
      if (k < 0 || skipped(k)) continue;
      for (let m = start[k]!, end = start[k + 1]!; m < end; m++) {
        const j = members[m]!;
        if (opts.dedupe && j <= i) continue;
        if (involving && !involving[i] && !(opts.dedupe && involving[j])) continue;
        let found = false;
        for (const e of earlier) {
          const ek = e.leftIds[i]!;
          if (ek >= 0 && ek === e.rightIds[j]) {
            found = true;
            break;
          }
        }
        if (found) continue;
        if (length === capacity) {
          capacity *= 2;
          const nl = new Int32Array(capacity);
          nl.set(li);
          li = nl;
          const nr = new Int32Array(capacity);
          nr.set(ri);
          ri = nr;
        }
        li[length] = i;
        ri[length] = j;
        length++;
        added++;
      }
    }
    byRule[rule.name] = added;
    const forget = (ids: Int32Array) => ids.map((k) => (skipped(k) ? -1 : k));
    const rightKept = forget(rightIds);
    earlier.push({ leftIds: left === right ? rightKept : forget(leftIds), rightIds: rightKept });
  }
  return { pairs: { length, left: li.subarray(0, length), right: ri.subarray(0, length) }, byRule };
}

/**
 * A blocking rule cut down to a share of its blocks, chosen by a hash of the key, so that it
 * gives about `maxPairs` pairs over `records`; the rule itself when it gives no more than that.
 * For training: EM needs a fair sample of the pairs a wide rule finds (everyone born on one day),
 * not all of them, and those grow with the square of the population.
 */
export function sampledRule(rule: BlockingRule, records: readonly LinkRecord[], maxPairs: number, maxBlockSize: number): BlockingRule {
  const columns = columnsOf(records, records);
  const { right: keys, values } = numberRule(rule, partNumbering(columns), columns);
  const sizes = new Int32Array(values);
  for (const k of keys) if (k >= 0) sizes[k]!++;
  let pairs = 0;
  for (const n of sizes) if (n <= maxBlockSize) pairs += (n * (n - 1)) / 2;
  if (pairs <= maxPairs) return rule;
  const share = maxPairs / pairs;
  return { name: `${rule.name} (${(share * 100).toPrecision(2)}% of blocks)`, parts: rule.parts, sample: share };
}

/** Candidate pairs scored by a model trained on them (see {@link scoreCandidates}). */
export interface ScoredCandidates {
  /** The candidate pairs (prediction blocking only) and their levels. */
  pairs: PairList;
  table: GammaTable;
  /** Candidate pairs found by each prediction blocking rule (the first rule to find a pair). */
  byRule: Record<string, number>;
  /** Pairs compared to train m (the training rules' sample; some may be candidates too). */
  trainingPairs: number;
  /** Undefined when the pairs cannot train the model (`untrainable` says why); then no weights. */
  model: LinkModel | undefined;
  untrainable?: ModelNotTrainableError;
  weights: Float64Array;
}

/** A link task for {@link scoreCandidates}: the records, the comparisons and how to block and train. */
export interface ScoringTask {
  comparisons: readonly Comparison[];
  blocking: readonly BlockingRule[];
  training?: { rules: readonly BlockingRule[]; maxPairs: number };
  left: readonly LinkRecord[];
  right?: readonly LinkRecord[];
  sessions?: readonly TrainingSession[];
  maxBlockSize?: number;
  tfMinimumCount?: number;
}

/**
 * What training needs besides the candidates' levels: the training sample's levels (when the task
 * has training rules) and, optionally, u. None of it depends on the candidates, so another thread
 * can work it out while this one blocks (see score-on-two-threads.ts).
 */
export interface TrainingInputs {
  /** Pairs in the training sample. */
  trainingPairs: number;
  /** Their levels; undefined when the task has no training rules or they found no pair. */
  training: GammaTable | undefined;
  /** u as trainModel works it out by default (estimateU's seed and pairs); undefined: trainModel works it out. */
  u?: number[][];
}

/**
 * The training sample of a task and its levels, with u when `withU`. Training pairs are found on
 * their own, not only where the candidates miss them: a session learns from a fair sample of what
 * its rule finds (matches included), not what is left over.
 */
export function trainingInputs(task: ScoringTask, opts: { withU?: boolean } = {}): TrainingInputs {
  const { comparisons, left } = task;
  const dedupe = task.right === undefined;
  const right = task.right ?? left;
  const maxBlockSize = task.maxBlockSize ?? 5_000;
  const trainingRules = (task.training?.rules ?? []).map((rule) =>
    sampledRule(rule, dedupe ? left : [...left, ...right], task.training!.maxPairs, maxBlockSize),
  );
  const training = trainingRules.length > 0 ? candidatePairs(trainingRules, left, right, { dedupe, maxBlockSize }).pairs : undefined;
  return {
    trainingPairs: training?.length ?? 0,
    training: training && training.length > 0 ? gammaTable(comparisons, left, right, training) : undefined,
    ...(opts.withU ? { u: estimateU(comparisons, left, right) } : {}),
  };
}

/**
 * Block, compare, train and score: the whole unsupervised linkage of `left` with `right` (or of
 * `left` with itself when `right` is absent).
 *
 * Prediction blocking (`blocking`) must stay close to linear in the population; the pairs EM
 * learns m from may need wider rules (Splink separates the two the same way). With `training`,
 * the pairs of the training rules, each sampled to at most `maxPairs` (sampledRule), are
 * compared and used by the sessions that ask for them (`from: 'training'`); they are never scored
 * as links.
 */
export function scoreCandidates(task: ScoringTask): ScoredCandidates {
  const right = task.right ?? task.left;
  const { pairs, byRule } = candidatePairs(task.blocking, task.left, right, { dedupe: task.right === undefined, maxBlockSize: task.maxBlockSize ?? 5_000 });
  const table = gammaTable(task.comparisons, task.left, right, pairs);
  return trainAndScore(task, { pairs, byRule, table }, trainingInputs(task));
}

/**
 * The rest of {@link scoreCandidates} once the candidates and their levels are known: train the
 * model (from `inputs`) and weigh every candidate. Forgets the task's numbered columns.
 */
export function trainAndScore(
  task: ScoringTask,
  candidates: { pairs: PairList; byRule: Record<string, number>; table: GammaTable },
  inputs: TrainingInputs,
): ScoredCandidates {
  const { comparisons, left } = task;
  const dedupe = task.right === undefined;
  const right = task.right ?? left;
  const { pairs, byRule, table } = candidates;
  let model: LinkModel | undefined;
  let untrainable: ModelNotTrainableError | undefined;
  if (pairs.length === 0) untrainable = new ModelNotTrainableError('no candidate pairs');
  else {
    try {
      model = trainModel(comparisons, left, right, table, {
        dedupe,
        ...(task.sessions ? { sessions: task.sessions } : {}),
        ...(task.tfMinimumCount === undefined ? {} : { tfMinimumCount: task.tfMinimumCount }),
        ...(inputs.training ? { training: inputs.training } : {}),
        ...(inputs.u ? { u: inputs.u } : {}),
      });
    } catch (error) {
      if (!(error instanceof ModelNotTrainableError)) throw error;
      untrainable = error;
    }
  }
  const weights = model ? scoreWeights(model, table, left, right, pairs) : new Float64Array(0);
  forgetColumns(left, right);
  return { pairs, table, byRule, trainingPairs: inputs.trainingPairs, model, weights, ...(untrainable ? { untrainable } : {}) };
}

/**
 * A training session (Splink's term): estimate the m of every comparison except `fix` from the
 * candidate pairs that agree exactly on all of `fix`. Sessions matter where records cluster in
 * households: over all candidates EM can learn "same address" instead of "same person", but among
 * pairs with the same date of birth it cannot.
 */
export interface TrainingSession {
  fix: string[];
  /**
   * The pairs to learn from: the candidates (default), or the sample of the training blocking
   * rules (see {@link scoreCandidates}), which is what a session fixing a blocking field needs
   * when the candidates agree on more than that field.
   */
  from?: 'candidates' | 'training';
}

/** The candidate pairs cannot train some comparison (too few pairs, or none agreeing on a session's fields). */
export class ModelNotTrainableError extends Error {
  override readonly name = 'ModelNotTrainableError';
}

/** m by sessions: each comparison takes its m from the first session that leaves it free. */
function estimateMBySessions(
  comparisons: readonly Comparison[],
  candidatePatterns: Patterns,
  trainingPatterns: Patterns | undefined,
  u: number[][],
  sessions: readonly TrainingSession[],
): { m: number[][]; iterations: number; converged: boolean } {
  const m: (number[] | undefined)[] = comparisons.map(() => undefined);
  const K = candidatePatterns.width;
  let iterations = 0;
  let converged = true;
  for (const session of sessions) {
    const patterns = session.from === 'training' && trainingPatterns ? trainingPatterns : candidatePatterns;
    const fixed = session.fix.map((name) => {
      const k = comparisons.findIndex((c) => c.name === name);
      if (k < 0) throw new Error(`training session fixes unknown comparison ${name}`);
      return k;
    });
    const free = comparisons.map((_, k) => k).filter((k) => !fixed.includes(k));
    const selected: number[] = [];
    for (let p = 0; p < patterns.counts.length; p++) if (fixed.every((k) => patterns.levels[p * K + k] === 0)) selected.push(p);
    if (selected.length === 0) continue;
    const sub: Patterns = {
      width: free.length,
      levels: Int8Array.from(selected.flatMap((p) => free.map((k) => patterns.levels[p * K + k]!))),
      counts: Float64Array.from(selected.map((p) => patterns.counts[p]!)),
    };
    const em = estimateMOverPatterns(free.map((k) => comparisons[k]!), sub, free.map((k) => u[k]!));
    iterations += em.iterations;
    converged &&= em.converged;
    free.forEach((k, i) => {
      m[k] ??= em.m[i]!;
    });
  }
  const missing = m.findIndex((x) => x === undefined);
  if (missing >= 0) throw new ModelNotTrainableError(`no training session estimated comparison ${comparisons[missing]!.name}`);
  return { m: m as number[][], iterations, converged };
}

/** The share of candidate pairs that are matches, by EM over the share alone with m and u held fixed. */
function matchShare(patterns: Patterns, m: number[][], u: number[][]): number {
  const K = patterns.width;
  const P = patterns.counts.length;
  const logFactors = new Float64Array(P);
  let total = 0;
  for (let p = 0; p < P; p++) {
    let f = 0;
    for (let k = 0; k < K; k++) {
      const l = patterns.levels[p * K + k]!;
      if (l >= 0) f += Math.log(Math.max(m[k]![l]!, FLOOR)) - Math.log(u[k]![l]!);
    }
    logFactors[p] = f;
    total += patterns.counts[p]!;
  }
  let lambda = 0.1;
  for (let i = 0; i < 200 && P > 0; i++) {
    const logPrior = Math.log(lambda / (1 - lambda));
    let sum = 0;
    for (let p = 0; p < P; p++) sum += patterns.counts[p]! / (1 + Math.exp(-(logPrior + logFactors[p]!)));
    const next = Math.min(1 - FLOOR, Math.max(FLOOR, sum / total));
    if (Math.abs(next - lambda) < 1e-9) return next;
    lambda = next;
  }
  return lambda;
}

/**
 * Train a model on two lists (or one, deduplicating): u from random pairs, m and the share of
 * matches among candidates by EM (over all candidates, or by training sessions), then the prior
 * over all possible pairs.
 */
export function trainModel(
  comparisons: readonly Comparison[],
  left: readonly LinkRecord[],
  right: readonly LinkRecord[],
  gammas: readonly Gamma[] | GammaTable,
  opts: {
    dedupe?: boolean;
    seed?: number;
    uPairs?: number;
    sessions?: readonly TrainingSession[];
    tfMinimumCount?: number;
    /**
     * The levels of the training sample (see {@link scoreCandidates}), for sessions with
     * `from: 'training'`. The share of matches, and so the prior, is always taken over the
     * candidates.
     */
    training?: GammaTable;
    /** u as {@link estimateU} gives it with this seed and `uPairs`, worked out elsewhere (another thread). */
    u?: number[][];
  } = {},
): LinkModel {
  const u = opts.u ?? estimateU(comparisons, left, right, { seed: opts.seed ?? U_SEED, pairs: opts.uPairs ?? U_PAIRS });
  const patterns = patternsOf(gammas);
  const trainingPatterns = opts.training ? patternsOf(opts.training) : undefined;
  const em = opts.sessions
    ? (() => {
        const bySession = estimateMBySessions(comparisons, patterns, trainingPatterns, u, opts.sessions!);
        return { ...bySession, lambda: matchShare(patterns, bySession.m, u) };
      })()
    : estimateMOverPatterns(comparisons, patterns, u);
  const possible = opts.dedupe ? (left.length * (left.length - 1)) / 2 : left.length * right.length;
  const expectedMatches = em.lambda * gammas.length;
  const prior = Math.min(0.5, Math.max(1 / possible, expectedMatches / possible));
  const model: LinkModel = {
    comparisons: comparisons.map((c, k) => ({ name: c.name, levels: c.levels.map((level, l) => ({ label: level.label, m: em.m[k]![l]!, u: u[k]![l]! })) })),
    prior,
    iterations: em.iterations,
    converged: em.converged,
  };
  const tf = termFrequencyTables(comparisons, left, opts.dedupe ? undefined : right, opts.tfMinimumCount === undefined ? {} : { minimumCount: opts.tfMinimumCount });
  if (tf) model.termFrequencies = tf;
  return model;
}

/** Precision, recall and F1 of predicted pairs against true pairs (keys like `i|j`). */
export function pairQuality(predicted: ReadonlySet<string>, truth: ReadonlySet<string>): { tp: number; fp: number; fn: number; precision: number; recall: number; f1: number } {
  let tp = 0;
  for (const p of predicted) if (truth.has(p)) tp++;
  return qualityOf(tp, predicted.size - tp, truth.size - tp);
}

/** Precision, recall and F1 from counts of true positives, false positives and false negatives. */
export function qualityOf(tp: number, fp: number, fn: number): { tp: number; fp: number; fn: number; precision: number; recall: number; f1: number } {
  const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 1 : tp / (tp + fn);
  return { tp, fp, fn, precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
}
