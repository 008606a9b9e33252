import { JobError } from '../errors.ts';
import { datesReconcilable } from './clusters.ts';
import { levelWeight, scorePair, type Comparison, type Gamma, type LinkModel, type LinkRecord, type PairScore } from './model.ts';

/**
 * What a scored pair is made of, for the clerical review queue and explain-match: each
 * comparison's level, its m and u and its match weight, the prior and the total. One breakdown
 * and one layout serve both commands, so a reviewer sees the same numbers in either. Pure logic:
 * no database, no I/O.
 */

/** One comparison of a pair: the level it fell in (-1: a value missing, no evidence) and what that level weighs. */
export interface ComparisonBreakdown {
  comparison: string;
  level: number;
  label: string;
  /** m and u of the level; null when the comparison had no value to compare. */
  m: number | null;
  u: number | null;
  /** Match weight: log2 of m/u, plus any term-frequency adjustment; 0 when null. */
  weight: number;
  /** The part of `weight` that is a term-frequency adjustment (how rare the agreeing value is); 0 when none. */
  termFrequency: number;
}

/** A pair's score, comparison by comparison: `priorWeight` plus the comparisons' weights is `weight`. */
export interface PairBreakdown {
  comparisons: ComparisonBreakdown[];
  /** log2 of the prior odds that two records are the same person. */
  priorWeight: number;
  weight: number;
  probability: number;
}

/** The label shown for a comparison with a value missing on either side. */
export const NULL_LEVEL_LABEL = 'no value to compare';

/**
 * Rebuild the model a match run stored in `core.link_model.model` (the `LinkModel` object as
 * JSON). Returns undefined when the run stored none (too few pairs to train). The stored model
 * must have the comparisons and levels of `comparisons`, in order: levels are stored as indexes,
 * so a model from a build with other comparisons would be read wrongly, and is refused.
 */
export function parseStoredModel(json: unknown, comparisons: readonly Comparison[]): LinkModel | undefined {
  const value: unknown = typeof json === 'string' ? JSON.parse(json) : json;
  if (value === null || value === undefined) return undefined;
  const stale = (why: string) =>
    new JobError(`the latest match run's model does not fit this version of tfclaims (${why})`, {
      hint: 'run `tfclaims match` again with this version, then retry',
    });
  const model = value as Partial<LinkModel>;
  if (typeof model.prior !== 'number' || !(model.prior > 0 && model.prior < 1) || !Array.isArray(model.comparisons)) throw stale('no prior or comparisons');
  if (model.comparisons.length !== comparisons.length) throw stale(`${model.comparisons.length} comparisons stored, ${comparisons.length} now`);
  comparisons.forEach((c, k) => {
    const stored = model.comparisons![k]!;
    if (stored?.name !== c.name) throw stale(`comparison ${k + 1} is ${String(stored?.name)}, now ${c.name}`);
    const labels = (stored.levels ?? []).map((l) => l.label);
    if (labels.join('\u0001') !== c.levels.map((l) => l.label).join('\u0001')) throw stale(`the levels of ${c.name} differ`);
    for (const level of stored.levels) {
      if (!(level.m > 0 && level.m <= 1 && level.u > 0 && level.u <= 1)) throw stale(`a level of ${c.name} has no valid m and u`);
    }
  });
  // Anything else the model carries (term-frequency tables in newer models) is kept: scoring uses it.
  return { ...model, comparisons: model.comparisons, prior: model.prior, iterations: model.iterations ?? 0, converged: model.converged ?? false };
}

/**
 * The match stage's scorer, with the pair's records where the model can use them (a model with
 * term-frequency tables weighs an exact match on a rare value more); a scorer that takes only
 * the levels ignores them.
 */
const score: (model: LinkModel, gamma: Gamma, a?: LinkRecord, b?: LinkRecord) => PairScore = scorePair;

/** Adjustments smaller than this are rounding in stored contributions (real, 4 decimals), not term frequencies. */
const ROUNDING = 1e-3;

