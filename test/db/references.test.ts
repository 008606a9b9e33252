import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBinaryRows, reserveIds } from '../../src/db/copy-rows.ts';

const PERSON_RECORD = ['text', 'text', 'int8', 'int8'] as const;
import { sqlStateOf, SqlState } from '../../src/db/index.ts';
import { availableBackends, mainBackend, testDatabase, type TestDatabase } from '../support/db.ts';
import { testRun } from '../support/run.ts';

/**
 * Migration 0008: on the tables a run fills in bulk, references to runs, people and families are
 * checked per statement (core.check_reference) instead of by per-row foreign keys, and still
 * refuse what a foreign key refuses: a row pointing nowhere, by INSERT, COPY or UPDATE; and
 * people and families, which those rows point at, are never deleted.
 */

const BULK_REFERENCES = [
  ['core.person', 'created_run'],
  ['core.person_record', 'person_id'],
  ['core.person_record', 'run_id'],
  ['core.link_pair', 'run_id'],
  ['core.person_detail', 'person_id'],
  ['core.family', 'created_run'],
  ['core.family_member', 'family_id'],
  ['core.family_member', 'person_id'],
  ['core.family_member', 'joined_run'],
  ['core.family_member', 'left_run'],
  ['core.rule_evidence', 'family_id'],
  ['core.family_verdict', 'family_id'],
  ['core.tier_history', 'person_id'],
  // Migration 0013: the rules' rows and their evaluation.
  ['core.rule_evidence', 'evaluation_id'],
  ['core.problem_at_entry', 'evaluation_id'],
  ['core.eligible_unattached', 'evaluation_id'],
  ['core.problem_result', 'evaluation_id'],
  ['core.family_verdict', 'evaluation_id'],
  ['core.tier_history', 'evaluation_id'],
] as const;

