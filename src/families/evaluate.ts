import { createReadStream } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse';
import { sql } from 'kysely';
import type { Database } from '../db/index.ts';
import { currentPersonRecordsSql } from '../link/records.ts';
import { qualityOf } from '../link/model.ts';

/**
 * Families scored against `tfclaims synth`'s truth: for every attached family (truth/families.csv),
 * whether the family the pipeline built for that case_ref holds exactly the records of the truth
 * members (every loaded record of theirs, and nothing else); and, over every person, pair
 * precision and recall of "lives in the same family" against the truth households.
 */
export interface FamilyEvaluation {
  attachedFamilies: number;
  /** Attached families whose records are exactly the truth members' records. */
  exactlyRight: number;
  exactFraction: number;
  /** case_refs of the attached families that are not exactly right (ids only). */
  wrong: string[];
  /** Person pairs sharing a household: truth pairs found, false pairs, missed pairs. */
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  f1: number;
}

async function* csvRows(file: string): AsyncGenerator<Record<string, string>> {
  yield* createReadStream(file).pipe(parse({ columns: true })) as AsyncIterable<Record<string, string>>;
}

/** Score the families in `db` (built from the extracts of `synthDir`) against `synthDir/truth`. */
export async function evaluateFamilies(db: Database, synthDir: string): Promise<FamilyEvaluation> {
  const truthDir = path.join(synthDir, 'truth');
  const householdOf = new Map<string, string>();
  for await (const r of csvRows(path.join(truthDir, 'people.csv'))) householdOf.set(r.person_id!, r.household_id!);
  const membersOfCase = new Map<string, Set<string>>();
  for await (const r of csvRows(path.join(truthDir, 'families.csv'))) {
    const set = membersOfCase.get(r.case_ref!);
    if (set) set.add(r.person_id!);
    else membersOfCase.set(r.case_ref!, new Set([r.person_id!]));
  }

  // What the pipeline built: each loaded record's family (and the family's case_ref).
  const currentRecords = currentPersonRecordsSql('record_id');
  const built = await sql<{ key: string; family_id: string; case_ref: string | null }>`
    SELECT r.source || '|' || r.record_id AS key, m.family_id::text AS family_id, m.case_ref
    FROM (${sql.raw(currentRecords)}) r
    JOIN core.person_record pr ON pr.source = r.source AND pr.record_id = r.record_id
    LEFT JOIN core.current_family_member m ON m.person_id = pr.person_id`.execute(db.kysely);
  const familyOfRecord = new Map(built.rows.map((r) => [r.key, r.family_id]));
  const recordsOfCase = new Map<string, Set<string>>();
  for (const r of built.rows) {
    if (r.case_ref === null) continue;
    const set = recordsOfCase.get(r.case_ref) ?? new Set<string>();
    set.add(r.key);
    recordsOfCase.set(r.case_ref, set);
  }

  // Truth: the loaded records of each truth person.
  const recordsOfPerson = new Map<string, string[]>();
  for await (const r of csvRows(path.join(truthDir, 'records.csv'))) {
    const key = `${r.source}|${r.record_id}`;
    if (!familyOfRecord.has(key)) continue; // rejected on purpose, or not a person extract
    const list = recordsOfPerson.get(r.person_id!) ?? [];
    list.push(key);
    recordsOfPerson.set(r.person_id!, list);
  }

  const wrong: string[] = [];
  for (const [caseRef, members] of [...membersOfCase].sort((x, y) => x[0].localeCompare(y[0]))) {
    const expected = new Set([...members].flatMap((p) => recordsOfPerson.get(p) ?? []));
    const got = recordsOfCase.get(caseRef) ?? new Set<string>();
    if (expected.size !== got.size || [...expected].some((k) => !got.has(k))) wrong.push(caseRef);
  }

  // Household pairs over people: a person's family is the one most of their records are in.
  const familyOfPerson = new Map<string, string>();
  for (const [person, keys] of recordsOfPerson) {
    const counts = new Map<string, number>();
    for (const key of keys) {
      const f = familyOfRecord.get(key) ?? `none:${key}`;
      counts.set(f, (counts.get(f) ?? 0) + 1);
    }
    familyOfPerson.set(person, [...counts].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))[0]![0]);
  }
  const pairCount = (groupOf: (p: string) => string, also?: (a: string, b: string) => boolean) => {
    const groups = new Map<string, string[]>();
    for (const p of familyOfPerson.keys()) {
      const g = groupOf(p);
      const list = groups.get(g);
      if (list) list.push(p);
      else groups.set(g, [p]);
    }
    let n = 0;
    for (const members of groups.values()) {
      for (let i = 0; i < members.length; i++) for (let j = i + 1; j < members.length; j++) if (!also || also(members[i]!, members[j]!)) n++;
    }
    return n;
  };
  const truthPairs = pairCount((p) => householdOf.get(p) ?? `none:${p}`);
  const builtPairs = pairCount((p) => familyOfPerson.get(p)!);
  const tp = pairCount((p) => familyOfPerson.get(p)!, (a, b) => householdOf.get(a) !== undefined && householdOf.get(a) === householdOf.get(b));
  const attachedFamilies = membersOfCase.size;
  return {
    attachedFamilies,
    exactlyRight: attachedFamilies - wrong.length,
    exactFraction: attachedFamilies === 0 ? 1 : (attachedFamilies - wrong.length) / attachedFamilies,
    wrong,
    ...qualityOf(tp, builtPairs - tp, truthPairs - tp),
  };
}
