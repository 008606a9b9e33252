import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordRunEnd, recordRunStart } from '../../src/audit/seal.ts';
import { sqlStateOf, type Database } from '../../src/db/index.ts';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';

/**
 * Append-only: the database itself refuses UPDATE, DELETE and TRUNCATE on the audit trail and
 * the evidence of linkage and rules (audit.forbid_change, SQLSTATE TF001), whoever asks; rules
 * results may be replaced by their own run until it ends; the tables the match stage updates
 * stay updatable.
 */

const APPEND_ONLY = [
  'audit.run',
  'audit.run_end',
  'audit.run_seal',
  'audit.input_file',
  'audit.file_supersession',
  'audit.reject',
  'audit.output_file',
  'core.link_model',
  'core.link_pair',
  'core.person_change',
  'core.family_change',
  'core.review_decision',
] as const;

const RULES_TABLES = [
  'core.rules_evaluation',
  'core.rule_evidence',
  'core.problem_at_entry',
  'core.eligible_unattached',
  'core.problem_result',
  'core.family_verdict',
  'core.tier_history',
] as const;

async function count(db: Database, table: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.raw(table)}`.execute(db.kysely);
  return rows[0]!.n;
}

/** The SQLSTATE and message a statement fails with (it must fail). */
async function refusal(db: Database, statement: string): Promise<{ code: string | undefined; message: string }> {
  const error = await db.session((s) => s.exec(statement)).then(
    () => {
      throw new Error(`expected "${statement}" to be refused`);
    },
    (e: unknown) => e,
  );
  return { code: sqlStateOf(error), message: (error as Error).message };
}

const A = 'a'.repeat(64);

/** One row in every guarded table, written by run `runId` (a family and a person to hang them on). */
async function fill(db: Database, runId: number): Promise<{ familyId: number; personId: number }> {
  return db.transaction(async (s) => {
    const k = s.kysely;
    const person = await sql<{ id: number }>`INSERT INTO core.person (created_run) VALUES (${runId}) RETURNING person_id AS id`.execute(k);
    const family = await sql<{ id: number }>`INSERT INTO core.family (case_ref, created_run) VALUES (${`EH-${runId}`}, ${runId}) RETURNING family_id AS id`.execute(k);
    const personId = person.rows[0]!.id;
    const familyId = family.rows[0]!.id;
    const files = await sql<{ id: number }>`
      INSERT INTO audit.input_file (run_id, source, file_name, sha256, size_bytes, rows_read, rows_loaded, rows_rejected, started_at)
      VALUES (${runId}, 'evidence', ${`e${runId}a.csv`}, ${`${runId}`.padStart(64, 'a')}, 10, 2, 1, 1, now()),
             (${runId}, 'evidence', ${`e${runId}b.csv`}, ${`${runId}`.padStart(64, 'b')}, 10, 2, 1, 1, now())
      RETURNING file_id AS id`.execute(k);
    const [f1, f2] = files.rows.map((r) => r.id);
    await s.exec(`
      INSERT INTO audit.file_supersession (file_id, superseded_by, run_id, reason) VALUES (${f1}, ${f2}, ${runId}, 'newer extract');
      INSERT INTO audit.reject (file_id, run_id, source, line, column_name, value, reason) VALUES (${f1}, ${runId}, 'evidence', 2, 'evidence_date', 'x', 'not a date');
      INSERT INTO audit.output_file (run_id, kind, path, sha256, size_bytes) VALUES (${runId}, 'report', '/tmp/r.csv', '${A}', 3);
      INSERT INTO core.link_model (run_id, model, records, profiles, candidate_pairs, pairs_by_rule, match_threshold, review_low, review_high)
        VALUES (${runId}, '{}', 2, 2, 1, '{}', 0.5, 0.2, 0.8);
      INSERT INTO core.link_pair (run_id, source_a, record_a, source_b, record_b, weight, probability, levels, contributions, outcome)
        VALUES (${runId}, 'attendance', 'A1', 'offending', 'O1', 3.5, 0.9, '{1,2}', '{1.5,2}', 'linked');
      INSERT INTO core.person_change (run_id, kind, old_person_id, new_person_id, records, reason) VALUES (${runId}, 'merge', 1, ${personId}, 1, 'test');
      INSERT INTO core.family_change (run_id, kind, old_family_id, new_family_id, members, reason) VALUES (${runId}, 'split', 1, ${familyId}, 1, 'test');
      INSERT INTO core.review_decision (source_a, record_a, source_b, record_b, decision, decided_by, run_id) VALUES ('attendance', 'A1', 'offending', 'O1', 'same', 'reviewer', ${runId});
      INSERT INTO core.person_record (source, record_id, person_id, run_id) VALUES ('attendance', 'A${runId}', ${personId}, ${runId});
      INSERT INTO core.person_detail (person_id, dob, sex, run_id) VALUES (${personId}, '2012-03-04', 'F', ${runId});
      INSERT INTO core.family_member (family_id, person_id, basis, joined_on, joined_run) VALUES (${familyId}, ${personId}, 'register', '2025-01-01', ${runId});
    `);
    return { familyId, personId };
  });
}

/** A rules evaluation with one row in each of its tables, by run `runId`. */
async function evaluation(db: Database, runId: number, familyId: number, personId: number): Promise<number> {
  return db.transaction(async (s) => {
    const ev = await sql<{ id: number }>`
      INSERT INTO core.rules_evaluation (run_id, as_of, plan_id, plan_version, plan_sha256, plan)
      VALUES (${runId}, '2026-10-31', 'p', '1', ${A}, '{}') RETURNING evaluation_id AS id`.execute(s.kysely);
    const e = ev.rows[0]!.id;
    const common = `'2026-10-31', 'p', '${A}', ${runId}`;
    await s.exec(`
      INSERT INTO core.rule_evidence (evaluation_id, family_id, phase, problem, rule_index, rule, parameters, measured, threshold, result, tested_on, as_of, plan_id, plan_sha256, run_id)
        VALUES (${e}, ${familyId}, 'progress', 'crime_asb', 0, 'r', '{}', '{}', '{}', 'pass', '2026-10-31', ${common});
      INSERT INTO core.problem_at_entry (evaluation_id, family_id, case_ref, problem, identified_on, from_data, from_keyworker, run_id)
        VALUES (${e}, ${familyId}, 'EH-1', 'crime_asb', '2025-01-01', true, false, ${runId});
      INSERT INTO core.eligible_unattached (evaluation_id, family_id, as_of, problems, run_id) VALUES (${e}, ${familyId}, '2026-10-31', '{crime_asb}', ${runId});
      INSERT INTO core.problem_result (evaluation_id, family_id, problem, required, data_result, result, decided_by, run_id)
        VALUES (${e}, ${familyId}, 'crime_asb', true, 'pass', 'pass', 'data', ${runId});
      INSERT INTO core.family_verdict (evaluation_id, family_id, case_ref, attached_on, as_of, problems_at_entry, eligible, progress_due, ssp_met, ce_met,
                                       claimable_by_rules, route, financial_year, plan_id, plan_sha256, run_id)
        VALUES (${e}, ${familyId}, 'EH-1', '2025-01-01', '2026-10-31', '{crime_asb}', true, true, true, false, true, 'significant_sustained_progress', '2026-27', 'p', '${A}', ${runId});
      INSERT INTO core.tier_history (evaluation_id, person_id, family_id, from_date, tier, previous_tier, change, run_id)
        VALUES (${e}, ${personId}, ${familyId}, '2025-01-01', 2, 0, 'opened', ${runId});
    `);
    return e;
  });
}

describe.each(availableBackends())('append-only tables on %s', (backend) => {
  let t: TestDatabase;
  let db: Database;
  let ended: { runId: number; familyId: number; personId: number };

  beforeAll(async () => {
    t = await testDatabase(backend);
    db = t.db;
    const { runId } = await recordRunStart(db, { command: 'fill', args: '{}', operator: 'test', codeVersion: 'test' });
    ended = { runId, ...(await fill(db, runId)) };
    await evaluation(db, runId, ended.familyId, ended.personId);
    await recordRunEnd(db, runId, { status: 'succeeded', exitCode: 0, summary: '{}' });
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('every guarded table has rows to protect', async () => {
    for (const table of [...APPEND_ONLY, ...RULES_TABLES]) expect(await count(db, table), table).toBeGreaterThan(0);
  });

  it.each(APPEND_ONLY)('%s refuses UPDATE, DELETE and TRUNCATE (TF001), and keeps its rows', async (table) => {
    const before = await count(db, table);
    // Setting a column to itself changes nothing and is still refused (audit.run's run_id is an identity).
    const column = table === 'audit.run' ? 'command' : 'run_id';
    const update = await refusal(db, `UPDATE ${table} SET ${column} = ${column}`);
    expect(update).toEqual({ code: 'TF001', message: `${table} is append-only: UPDATE refused` });
    expect(await refusal(db, `DELETE FROM ${table}`)).toEqual({ code: 'TF001', message: `${table} is append-only: DELETE refused` });
    // CASCADE, else a table other tables reference is refused for that reason before its trigger runs.
    expect((await refusal(db, `TRUNCATE ${table} CASCADE`)).code).toBe('TF001');
    expect(await count(db, table)).toBe(before);
  });

  it('a run may replace its own rules evaluation while it runs; once it has ended, its rules results are final', async () => {
    const { runId } = await recordRunStart(db, { command: 'evaluate', args: '{}', operator: 'test', codeVersion: 'test' });
    const first = await evaluation(db, runId, ended.familyId, ended.personId);
    // What the rules stage does: update the summary, and delete (cascading) to evaluate again.
    await db.session((s) => s.exec(`UPDATE core.rules_evaluation SET summary = '{"families": 1}' WHERE evaluation_id = ${first}`));
    await db.session((s) => s.exec(`DELETE FROM core.rules_evaluation WHERE evaluation_id = ${first}`));
    expect(await count(db, `core.rule_evidence WHERE evaluation_id = ${first}`)).toBe(0);
    const second = await evaluation(db, runId, ended.familyId, ended.personId);
    // A row cannot be moved into another run.
    expect((await refusal(db, `UPDATE core.family_verdict SET run_id = ${ended.runId} WHERE evaluation_id = ${second}`)).code).toBe('TF001');
    await recordRunEnd(db, runId, { status: 'succeeded', exitCode: 0, summary: '{}' });

    for (const table of RULES_TABLES) {
      const refused = await refusal(db, `UPDATE ${table} SET run_id = run_id WHERE evaluation_id = ${second}`);
      expect(refused.code, table).toBe('TF001');
      expect(refused.message).toBe(`${table} rows of run ${runId} are final (the run has ended): UPDATE refused`);
      expect((await refusal(db, `DELETE FROM ${table} WHERE evaluation_id = ${second}`)).code, table).toBe('TF001');
      expect((await refusal(db, `TRUNCATE ${table} CASCADE`)).code, table).toBe('TF001');
    }
    // Deleting the evaluation would cascade into final rows: refused, all of it.
    expect((await refusal(db, `DELETE FROM core.rules_evaluation WHERE evaluation_id = ${second}`)).code).toBe('TF001');
    expect(await count(db, `core.rule_evidence WHERE evaluation_id = ${second}`)).toBe(1);
  });

  it('leaves the tables the match stage updates updatable, and INSERT ... ON CONFLICT DO NOTHING working on guarded ones', async () => {
    await db.session((s) =>
      s.exec(`
        UPDATE core.family SET case_ref = NULL WHERE family_id = ${ended.familyId};
        UPDATE core.family_member SET left_run = ${ended.runId}, left_on = '2026-01-01' WHERE family_id = ${ended.familyId};
        UPDATE core.person_record SET run_id = run_id WHERE person_id = ${ended.personId};
        UPDATE core.person_detail SET sex = 'M' WHERE person_id = ${ended.personId};
        UPDATE raw.attendance SET forename = forename;
        DELETE FROM raw.attendance WHERE false;
        INSERT INTO core.link_pair (run_id, source_a, record_a, source_b, record_b, weight, probability, levels, contributions, outcome)
          VALUES (${ended.runId}, 'attendance', 'A1', 'offending', 'O1', 0, 0, '{}', '{}', 'refused') ON CONFLICT DO NOTHING;
      `),
    );
    expect(await count(db, `core.person_detail WHERE sex = 'M'`)).toBe(1);
    expect(await count(db, `core.link_pair WHERE outcome = 'linked'`)).toBe(1);
  });

  it('attaches to a new table with one call (as later migrations do for claims)', async () => {
    await db.session((s) =>
      s.exec(`
        CREATE TABLE core.t_claim_line (id int PRIMARY KEY, amount numeric);
        SELECT audit.make_append_only('core.t_claim_line');
        INSERT INTO core.t_claim_line VALUES (1, 800);
      `),
    );
    expect(await refusal(db, 'UPDATE core.t_claim_line SET amount = 0')).toEqual({ code: 'TF001', message: 'core.t_claim_line is append-only: UPDATE refused' });
    expect((await refusal(db, 'TRUNCATE core.t_claim_line')).code).toBe('TF001');
  });
});