for (const backend of availableBackends()) {
  describe(`references on bulk tables, on ${backend}`, () => {
    let t: TestDatabase;
    let runId: number;
    let personId: number;
    beforeAll(async () => {
      t = await testDatabase(backend);
      runId = (await testRun(t.db, 'test')).runId;
      personId = (await sql<{ id: number }>`INSERT INTO core.person (created_run) VALUES (${runId}) RETURNING person_id::int AS id`.execute(t.db.kysely)).rows[0]!.id;
    });
    afterAll(async () => t?.drop());

    const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

    it('has a statement-level check, and no per-row foreign key, for each bulk reference', async () => {
      const { rows } = await sql<{ tbl: string; trigger: string }>`
        SELECT tgrelid::regclass::text AS tbl, tgname AS trigger FROM pg_trigger WHERE tgname LIKE 'references_%'`.execute(t.db.kysely);
      const triggers = new Set(rows.map((r) => `${r.tbl}:${r.trigger}`));
      for (const [table, column] of BULK_REFERENCES) {
        expect(triggers.has(`${table}:references_${column}_on_insert`), `${table}.${column}`).toBe(true);
        expect(triggers.has(`${table}:references_${column}_on_update`), `${table}.${column}`).toBe(true);
      }
      const keys = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_constraint
        WHERE contype = 'f' AND conrelid = ANY(${BULK_REFERENCES.map(([table]) => table)}::regclass[])
          AND confrelid IN ('audit.run'::regclass, 'core.person'::regclass, 'core.family'::regclass, 'core.rules_evaluation'::regclass)`.execute(t.db.kysely);
      expect(keys.rows[0]!.n).toBe(0);
    });

    it('accepts rows that point at existing runs and people, by INSERT and by COPY', async () => {
      await sql`INSERT INTO core.person_record (source, record_id, person_id, run_id) VALUES ('attendance', 'OK1', ${personId}, ${runId})`.execute(t.db.kysely);
      await t.db.transaction((s) => copyBinaryRows(s, 'core.person_record (source, record_id, person_id, run_id)', PERSON_RECORD, [['attendance', 'OK2', personId, runId]]));
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.person_record WHERE record_id IN ('OK1', 'OK2')`.execute(t.db.kysely);
      expect(rows[0]!.n).toBe(2);
    });

    it('refuses, as a foreign key would (23503), a row that points at no person or no run, by INSERT, COPY or UPDATE, and keeps nothing', async () => {
      const missing = personId + 1_000_000;
      const byInsert = await failure(sql`INSERT INTO core.person_record (source, record_id, person_id, run_id) VALUES ('attendance', 'BAD1', ${missing}, ${runId})`.execute(t.db.kysely));
      expect(sqlStateOf(byInsert)).toBe(SqlState.foreignKeyViolation);
      expect(String((byInsert as Error).message)).toMatch(/person_id=\d+ is not present in table "core.person"/);
      const byCopy = await failure(
        t.db.transaction((s) => copyBinaryRows(s, 'core.person_record (source, record_id, person_id, run_id)', PERSON_RECORD, [['attendance', 'BAD2', personId, runId], ['attendance', 'BAD3', personId, runId + 1000]])),
      );
      expect(sqlStateOf(byCopy)).toBe(SqlState.foreignKeyViolation);
      // A few rows are looked up one by one; the value named is a missing one.
      const several = await failure(
        t.db.transaction((s) => copyBinaryRows(s, 'core.person_record (source, record_id, person_id, run_id)', PERSON_RECORD, [['attendance', 'BAD4', missing + 7, runId], ['attendance', 'BAD5', missing + 3, runId], ['attendance', 'BAD6', personId, runId]])),
      );
      expect(sqlStateOf(several)).toBe(SqlState.foreignKeyViolation);
      expect(String((several as Error).message)).toMatch(new RegExp(`person_id=(${missing + 7}|${missing + 3}) is not present`));
      // Many rows (checked by a hash anti-join): the smallest missing value is named, whatever
      // order the rows came in, and none of the rows is kept.
      const many = await failure(
        t.db.transaction((s) =>
          copyBinaryRows(s, 'core.person_record (source, record_id, person_id, run_id)', PERSON_RECORD, (function* () {
            for (let n = 0; n < 120_000; n++) yield ['attendance', `MANY${n}`, n === 90_000 ? missing + 9 : n === 110_000 ? missing + 5 : personId, runId];
          })()),
        ),
      );
      expect(sqlStateOf(many)).toBe(SqlState.foreignKeyViolation);
      expect(String((many as Error).message)).toContain(`person_id=${missing + 5} is not present`);
      const manyRunIds = await failure(
        t.db.transaction((s) =>
          copyBinaryRows(s, 'core.person_record (source, record_id, person_id, run_id)', PERSON_RECORD, (function* () {
            for (let n = 0; n < 120_000; n++) yield ['attendance', `RUNS${n}`, personId, n === 119_999 ? runId + 1000 : runId];
          })()),
        ),
      );
      expect(String((manyRunIds as Error).message)).toContain(`run_id=${runId + 1000} is not present`);
      const byUpdate = await failure(sql`UPDATE core.person_record SET person_id = ${missing} WHERE record_id = 'OK1'`.execute(t.db.kysely));
      expect(sqlStateOf(byUpdate)).toBe(SqlState.foreignKeyViolation);
      const { rows } = await sql<{ record_id: string; person_id: number }>`
        SELECT record_id, person_id::int AS person_id FROM core.person_record WHERE record_id LIKE 'BAD%' OR record_id LIKE 'MANY%' OR record_id LIKE 'RUNS%' OR record_id = 'OK1'`.execute(t.db.kysely);
      expect(rows).toEqual([{ record_id: 'OK1', person_id: personId }]);
    });

    it('keeps the rules rows to their evaluation: a row of no evaluation refused (23503), an evaluation deleted with its rows, its id never changed', async () => {
      const familyId = (await sql<{ id: number }>`INSERT INTO core.family (created_run) VALUES (${runId}) RETURNING family_id::int AS id`.execute(t.db.kysely)).rows[0]!.id;
      const evaluation = async (asOf: string) =>
        (await sql<{ id: number }>`
          INSERT INTO core.rules_evaluation (run_id, as_of, plan_id, plan_version, plan_sha256, plan)
          VALUES (${runId}, ${asOf}, 'p', '1', ${'0'.repeat(64)}, '{}'::jsonb) RETURNING evaluation_id::int AS id`.execute(t.db.kysely)).rows[0]!.id;
      const [kept, dropped] = [await evaluation('2026-10-31'), await evaluation('2026-11-30')];
      for (const e of [kept, dropped]) {
        await sql`INSERT INTO core.problem_at_entry (evaluation_id, family_id, case_ref, problem, identified_on, from_data, from_keyworker, run_id)
                  VALUES (${e}, ${familyId}, 'EH-REF', 'crime_asb', '2026-01-01', true, false, ${runId})`.execute(t.db.kysely);
        await sql`INSERT INTO core.eligible_unattached (evaluation_id, family_id, as_of, problems, run_id) VALUES (${e}, ${familyId}, '2026-10-31', '{crime_asb}', ${runId})`.execute(t.db.kysely);
      }
      const nowhere = await failure(sql`INSERT INTO core.problem_at_entry (evaluation_id, family_id, case_ref, problem, identified_on, from_data, from_keyworker, run_id)
        VALUES (${dropped + 1000}, ${familyId}, 'EH-REF', 'health', '2026-01-01', true, false, ${runId})`.execute(t.db.kysely));
      expect(sqlStateOf(nowhere)).toBe(SqlState.foreignKeyViolation);
      expect(String((nowhere as Error).message)).toContain(`evaluation_id=${dropped + 1000} is not present in table "core.rules_evaluation"`);
      const moved = await failure(sql`UPDATE core.eligible_unattached SET evaluation_id = ${dropped + 1000} WHERE evaluation_id = ${kept}`.execute(t.db.kysely));
      expect(sqlStateOf(moved)).toBe(SqlState.foreignKeyViolation);
      const renumbered = await failure(sql`UPDATE core.rules_evaluation SET evaluation_id = ${dropped + 2000} WHERE evaluation_id = ${kept}`.execute(t.db.kysely));
      expect(sqlStateOf(renumbered)).toBe(SqlState.generatedAlways);
      await sql`DELETE FROM core.rules_evaluation WHERE evaluation_id = ${dropped}`.execute(t.db.kysely);
      const { rows } = await sql<{ evaluation_id: number; entry: number; unattached: number }>`
        SELECT e.evaluation_id::int AS evaluation_id,
               (SELECT count(*)::int FROM core.problem_at_entry p WHERE p.evaluation_id = e.evaluation_id) AS entry,
               (SELECT count(*)::int FROM core.eligible_unattached u WHERE u.evaluation_id = e.evaluation_id) AS unattached
        FROM unnest(${[kept, dropped]}::bigint[]) AS e(evaluation_id) ORDER BY 1`.execute(t.db.kysely);
      expect(rows).toEqual([{ evaluation_id: kept, entry: 1, unattached: 1 }, { evaluation_id: dropped, entry: 0, unattached: 0 }]);
    });

    it('reserves blocks of new person and family ids that later ids never reuse, and nothing else', async () => {
      const people = await t.db.transaction((s) => reserveIds(s.kysely, 'core.person', 500));
      expect(people).toHaveLength(500);
      expect(people[0]).toBeGreaterThan(personId);
      expect(people.every((id, n) => n === 0 || id === people[n - 1]! + 1)).toBe(true);
      // The next id after the block, however it is drawn.
      const next = (await sql<{ id: number }>`INSERT INTO core.person (created_run) VALUES (${runId}) RETURNING person_id::int AS id`.execute(t.db.kysely)).rows[0]!.id;
      expect(next).toBe(people.at(-1)! + 1);
      expect(await t.db.transaction((s) => reserveIds(s.kysely, 'core.person', 1))).toEqual([next + 1]);
      const families = await t.db.transaction((s) => reserveIds(s.kysely, 'core.family', 3));
      expect(families).toEqual([families[0]!, families[0]! + 1, families[0]! + 2]);
      expect(await t.db.transaction((s) => reserveIds(s.kysely, 'core.family', 0))).toEqual([]);
      const other = await failure(sql`SELECT core.reserve_ids('audit.run'::regclass, 5)`.execute(t.db.kysely));
      expect(sqlStateOf(other)).toBe('42501');
      expect(String((other as Error).message)).toMatch(/core.person and core.family only/);
      const none = await failure(sql`SELECT core.reserve_ids('core.person'::regclass, -1)`.execute(t.db.kysely));
      expect(sqlStateOf(none)).toBe('22023');
    });

    it('never deletes a person or a family, which bulk rows point at', async () => {
      for (const statement of [sql`DELETE FROM core.person WHERE person_id = ${personId}`, sql`DELETE FROM core.family`, sql`TRUNCATE core.person`]) {
        const error = await failure(statement.execute(t.db.kysely));
        expect(sqlStateOf(error)).toBe(SqlState.restrictViolation);
        expect(String((error as Error).message)).toMatch(/rows are never deleted/);
      }
    });
  });
}

