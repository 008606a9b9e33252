import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBinaryRows, loadWithIndexesAfter } from '../../src/db/copy-rows.ts';
import { sqlStateOf, SqlState } from '../../src/db/index.ts';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { testRun } from '../support/run.ts';

/**
 * Migration 0012: a first load into an empty person_record, link_pair, family_member or
 * person_detail builds the table's indexes after its rows. The indexes come back exactly as they
 * were, uniqueness is still enforced, a table with rows keeps its indexes, and nothing commits
 * with an index missing.
 */

const PERSON_RECORD = ['text', 'text', 'int8', 'int8'] as const;

/** Every index of a table as PostgreSQL would create it, and its constraints. */
async function indexesOf(k: Kysely<any>, table: string): Promise<{ indexes: string[]; constraints: string[] }> {
  const indexes = await sql<{ d: string }>`SELECT pg_get_indexdef(indexrelid) AS d FROM pg_index WHERE indrelid = ${table}::regclass ORDER BY 1`.execute(k);
  const constraints = await sql<{ d: string }>`
    SELECT conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conrelid = ${table}::regclass AND contype IN ('p', 'u') ORDER BY 1`.execute(k);
  return { indexes: indexes.rows.map((r) => r.d), constraints: constraints.rows.map((r) => r.d) };
}

for (const backend of availableBackends()) {
  describe(`indexes built after a first load, on ${backend}`, () => {
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
    const records = (prefix: string, n: number) =>
      (function* () {
        for (let i = 0; i < n; i++) yield [`attendance`, `${prefix}${i}`, personId, runId];
      })();

    it('loads an empty table without its indexes and creates them again exactly as they were', async () => {
      for (const table of ['core.person_record', 'core.link_pair', 'core.family_member', 'core.person_detail']) {
        const before = await indexesOf(t.db.kysely, table);
        expect(before.indexes.length, table).toBeGreaterThan(0);
        const during = await t.db.transaction((s) => loadWithIndexesAfter(s.kysely, table as 'core.person_record', () => indexesOf(s.kysely, table)));
        expect(during, table).toEqual({ indexes: [], constraints: [] });
        expect(await indexesOf(t.db.kysely, table), table).toEqual(before);
      }
      const loaded = await t.db.transaction((s) =>
        loadWithIndexesAfter(s.kysely, 'core.person_record', () => copyBinaryRows(s, 'core.person_record (source, record_id, person_id, run_id)', PERSON_RECORD, records('FIRST', 500))),
      );
      expect(loaded).toBe(500);
      // The rebuilt primary key is the one ON CONFLICT and the planner find.
      await sql`INSERT INTO core.person_record (source, record_id, person_id, run_id) VALUES ('attendance', 'FIRST7', ${personId}, ${runId}) ON CONFLICT (source, record_id) DO NOTHING`.execute(t.db.kysely);
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.person_record`.execute(t.db.kysely);
      expect(rows[0]!.n).toBe(500);
    });

    it('keeps the indexes of a table that has rows: a later run writes through them', async () => {
      const before = await indexesOf(t.db.kysely, 'core.person_record');
      const during = await t.db.transaction((s) =>
        loadWithIndexesAfter(s.kysely, 'core.person_record', async () => {
          await copyBinaryRows(s, 'core.person_record (source, record_id, person_id, run_id)', PERSON_RECORD, records('LATER', 10));
          return indexesOf(s.kysely, 'core.person_record');
        }),
      );
      expect(during).toEqual(before);
      const dropped = await t.db.transaction(async (s) => (await sql<{ n: number }>`SELECT core.drop_indexes_for_load('core.person_record'::regclass) AS n`.execute(s.kysely)).rows[0]!.n);
      expect(dropped).toBe(0);
    });

    it('still refuses duplicate keys: the rebuilt primary key fails and nothing of the load is kept', async () => {
      const t2 = await testDatabase(backend);
      try {
        const run2 = (await testRun(t2.db, 'test')).runId;
        const person2 = (await sql<{ id: number }>`INSERT INTO core.person (created_run) VALUES (${run2}) RETURNING person_id::int AS id`.execute(t2.db.kysely)).rows[0]!.id;
        const before = await indexesOf(t2.db.kysely, 'core.person_record');
        const duplicate = await failure(
          t2.db.transaction((s) =>
            loadWithIndexesAfter(s.kysely, 'core.person_record', () =>
              copyBinaryRows(s, 'core.person_record (source, record_id, person_id, run_id)', PERSON_RECORD, [
                ['attendance', 'SAME', person2, run2],
                ['offending', 'SAME', person2, run2],
                ['attendance', 'SAME', person2, run2],
              ]),
            ),
          ),
        );
        expect(sqlStateOf(duplicate)).toBe(SqlState.uniqueViolation);
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.person_record`.execute(t2.db.kysely);
        expect(rows[0]!.n).toBe(0);
        expect(await indexesOf(t2.db.kysely, 'core.person_record')).toEqual(before);
      } finally {
        await t2.drop();
      }
    });

    it('refuses to commit while a dropped index has not been created again, and the drop rolls back', async () => {
      const t3 = await testDatabase(backend);
      try {
        const before = await indexesOf(t3.db.kysely, 'core.link_pair');
        const unrestored = await failure(
          t3.db.transaction(async (s) => {
            await sql`SELECT core.drop_indexes_for_load('core.link_pair'::regclass)`.execute(s.kysely);
          }),
        );
        expect(String((unrestored as Error).message)).toMatch(/index link_pair_pkey of core.link_pair was dropped for a first load and not created again/);
        expect(await indexesOf(t3.db.kysely, 'core.link_pair')).toEqual(before);
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM tfclaims_meta.deferred_index`.execute(t3.db.kysely);
        expect(rows[0]!.n).toBe(0);
      } finally {
        await t3.drop();
      }
    });

    it('drops the indexes of the four first-load tables only', async () => {
      for (const table of ['core.person', 'core.family', 'audit.run', 'core.claim_line']) {
        const refused = await failure(t.db.transaction((s) => sql`SELECT core.drop_indexes_for_load(${table}::regclass)`.execute(s.kysely)));
        expect(sqlStateOf(refused), table).toBe('42501');
        expect(String((refused as Error).message)).toMatch(/core.person_record, core.link_pair, core.family_member and core.person_detail only/);
      }
    });
  });
}
