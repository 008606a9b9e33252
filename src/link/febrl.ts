import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { dateComparison, exactComparison, idComparison, nameComparison, textComparison } from './comparisons.ts';
import { candidatePairs, gammaOf, pairQuality, scorePair, trainModel, type BlockingRule, type Comparison, type LinkModel, type LinkRecord } from './model.ts';

/**
 * The FEBRL benchmark (shared/spec/benchmarks.md): FEBRL4 linking dataset4a to dataset4b and
 * FEBRL1 deduplication, scored against their ground truth with default settings and no labels.
 */

export interface FebrlRecord extends LinkRecord {
  entity: string;
}

/** Read a FEBRL file: every column as trimmed lower-case text; the entity is the number in `rec-N-...`. */
export async function readFebrl(file: string): Promise<FebrlRecord[]> {
  const rows = parse(await readFile(file), { columns: true, trim: true, skip_empty_lines: true }) as Record<string, string>[];
  return rows.map((r) => ({
    entity: /^rec-(\d+)-/.exec(r.rec_id ?? '')?.[1] ?? '',
    given_name: (r.given_name ?? '').toLowerCase(),
    surname: (r.surname ?? '').toLowerCase(),
    street_number: r.street_number ?? '',
    address_1: (r.address_1 ?? '').toLowerCase(),
    address_2: (r.address_2 ?? '').toLowerCase(),
    suburb: (r.suburb ?? '').toLowerCase(),
    postcode: r.postcode ?? '',
    state: (r.state ?? '').toLowerCase(),
    dob: r.date_of_birth ?? '',
    soc_sec_id: r.soc_sec_id ?? '',
  }));
}

export const FEBRL_COMPARISONS: Comparison[] = [
  nameComparison('given_name', { swapWith: 'surname' }),
  nameComparison('surname', { swapWith: 'given_name' }),
  dateComparison('dob'),
  idComparison('soc_sec_id'),
  exactComparison('street_number'),
  textComparison('address_1'),
  textComparison('address_2'),
  textComparison('suburb'),
  idComparison('postcode'),
  exactComparison('state'),
];

const key = (...fields: string[]) => (r: LinkRecord) => (fields.every((f) => r[f]) ? fields.map((f) => r[f]).join('|') : undefined);

export const FEBRL_BLOCKING: BlockingRule[] = [
  { name: 'given_name+surname', key: key('given_name', 'surname') },
  { name: 'dob', key: key('dob') },
  { name: 'soc_sec_id', key: key('soc_sec_id') },
  { name: 'surname+postcode', key: key('surname', 'postcode') },
  { name: 'given_name+postcode', key: key('given_name', 'postcode') },
  { name: 'street_number+address_1', key: key('street_number', 'address_1') },
];

export interface LinkageEvaluation {
  candidatePairs: number;
  byRule: Record<string, number>;
  model: LinkModel;
  threshold: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  f1: number;
  /** Match weights of candidate pairs in whole-number bins: weight -> pairs. */
  weightHistogram: Record<string, number>;
  truePairs: number;
}

/**
 * Link (or, with one list, deduplicate) FEBRL records and score the pairs at or above the
 * probability threshold (default 0.5, i.e. match weight 0) against the truth.
 */
export function evaluateFebrl(left: FebrlRecord[], right: FebrlRecord[] | undefined, opts: { threshold?: number } = {}): LinkageEvaluation {
  const dedupe = right === undefined;
  const other = right ?? left;
  const { pairs, byRule } = candidatePairs(FEBRL_BLOCKING, left, other, { dedupe });
  const gammas = pairs.map(([i, j]) => gammaOf(FEBRL_COMPARISONS, left[i]!, other[j]!));
  const model = trainModel(FEBRL_COMPARISONS, left, other, gammas, { dedupe });
  const threshold = opts.threshold ?? 0.5;
  const predicted = new Set<string>();
  const histogram: Record<string, number> = {};
  pairs.forEach(([i, j], n) => {
    const s = scorePair(model, gammas[n]!);
    const bin = String(Math.floor(s.weight));
    histogram[bin] = (histogram[bin] ?? 0) + 1;
    if (s.probability >= threshold) predicted.add(`${i}|${j}`);
  });
  // Truth over all possible pairs, not only candidates: blocking misses count as misses.
  const truth = new Set<string>();
  const byEntity = new Map<string, number[]>();
  other.forEach((r, j) => {
    const list = byEntity.get(r.entity);
    if (list) list.push(j);
    else byEntity.set(r.entity, [j]);
  });
  left.forEach((r, i) => {
    for (const j of byEntity.get(r.entity) ?? []) {
      if (dedupe && j <= i) continue;
      truth.add(`${i}|${j}`);
    }
  });
  const quality = pairQuality(predicted, truth);
  return { candidatePairs: pairs.length, byRule, model, threshold, ...quality, weightHistogram: histogram, truePairs: truth.size };
}
