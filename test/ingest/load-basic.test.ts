import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { testRun } from '../support/run.ts';
import { person, tempDir, writeExtract } from '../support/files.ts';
import { ingestExtracts, extractFromArgs } from '../../src/ingest/index.ts';
import { sql } from 'kysely';

describe.each(availableBackends())('ingest on %s', (backend) => {
  let t: TestDatabase;
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    t = await testDatabase(backend);
    tmp = await tempDir();
  });
  afterAll(async () => {
    await t?.drop();
    await tmp?.remove();
  });

  it('loads valid offending rows with both date formats and records provenance', async () => {
    const file = await writeExtract(tmp.dir, 'offending', [
      { ...person(1), event_date: '2025-01-02', event_type: 'proven_offence' },
      { ...person(2), dob: '03/04/2012', event_date: '15/06/2025', event_type: 'ASB_Incident' },
    ]);
    const ctx = await testRun(t.db);
    const summary = await ingestExtracts(ctx, { files: [await extractFromArgs('offending', file)], today: '2026-11-22' });
    expect(summary.rowsLoaded).toBe(2);
    const rows = await sql<{ line: number; dob: string; event_date: string; event_type: string }>`
      SELECT line, dob, event_date, event_type FROM raw.offending ORDER BY line`.execute(t.db.kysely);
    expect(rows.rows).toEqual([
      { line: 2, dob: '2012-03-04', event_date: '2025-01-02', event_type: 'proven_offence' },
      { line: 3, dob: '2012-04-03', event_date: '2025-06-15', event_type: 'asb_incident' },
    ]);
    const files = await t.db.kysely.selectFrom('audit.input_file').selectAll().execute();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ source: 'offending', rows_read: 2, rows_loaded: 2, rows_rejected: 0, run_id: ctx.runId });
    expect(files[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
