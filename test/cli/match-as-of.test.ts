import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { mainBackend } from '../support/db.ts';
import { cli, cliDatabaseForFile } from './helpers.ts';

/**
 * `tfclaims match --as-of`: the month's reference date reaches the families stage as it does from
 * `run`, so a membership that ends in a match run of its own never ends after that date.
 */

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');
type Row = Record<string, string>;

const file = cliDatabaseForFile();

const ingestOnly = (extracts: string, out: string) =>
  cli(['--db', file.db.dbArg, '--quiet', 'run', '--extracts', extracts, '--as-of', '2026-10-31', '--window', 'W', '--out', out, '--stop-after', 'ingest']);

describe(`match --as-of on ${mainBackend()}`, () => {
  it('refuses a date that is not real, before touching the database', async () => {
    const result = await cli(['--db', file.db.dbArg, 'match', '--as-of', '2026-02-30']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--as-of 2026-02-30 is not a real date in YYYY-MM-DD form/);
    const runs = await file.db.withDb(async (db) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit.run`.execute(db.kysely)).rows[0]!.n);
    expect(runs).toBe(0);
  });

  it('ends the membership of a person whose records are gone on the as-of date when the data speak of later, and records the date with the run', async () => {
    expect((await ingestOnly(SAMPLES, path.join(file.dir, 'out-1'))).code).toBe(0);
    const first = await cli(['--db', file.db.dbArg, '--quiet', 'match']);
    expect(first.code, first.stderr).toBe(0);

    // Someone in an unattached family of three or more, and every record of theirs.
    const { goneId, familyId, records } = await file.db.withDb(async (db) => {
      const gone = await sql<{ person_id: number; family_id: number }>`
        SELECT person_id::int AS person_id, family_id::int AS family_id FROM core.current_family_member m
        WHERE case_ref IS NULL AND (SELECT count(*) FROM core.current_family_member o WHERE o.family_id = m.family_id) >= 3
        ORDER BY family_id, person_id LIMIT 1`.execute(db.kysely);
      const { person_id, family_id } = gone.rows[0]!;
      const recs = await sql<{ source: string; record_id: string }>`
        SELECT source, record_id FROM core.person_record WHERE person_id = ${person_id}`.execute(db.kysely);
      return { goneId: person_id, familyId: family_id, records: recs.rows };
    });
    expect(records.length).toBeGreaterThan(0);

    // November's extracts without them.
    const november = path.join(file.dir, 'november');
    await cp(SAMPLES, november, { recursive: true });
    for (const source of new Set(records.map((r) => r.source))) {
      const file = path.join(november, `${source}.csv`);
      const rows = parse(await readFile(file), { columns: true, bom: true }) as Row[];
      const goneIds = new Set(records.filter((r) => r.source === source).map((r) => r.record_id));
      await writeFile(file, stringify(rows.filter((r) => !goneIds.has(r.record_id!)), { header: true, columns: Object.keys(rows[0]!) }));
    }
    expect((await ingestOnly(november, path.join(file.dir, 'out-2'))).code).toBe(0);

    // The extracts speak of dates long after 2026-01-31: without --as-of the membership would end on the data date.
    const second = await cli(['--db', file.db.dbArg, '--json', '--quiet', 'match', '--as-of', '2026-01-31']);
    expect(second.code, second.stderr).toBe(0);
    const { runId } = JSON.parse(second.stdout) as { runId: number };
    const { history, args } = await file.db.withDb(async (db) => ({
      history: (
        await sql<{ family_id: number; left_run: number | null; left_on: string | null }>`
          SELECT family_id::int AS family_id, left_run::int AS left_run, to_char(left_on, 'YYYY-MM-DD') AS left_on
          FROM core.family_member WHERE person_id = ${goneId}`.execute(db.kysely)
      ).rows,
      args: (await sql<{ args: Record<string, unknown> }>`SELECT args FROM audit.run WHERE run_id = ${runId}`.execute(db.kysely)).rows[0]!.args,
    }));
    expect(history).toEqual([{ family_id: familyId, left_run: runId, left_on: '2026-01-31' }]);
    expect(args).toMatchObject({ asOf: '2026-01-31' });
  });
});
