import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyServerDatabase, mainBackend, testDatabase } from '../support/db.ts';
import { person, tempDir, writeExtract } from '../support/files.ts';
import { cli, cliDatabase, logFiles, parseLogLines, reportedLogFile, type CliDatabase } from '../cli/helpers.ts';
import { migrate, openPostgres, type Database } from '../../src/db/index.ts';
import { JobError } from '../../src/errors.ts';
import { createFileLogger, safeError } from '../../src/log/logger.ts';

/**
 * The structured log: one JSON-lines file per run under --log-dir, owner-only, every line
 * carrying the run id; and the logger's own defences against personal data.
 */

let tmp: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp?.remove();
});

const event = (n: number, o: Record<string, string> = {}) => ({ ...person(n), event_date: '2025-03-01', event_type: 'asb_incident', ...o });

describe(`per-run log files from the command line on ${mainBackend()}`, () => {
  let d: CliDatabase;
  beforeAll(async () => {
    d = await cliDatabase(path.join(tmp.dir, 'db'));
  });
  afterAll(async () => {
    await d?.drop();
  });

  it('writes one owner-only JSON-lines file per run in --log-dir (created if missing), every line with the run id', async () => {
    const logDir = path.join(tmp.dir, 'logs', 'nested', 'deeper');
    const file = await writeExtract(tmp.dir, 'offending', [event(1), event(2), event(3, { dob: '2011-02-30' })], { name: 'logged.csv' });
    const result = await cli(['--db', d.dbArg, '--log-dir', logDir, '--json', 'ingest', 'offending', file, '--max-reject-fraction', '0.5']);
    expect(result.code, result.stderr).toBe(0);
    const { runId } = JSON.parse(result.stdout) as { runId: number };

    const names = await readdir(logDir);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-ingest-\d+\.log$/);
    const logFile = path.join(logDir, names[0]!);
    expect(reportedLogFile(result.stderr)).toBe(logFile);
    expect((await stat(logFile)).mode & 0o777).toBe(0o600);

    const lines = parseLogLines(await readFile(logFile, 'utf8'));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      expect(line).toMatchObject({ runId, command: 'ingest', level: expect.any(Number), time: expect.any(String), pid: expect.any(Number), msg: expect.any(String) });
    }
    expect(lines.map((l) => l.msg)).toEqual(['run started', 'file loaded', 'run sealed', 'run finished']);
    expect(lines[0]).toMatchObject({ kind: d.backend === 'server' ? 'postgres' : 'pglite', migrationsApplied: [] });
    expect(lines[1]).toMatchObject({ source: 'offending', file, rowsRead: 3, rowsLoaded: 2, rowsRejected: 1, rejectsByKind: { 'dob: not a real date': 1 } });
    expect(lines[3]).toMatchObject({ exitCode: 0 });
    expect(lines[2]).toMatchObject({ seal: expect.anything() });
  });

  it('logs a failed run: the failed file as a warning and the exit code, in a new file of its own', async () => {
    const logDir = path.join(tmp.dir, 'logs-failed');
    const extracts = path.join(tmp.dir, 'extracts-failed');
    await mkdir(extracts);
    await writeExtract(extracts, 'offending', [event(10), event(11, { dob: 'not a date' })]);
    const args = ['--db', d.dbArg, '--log-dir', logDir, '--quiet', 'run', '--extracts', extracts, '--as-of', '2026-10-31', '--window', 'W1', '--out', path.join(tmp.dir, 'out-failed')];
    const result = await cli(args);
    expect(result.code).toBe(3);
    const logs = await logFiles(logDir);
    expect(logs).toHaveLength(1);
    expect(path.basename(logs[0]!.file)).toMatch(/-run-\d+\.log$/);
    const lines = parseLogLines(logs[0]!.text);
    const runIds = new Set(lines.map((l) => l.runId));
    expect(runIds.size).toBe(1);
    expect(typeof [...runIds][0]).toBe('number');
    expect(lines.map((l) => l.msg)).toEqual(['run started', 'file failed', 'run sealed', 'run finished']);
    expect(lines[1]).toMatchObject({ level: 40, rowsRead: 2, rowsRejected: 1, reason: expect.stringMatching(/1 of 2 rows rejected \(50\.0%\), over the 5\.0% allowed/) });
    expect(lines[3]).toMatchObject({ exitCode: 3 });
  });

  it('times a whole run by named phases and steps (where a slow month went), none left as bare SQL', async () => {
    const logDir = path.join(tmp.dir, 'logs-timed');
    const samples = path.resolve(import.meta.dirname, '../../samples/extracts');
    const args = ['--db', d.dbArg, '--log-dir', logDir, '--quiet', 'run', '--extracts', samples, '--as-of', '2026-10-31', '--window', 'TIMED', '--out', path.join(tmp.dir, 'out-timed')];
    // At debug level the rules stage also logs every step it timed, not only the slowest.
    const result = await cli(args, { env: { TFCLAIMS_LOG_LEVEL: 'debug' } });
    expect(result.code, result.stderr).toBe(0);
    const [log] = await logFiles(logDir);
    const lines = parseLogLines(log!.text);
    const linked = lines.find((l) => l.msg === 'people linked') as { phaseMs: Record<string, number> } | undefined;
    // A first match: the person records go straight in (no changes table), before their indexes are built.
    expect(Object.keys(linked!.phaseMs)).toEqual(expect.arrayContaining(['scoring', 'clusters', 'person records: inserted', 'person records: indexes built', 'evidence']));
    expect(Object.keys(linked!.phaseMs)).not.toContain('person records: changes sent');
    const evaluated = lines.find((l) => l.msg === 'families evaluated') as { slowestSteps: { step: string; ms: number }[] } | undefined;
    expect(evaluated!.slowestSteps).toHaveLength(8);
    for (const { step, ms } of evaluated!.slowestSteps) {
      expect(step).toMatch(/^(staging (r_\w+|drop leftovers|analyze)|identification |progress |equivalent_progress |persist |problem|continuous_employment|index|analyze|lock|replace|summary|evidence hash|counts)/);
      expect(ms).toBeGreaterThanOrEqual(0);
    }
    const allSteps = (lines.find((l) => l.msg === 'rules steps') as { steps: { step: string; ms: number }[] } | undefined)?.steps;
    expect(allSteps!.length).toBeGreaterThan(evaluated!.slowestSteps.length);
    expect(allSteps!.map((s) => s.step)).toEqual(expect.arrayContaining(['staging r_attendance', 'persist evidence', 'evidence hash', 'counts', ...evaluated!.slowestSteps.map((s) => s.step)]));
  });
});