function comparisonsOf(model: LinkModel, levels: ArrayLike<number>, contributions: readonly number[]): ComparisonBreakdown[] {
  if (levels.length !== model.comparisons.length || contributions.length !== model.comparisons.length) {
    throw new JobError(`a pair has ${levels.length} comparison levels but the model has ${model.comparisons.length}: run \`tfclaims match\` again`);
  }
  return model.comparisons.map((c, k): ComparisonBreakdown => {
    const level = levels[k]!;
    const stored = level >= 0 ? c.levels[level] : undefined;
    if (level >= 0 && !stored) throw new JobError(`a pair has level ${level} for ${c.name}, which has ${c.levels.length} levels: run \`tfclaims match\` again`);
    if (!stored) return { comparison: c.name, level: -1, label: NULL_LEVEL_LABEL, m: null, u: null, weight: 0, termFrequency: 0 };
    const weight = contributions[k]!;
    const adjustment = weight - levelWeight(stored);
    return { comparison: c.name, level, label: stored.label, m: stored.m, u: stored.u, weight, termFrequency: Math.abs(adjustment) < ROUNDING ? 0 : adjustment };
  });
}

/**
 * The breakdown of a pair at `levels` (a gamma: one level index per comparison, -1 for null),
 * scored by the match stage's own `scorePair`, so its weight and probability equal what the
 * stage stored for the pair. Give the pair's records (as compared) for models that adjust for
 * term frequencies.
 */
export function breakdownOf(model: LinkModel, levels: ArrayLike<number>, records?: { a: LinkRecord; b: LinkRecord }): PairBreakdown {
  const s = score(model, Int8Array.from(Array.from(levels)), records?.a, records?.b);
  return { comparisons: comparisonsOf(model, levels, s.contributions), priorWeight: priorWeightOf(model), weight: s.weight, probability: s.probability };
}

/**
 * The breakdown of a pair as a match run stored it in `core.link_pair`: its levels, its
 * per-comparison contributions (rounded to 4 decimals) and its total weight and probability.
 * This is the run's own evidence, whatever has changed in the records since.
 */
export function storedBreakdown(model: LinkModel, stored: { levels: ArrayLike<number>; contributions: readonly number[]; weight: number; probability: number }): PairBreakdown {
  return { comparisons: comparisonsOf(model, stored.levels, stored.contributions), priorWeight: priorWeightOf(model), weight: stored.weight, probability: stored.probability };
}

/** log2 of the prior odds: how far from even a pair starts before any comparison. */
export function priorWeightOf(model: LinkModel): number {
  return Math.log2(model.prior / (1 - model.prior));
}

/** A match weight with its sign and two decimals: `+6.28`, `-2.44`. */
export function formatWeight(weight: number): string {
  const rounded = weight.toFixed(2);
  return weight >= 0 && !rounded.startsWith('-') ? `+${rounded}` : rounded === '-0.00' ? '+0.00' : rounded;
}

/** A probability readable at both ends: four decimals, or scientific notation below 0.001. */
export function formatProbability(p: number): string {
  return p === 0 || p >= 0.001 ? p.toFixed(4) : p.toExponential(2);
}

const PRIOR_LABEL = 'prior (how rare a match is among all pairs)';

/** `forename: jaro-winkler >= 0.92`: a comparison and its level, as the review queue names them. */
export function levelName(c: ComparisonBreakdown): string {
  return `${c.comparison}: ${c.label}`;
}

/**
 * The breakdown as aligned lines: one per comparison (level label, optionally m and u, weight),
 * then the prior and the total. No record values: safe to print without `--show-records`.
 */
