import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordOutput } from '../../src/audit/outputs.ts';
import { runPipeline } from '../../src/run/pipeline.ts';
import { withRun, type CommonOptions } from '../../src/run/context.ts';
import { cliDatabase, ROOT, type CliDatabase } from '../cli/helpers.ts';
import { availableBackends } from '../support/db.ts';
import { tempDir } from '../support/files.ts';

/**
 * The auditors' views (sql/auditor_views.sql) on a database the pipeline has run on: they exist
 * on both backends, agree with the tables they summarise, trace a family to its source records,
 * and show no personal data.
 */

/** Columns that hold personal data somewhere in raw.* or audit.reject: no auditor view may have them. */
const PERSONAL_COLUMNS = ['forename', 'middle_names', 'surname', 'dob', 'address', 'postcode', 'uprn', 'person_ref', 'value', 'reason', 'note', 'lead_professional', 'detail_text'];
const VIEWS = ['run_chain', 'run_chain_check', 'run_unsealed', 'run_io', 'reject_line', 'rejects_by_source_run', 'source_record', 'family_membership', 'family_timeline'];

describe('sql/auditor_views.sql', () => {
  it('is applied by a migration verbatim (edit the file and add a migration together, never one alone)', async () => {
    const views = await readFile(path.join(ROOT, 'sql/auditor_views.sql'), 'utf8');
    const dir = path.join(ROOT, 'migrations');
    const migrations = await Promise.all((await readdir(dir)).filter((f) => f.endsWith('.sql')).map((f) => readFile(path.join(dir, f), 'utf8')));
    expect(migrations.some((m) => m.includes(views))).toBe(true);
  });
});

