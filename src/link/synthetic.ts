import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { parseDate } from '../ingest/dates.ts';
import { resolveHeader } from '../ingest/header.ts';
import { discoverExtracts } from '../ingest/index.ts';
import { SOURCE_COLUMNS, type SourceName } from '../ingest/sources.ts';
import { dateComparison, exactComparison, nameComparison } from './comparisons.ts';
import { blockOn, evaluateLinkage, type LinkageEvaluation } from './evaluate.ts';
import type { BlockingRule, Comparison, LinkRecord } from './model.ts';
import { toLinkRecord } from './records.ts';

/**
 * A first cut of person linkage over council extracts, scored against `tfclaims synth`'s
 * truth. It reads the extract files (through their column mappings) rather than the database, so
 * it measures the model alone; the `match` stage will run the same model over `raw.*`.
 */

const PERSON_SOURCES: SourceName[] = ['attendance', 'offending', 'employment', 'social_care', 'attachments'];

export interface CouncilRecord extends LinkRecord {
  source: string;
  recordId: string;
}

/**
 * Read the person columns of every extract in a synth folder, in canonical form. Files, their
 * column mappings and headers are found exactly as ingest finds them (discoverExtracts,
 * resolveHeader), so a vendor layout reads the same here as in a run.
 */
export async function readCouncilRecords(dir: string): Promise<CouncilRecord[]> {
  const out: CouncilRecord[] = [];
  for (const extract of await discoverExtracts(dir)) {
    if (!PERSON_SOURCES.includes(extract.source)) continue;
    const mapping = extract.mapping?.mapping;
    const [header, ...rows] = parse(await readFile(extract.path), { bom: true, relax_column_count: true }) as string[][];
    const { positions } = resolveHeader(extract.source, header ?? [], mapping, extract.displayName);
    const names = SOURCE_COLUMNS[extract.source].map((c) => c.name);
    const at = (row: string[], column: string) => (row[positions[names.indexOf(column)]!] ?? '').trim();
    const sexValues = new Map(Object.entries(mapping?.values.sex ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    for (const row of rows) {
      const dob = parseDate(at(row, 'dob'), mapping?.date_format ?? 'auto');
      const sex = at(row, 'sex');
      out.push({
        source: extract.source,
        recordId: at(row, 'record_id'),
        ...toLinkRecord({
          forename: at(row, 'forename'),
          surname: at(row, 'surname'),
          dob: dob.ok ? dob.iso : '',
          sex: sexValues.get(sex.toLowerCase()) ?? sex,
          address: at(row, 'address'),
          postcode: at(row, 'postcode'),
          uprn: at(row, 'uprn'),
        }),
      });
    }
  }
  return out;
}

/**
 * Where someone lives, as one comparison: postcode, house number and UPRN all say the same thing,
 * so scoring them separately would count one fact several times.
 */
const location: Comparison = {
  name: 'location',
  isNull: (a, b) => !(a.postcode || a.uprn) || !(b.postcode || b.uprn),
  levels: [
    { label: 'same UPRN', test: (a, b) => !!a.uprn && a.uprn === b.uprn },
    { label: 'same postcode and house number', test: (a, b) => !!a.postcode && a.postcode === b.postcode && !!a.houseNumber && a.houseNumber === b.houseNumber },
    { label: 'same postcode', test: (a, b) => !!a.postcode && a.postcode === b.postcode },
    { label: 'else', test: () => true },
  ],
};

export const COUNCIL_COMPARISONS: Comparison[] = [
  nameComparison('forename', { swapWith: 'surname' }),
  nameComparison('surname', { swapWith: 'forename' }),
  dateComparison('dob'),
  location,
  exactComparison('sex'),
];

export const COUNCIL_BLOCKING: BlockingRule[] = [
  blockOn('dob'),
  blockOn('forename', 'surname'),
  blockOn('surname', 'postcode'),
  blockOn('forename', 'postcode'),
  blockOn('uprn', 'forename'),
];

/** Names and location learnt among pairs with one date of birth; the date among pairs with one name. */
export const COUNCIL_SESSIONS = [{ fix: ['dob'] }, { fix: ['forename', 'surname'] }];

export interface SyntheticEvaluation extends LinkageEvaluation {
  records: number;
}

/** Deduplicate every person record of a synth folder and score record pairs against truth/records.csv. */
export async function evaluateSynthetic(dir: string, opts: { threshold?: number } = {}): Promise<SyntheticEvaluation> {
  const truth = new Map(
    (parse(await readFile(path.join(dir, 'truth', 'records.csv')), { columns: true }) as Record<string, string>[]).map((r) => [`${r.source}|${r.record_id}`, r.person_id!]),
  );
  // Rows made invalid on purpose are not in the truth (ingest rejects them): leave them out. A
  // repeated record_id is one of them: as in ingest, the first row with an id is the record.
  const seen = new Set<string>();
  const records = (await readCouncilRecords(dir)).filter((r) => {
    const id = `${r.source}|${r.recordId}`;
    if (!truth.has(id) || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const evaluation = evaluateLinkage({
    comparisons: COUNCIL_COMPARISONS,
    blocking: COUNCIL_BLOCKING,
    left: records,
    entityOf: (r) => truth.get(`${r.source}|${r.recordId}`)!,
    sessions: COUNCIL_SESSIONS,
    maxBlockSize: 20_000,
    ...opts,
  });
  return { records: records.length, ...evaluation };
}
