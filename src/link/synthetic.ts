import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { loadMapping } from '../ingest/mapping.ts';
import { parseDate, type DateFormat } from '../ingest/dates.ts';
import type { SourceName } from '../ingest/sources.ts';
import { dateComparison, exactComparison, nameComparison } from './comparisons.ts';
import { candidatePairs, gammaOf, pairQuality, scorePair, trainModel, type BlockingRule, type Comparison, type LinkModel, type LinkRecord } from './model.ts';

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

function normaliseName(value: string | undefined): string {
  return (value ?? '').toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z' -]/g, '').replace(/\s+/g, ' ').trim();
}

/** Read the person columns of every extract in a synth folder, in canonical form. */
export async function readCouncilRecords(dir: string): Promise<CouncilRecord[]> {
  const out: CouncilRecord[] = [];
  for (const source of PERSON_SOURCES) {
    const file = path.join(dir, `${source}.csv`);
    let mappingPath: string | undefined = path.join(dir, `${source}.mapping.yaml`);
    const mapping = await loadMapping(mappingPath, source).catch(() => (mappingPath = undefined));
    const columns = mapping && typeof mapping === 'object' ? Object.fromEntries(Object.entries(mapping.mapping.columns).map(([k, v]) => [k.toLowerCase(), v])) : {};
    const dateFormat: DateFormat = mapping && typeof mapping === 'object' ? mapping.mapping.date_format : 'auto';
    const sexValues = mapping && typeof mapping === 'object' ? Object.fromEntries(Object.entries(mapping.mapping.values.sex ?? {}).map(([k, v]) => [k.toLowerCase(), v])) : {};
    const rows = parse(await readFile(file), { columns: (h: string[]) => h.map((x) => columns[x.trim().toLowerCase()] ?? x.trim().toLowerCase()), bom: true }) as Record<string, string>[];
    for (const r of rows) {
      const dob = parseDate((r.dob ?? '').trim(), dateFormat);
      const address = (r.address ?? '').toLowerCase();
      const sex = (r.sex ?? '').trim();
      out.push({
        source,
        recordId: r.record_id ?? '',
        forename: normaliseName(r.forename),
        surname: normaliseName(r.surname),
        dob: dob.ok ? dob.iso.replace(/-/g, '') : '',
        sex: (sexValues[sex.toLowerCase()] ?? sex).toUpperCase(),
        postcode: (r.postcode ?? '').toUpperCase().replace(/\s+/g, ''),
        uprn: (r.uprn ?? '').trim(),
        houseNumber: /(?:^|[\s,/])(\d+)[a-z]?\s+[a-z]/.exec(address)?.[1] ?? '',
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

const key = (...fields: string[]) => (r: LinkRecord) => (fields.every((f) => r[f]) ? fields.map((f) => r[f]).join('|') : undefined);

export const COUNCIL_BLOCKING: BlockingRule[] = [
  { name: 'dob', key: key('dob') },
  { name: 'forename+surname', key: key('forename', 'surname') },
  { name: 'surname+postcode', key: key('surname', 'postcode') },
  { name: 'forename+postcode', key: key('forename', 'postcode') },
  { name: 'uprn+forename', key: key('uprn', 'forename') },
];

/** Names and location learnt among pairs with one date of birth; the date among pairs with one name. */
export const COUNCIL_SESSIONS = [{ fix: ['dob'] }, { fix: ['forename', 'surname'] }];

export interface SyntheticEvaluation {
  records: number;
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
  truePairs: number;
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
  const { pairs, byRule } = candidatePairs(COUNCIL_BLOCKING, records, records, { dedupe: true, maxBlockSize: 20_000 });
  const gammas = pairs.map(([i, j]) => gammaOf(COUNCIL_COMPARISONS, records[i]!, records[j]!));
  const model = trainModel(COUNCIL_COMPARISONS, records, records, gammas, { dedupe: true, sessions: COUNCIL_SESSIONS });
  const threshold = opts.threshold ?? 0.5;
  const predicted = new Set<string>();
  pairs.forEach(([i, j], n) => {
    if (scorePair(model, gammas[n]!).probability >= threshold) predicted.add(`${i}|${j}`);
  });
  const byPerson = new Map<string, number[]>();
  records.forEach((r, i) => {
    const person = truth.get(`${r.source}|${r.recordId}`)!;
    const list = byPerson.get(person);
    if (list) list.push(i);
    else byPerson.set(person, [i]);
  });
  const truePairs = new Set<string>();
  for (const list of byPerson.values()) for (let a = 0; a < list.length; a++) for (let b = a + 1; b < list.length; b++) truePairs.add(`${list[a]}|${list[b]}`);
  return { records: records.length, candidatePairs: pairs.length, byRule, model, threshold, ...pairQuality(predicted, truePairs), truePairs: truePairs.size };
}
