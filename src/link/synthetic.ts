import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { parseDate } from '../ingest/dates.ts';
import { resolveHeader } from '../ingest/header.ts';
import { discoverExtracts } from '../ingest/index.ts';
import { SOURCE_COLUMNS, type SourceName } from '../ingest/sources.ts';
import { councilScoringTask } from './council.ts';
import { evaluateLinkage, type LinkageEvaluation } from './evaluate.ts';
import type { LinkRecord } from './model.ts';
import { PERSON_SOURCES, toLinkRecord } from './records.ts';

/**
 * Person linkage over council extract files, scored against `tfclaims synth`'s truth. It reads
 * the files (through their column mappings) rather than the database, so it measures the model
 * alone; the `match` stage runs the same model (council.ts) over `raw.*`.
 */

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
    if (!(PERSON_SOURCES as readonly SourceName[]).includes(extract.source)) continue;
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
    ...councilScoringTask(records),
    left: records,
    entityOf: (r) => truth.get(`${r.source}|${r.recordId}`)!,
    ...opts,
  });
  return { records: records.length, ...evaluation };
}