describe.each(availableBackends())('auditors\' views on %s', (backend) => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let d: CliDatabase;
  let common: CommonOptions;
  let pipelineRun = 0;
  let outputRun = 0;

  beforeAll(async () => {
    tmp = await tempDir();
    d = await cliDatabase(path.join(tmp.dir, 'db'), backend);
    common = { db: d.dbArg, logDir: path.join(tmp.dir, 'logs'), quiet: true };
    const out = path.join(tmp.dir, 'out');
    const report = await runPipeline({ ...common, extracts: path.join(ROOT, 'samples/extracts'), asOf: '2026-10-31', window: '2026-Q3', out, stopAfter: 'match', today: '2026-11-22' });
    expect(report.exitCode, report.lines.join('\n')).toBe(0);
    pipelineRun = report.json.runId as number;
    const written = await withRun('report', {}, common, async (ctx) => {
      const file = path.join(tmp.dir, 'families-copy.csv');
      await writeFile(file, await readFile(path.join(out, 'families.csv')));
      await recordOutput(ctx, file, { kind: 'families' });
      return { summary: {}, exitCode: 0 };
    });
    outputRun = written.runId;
  });
  afterAll(async () => {
    await d?.drop();
    await tmp?.remove();
  });

  it('every view exists and none has a personal-data column', async () => {
    await d.withDb(async (db) => {
      const { rows } = await sql<{ table_name: string; column_name: string }>`
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'audit' AND table_name = ANY(${`{${VIEWS.join(',')}}`}::text[])`.execute(db.kysely);
      expect([...new Set(rows.map((r) => r.table_name))].sort()).toEqual([...VIEWS].sort());
      expect(rows.filter((r) => PERSONAL_COLUMNS.includes(r.column_name))).toEqual([]);
    });
  });

  it('run_io: the files a run loaded with their hashes and counts, and the files a run wrote', async () => {
    await d.withDb(async (db) => {
      const io = await sql<{ run_id: number; direction: string; kind: string; file_id: number | null; sha256: string; rows_read: number | null; rows_rejected: number | null }>`
        SELECT run_id, direction, kind, file_id, sha256, rows_read, rows_rejected FROM audit.run_io ORDER BY run_id, direction, kind`.execute(db.kysely);
      const files = await sql<{ run_id: number; source: string; file_id: number; sha256: string; rows_read: number; rows_rejected: number }>`
        SELECT run_id, source, file_id, sha256, rows_read, rows_rejected FROM audit.input_file ORDER BY source`.execute(db.kysely);
      expect(files.rows).toHaveLength(6);
      expect(io.rows.filter((r) => r.direction === 'input')).toEqual(
        files.rows.map((f) => ({ run_id: pipelineRun, direction: 'input', kind: f.source, file_id: f.file_id, sha256: f.sha256, rows_read: f.rows_read, rows_rejected: f.rows_rejected })),
      );
      // The run itself recorded what it wrote (rejects.csv, families.csv, ...); the file recorded by hand is the other run's.
      const outputs = io.rows.filter((r) => r.direction === 'output');
      expect(outputs.filter((r) => r.run_id === outputRun)).toEqual([
        { run_id: outputRun, direction: 'output', kind: 'families', file_id: null, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), rows_read: null, rows_rejected: null },
      ]);
      expect(outputs.filter((r) => r.run_id === pipelineRun).map((r) => r.kind).sort()).toEqual(expect.arrayContaining(['families', 'rejects']));
    });
  });

  it('rejects_by_source_run counts every reject once, by source, run and column; reject_line lists them without values', async () => {
    await d.withDb(async (db) => {
      const totals = await sql<{ by_view: number; by_table: number; lines: number; files_say: number }>`
        SELECT (SELECT sum(rejects)::int FROM audit.rejects_by_source_run) AS by_view,
               (SELECT count(*)::int FROM audit.reject) AS by_table,
               (SELECT count(*)::int FROM audit.reject_line) AS lines,
               (SELECT sum(rows_rejected)::int FROM audit.input_file) AS files_say`.execute(db.kysely);
      const t = totals.rows[0]!;
      expect(t.by_table).toBeGreaterThan(0);
      expect(t).toEqual({ by_view: t.by_table, by_table: t.by_table, lines: t.by_table, files_say: t.by_table });
      const bySource = await sql<{ source: string; run_id: number; rejects: number }>`
        SELECT source, run_id, sum(rejects)::int AS rejects FROM audit.rejects_by_source_run GROUP BY 1, 2 ORDER BY 1`.execute(db.kysely);
      const truth = (await readFile(path.join(ROOT, 'samples/extracts/truth/rejects.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(',')[0]!);
      const expected = Object.entries(truth.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {})).sort();
      expect(bySource.rows.map((r) => [r.source, r.rejects])).toEqual(expected);
      expect(new Set(bySource.rows.map((r) => r.run_id))).toEqual(new Set([pipelineRun]));
    });
  });

  it('family_timeline traces a register family to its members (basis, joined) and every record of theirs, plus its evidence rows', async () => {
    await d.withDb(async (db) => {
      const family = await sql<{ family_id: number; case_ref: string }>`
        SELECT family_id, case_ref FROM core.family WHERE case_ref IS NOT NULL ORDER BY case_ref LIMIT 1`.execute(db.kysely);
      const { family_id: familyId, case_ref: caseRef } = family.rows[0]!;
      const members = await sql<{ person_id: number; basis: string; joined_on: string | null }>`
        SELECT person_id, basis, joined_on FROM core.current_family_member WHERE family_id = ${familyId} ORDER BY person_id`.execute(db.kysely);
      expect(members.rows.length).toBeGreaterThan(1);
      const membership = await sql<{ person_id: number; basis: string; joined_on: string | null }>`
        SELECT person_id, basis, joined_on FROM audit.family_membership WHERE family_id = ${familyId} AND current ORDER BY person_id`.execute(db.kysely);
      expect(membership.rows).toEqual(members.rows);

      const timeline = await sql<{ person_id: number | null; source: string; record_id: string; from_date: string | null; file_id: number; line: number }>`
        SELECT person_id, source, record_id, from_date, file_id, line FROM audit.family_timeline
        WHERE family_id = ${familyId} AND current_member IS NOT FALSE ORDER BY person_id, source, from_date, record_id`.execute(db.kysely);
      // Every record of every member, as the person links say (families.csv's view of the same thing).
      const records = await sql<{ person_id: number; source: string; record_id: string }>`
        SELECT r.person_id, r.source, r.record_id FROM core.person_record r
        JOIN core.current_family_member m USING (person_id) WHERE m.family_id = ${familyId}`.execute(db.kysely);
      const key = (r: { person_id: number | null; source: string; record_id: string }) => `${r.person_id}|${r.source}|${r.record_id}`;
      expect(timeline.rows.filter((r) => r.person_id !== null).map(key).sort()).toEqual(records.rows.map(key).sort());
      for (const r of timeline.rows) expect(r.file_id).toBeGreaterThan(0);
      // The family's attested evidence rows, by case_ref.
      const evidence = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM raw.evidence e JOIN audit.current_file f USING (file_id) WHERE e.case_ref = ${caseRef}`.execute(db.kysely);
      expect(timeline.rows.filter((r) => r.person_id === null && r.source === 'evidence')).toHaveLength(evidence.rows[0]!.n);
      // The line points back at the source row.
      const first = timeline.rows.find((r) => r.source === 'attachments')!;
      const raw = await sql<{ record_id: string }>`SELECT record_id FROM raw.attachments WHERE file_id = ${first.file_id} AND line = ${first.line}`.execute(db.kysely);
      expect(raw.rows).toEqual([{ record_id: first.record_id }]);
    });
  });

  it('run_chain lists the seals of every run in order, and run_chain_check finds them intact', async () => {
    await d.withDb(async (db) => {
      const chain = await sql<{ seq: number; run_id: number; kind: string; status: string }>`SELECT seq, run_id, kind, status FROM audit.run_chain ORDER BY seq`.execute(db.kysely);
      expect(chain.rows).toEqual([
        { seq: 1, run_id: pipelineRun, kind: 'start', status: 'succeeded' },
        { seq: 2, run_id: pipelineRun, kind: 'end', status: 'succeeded' },
        { seq: 3, run_id: outputRun, kind: 'start', status: 'succeeded' },
        { seq: 4, run_id: outputRun, kind: 'end', status: 'succeeded' },
      ]);
      const check = await sql<{ ok: boolean }>`SELECT bool_and(hash_ok AND linked AND matches_records) AS ok FROM audit.run_chain_check`.execute(db.kysely);
      expect(check.rows).toEqual([{ ok: true }]);
    });
  });
});
