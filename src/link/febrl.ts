import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { dateComparison, exactComparison, idComparison, nameComparison, textComparison } from './comparisons.ts';
import { blockOn, evaluateLinkage, type LinkageEvaluation } from './evaluate.ts';
import type { BlockingRule, Comparison, LinkRecord } from './model.ts';

export type { LinkageEvaluation };

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

/**
 * Names with a term-frequency adjustment of the exact level. No nickname level: FEBRL's noise is
 * typing and OCR errors, not known-as names, so EM finds no matches there to learn it from
 * (measured: F1 unchanged, and the level's m falls to nothing).
 */
export const FEBRL_COMPARISONS: Comparison[] = [
  nameComparison('given_name', { swapWith: 'surname', termFrequency: true }),
  nameComparison('surname', { swapWith: 'given_name', termFrequency: true }),
  dateComparison('dob'),
  idComparison('soc_sec_id'),
  exactComparison('street_number'),
  textComparison('address_1'),
  textComparison('address_2'),
  textComparison('suburb'),
  idComparison('postcode'),
  exactComparison('state'),
];

export const FEBRL_BLOCKING: BlockingRule[] = [
  blockOn('given_name', 'surname'),
  blockOn('dob'),
  blockOn('soc_sec_id'),
  blockOn('surname', 'postcode'),
  blockOn('given_name', 'postcode'),
  blockOn('street_number', 'address_1'),
];

/** Link (or, with one list, deduplicate) FEBRL records and score them against the truth in their ids. */
export function evaluateFebrl(left: FebrlRecord[], right: FebrlRecord[] | undefined, opts: { threshold?: number } = {}): LinkageEvaluation {
  return evaluateLinkage({
    comparisons: FEBRL_COMPARISONS,
    blocking: FEBRL_BLOCKING,
    left,
    ...(right ? { right } : {}),
    entityOf: (r) => r.entity,
    ...opts,
  });
}