describe('migration log lines', () => {
  it('name the migration file applied (not redacted as a personal "name")', async () => {
    let db: Database;
    let drop: () => Promise<void>;
    if (mainBackend() === 'server') {
      const empty = await createEmptyServerDatabase();
      db = openPostgres(empty.url);
      drop = async () => {
        await db.close();
        await empty.drop();
      };
    } else {
      const t = await testDatabase('pglite');
      await t.db.session((s) => s.exec('DROP SCHEMA raw, core, audit, tfclaims_meta CASCADE'));
      db = t.db;
      drop = t.drop;
    }
    try {
      const logFile = path.join(tmp.dir, 'migrate.log');
      const { logger } = createFileLogger({ logFile, command: 'db-migrate' });
      const report = await migrate(db, logger);
      const lines = parseLogLines(await readFile(logFile, 'utf8'));
      expect(lines.map((l) => [l.msg, l.migration, l.file])).toEqual(
        report.applied.map((v) => ['migration applied', v, expect.stringMatching(new RegExp(`^${String(v).padStart(4, '0')}_[a-z0-9_]+\\.sql$`))]),
      );
      expect(lines[0]!.file).toBe('0001_foundation.sql');
      expect(JSON.stringify(lines)).not.toContain('[personal data removed]');
    } finally {
      await drop();
    }
  });
});

