import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, serverAdminUrl, testDatabase, type TestDatabase } from '../support/db.ts';
import { tempDir } from '../support/files.ts';
import { cli, cliDatabase } from '../cli/helpers.ts';
import {
  DEFAULT_PGLITE_DIR,
  openPglite,
  openPostgres,
  openTarget,
  redactUrl,
  resolveDatabaseTarget,
  type Database,
  type DbSession,
} from '../../src/db/index.ts';
import { JobError, UsageError } from '../../src/errors.ts';
import { copyTextRows } from '../../src/db/copy-out.ts';
import { BULK_WORK_MEM, useBulkSettings } from '../../src/db/bulk-settings.ts';
import { spreadsheetSafe, spreadsheetSafeSql } from '../../src/util/spreadsheet.ts';

/**
 * The one Database interface over a PostgreSQL server (pg) and embedded PostgreSQL (PGlite):
 * the same behaviour on both for typed queries, multi-statement SQL, COPY, transactions and the
 * types that come back. Then the embedded folder lock, how --db is read, and an unreachable server.
 */

let tmp: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp?.remove();
});

async function count(on: Database | DbSession, table: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.raw(table)}`.execute(on.kysely);
  return rows[0]!.n;
}

describe.each(availableBackends())('the Database interface on %s', (backend) => {
  let t: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    t = await testDatabase(backend);
    db = t.db;
    await db.session((s) =>
      s.exec(`
        CREATE TABLE public.items (id bigint PRIMARY KEY, label text, born date, n integer);
        CREATE TABLE public.bulk (id integer NOT NULL, label text NOT NULL);`),
    );
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('reports its kind and a description without secrets', () => {
    expect(db.kind).toBe(backend === 'server' ? 'postgres' : 'pglite');
    expect(db.description).not.toMatch(/password|:[^/@:]+@/);
  });

  it('gives a transaction the bulk settings (work memory, no JIT) until it ends, and the pool\'s next session the defaults', async () => {
    const settings = async (s: DbSession) =>
      (await sql<{ work_mem: string; jit: string }>`SELECT current_setting('work_mem') AS work_mem, current_setting('jit') AS jit`.execute(s.kysely)).rows[0]!;
    const before = await db.session(settings);
    expect(before.work_mem).not.toBe(BULK_WORK_MEM);
    expect(await db.transaction(async (s) => {
      await useBulkSettings(s);
      return settings(s);
    })).toEqual({ work_mem: BULK_WORK_MEM, jit: 'off' });
    expect(await db.session(settings)).toEqual(before);
    expect((await db.transaction(async (s) => {
      await useBulkSettings(s, { TFCLAIMS_WORK_MEM: '64MB' });
      return settings(s);
    })).work_mem).toBe('64MB');
    // Not a size: refused before it reaches SQL, saying what to give.
    await expect(db.transaction((s) => useBulkSettings(s, { TFCLAIMS_WORK_MEM: "1GB'; DROP TABLE x; --" }))).rejects.toThrow(/TFCLAIMS_WORK_MEM.*not a memory size/);
  });

  it('inserts and selects through kysely, with bigint ids as numbers and timestamps as Dates', async () => {
    const inserted = await db.kysely
      .insertInto('audit.run')
      .values({ command: 'backend-test', args: JSON.stringify({ a: [1, 'two'] }), operator: 'op', code_version: 'v' })
      .returning(['run_id', 'started_at'])
      .executeTakeFirstOrThrow();
    expect(typeof inserted.run_id).toBe('number');
    expect(inserted.started_at).toBeInstanceOf(Date);
    const row = await db.kysely.selectFrom('audit.run').selectAll().where('run_id', '=', inserted.run_id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ run_id: inserted.run_id, command: 'backend-test', args: { a: [1, 'two'] }, operator: 'op', code_version: 'v' });
    const { rows } = await sql<{ big: number; n: number }>`
      SELECT 9007199254740991::bigint AS big, (SELECT count(*) FROM audit.run WHERE command = 'backend-test') AS n`.execute(db.kysely);
    expect(rows).toEqual([{ big: 9007199254740991, n: 1 }]);
  });

  it('returns DATE values as YYYY-MM-DD strings (no Date, no time zone shift)', async () => {
    const { rows } = await sql<{ d: string; next: string; old: string; none: string | null }>`
      SELECT DATE '2011-06-13' AS d, DATE '2024-02-28' + 1 AS next, DATE '1900-01-01' AS old, NULL::date AS none`.execute(db.kysely);
    expect(rows).toEqual([{ d: '2011-06-13', next: '2024-02-29', old: '1900-01-01', none: null }]);
  });

  it('runs several statements in one exec, and COPYs text from a string (NULLs, escapes, dates)', async () => {
    await db.session((s) => s.exec("INSERT INTO public.items (id, label) VALUES (100, 'a'); INSERT INTO public.items (id, label) VALUES (101, 'b');"));
    await db.transaction((s) =>
      s.copyFrom('COPY public.items (id, label, born, n)', '1\tone\t2011-06-13\t5\n2\t\\N\t2012-01-01\t\\N\n3\ttab\\there \\\\ back\t\\N\t-7\n'),
    );
    const { rows } = await sql`SELECT id, label, born, n FROM public.items ORDER BY id`.execute(db.kysely);
    expect(rows).toEqual([
      { id: 1, label: 'one', born: '2011-06-13', n: 5 },
      { id: 2, label: null, born: '2012-01-01', n: null },
      { id: 3, label: 'tab\there \\ back', born: null, n: -7 },
      { id: 100, label: 'a', born: null, n: null },
      { id: 101, label: 'b', born: null, n: null },
    ]);
  });

  it('COPYs an AsyncIterable of chunks that cut rows anywhere, past the embedded blob size', async () => {
    const rows = 320_000;
    const label = 'x'.repeat(20);
    async function* chunks(): AsyncGenerator<string> {
      let text = '';
      for (let i = 1; i <= rows; i++) {
        text += `${i}\t${label}${i % 10}\n`;
        // Odd-sized chunks: boundaries fall inside rows and inside numbers.
        while (text.length >= 65_521) {
          yield text.slice(0, 65_521);
          text = text.slice(65_521);
        }
      }
      if (text) yield text;
    }
    await db.transaction((s) => s.copyFrom('COPY public.bulk (id, label)', chunks()));
    const { rows: summary } = await sql<{ n: number; total: number; distinct_labels: number; bad: number }>`
      SELECT count(*) AS n, sum(id)::bigint AS total, count(DISTINCT label) AS distinct_labels,
             count(*) FILTER (WHERE label <> ${label} || (id % 10)::text) AS bad
      FROM public.bulk`.execute(db.kysely);
    expect(summary).toEqual([{ n: rows, total: (rows * (rows + 1)) / 2, distinct_labels: 10, bad: 0 }]);
  });

  it('COPYs out (copyTo): text rows with NULLs, escapes and accents read back exactly, past the embedded blob size, and CSV as PostgreSQL writes it', async () => {
    const awkward = ['plain', 'tab\there', 'line\nbreak', 'back\\slash', 'Zoë Ångström', 'crlf\r\n', '\\N', ''];
    const read = await db.transaction(async (s) => {
      await s.exec(`CREATE TEMP TABLE awkward (n int, v text) ON COMMIT DROP`);
      await sql`INSERT INTO awkward SELECT n, (${awkward}::text[])[n] FROM generate_series(1, ${awkward.length}) n`.execute(s.kysely);
      await sql`INSERT INTO awkward VALUES (0, NULL)`.execute(s.kysely);
      const rows: (string | null)[][] = [];
      for await (const batch of copyTextRows(s.copyTo('SELECT n, v FROM awkward ORDER BY n'))) rows.push(...batch);
      return rows;
    });
    expect(read).toEqual([['0', null], ...awkward.map((v, i) => [String(i + 1), v])]);
    // Many rows (more than one chunk on either backend), each read whole.
    let count = 0;
    let bad = 0;
    const label = 'é'.repeat(7);
    await db.transaction(async (s) => {
      for await (const batch of copyTextRows(s.copyTo(`SELECT g, '${label}' || (g % 10) FROM generate_series(1, 400000) g`))) {
        for (const [g, v] of batch) {
          count++;
          if (v !== `${label}${Number(g) % 10}`) bad++;
        }
      }
    });
    expect({ count, bad }).toEqual({ count: 400_000, bad: 0 });
    const csv: Uint8Array[] = [];
    await db.transaction(async (s) => {
      for await (const chunk of s.copyTo(`SELECT 1 AS a, 'x,"y"' AS b, NULL::text AS c, '' AS d`, '(FORMAT csv, HEADER)')) csv.push(chunk);
    });
    expect(Buffer.concat(csv).toString('utf8')).toBe('a,b,c,d\n1,"x,""y""",,""\n');
  });

  it('COPYs out to a reader that fails part way: the transaction rolls back with the reader\'s error, and the database stays usable', async () => {
    const failing = db.transaction(async (s) => {
      await s.exec(`INSERT INTO public.items (id, label) VALUES (900, 'rolled back')`);
      let bytes = 0;
      for await (const chunk of s.copyTo(`SELECT g, repeat('x', 100) FROM generate_series(1, 2000000) g`)) {
        bytes += chunk.length;
        if (bytes > 1_000_000) throw new Error('the reader failed');
      }
    });
    await expect(failing).rejects.toThrow('the reader failed');
    expect(await count(db, 'public.items WHERE id = 900')).toBe(0);
    const rows: (string | null)[][] = [];
    await db.transaction(async (s) => {
      for await (const batch of copyTextRows(s.copyTo('SELECT 1, 2'))) rows.push(...batch);
    });
    expect(rows).toEqual([['1', '2']]);
  });

  it('makes cells spreadsheet-safe in SQL exactly as in TypeScript (files written by COPY)', async () => {
    const values = ['=SUM(A1)', '+44 20', '-5', '@cmd', '\tx', '\rx', 'safe', "'quoted", '', 'a=b', '1-2'];
    const { rows } = await sql<{ v: string; safe: string }>`
      SELECT v, ${sql.raw(spreadsheetSafeSql('v'))} AS safe FROM unnest(${values}::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n`.execute(db.kysely);
    expect(rows.map((r) => r.safe)).toEqual(values.map(spreadsheetSafe));
    expect(rows.map((r) => r.safe).filter((v, n) => v !== values[n])).toHaveLength(6);
  });

  it('rolls a transaction back when its function throws, leaving nothing of its kysely, exec or COPY work', async () => {
    const before = await count(db, 'public.items');
    const runsBefore = await count(db, 'audit.run');
    const boom = new Error('boom');
    const outcome = db.transaction(async (s) => {
      await s.kysely.insertInto('audit.run').values({ command: 'rolled-back', args: '{}', operator: 'op', code_version: 'v' }).execute();
      await s.exec("INSERT INTO public.items (id, label) VALUES (200, 'gone')");
      await s.copyFrom('COPY public.items (id, label)', '201\tgone too\n');
      // Inside, the work is visible on the transaction's connection.
      expect(await count(s, 'public.items')).toBe(before + 2);
      throw boom;
    });
    await expect(outcome).rejects.toBe(boom);
    expect(await count(db, 'public.items')).toBe(before);
    expect(await count(db, 'audit.run')).toBe(runsBefore);
    expect(await db.kysely.selectFrom('audit.run').select('run_id').where('command', '=', 'rolled-back').execute()).toEqual([]);

    // The connection is fit for use afterwards, and a transaction that returns commits.
    const value = await db.transaction(async (s) => {
      await s.exec("INSERT INTO public.items (id, label) VALUES (202, 'kept')");
      return 'done';
    });
    expect(value).toBe('done');
    expect(await count(db, 'public.items')).toBe(before + 1);
  });

  it('rolls back a transaction whose COPY fails on bad data, and the error says why', async () => {
    const before = await count(db, 'public.items');
    const outcome = db.transaction(async (s) => {
      await s.exec("INSERT INTO public.items (id, label) VALUES (300, 'before the copy')");
      await s.copyFrom('COPY public.items (id, born)', '301\t2011-06-13\n302\tnot a date\n');
    });
    await expect(outcome).rejects.toThrow(/date/);
    expect(await count(db, 'public.items')).toBe(before);
  });
});

describe.skipIf(!serverAdminUrl())('closing a server database', () => {
  it('closes its connections even when only sessions were used (no idle client keeps the process alive)', async () => {
    const t = await testDatabase('server');
    const app = `tfclaims-close-${randomBytes(4).toString('hex')}`;
    const db = openPostgres(t.url!, { applicationName: app });
    const admin = new pg.Client({ connectionString: serverAdminUrl() });
    await admin.connect();
    try {
      await db.session((s) => s.exec('SELECT 1'));
      const connections = async () =>
        Number((await admin.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0].n);
      expect(await connections()).toBe(1);
      await db.close();
      // The server notices a closed connection a moment later.
      let open = await connections();
      for (let i = 0; i < 50 && open > 0; i++) {
        await sleep(50);
        open = await connections();
      }
      expect(open).toBe(0);
      await db.close(); // closing twice is harmless
    } finally {
      await admin.end();
      await t.drop();
    }
  });
});

describe('the embedded database folder lock', () => {
  it('refuses a second open of the same folder while the first is open, and allows it after close', async () => {
    const dir = path.join(tmp.dir, 'lite');
    const lockFile = path.join(dir, 'tfclaims.lock');
    await cliDatabase(dir, 'pglite'); // a folder holding a database already (creating one takes seconds)
    const first = await openTarget(resolveDatabaseTarget(`pglite:${dir}`, {}));
    try {
      expect(first.kind).toBe('pglite');
      expect(await readFile(lockFile, 'utf8')).toBe(String(process.pid));
      await first.session((s) => s.exec("CREATE TABLE public.kept (v text); INSERT INTO public.kept VALUES ('still here')"));

      const second = openPglite({ dataDir: dir }, { lockWaitMs: 300 });
      const error = await second.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(JobError);
      expect((error as JobError).message).toBe(`the embedded database at ${dir} is already open in this process`);
    } finally {
      await first.close();
    }

    // Held by another live process: wait, then say who holds it and what to do.
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await writeFile(lockFile, String(holder.pid));
      const error = await openPglite({ dataDir: dir }, { lockWaitMs: 300 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(JobError);
      expect((error as JobError).message).toBe(`the embedded database at ${dir} is in use by another tfclaims process (pid ${holder.pid})`);
      expect((error as JobError).hint).toMatch(/postgres:\/\//);
    } finally {
      holder.kill();
      await rm(lockFile, { force: true });
    }
    expect(existsSync(lockFile)).toBe(false);

    const again = await openPglite({ dataDir: dir }, { lockWaitMs: 300 });
    try {
      const { rows } = await sql<{ v: string }>`SELECT v FROM public.kept`.execute(again.kysely);
      expect(rows).toEqual([{ v: 'still here' }]);
    } finally {
      await again.close();
    }

    // A lock left by a process that has died is taken over.
    await writeFile(lockFile, String(await deadPid()));
    const afterCrash = await openPglite({ dataDir: dir }, { lockWaitMs: 300 });
    try {
      expect(await readFile(lockFile, 'utf8')).toBe(String(process.pid));
    } finally {
      await afterCrash.close();
    }
    expect(existsSync(lockFile)).toBe(false);
  });
});

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('reading --db and DATABASE_URL', () => {
  it('knows server URLs, embedded folders and memory', () => {
    expect(resolveDatabaseTarget('postgres://u@h:5432/db', {})).toEqual({ kind: 'postgres', url: 'postgres://u@h:5432/db' });
    expect(resolveDatabaseTarget('postgresql://u:pw@h/db', {})).toEqual({ kind: 'postgres', url: 'postgresql://u:pw@h/db' });
    expect(resolveDatabaseTarget('  POSTGRES://u@h/db ', {})).toEqual({ kind: 'postgres', url: 'POSTGRES://u@h/db' });
    expect(resolveDatabaseTarget('pglite:./somewhere/db', {})).toEqual({ kind: 'pglite', dataDir: './somewhere/db' });
    expect(resolveDatabaseTarget('pglite:/abs/path', {})).toEqual({ kind: 'pglite', dataDir: '/abs/path' });
    expect(resolveDatabaseTarget('pglite:memory', {})).toEqual({ kind: 'pglite-memory' });
    expect(resolveDatabaseTarget('pglite::memory:', {})).toEqual({ kind: 'pglite-memory' });
  });

  it('uses --db first, then DATABASE_URL, then the embedded database in ./.tfclaims/db', () => {
    const env = { DATABASE_URL: 'postgres://env@h/db' };
    expect(resolveDatabaseTarget('pglite:memory', env)).toEqual({ kind: 'pglite-memory' });
    expect(resolveDatabaseTarget(undefined, env)).toEqual({ kind: 'postgres', url: 'postgres://env@h/db' });
    expect(resolveDatabaseTarget(undefined, {})).toEqual({ kind: 'pglite', dataDir: './.tfclaims/db' });
    expect(DEFAULT_PGLITE_DIR).toBe('./.tfclaims/db');
    expect(resolveDatabaseTarget(undefined, { DATABASE_URL: '  ' })).toEqual({ kind: 'pglite', dataDir: './.tfclaims/db' });
  });

  function usageError(value: string): UsageError {
    try {
      resolveDatabaseTarget(value, {});
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      return error as UsageError;
    }
    throw new Error(`${value} was accepted`);
  }

  it('refuses anything else as bad usage (exit 2), with a hint, and without echoing a URL that may hold a password', () => {
    const nonsense = usageError('nonsense');
    expect(nonsense.exitCode).toBe(2);
    expect(nonsense.message).toBe('--db nonsense is not a database this program knows');
    expect(nonsense.hint).toMatch(/postgres:\/\/USER@HOST:PORT\/DB.*pglite:FOLDER/);

    const mysql = usageError('mysql://admin:s3cret@db.example/x');
    expect(mysql.message).not.toContain('s3cret');
    expect(mysql.hint).toMatch(/postgres:\/\//);

    expect(usageError('pglite:').message).toMatch(/needs a folder/);
    expect(usageError('postgres:/one-slash').exitCode).toBe(2);
  });

  it('describes a server without its password', () => {
    expect(redactUrl('postgres://u:hunter2@h:5432/db')).toBe('postgres://u:***@h:5432/db');
    expect(redactUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
    const db = openPostgres('postgres://u:hunter2@127.0.0.1:1/db');
    expect(db.description).not.toContain('hunter2');
    return db.close();
  });
});

describe('the command line and the database target', () => {
  it('says clearly, with exit 1 and no stack trace, when the server cannot be reached (and never prints its password)', async () => {
    const logDir = path.join(tmp.dir, 'logs-unreachable');
    const result = await cli(['--db', 'postgres://root:hunter2@127.0.0.1:1/x', '--log-dir', logDir, '--json', 'db', 'migrate']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^tfclaims: cannot open the PostgreSQL server: .*ECONNREFUSED/m);
    expect(result.stderr).toMatch(/^ {2}what to do: check that the server is running/m);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('hunter2');
    expect(result.stderr.trim().split('\n')).toHaveLength(2);
  });

  it('refuses a --db it does not know with exit 2 and says what to use', async () => {
    const result = await cli(['--db', 'nonsense', '--log-dir', path.join(tmp.dir, 'logs-nonsense'), 'db', 'migrate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('tfclaims: --db nonsense is not a database this program knows');
    expect(result.stderr).toMatch(/what to do: use postgres:\/\//);
  });

  it.skipIf(!serverAdminUrl())('takes the database from DATABASE_URL when there is no --db', async () => {
    const t = await testDatabase('server');
    try {
      const result = await cli(['--log-dir', path.join(tmp.dir, 'logs-env'), 'db', 'migrate'], { env: { DATABASE_URL: t.url! } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`${redactUrl(t.url!)}: schema already up to date`);
    } finally {
      await t.drop();
    }
  });
});
