import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/index.ts';
import { JobError } from '../errors.ts';
import { parseStoredModel, type GuardFacts, type MatchThresholds } from './breakdown.ts';
import { COUNCIL_COMPARISONS } from './council.ts';
import type { LinkModel } from './model.ts';
import { formatRecordRef, type PersonSource, type RecordRef } from './pair-id.ts';
import { PERSON_SOURCES, toLinkRecord, type PersonColumns } from './records.ts';

/**
 * Database reads shared by `review list`, `review decide` and `explain-match`: the latest match
 * run and its model, current source records, their people and the decisions on a pair. Reads
 * only; results are returned to the caller, never logged (records hold personal data).
 */

type Db = Kysely<Schema>;

/** The latest match run: its id, when it ran, its model (undefined when it had too few pairs to train one) and thresholds. */
export interface MatchRunInfo {
  runId: number;
  startedAt: string;
  model: LinkModel | undefined;
  thresholds: MatchThresholds;
}

/** The latest run that stored a linkage model (every `tfclaims match` does, trained or not). Throws JobError when there is none. */
export async function latestMatchRun(k: Db): Promise<MatchRunInfo> {
  const { rows } = await sql<{ run_id: number; started_at: string; model: unknown; match_threshold: number; review_low: number; review_high: number }>`
    SELECT m.run_id::int AS run_id, to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') AS started_at, m.model,
           m.match_threshold, m.review_low, m.review_high
    FROM core.link_model m JOIN audit.run r USING (run_id)
    ORDER BY m.run_id DESC LIMIT 1`.execute(k);
  const row = rows[0];
  if (!row) {
    throw new JobError('no match run yet: there are no scored pairs or linkage model to show', {
      hint: 'load the extracts (`tfclaims run` or `tfclaims ingest`), run `tfclaims match`, then retry',
    });
  }
  return {
    runId: row.run_id,
    startedAt: row.started_at,
    model: parseStoredModel(row.model, COUNCIL_COMPARISONS),
    thresholds: { threshold: Number(row.match_threshold), reviewLow: Number(row.review_low), reviewHigh: Number(row.review_high) },
  };
}

/** A current source record's person fields (personal data). */
export interface SourceRecord extends PersonColumns {
  source: PersonSource;
  record_id: string;
  person_ref: string | null;
  middle_names: string | null;
}

/**
 * The current rows (of files not superseded) of the given records, by `source:record_id`.
 * Records not found are absent from the map. Should a current file hold a record id twice, its
 * first row is taken, as the match stage's profile of it would be the first too.
 */
export async function loadRecords(k: Db, refs: readonly RecordRef[]): Promise<Map<string, SourceRecord>> {
  const found = new Map<string, SourceRecord>();
  for (const source of PERSON_SOURCES) {
    const ids = [...new Set(refs.filter((r) => r.source === source).map((r) => r.recordId))];
    if (ids.length === 0) continue;
    // `source` is one of PERSON_SOURCES (a constant), never user text: safe to name the table.
    const { rows } = await sql<Omit<SourceRecord, 'source'>>`
      SELECT r.record_id, r.person_ref, r.forename, r.middle_names, r.surname, to_char(r.dob, 'YYYY-MM-DD') AS dob, r.sex, r.address, r.postcode, r.uprn
      FROM ${sql.table(`raw.${source}`)} r JOIN audit.current_file c ON c.file_id = r.file_id
      WHERE r.record_id = ANY(${ids}::text[])
      ORDER BY r.file_id, r.line`.execute(k);
    for (const row of rows) {
      const key = formatRecordRef({ source, recordId: row.record_id });
      if (!found.has(key)) found.set(key, { ...row, source });
    }
  }
  return found;
}

/** Each record's person now (core.person_record), by `source:record_id`; records not matched yet are absent. */
export async function personsOf(k: Db, refs: readonly RecordRef[]): Promise<Map<string, number>> {
  if (refs.length === 0) return new Map();
  const { rows } = await sql<{ source: string; record_id: string; person_id: number }>`
    SELECT pr.source, pr.record_id, pr.person_id::int AS person_id
    FROM core.person_record pr
    JOIN unnest(${refs.map((r) => r.source)}::text[], ${refs.map((r) => r.recordId)}::text[]) AS t(s, r) ON pr.source = t.s AND pr.record_id = t.r`.execute(k);
  return new Map(rows.map((r) => [`${r.source}:${r.record_id}`, r.person_id]));
}

/** A reviewer's decision as stored. `note` may hold personal data. */
export interface StoredDecision {
  decisionId: number;
  decision: 'same' | 'different';
  decidedBy: string;
  decidedAt: string;
  runId: number;
  note: string | null;
}

/** The latest decision on a pair, stored in either order (the latest is the one every match obeys). */
export async function latestDecision(k: Db, a: RecordRef, b: RecordRef): Promise<StoredDecision | undefined> {
  const { rows } = await sql<{ decision_id: number; decision: 'same' | 'different'; decided_by: string; decided_at: string; run_id: number; note: string | null }>`
    SELECT decision_id::int AS decision_id, decision, decided_by, to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') AS decided_at,
           run_id::int AS run_id, note
    FROM core.review_decision
    WHERE (source_a = ${a.source} AND record_a = ${a.recordId} AND source_b = ${b.source} AND record_b = ${b.recordId})
       OR (source_a = ${b.source} AND record_a = ${b.recordId} AND source_b = ${a.source} AND record_b = ${a.recordId})
    ORDER BY decision_id DESC LIMIT 1`.execute(k);
  const r = rows[0];
  return r && { decisionId: r.decision_id, decision: r.decision, decidedBy: r.decided_by, decidedAt: r.decided_at, runId: r.run_id, note: r.note };
}

function factsOf(records: Iterable<SourceRecord>): GuardFacts {
  const refs = new Map<string, Set<string>>();
  const dobs = new Set<string>();
  for (const r of records) {
    const ref = (r.person_ref ?? '').trim();
    if (ref !== '') {
      const set = refs.get(r.source) ?? new Set<string>();
      set.add(ref);
      refs.set(r.source, set);
    }
    const dob = toLinkRecord(r).dob ?? '';
    if (dob !== '') dobs.add(dob);
  }
  return { refs, dobs };
}

/**
 * What the chaining guards will see of a record's side: the person ids and dates of birth of
 * every current record of its person now, or of the record alone when it has not been matched
 * yet. Returned to the caller only (it holds personal data).
 */
export async function guardFactsOf(k: Db, record: SourceRecord, personId: number | undefined): Promise<GuardFacts> {
  if (personId === undefined) return factsOf([record]);
  const { rows } = await sql<{ source: PersonSource; record_id: string }>`
    SELECT source, record_id FROM core.person_record WHERE person_id = ${personId}`.execute(k);
  const records = await loadRecords(k, rows.map((r) => ({ source: r.source, recordId: r.record_id })));
  return factsOf([record, ...records.values()]);
}