describe.skipIf(mainBackend() !== 'server')('reserving ids from two sessions at once, on the server', () => {
  let t: TestDatabase;
  afterAll(async () => t?.drop());

  it('serialises reservations of one sequence: the second waits for the first to commit, and the blocks never overlap', async () => {
    t = await testDatabase('server');
    const a = new pg.Client({ connectionString: t.url });
    const b = new pg.Client({ connectionString: t.url });
    await a.connect();
    await b.connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      const first = Number((await a.query(`SELECT core.reserve_ids('core.person'::regclass, 1000) AS f`)).rows[0].f);
      let secondDone = false;
      const second = b.query(`SELECT core.reserve_ids('core.person'::regclass, 1000) AS f`).then((r) => {
        secondDone = true;
        return Number(r.rows[0].f);
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(secondDone).toBe(false);
      // Family ids are another lock: not held up by the person ids' reservation.
      expect(Number((await a.query(`SELECT core.reserve_ids('core.family'::regclass, 10) AS f`)).rows[0].f)).toBeGreaterThan(0);
      await a.query('COMMIT');
      const secondFirst = await second;
      await b.query('COMMIT');
      expect(secondFirst).toBeGreaterThanOrEqual(first + 1000);
    } finally {
      await a.end();
      await b.end();
    }
  });
});