export function breakdownLines(b: PairBreakdown, opts: { withMU?: boolean; indent?: string } = {}): string[] {
  const indent = opts.indent ?? '  ';
  const nameWidth = Math.max(10, ...b.comparisons.map((c) => c.comparison.length));
  // Wide enough that the prior's label lines up with the weights above it.
  const labelWidth = Math.max(PRIOR_LABEL.length - nameWidth - 2 - (opts.withMU ? 23 : 0), 30, ...b.comparisons.map((c) => c.label.length));
  const mu = (c: ComparisonBreakdown) =>
    opts.withMU ? `${(c.m === null ? '-' : formatProbability(c.m)).padStart(10)} ${(c.u === null ? '-' : formatProbability(c.u)).padStart(10)}  ` : '';
  const lines: string[] = [];
  if (opts.withMU) lines.push(`${indent}${'comparison'.padEnd(nameWidth)}  ${'level'.padEnd(labelWidth)}  ${'m'.padStart(10)} ${'u'.padStart(10)}  ${'weight'.padStart(7)}`);
  const tf = (c: ComparisonBreakdown) => (c.termFrequency === 0 ? '' : `   (${formatWeight(c.termFrequency)} of it for how rare the value is)`);
  for (const c of b.comparisons) lines.push(`${indent}${c.comparison.padEnd(nameWidth)}  ${c.label.padEnd(labelWidth)}  ${mu(c)}${formatWeight(c.weight).padStart(7)}${tf(c)}`);
  const tail = (label: string, weight: number) => `${indent}${label.padEnd(nameWidth + 2 + labelWidth + (opts.withMU ? 23 : 0))}  ${formatWeight(weight).padStart(7)}`;
  lines.push(tail(PRIOR_LABEL, b.priorWeight));
  lines.push(`${tail('total match weight', b.weight)}   probability ${formatProbability(b.probability)}`);
  return lines;
}

/** Thresholds a match run used (from `core.link_model`). */
export interface MatchThresholds {
  threshold: number;
  reviewLow: number;
  reviewHigh: number;
}

/**
 * What the model alone makes of a probability at a run's thresholds (before decisions and the
 * chaining guards): a link at or above the threshold, else review inside the band, else no link.
 * A linked pair inside the band is a link that still awaits a reviewer's confirmation.
 */
export function modelVerdict(probability: number, t: MatchThresholds): { link: boolean; inReviewBand: boolean; text: string } {
  const link = probability >= t.threshold;
  const inReviewBand = probability >= t.reviewLow && probability < t.reviewHigh;
  const text = link ? (inReviewBand ? 'a link, in the review band' : 'a link') : inReviewBand ? 'no link, in the review band' : 'no link';
  return { link, inReviewBand, text };
}

/**
 * Sort key of the review queue: pairs nearest probability 0.5 first (the model is least sure of
 * them, so a reviewer's time changes most there), then by pair id so the order is stable.
 */
export function reviewOrder<T extends { probability: number; pairId: string }>(pairs: readonly T[], by: 'uncertainty' | 'probability' = 'uncertainty'): T[] {
  const key = (p: T) => (by === 'uncertainty' ? Math.abs(p.probability - 0.5) : -p.probability);
  return [...pairs].sort((x, y) => key(x) - key(y) || (x.pairId < y.pairId ? -1 : x.pairId > y.pairId ? 1 : 0));
}

/** What the chaining guards know of one side of a pair: its person's (or record's) person ids by source and dates of birth. */
export interface GuardFacts {
  /** Source -> the person ids (`person_ref`) its records carry in that source. */
  refs: ReadonlyMap<string, ReadonlySet<string>>;
  /** Dates of birth as YYYYMMDD. */
  dobs: ReadonlySet<string>;
}

/**
 * Why the match stage's guards (clusters.ts) would refuse to put two sides into one person, or
 * undefined when they would not. Only the source names are given, never the ids or dates.
 */
