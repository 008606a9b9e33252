import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePersonDetails } from '../../src/link/stage.ts';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { testRun } from '../support/run.ts';

/**
 * core.person_detail as the match stage writes it: a person's row is rewritten, with the run
 * that rewrote it, only when their date of birth or sex changed; new people are added.
 */
for (const backend of availableBackends()) {
  describe(`person details written run after run, on ${backend}`, () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await testDatabase(backend);
    });
    afterAll(async () => t?.drop());

    it('keeps the unchanged with the run that wrote them, rewrites the changed and adds the new', async () => {
      const k = t.db.kysely;
      const first = await testRun(t.db, 'match');
      const people = (await sql<{ id: number }>`INSERT INTO core.person (created_run) SELECT ${first.runId}::bigint FROM generate_series(1, 5) RETURNING person_id::int AS id`.execute(k)).rows.map((r) => r.id);
      const [same, newDob, newSex, blankSex, added] = people as [number, number, number, number, number];
      await t.db.transaction((s) =>
        writePersonDetails(s, [
          { personId: same, dob: '2010-01-02', sex: 'F' },
          { personId: newDob, dob: '2010-01-02', sex: 'M' },
          { personId: newSex, dob: '1980-12-31', sex: 'F' },
          { personId: blankSex, dob: '1980-12-31', sex: 'M' },
        ], first.runId),
      );
      // The first write (an empty table) went straight in, its indexes built after: they are back.
      const indexes = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'core' AND tablename = 'person_detail'`.execute(k);
      expect(indexes.rows[0]!.n).toBeGreaterThan(0);
      const second = await testRun(t.db, 'match');
      await t.db.transaction((s) =>
        writePersonDetails(s, [
          { personId: same, dob: '2010-01-02', sex: 'F' },
          { personId: newDob, dob: '2010-02-01', sex: 'M' },
          { personId: newSex, dob: '1980-12-31', sex: 'M' },
          { personId: blankSex, dob: '1980-12-31', sex: null },
          { personId: added, dob: '2020-06-30', sex: 'F' },
        ], second.runId),
      );
      const { rows } = await sql<{ person_id: number; dob: string; sex: string | null; run_id: number }>`
        SELECT person_id::int AS person_id, to_char(dob, 'YYYY-MM-DD') AS dob, sex, run_id::int AS run_id FROM core.person_detail ORDER BY person_id`.execute(k);
      expect(rows).toEqual([
        { person_id: same, dob: '2010-01-02', sex: 'F', run_id: first.runId },
        { person_id: newDob, dob: '2010-02-01', sex: 'M', run_id: second.runId },
        { person_id: newSex, dob: '1980-12-31', sex: 'M', run_id: second.runId },
        { person_id: blankSex, dob: '1980-12-31', sex: null, run_id: second.runId },
        { person_id: added, dob: '2020-06-30', sex: 'F', run_id: second.runId },
      ]);
    });

    it('refuses a person given twice on a first write, keeping nothing', async () => {
      const fresh = await testDatabase(backend);
      try {
        const run = await testRun(fresh.db, 'match');
        const [person] = (await sql<{ id: number }>`INSERT INTO core.person (created_run) VALUES (${run.runId}::bigint) RETURNING person_id::int AS id`.execute(fresh.db.kysely)).rows.map((r) => r.id);
        const twice = fresh.db.transaction((s) =>
          writePersonDetails(s, [
            { personId: person!, dob: '2010-01-02', sex: 'F' },
            { personId: person!, dob: '2011-01-02', sex: 'M' },
          ], run.runId),
        );
        await expect(twice).rejects.toMatchObject({ code: '23505' });
        const kept = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.person_detail`.execute(fresh.db.kysely);
        expect(kept.rows[0]!.n).toBe(0);
      } finally {
        await fresh.drop();
      }
    });
  });
}
