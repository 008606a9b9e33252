import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mainBackend, testDatabase, type TestDatabase } from '../support/db.ts';
import { person, tempDir, writeExtract } from '../support/files.ts';
import { openPglite, type Database } from '../../src/db/index.ts';
import { columnNames, SOURCES } from '../../src/ingest/sources.ts';
import { writeRaw } from './helpers.ts';

/**
 * Bad files through the real command line (`tfclaims ingest SOURCE FILE`) in a child process:
 * the exit code, one clear stderr line naming the file and the problem plus a "what to do" line,
 * and nothing loaded. On the test server when there is one, else an embedded database folder.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const BIN = path.join(ROOT, 'bin/tfclaims');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  lines: string[];
}

describe(`tfclaims ingest with bad files on ${mainBackend()}`, () => {
  let t: TestDatabase | undefined;
  let tmp: { dir: string; remove: () => Promise<void> };
  let dbArg: string;
  let out: string;

  beforeAll(async () => {
    tmp = await tempDir();
    out = path.join(tmp.dir, 'out');
    if (mainBackend() === 'server') {
      t = await testDatabase('server');
      dbArg = t.dbArg;
    } else {
      dbArg = `pglite:${path.join(tmp.dir, 'db')}`;
      const migrated = await cli(['db', 'migrate']);
      expect(migrated.code, migrated.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await t?.drop();
    await tmp?.remove();
  });

  function cli(args: string[]): Promise<CliResult> {
    return new Promise((resolve) => {
      const env = { ...process.env };
      delete env.DATABASE_URL;
      delete env.TFCLAIMS_DEBUG;
      execFile(
        NODE,
        [BIN, '--db', dbArg, '--log-dir', path.join(tmp.dir, 'logs'), ...args],
        { cwd: tmp.dir, env, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr, lines: stderr.split('\n').filter((l) => l.trim() !== '') });
        },
      );
    });
  }

  /** Run `fn` against the database the CLI used (the embedded one only once the child has exited). */
  async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    if (t) return fn(t.db);
    const db = await openPglite({ dataDir: dbArg.slice('pglite:'.length) });
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  }

  /** What is loaded: input files by name, and the row counts of every raw table and of audit.reject. */
  async function loaded(): Promise<{ files: string[]; rows: Record<string, number> }> {
    return withDb(async (db) => {
      const files = (await db.kysely.selectFrom('audit.input_file').select('file_name').execute()).map((f) => f.file_name);
      const rows: Record<string, number> = {};
      for (const table of [...SOURCES.map((s) => `raw.${s}`), 'audit.reject', 'audit.file_supersession']) {
        const { rows: r } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.raw(table)}`.execute(db.kysely);
        rows[table] = r[0]!.n;
      }
      return { files, rows };
    });
  }

  /**
   * Run `tfclaims ingest SOURCE FILE` on a file that must be refused as a whole: exit 3, one
   * line naming the file and matching `problem`, a "what to do" line, and nothing loaded.
   */
  async function expectRefused(source: string, file: string, problem: RegExp, extra: string[] = []): Promise<CliResult> {
    const before = await loaded();
    const result = await cli(['ingest', source, file, '--out', out, ...extra]);
    expect(result.code, result.stderr).toBe(3);
    const problemLines = result.lines.filter((l) => problem.test(l));
    expect(problemLines, result.stderr).toHaveLength(1);
    expect(problemLines[0]).toContain(file);
    expect(result.lines.filter((l) => /^\s*what to do: \S/.test(l)), result.stderr).toHaveLength(1);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    const after = await loaded();
    expect(after.files).not.toContain(file);
    expect(after).toEqual(before);
    return result;
  }

  const offendingHeader = columnNames('offending').join(',');
  const goodRow = (n: number) => `R${n},,Ann${n},,Smith,2012-03-04,F,,,,2025-01-02,proven_offence,,`;

  it('refuses a file missing required headers, naming the missing columns', async () => {
    const file = await writeRaw(tmp.dir, 'missing-headers.csv', 'record_id,forename,Last Name,DOB\nR1,Ann,Smith,2012-03-04\n');
    await expectRefused('offending', file, /missing required columns surname, event_date, event_type\b/);
  });

  it('refuses an empty (0-byte) file', async () => {
    const file = await writeRaw(tmp.dir, 'empty.csv', '');
    expect((await stat(file)).size).toBe(0);
    await expectRefused('offending', file, /is empty \(0 bytes\)/);
  });

  it('accepts a file with a header and no rows: 0 rows loaded, exit 0', async () => {
    const file = await writeRaw(tmp.dir, 'header-only.csv', `${offendingHeader}\n`);
    const result = await cli(['--json', 'ingest', 'offending', file]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { runId: number; files: { status: string; rowsRead: number; rowsLoaded: number }[] };
    expect(summary.files[0]).toMatchObject({ status: 'loaded', rowsRead: 0, rowsLoaded: 0 });
    const rows = await withDb((db) =>
      db.kysely.selectFrom('audit.input_file').select(['rows_read', 'rows_loaded', 'rows_rejected', 'run_id']).where('file_name', '=', file).execute(),
    );
    expect(rows).toEqual([{ rows_read: 0, rows_loaded: 0, rows_rejected: 0, run_id: summary.runId }]);
  });

  it('refuses a binary file (NUL bytes)', async () => {
    const file = await writeRaw(tmp.dir, 'binary.csv', Buffer.concat([Buffer.from(`${offendingHeader}\n`), Buffer.from([0, 1, 2, 3, 0, 255, 254, 10])]));
    await expectRefused('offending', file, /contains binary data/);
  });

  it('refuses a file with a NUL byte far into it (not only in its first bytes)', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => goodRow(i));
    rows[2500] = rows[2500]!.replace('Smith', 'Sm\u0000ith');
    const file = await writeRaw(tmp.dir, 'late-nul.csv', `${[offendingHeader, ...rows].join('\n')}\n`);
    await expectRefused('offending', file, /contains binary data/);
  });

  it('refuses a file holding only a byte order mark and blank lines', async () => {
    const file = await writeRaw(tmp.dir, 'blank-lines.csv', '\uFEFF\n\n\r\n');
    await expectRefused('offending', file, /has no header row/);
  });

  it('refuses an Excel workbook saved with a .csv name', async () => {
    const file = await writeRaw(tmp.dir, 'workbook.csv', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.from('[Content_Types].xml rest of a zip')]));
    const result = await expectRefused('offending', file, /is an Excel workbook or zip archive, not a CSV file/);
    expect(result.stderr).toMatch(/what to do: .*CSV/);
  });

  it('refuses a file that is not UTF-8 when no mapping says otherwise, pointing at the encoding option', async () => {
    const file = await writeRaw(tmp.dir, 'latin1.csv', Buffer.from(`${offendingHeader}\nR1,,Zoë,,Brontë,2012-03-04,F,1 Rue Café,,,2025-01-02,proven_offence,,\n`, 'latin1'));
    const result = await expectRefused('offending', file, /is not valid utf-8 text/);
    expect(result.stderr).toMatch(/what to do: .*encoding: windows-1252/);
  });

  it('refuses a semicolon-delimited file, suggesting a mapping delimiter', async () => {
    const file = await writeRaw(
      tmp.dir,
      'semicolons.csv',
      `${columnNames('offending').join(';')}\nR1;;Ann;;Smith;2012-03-04;F;;;;2025-01-02;proven_offence;;\n`,
    );
    const result = await expectRefused('offending', file, /separated by semicolons, not commas/);
    expect(result.stderr).toMatch(/what to do: .*delimiter/);
  });

  it('refuses a file where many rows have the wrong number of fields, and lists them in rejects.csv', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? `${goodRow(i)},extra` : goodRow(i)));
    const file = await writeRaw(tmp.dir, 'ragged-many.csv', [offendingHeader, ...rows].join('\n'));
    await expectRefused('offending', file, /5 of 10 rows rejected \(50\.0%\), over the 5\.0% allowed/);
    const rejects = parse(await readFile(path.join(out, 'rejects.csv'), 'utf8')) as string[][];
    expect((await stat(path.join(out, 'rejects.csv'))).mode & 0o777).toBe(0o600);
    expect(rejects.slice(1).map((r) => [r[1], r[2], r[5]])).toEqual(
      [2, 4, 6, 8, 10].map((line) => [file, String(line), 'row has 15 fields but the header has 14 (a comma inside an unquoted value?)']),
    );
  });

  it('loads a file with one ragged row among many, rejecting just that row', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => goodRow(100 + i));
    rows[12] = `${rows[12]},oops`;
    const file = await writeRaw(tmp.dir, 'ragged-one.csv', `${[offendingHeader, ...rows].join('\n')}\n`);
    const result = await cli(['ingest', 'offending', file, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/29 of 30 rows loaded, 1 rejected/);
    const stored = await withDb(async (db) => {
      const f = await db.kysely.selectFrom('audit.input_file').select(['file_id', 'rows_read', 'rows_loaded', 'rows_rejected']).where('file_name', '=', file).executeTakeFirstOrThrow();
      const rejects = await db.kysely.selectFrom('audit.reject').select(['line', 'column_name', 'value', 'reason']).where('file_id', '=', f.file_id).execute();
      const { rows: raw } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM raw.offending WHERE file_id = ${f.file_id}`.execute(db.kysely);
      return { f, rejects, raw: raw[0]!.n };
    });
    expect(stored.f).toMatchObject({ rows_read: 30, rows_loaded: 29, rows_rejected: 1 });
    expect(stored.raw).toBe(29);
    expect(stored.rejects).toEqual([{ line: 14, column_name: null, value: null, reason: 'row has 15 fields but the header has 14 (a comma inside an unquoted value?)' }]);
  });

  it('refuses a file that ends inside an unterminated quote', async () => {
    const file = await writeRaw(tmp.dir, 'unterminated.csv', [offendingHeader, goodRow(1), 'R2,,"Ann,,Smith,2012-03-04,F,,,,2025-01-02,proven_offence,,', goodRow(3)].join('\n'));
    await expectRefused('offending', file, /quoted field .*never closed/);
  });

  it('refuses a file whose quoted field runs on over many lines', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => goodRow(200 + i));
    rows[5] = 'R205,,"Ann,,Smith,2012-03-04,F,,,,2025-01-02,proven_offence,,';
    rows[35] = 'R235,,Ann",,Smith,2012-03-04,F,,,,2025-01-02,proven_offence,,';
    const file = await writeRaw(tmp.dir, 'runaway-quote.csv', `${[offendingHeader, ...rows].join('\n')}\n`);
    await expectRefused('offending', file, /line 7\b.*(runs over|never closed|unbalanced)/);
  });

  it('refuses a file with a 10 MB field', async () => {
    const file = await writeRaw(tmp.dir, 'huge-field.csv', `${offendingHeader}\n${goodRow(1)}\nR2,,Ann,,Smith,2012-03-04,F,${'x'.repeat(10 * 1024 * 1024)},,,2025-01-02,proven_offence,,\n`);
    await expectRefused('offending', file, /line 3 is longer than 1 MB/);
  });

  it('exits 2 for an unknown source, a missing file, a bad --max-reject-fraction and a bad mapping', async () => {
    const good = await writeExtract(tmp.dir, 'offending', [{ ...person(1), event_date: '2025-01-02', event_type: 'asb_incident' }], { name: 'usage.csv' });
    const before = await loaded();

    const unknown = await cli(['ingest', 'offences', good]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown source "offences"');
    expect(unknown.stderr).toMatch(/what to do: SOURCE is one of attendance, offending/);

    const missing = path.join(tmp.dir, 'no-such-file.csv');
    const absent = await cli(['ingest', 'offending', missing]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain(`${missing} is not a file`);

    for (const value of ['2', 'abc', '-0.1']) {
      const bad = await cli(['ingest', 'offending', good, '--max-reject-fraction', value]);
      expect(bad.code, value).toBe(2);
      expect(bad.stderr).toContain('--max-reject-fraction');
    }

    const mapping = await writeRaw(tmp.dir, 'bad.mapping.yaml', 'columns:\n  Foo: bar\n');
    const badMapping = await cli(['ingest', 'offending', good, '--mapping', mapping]);
    expect(badMapping.code).toBe(2);
    expect(badMapping.stderr).toContain(mapping);
    expect(badMapping.stderr).toContain('mapping.columns.Foo: "bar" is not a column of offending');

    expect(await loaded()).toEqual(before);
  });
});
