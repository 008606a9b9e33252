import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { person, tempDir, writeExtract } from '../support/files.ts';
import { testRun } from '../support/run.ts';
import { ExitCode } from '../../src/errors.ts';
import { IngestFailedError, ingestExtracts, REJECTS_CSV_COLUMNS, type IngestSummary } from '../../src/ingest/index.ts';
import { ingest, inputFile, rawRows, tableCounts, TODAY, writeRaw } from './helpers.ts';

/**
 * Provenance (hash, size, run, counts), loading identical content once, supersession by a
 * corrected extract, the reject threshold (all or nothing), and rejects.csv.
 */
describe.each(availableBackends())('provenance, threshold and rejects.csv on %s', (backend) => {
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

  const event = (n: number, o: Record<string, string> = {}) => ({ ...person(n), event_date: '2025-03-01', event_type: 'asb_incident', ...o });
  const spell = (n: number, o: Record<string, string> = {}) => ({ ...person(n), spell_type: 'employment', start_date: '2024-01-01', ...o });

  /** `n` offending rows (ids from `from`) of which the rows at the given indexes have an impossible dob. */
  function events(from: number, n: number, bad: number[] = []) {
    return Array.from({ length: n }, (_, i) => event(from + i, bad.includes(i) ? { dob: '2011-02-30' } : {}));
  }

  async function failure(promise: Promise<unknown>): Promise<IngestFailedError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IngestFailedError);
    return error as IngestFailedError;
  }

  describe('provenance', () => {
    it('records the file hash, size, run and counts', async () => {
      const file = await writeExtract(tmp.dir, 'offending', events(1, 3, [1]), { name: 'prov.csv' });
      const { summary, runId } = await ingest(t.db, [{ source: 'offending', file }], { maxRejectFraction: 0.5 });
      const result = summary.files[0]!;
      const bytes = await readFile(file);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      expect(result).toMatchObject({ status: 'loaded', sha256, sizeBytes: bytes.length, rowsRead: 3, rowsLoaded: 2, rowsRejected: 1 });
      expect(summary).toMatchObject({ rowsRead: 3, rowsLoaded: 2, rowsRejected: 1 });
      const f = await inputFile(t.db, result.fileId!);
      expect(f).toMatchObject({
        run_id: runId,
        source: 'offending',
        file_name: file,
        sha256,
        size_bytes: bytes.length,
        rows_read: 3,
        rows_loaded: 2,
        rows_rejected: 1,
        mapping: null,
        mapping_sha256: null,
      });
      expect(f.started_at.getTime()).toBeLessThanOrEqual(f.loaded_at.getTime());
      const rejects = await t.db.kysely.selectFrom('audit.reject').selectAll().where('file_id', '=', result.fileId!).execute();
      expect(rejects).toHaveLength(1);
      expect(rejects[0]).toMatchObject({ run_id: runId, source: 'offending', line: 3, column_name: 'dob' });
      expect(await rawRows(t.db, 'offending', result.fileId!, ['file_id', 'line'])).toEqual([
        { file_id: result.fileId, line: 2 },
        { file_id: result.fileId, line: 4 },
      ]);
    });

    it('loads byte-identical content only once, whatever the file is called', async () => {
      const file = await writeExtract(tmp.dir, 'social_care', [{ ...person(1), episode_type: 'cin', start_date: '2024-01-01' }], { name: 'sc.csv' });
      const first = await ingest(t.db, [{ source: 'social_care', file }]);
      const fileId = first.summary.files[0]!.fileId!;
      const before = await tableCounts(t.db);

      const again = await ingest(t.db, [{ source: 'social_care', file }]);
      const copy = path.join(tmp.dir, 'sc-copy.csv');
      await copyFile(file, copy);
      const renamed = await ingest(t.db, [{ source: 'social_care', file: copy }]);
      for (const { summary } of [again, renamed]) {
        expect(summary.files[0]).toMatchObject({ status: 'unchanged', fileId, rowsRead: 1, rowsLoaded: 1, rowsRejected: 0 });
        expect(summary.files[0]!.message).toContain(`identical to file #${fileId}, already loaded`);
        // nothing read or loaded by this run
        expect(summary).toMatchObject({ rowsRead: 0, rowsLoaded: 0, rowsRejected: 0 });
      }
      // Only the two audit.run rows of the later ingests are new.
      expect(await tableCounts(t.db)).toEqual({ ...before, 'audit.run': before['audit.run']! + 2 });
    });

    it('supersedes the previous extract of a source with a corrected one, keeping the old rows', async () => {
      const v1 = await writeExtract(tmp.dir, 'employment', [spell(1), spell(2)], { name: 'emp-v1.csv' });
      const first = await ingest(t.db, [{ source: 'employment', file: v1 }]);
      const id1 = first.summary.files[0]!.fileId!;
      expect(first.summary.files[0]!.superseded).toEqual([]);

      const v2 = await writeExtract(tmp.dir, 'employment', [spell(1), spell(2, { end_date: '2024-06-30' }), spell(3)], { name: 'emp-v2.csv' });
      const second = await ingest(t.db, [{ source: 'employment', file: v2 }]);
      const id2 = second.summary.files[0]!.fileId!;
      expect(second.summary.files[0]).toMatchObject({ status: 'loaded', superseded: [id1], rowsLoaded: 3 });

      const supersessions = await t.db.kysely.selectFrom('audit.file_supersession').selectAll().execute();
      expect(supersessions).toEqual([expect.objectContaining({ file_id: id1, superseded_by: id2, run_id: second.runId })]);
      expect(supersessions[0]!.reason).toMatch(/employment/);
      // old rows are kept; the view of files in force shows only the new one
      expect(await rawRows(t.db, 'employment', id1, ['record_id'])).toEqual([{ record_id: 'R1' }, { record_id: 'R2' }]);
      expect(await rawRows(t.db, 'employment', id2, ['record_id', 'end_date'])).toEqual([
        { record_id: 'R1', end_date: null },
        { record_id: 'R2', end_date: '2024-06-30' },
        { record_id: 'R3', end_date: null },
      ]);
      const current = () => t.db.kysely.selectFrom('audit.current_file').select('file_id').where('source', '=', 'employment').execute();
      expect(await current()).toEqual([{ file_id: id2 }]);

      // The old content again is not reinstated: it is recognised and nothing changes.
      const before = await tableCounts(t.db);
      const third = await ingest(t.db, [{ source: 'employment', file: v1 }]);
      expect(third.summary.files[0]).toMatchObject({ status: 'unchanged', fileId: id1 });
      expect(third.summary.files[0]!.message).toContain(`which file #${id2} has since replaced`);
      expect(await current()).toEqual([{ file_id: id2 }]);
      expect(await tableCounts(t.db)).toEqual({ ...before, 'audit.run': before['audit.run']! + 1 });

      // A third version supersedes the second only (the first stays superseded by the second).
      const v3 = await writeExtract(tmp.dir, 'employment', [spell(4)], { name: 'emp-v3.csv' });
      const fourth = await ingest(t.db, [{ source: 'employment', file: v3 }]);
      const id3 = fourth.summary.files[0]!.fileId!;
      expect(fourth.summary.files[0]!.superseded).toEqual([id2]);
      const chain = await t.db.kysely.selectFrom('audit.file_supersession').select(['file_id', 'superseded_by']).orderBy('file_id').execute();
      expect(chain).toEqual([
        { file_id: id1, superseded_by: id2 },
        { file_id: id2, superseded_by: id3 },
      ]);
      expect(await current()).toEqual([{ file_id: id3 }]);
    });

    it('does not let one source supersede another', async () => {
      const a = await writeExtract(
        tmp.dir,
        'attachments',
        [{ ...person(1), case_ref: 'EH-1', attached_on: '2025-01-01', problems: 'health' }],
        { name: 'att.csv' },
      );
      const e = await writeExtract(
        tmp.dir,
        'evidence',
        [{ record_id: 'E1', case_ref: 'EH-1', problem: 'health', outcome: 'achieved', evidence_date: '2025-06-01', attested_by: 'K Worker' }],
        { name: 'ev.csv' },
      );
      const first = await ingest(t.db, [{ source: 'attachments', file: a }]);
      const second = await ingest(t.db, [{ source: 'evidence', file: e }]);
      expect(second.summary.files[0]!.superseded).toEqual([]);
      const ids = [first.summary.files[0]!.fileId!, second.summary.files[0]!.fileId!];
      const current = await t.db.kysely.selectFrom('audit.current_file').select('file_id').where('file_id', 'in', ids).orderBy('file_id').execute();
      expect(current.map((c) => c.file_id)).toEqual(ids);
      const superseded = await t.db.kysely.selectFrom('audit.file_supersession').select('file_id').where('file_id', 'in', ids).execute();
      expect(superseded).toEqual([]);
    });
  });

  describe('reject threshold', () => {
    it('loads a file with exactly 5% rejected rows, and fails one with more, leaving the database as it was', async () => {
      const ok = await writeExtract(tmp.dir, 'offending', events(100, 20, [7]), { name: 'five-percent.csv' });
      const loaded = await ingest(t.db, [{ source: 'offending', file: ok }]);
      expect(loaded.summary.files[0]).toMatchObject({ status: 'loaded', rowsRead: 20, rowsLoaded: 19, rowsRejected: 1 });

      const bad = await writeExtract(tmp.dir, 'offending', events(200, 20, [3, 11]), { name: 'ten-percent.csv' });
      const ctx = await testRun(t.db);
      const before = await tableCounts(t.db);
      const error = await failure(ingestExtracts(ctx, { files: [{ source: 'offending', path: bad, displayName: bad }], today: TODAY }));
      expect(error.exitCode).toBe(ExitCode.inputRejected);
      expect(error.summary.files[0]).toMatchObject({ status: 'failed', rowsRead: 20, rowsRejected: 2, rowsLoaded: 0 });
      expect(error.message).toContain(`${bad}: 2 of 20 rows rejected (10.0%), over the 5.0% allowed`);
      expect(await tableCounts(t.db)).toEqual(before);
    });

    it('rolls back every file of the call when one fails, including files that were fine', async () => {
      const good = await writeExtract(tmp.dir, 'attendance', [
        { ...person(1), term_start: '2024-09-02', term_end: '2024-12-20', sessions_possible: '100', sessions_authorised: '1', sessions_unauthorised: '1' },
      ], { name: 'good-attendance.csv' });
      const good2 = await writeExtract(tmp.dir, 'offending', events(300, 5), { name: 'good-offending.csv' });
      const bad = await writeExtract(tmp.dir, 'social_care', [
        { ...person(2), episode_type: 'cin', start_date: '2024-01-01' },
        { ...person(3), episode_type: 'nonsense', start_date: '2024-01-01' },
      ], { name: 'bad-social-care.csv' });
      const missingHeaders = await writeRaw(tmp.dir, 'not-evidence.csv', 'record_id,case_ref\nE1,EH-1\n');

      for (const files of [
        [{ source: 'attendance' as const, file: good }, { source: 'offending' as const, file: good2 }, { source: 'social_care' as const, file: bad }],
        [{ source: 'attendance' as const, file: good }, { source: 'evidence' as const, file: missingHeaders }],
      ]) {
        const before = await tableCounts(t.db);
        const error = await failure(ingest(t.db, files));
        expect(error.exitCode).toBe(ExitCode.inputRejected);
        expect(error.summary.files[0]!.status).toBe('loaded'); // it was fine, and is rolled back all the same
        expect(error.summary.files.at(-1)!.status).toBe('failed');
        expect(error.hint).toContain('nothing from this run was loaded');
        // one audit.run row for the attempt (committed before the ingest); nothing else
        expect(await tableCounts(t.db)).toEqual({ ...before, 'audit.run': before['audit.run']! + 1 });
        expect(await t.db.kysely.selectFrom('audit.input_file').select('file_id').where('file_name', 'in', [good, good2, bad, missingHeaders]).execute()).toEqual([]);
      }
    });

    it('honours a custom maxRejectFraction', async () => {
      const file = await writeExtract(tmp.dir, 'offending', events(400, 10, [0, 5]), { name: 'twenty-percent.csv' });
      const before = await tableCounts(t.db);
      await failure(ingest(t.db, [{ source: 'offending', file }], { maxRejectFraction: 0.1 }));
      expect(await tableCounts(t.db)).toEqual({ ...before, 'audit.run': before['audit.run']! + 1 });
      const loaded = await ingest(t.db, [{ source: 'offending', file }], { maxRejectFraction: 0.2 });
      expect(loaded.summary.files[0]).toMatchObject({ status: 'loaded', rowsLoaded: 8, rowsRejected: 2 });

      // zero tolerance: a single reject fails the file
      const one = await writeExtract(tmp.dir, 'offending', events(500, 50, [49]), { name: 'one-of-fifty.csv' });
      const error = await failure(ingest(t.db, [{ source: 'offending', file: one }], { maxRejectFraction: 0 }));
      expect(error.message).toContain('1 of 50 rows rejected (2.0%), over the 0.0% allowed');
    });

    it("honours the mapping's max_reject_fraction", async () => {
      const lenient = await writeRaw(tmp.dir, 'lenient.mapping.yaml', 'max_reject_fraction: 0.5\n');
      const strict = await writeRaw(tmp.dir, 'strict.mapping.yaml', 'max_reject_fraction: 0\n');
      const quarter = await writeExtract(tmp.dir, 'offending', events(600, 8, [1, 2]), { name: 'quarter.csv' });
      const loaded = await ingest(t.db, [{ source: 'offending', file: quarter, mapping: lenient }]);
      expect(loaded.summary.files[0]).toMatchObject({ status: 'loaded', rowsLoaded: 6, rowsRejected: 2 });

      const one = await writeExtract(tmp.dir, 'offending', events(700, 50, [10]), { name: 'one-bad.csv' });
      const before = await tableCounts(t.db);
      const error = await failure(ingest(t.db, [{ source: 'offending', file: one, mapping: strict }]));
      expect(error.message).toContain('1 of 50 rows rejected (2.0%), over the 0.0% allowed');
      expect(await tableCounts(t.db)).toEqual({ ...before, 'audit.run': before['audit.run']! + 1 });
    });
  });

  describe('rejects.csv', () => {
    async function readRejects(file: string): Promise<string[][]> {
      return parse(await readFile(file, 'utf8'), { relax_column_count: false }) as string[][];
    }

    it('is owner-only, has the contract header, and is safe to open in a spreadsheet', async () => {
      const out = path.join(tmp.dir, 'out-safe');
      const file = await writeExtract(
        tmp.dir,
        'offending',
        [
          event(800, { dob: '=1+1' }), // 2
          event(801, { event_type: '@SUM(A1)' }), // 3
          event(802, { uprn: '+441234' }), // 4
          event(803, { uprn: '-5' }), // 5
          event(804, { event_type: 'plain', detail: '=not checked' }), // 6
          ...events(805, 5),
        ],
        { name: 'formulas.csv' },
      );
      const ctx = await testRun(t.db);
      const summary: IngestSummary = await ingestExtracts(ctx, {
        files: [{ source: 'offending', path: file, displayName: '=HYPERLINK("x")' }],
        outDir: out,
        maxRejectFraction: 1,
        today: TODAY,
      });
      const rejectsFile = path.join(out, 'rejects.csv');
      expect(summary.rejectsFile).toBe(rejectsFile);
      expect((await stat(rejectsFile)).mode & 0o777).toBe(0o600);
      const rows = await readRejects(rejectsFile);
      expect(rows[0]).toEqual([...REJECTS_CSV_COLUMNS]);
      expect(rows[0]).toEqual(['source', 'file', 'line', 'column', 'value', 'reason']);
      const body = rows.slice(1);
      expect(body.map((r) => [r[0], r[1], r[2], r[3], r[4]])).toEqual([
        ['offending', `'=HYPERLINK("x")`, '2', 'dob', "'=1+1"],
        ['offending', `'=HYPERLINK("x")`, '3', 'event_type', "'@SUM(A1)"],
        ['offending', `'=HYPERLINK("x")`, '4', 'uprn', "'+441234"],
        ['offending', `'=HYPERLINK("x")`, '5', 'uprn', "'-5"],
        ['offending', `'=HYPERLINK("x")`, '6', 'event_type', 'plain'],
      ]);
      expect(body[0]![5]).toBe('dob =1+1 is not a date in YYYY-MM-DD or DD/MM/YYYY form');
      for (const row of body) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
      // The database keeps the values as given.
      const stored = await t.db.kysely.selectFrom('audit.reject').select(['line', 'value']).where('file_id', '=', summary.files[0]!.fileId!).orderBy('line').execute();
      expect(stored.map((r) => r.value)).toEqual(['=1+1', '@SUM(A1)', '+441234', '-5', 'plain']);
    });

    it('is written when a file fails the threshold, and replaces an existing file with owner-only permissions', async () => {
      const out = path.join(tmp.dir, 'out-failed');
      const rejectsFile = path.join(out, 'rejects.csv');
      await mkdir(out, { recursive: true });
      await writeFile(rejectsFile, 'old,content\n');
      await chmod(rejectsFile, 0o644);
      const file = await writeExtract(tmp.dir, 'offending', events(900, 4, [0, 2]), { name: 'fails.csv' });
      const before = await tableCounts(t.db);
      const error = await failure(ingest(t.db, [{ source: 'offending', file }], { outDir: out }));
      expect(error.summary.rejectsFile).toBe(rejectsFile);
      // Nothing loaded; the run is recorded with the one file it did write, rejects.csv, for its seal.
      expect(await tableCounts(t.db)).toEqual({ ...before, 'audit.run': before['audit.run']! + 1, 'audit.output_file': before['audit.output_file']! + 1 });
      expect((await stat(rejectsFile)).mode & 0o777).toBe(0o600);
      const rows = await readRejects(rejectsFile);
      expect(rows).toEqual([
        ['source', 'file', 'line', 'column', 'value', 'reason'],
        ['offending', file, '2', 'dob', '2011-02-30', 'dob 2011-02-30 is not a real date'],
        ['offending', file, '4', 'dob', '2011-02-30', 'dob 2011-02-30 is not a real date'],
      ]);
    });

    it('collects the rejects of every file of an ingest, duplicates and ragged rows included', async () => {
      const out = path.join(tmp.dir, 'out-many');
      const a = await writeExtract(tmp.dir, 'offending', [event(950), event(951, { record_id: 'R950' }), ...events(952, 18)], { name: 'dup.csv' });
      const header = 'record_id,forename,surname,dob,episode_type,start_date';
      const b = await writeRaw(
        tmp.dir,
        'sc-ragged.csv',
        [header, ...Array.from({ length: 25 }, (_, i) => `SC${i},A,B,2012-03-04,cin,2024-01-01`), 'SC99,A,B,2012-03-04,cin,2024-01-01,extra'].join('\n'),
      );
      await ingest(t.db, [{ source: 'offending', file: a }, { source: 'social_care', file: b }], { outDir: out });
      const rows = (await readRejects(path.join(out, 'rejects.csv'))).slice(1);
      expect(rows).toEqual([
        ['offending', a, '3', 'record_id', 'R950', 'record_id R950 already appears on line 2; the later row is rejected'],
        ['social_care', b, '27', '', '', 'row has 7 fields but the header has 6 (a comma inside an unquoted value?)'],
      ]);
    });

    it('is not written without an output folder, and the database still keeps the rejects', async () => {
      const file = await writeExtract(tmp.dir, 'offending', [event(990, { dob: 'soon' }), ...events(991, 30)], { name: 'no-out.csv' });
      const { summary } = await ingest(t.db, [{ source: 'offending', file }]);
      expect(summary.rejectsFile).toBeUndefined();
      const stored = await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit.reject WHERE file_id = ${summary.files[0]!.fileId!}`.execute(t.db.kysely);
      expect(stored.rows[0]!.n).toBe(1);
    });
  });
});