describe('the logger', () => {
  const pii = {
    forename: 'Zebediah',
    middle_names: 'Orlando',
    surname: 'Quillfeather',
    dob: '2011-06-13',
    address: '17 Marigold Crescent',
    postcode: 'SE15 4QX',
    name: 'Zebediah Quillfeather',
    value: '13/06/2011',
    cells: ['Zebediah', 'Quillfeather', '13/06/2011'],
    record: { forename: 'Zebediah', surname: 'Quillfeather' },
  };
  const values = ['Zebediah', 'Orlando', 'Quillfeather', '2011-06-13', '13/06/2011', '17 Marigold Crescent', 'SE15 4QX'];

  it('creates its file owner-only and removes personal-data keys at the top level and one level down', async () => {
    const logFile = path.join(tmp.dir, 'redaction', 'run.log');
    const { logger, file } = createFileLogger({ logFile, command: 'test' });
    expect(file).toBe(logFile);
    logger.info({ ...pii, fileId: 7, rowsRead: 3 }, 'a record passed by mistake');
    logger.child({ runId: 42 }).warn({ row: pii, problem: { column: 'dob', value: '13/06/2011', kind: 'not a real date' } }, 'nested');
    expect((await stat(logFile)).mode & 0o777).toBe(0o600);

    const text = await readFile(logFile, 'utf8');
    for (const v of values) expect(text).not.toContain(v);
    const [top, nested] = parseLogLines(text);
    expect(top).toMatchObject({ fileId: 7, rowsRead: 3, msg: 'a record passed by mistake' });
    for (const key of Object.keys(pii)) expect(top![key], key).toBe('[personal data removed]');
    expect(nested).toMatchObject({ runId: 42, msg: 'nested', problem: { column: 'dob', value: '[personal data removed]', kind: 'not a real date' } });
    for (const key of Object.keys(pii)) expect((nested!.row as Record<string, unknown>)[key], key).toBe('[personal data removed]');
  });

  it('removes personal-data keys two levels down and inside arrays of records', async () => {
    const logFile = path.join(tmp.dir, 'redaction', 'deep.log');
    const { logger } = createFileLogger({ logFile, command: 'test' });
    logger.info({ file: { row: { forename: 'Zebediah', dob: '2011-06-13' } }, rows: [{ surname: 'Quillfeather' }], batch: { rows: [{ address: '17 Marigold Crescent' }] } }, 'deep');
    const text = await readFile(logFile, 'utf8');
    for (const v of values) expect(text).not.toContain(v);
    expect(parseLogLines(text)[0]).toMatchObject({ file: { row: { forename: '[personal data removed]' } }, rows: [{ surname: '[personal data removed]' }] });
  });

  it('keeps the messages of its own errors, but not of others (which may quote data), nor any line of them in the stack', () => {
    const ours = safeError(new JobError('cannot open the embedded database: EACCES'));
    expect(ours).toMatchObject({ type: 'JobError', message: 'cannot open the embedded database: EACCES' });

    const theirs = new Error('invalid input syntax for type date: "13/06/2011"\nDETAIL: Zebediah Quillfeather, 17 Marigold Crescent');
    const dbError = Object.assign(new Error('value "Quillfeather" is too long'), { code: '22001' });
    const wrapped = new JobError('migration 0002_x.sql failed', { cause: theirs });
    for (const error of [theirs, dbError, wrapped]) {
      const safe = safeError(error);
      const text = JSON.stringify(safe);
      for (const v of values) expect(text).not.toContain(v);
      expect(safe.stack).toMatch(/^\s+at /);
    }
    expect(safeError(dbError)).toMatchObject({ type: 'Error', code: '22001' });
    expect(safeError(dbError)).not.toHaveProperty('message');
    expect(safeError(wrapped)).toMatchObject({ type: 'JobError', message: 'migration 0002_x.sql failed', cause: { type: 'Error' } });
    expect(safeError('a string')).toEqual({ type: 'string' });
  });
});