export function guardRefusal(a: GuardFacts, b: GuardFacts): string | undefined {
  const clashing: string[] = [];
  for (const [source, refs] of b.refs) {
    const other = a.refs.get(source);
    if (!other) continue;
    const all = new Set([...refs, ...other]);
    if (all.size > 1) clashing.push(source);
  }
  if (clashing.length > 0) return `they hold different person ids of one source (${clashing.sort().join(', ')})`;
  for (const x of a.dobs) for (const y of b.dobs) if (!datesReconcilable(x, y)) return 'their dates of birth cannot be one date mistyped';
  return undefined;
}

/** Where the two records of a decision stand now. */
export interface DecisionSituation {
  decision: 'same' | 'different';
  pairId: string;
  /** The two records are one profile (identical in every linkage field, one source and person id). */
  sameProfile: boolean;
  /** Current person of each record (core.person_record), undefined when not matched yet. */
  personA: number | undefined;
  personB: number | undefined;
  /** Why the guards would refuse joining the two people, if they would. */
  refusal: string | undefined;
}

/** What the next `tfclaims match` will do with a decision, in words for the reviewer. */
export function forecastDecision(s: DecisionSituation): string[] {
  const unmatched = [s.personA === undefined ? 'the first record' : undefined, s.personB === undefined ? 'the second record' : undefined].filter(Boolean);
  const note = unmatched.length > 0 ? [`note: ${unmatched.join(' and ')} of ${s.pairId} ${unmatched.length > 1 ? 'have' : 'has'} not been matched yet (loaded after the latest match)`] : [];
  const together = s.sameProfile || (s.personA !== undefined && s.personA === s.personB);
  if (s.decision === 'same') {
    if (together) return [...note, `they are already one person${s.personA === undefined ? '' : ` (#${s.personA})`}; every later match keeps them together`];
    if (s.refusal) {
      return [
        ...note,
        `the next \`tfclaims match\` will still keep them apart: ${s.refusal}, and the match stage never puts those in one person, even on a reviewer's word`,
        'the decision is kept; if the ids or dates are wrong, correct the source system and load its next extract',
      ];
    }
    const who = s.personA !== undefined && s.personB !== undefined ? `person #${s.personA} and person #${s.personB}` : 'the two records';
    return [...note, `the next \`tfclaims match\` will make ${who} one person (the merge is recorded in core.person_change), whatever the model scores`];
  }
  if (together) {
    return [
      ...note,
      `the next \`tfclaims match\` will split person #${s.personA} so that these two records are different people (the split is recorded in core.person_change),`,
      '  and every later match refuses any link that would join them again',
    ];
  }
  const who = s.personA !== undefined && s.personB !== undefined ? ` (#${s.personA} and #${s.personB})` : '';
  return [...note, `they are different people now${who}; every later \`tfclaims match\` refuses any link that would join them`];
}

/** A value as printed for a reviewer: control characters shown as `?`, so a record cannot drive the terminal. */
function printable(value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '-';
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}

/**
 * Two records side by side, field by field (personal data: only for `--show-records`, printed on
 * stdout and never logged).
 */
export function recordsSideBySide(
  a: { label: string; fields: Readonly<Record<string, string | null>> },
  b: { label: string; fields: Readonly<Record<string, string | null>> },
  opts: { indent?: string; markDifferences?: boolean } = {},
): string[] {
  const indent = opts.indent ?? '  ';
  const names = [...new Set([...Object.keys(a.fields), ...Object.keys(b.fields)])];
  const nameWidth = Math.max(5, ...names.map((n) => n.length));
  const values = names.map((n) => [printable(a.fields[n]), printable(b.fields[n])] as const);
  const width = Math.max(a.label.length, ...values.map(([x]) => x.length));
  const lines = [`${indent}${''.padEnd(nameWidth)}  ${a.label.padEnd(width)}  ${b.label}`];
  names.forEach((n, i) => {
    const [x, y] = values[i]!;
    lines.push(`${indent}${n.padEnd(nameWidth)}  ${x.padEnd(width)}  ${y}${opts.markDifferences && x !== y ? '   (differs)' : ''}`);
  });
  return lines;
}
