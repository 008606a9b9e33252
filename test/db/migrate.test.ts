import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, createEmptyServerDatabase, serverAdminUrl, testDatabase, type Backend } from '../support/db.ts';
import { tempDir } from '../support/files.ts';
import { cli } from '../cli/helpers.ts';
import { loadMigrations, migrate, MIGRATIONS_DIR, openPostgres, type Database } from '../../src/db/index.ts';
import { JobError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log/logger.ts';

/**
 * Migrations on databases that start empty: every file applied once and recorded with its
 * checksum, idempotent, safe when processes start at once, all-or-nothing per file, and refusing
 * a database from a newer program or one whose applied files were edited.
 */

interface EmptyDb {
  db: Database;
  url?: string;
  drop(): Promise<void>;
}

/**
 * An unmigrated database. On PGlite: a clone of the migrated template with the migrated schemas
 * dropped (creating an embedded database from nothing takes seconds; a clone a fraction of one).
 */
async function emptyDatabase(backend: Backend): Promise<EmptyDb> {
  if (backend === 'server') {
    const { url, drop } = await createEmptyServerDatabase();
    const db = openPostgres(url);
    return {
      db,
      url,
      drop: async () => {
        await db.close().catch(() => {});
        await drop();
      },
    };
  }
  const t = await testDatabase('pglite');
  await t.db.session((s) => s.exec('DROP SCHEMA raw, core, audit, tfclaims_meta CASCADE'));
  return { db: t.db, drop: t.drop };
}

/** Schemas other than PostgreSQL's own. */
async function userSchemas(db: Database): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT nspname AS name FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public') ORDER BY 1`.execute(db.kysely);
  return rows.map((r) => r.name);
}

async function tableExists(db: Database, name: string): Promise<boolean> {
  const { rows } = await sql<{ t: string | null }>`SELECT to_regclass(${name})::text AS t`.execute(db.kysely);
  return rows[0]!.t !== null;
}

async function recorded(db: Database) {
  return db.kysely.selectFrom('tfclaims_meta.migration').select(['version', 'name', 'sha256', 'applied_at']).orderBy('version').execute();
}

/** The migration files shipped in migrations/, read and hashed independently of the runner. */
async function shippedMigrations(): Promise<{ version: number; name: string; sha256: string }[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (file) => {
      const [, version, name] = /^(\d{4})_(.+)\.sql$/.exec(file)!;
      const bytes = await readFile(path.join(MIGRATIONS_DIR, file));
      return { version: Number(version), name: name!, sha256: createHash('sha256').update(bytes).digest('hex') };
    }),
  );
}

async function rejection(promise: Promise<unknown>): Promise<JobError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(JobError);
  return error as JobError;
}

let tmp: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp?.remove();
});

let folders = 0;
/** A folder of migration files (name -> SQL). */
async function migrationFolder(files: Record<string, string>): Promise<string> {
  const dir = path.join(tmp.dir, `migrations-${++folders}`);
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

describe.each(availableBackends())('migrations on %s', (backend) => {
  let e: EmptyDb | undefined;
  async function fresh(): Promise<Database> {
    await e?.drop();
    e = await emptyDatabase(backend);
    expect(await userSchemas(e.db)).toEqual([]);
    return e.db;
  }
  afterAll(async () => {
    await e?.drop();
  });

  it('applies every file in migrations/ to an empty database and records each with its SHA-256; again is a no-op', async () => {
    const db = await fresh();
    const shipped = await shippedMigrations();
    expect(shipped.length).toBeGreaterThan(0);

    const first = await migrate(db, silentLogger());
    expect(first).toEqual({ applied: shipped.map((m) => m.version), current: shipped.at(-1)!.version });
    const rows = await recorded(db);
    expect(rows.map(({ version, name, sha256 }) => ({ version, name, sha256 }))).toEqual(shipped);
    expect(await userSchemas(db)).toEqual(['audit', 'core', 'raw', 'tfclaims_meta']);
    for (const table of ['audit.run', 'audit.run_end', 'audit.run_status', 'audit.input_file', 'audit.reject', 'raw.offending', 'raw.evidence']) {
      expect(await tableExists(db, table), table).toBe(true);
    }

    // Some data, to show that a second migrate touches nothing.
    await db.kysely.insertInto('audit.run').values({ command: 'test', args: '{}', operator: 't', code_version: 't' }).execute();
    const second = await migrate(db, silentLogger());
    expect(second).toEqual({ applied: [], current: shipped.at(-1)!.version });
    expect(await recorded(db)).toEqual(rows);
    const runs = await db.kysely.selectFrom('audit.run').select('command').execute();
    expect(runs).toEqual([{ command: 'test' }]);
  });

  it('rolls back a failing migration entirely, names its file, keeps the earlier ones, and applies it once fixed', async () => {
    const db = await fresh();
    const files = {
      '0001_first.sql': 'CREATE TABLE public.m_first (id int); INSERT INTO public.m_first VALUES (1);',
      '0002_second.sql':
        'CREATE TABLE public.m_second (id int);\nINSERT INTO public.m_first VALUES (2);\nALTER TABLE public.m_first ADD COLUMN note text;\nCREATE TABLE public.m_broken (x no_such_type);',
      '0003_third.sql': 'CREATE TABLE public.m_third (id int);',
    };
    const dir = await migrationFolder(files);
    const error = await rejection(migrate(db, silentLogger(), await loadMigrations(dir)));
    expect(error.message).toContain('0002_second.sql');
    expect(error.message).toMatch(/no_such_type/);
    expect(error.exitCode).toBe(1);
    expect(error.hint).toMatch(/unchanged/);

    // 0001 kept; nothing of 0002 (its table, its insert, its ALTER) and nothing of 0003.
    expect((await recorded(db)).map((m) => m.version)).toEqual([1]);
    expect(await tableExists(db, 'public.m_first')).toBe(true);
    expect(await tableExists(db, 'public.m_second')).toBe(false);
    expect(await tableExists(db, 'public.m_broken')).toBe(false);
    expect(await tableExists(db, 'public.m_third')).toBe(false);
    const { rows } = await sql<Record<string, unknown>>`SELECT * FROM public.m_first`.execute(db.kysely);
    expect(rows).toEqual([{ id: 1 }]);

    // The session is usable afterwards (no transaction left open, advisory lock released).
    await writeFile(path.join(dir, '0002_second.sql'), files['0002_second.sql'].replace('no_such_type', 'int'));
    const fixed = await migrate(db, silentLogger(), await loadMigrations(dir));
    expect(fixed).toEqual({ applied: [2, 3], current: 3 });
    expect(await tableExists(db, 'public.m_broken')).toBe(true);
    const after = await sql<{ id: number; note: string | null }>`SELECT id, note FROM public.m_first ORDER BY id`.execute(db.kysely);
    expect(after.rows).toEqual([
      { id: 1, note: null },
      { id: 2, note: null },
    ]);
  });

  it('refuses a database migrated by a newer version, changing nothing', async () => {
    const db = await fresh();
    await migrate(db, silentLogger());
    const latest = (await shippedMigrations()).at(-1)!.version;
    await db.kysely.insertInto('tfclaims_meta.migration').values({ version: 9999, name: 'from_the_future', sha256: 'f'.repeat(64) }).execute();
    const before = await recorded(db);
    const error = await rejection(migrate(db, silentLogger()));
    expect(error.message).toBe(`this database was migrated by a newer tfclaims (schema version 9999; this program knows up to ${latest})`);
    expect(error.hint).toMatch(/newer tfclaims|upgrade/);
    expect(await recorded(db)).toEqual(before);
  });

  it('refuses a database whose applied migration file was edited, and applies nothing after it', async () => {
    const db = await fresh();
    const dir = await migrationFolder({
      '0001_first.sql': 'CREATE TABLE public.e_first (id int);',
      '0002_second.sql': 'CREATE TABLE public.e_second (id int);',
    });
    expect(await migrate(db, silentLogger(), await loadMigrations(dir))).toEqual({ applied: [1, 2], current: 2 });
    const original = await readFile(path.join(dir, '0002_second.sql'), 'utf8');
    await writeFile(path.join(dir, '0002_second.sql'), `${original}\nCREATE INDEX ON public.e_second (id);`);
    await writeFile(path.join(dir, '0003_third.sql'), 'CREATE TABLE public.e_third (id int);');

    const error = await rejection(migrate(db, silentLogger(), await loadMigrations(dir)));
    expect(error.message).toMatch(/^migration 0002_second\.sql was changed after it was applied to this database$/);
    expect(error.hint).toMatch(/new numbered migration/);
    expect((await recorded(db)).map((m) => m.version)).toEqual([1, 2]);
    expect(await tableExists(db, 'public.e_third')).toBe(false);

    // Restored, the database is accepted again and the new migration applies.
    await writeFile(path.join(dir, '0002_second.sql'), original);
    expect(await migrate(db, silentLogger(), await loadMigrations(dir))).toEqual({ applied: [3], current: 3 });
  });
});

describe('migration files', () => {
  it('refuses a misnamed file and two files with one number', async () => {
    const misnamed = await migrationFolder({ '0001_ok.sql': 'SELECT 1;', 'add-things.sql': 'SELECT 1;' });
    expect((await rejection(loadMigrations(misnamed))).message).toBe('migration file add-things.sql is not named NNNN_name.sql');
    const twice = await migrationFolder({ '0001_one.sql': 'SELECT 1;', '0001_other.sql': 'SELECT 1;' });
    expect((await rejection(loadMigrations(twice))).message).toBe('two migrations are numbered 0001');
  });

  it('orders files by number and ignores files that are not .sql', async () => {
    const dir = await migrationFolder({ '0010_ten.sql': 'SELECT 10;', '0002_two.sql': 'SELECT 2;', 'README.md': '# notes' });
    const loaded = await loadMigrations(dir);
    expect(loaded.map((m) => [m.version, m.name])).toEqual([
      [2, 'two'],
      [10, 'ten'],
    ]);
    expect(loaded[0]!.sha256).toBe(createHash('sha256').update('SELECT 2;').digest('hex'));
  });
});

describe.skipIf(!serverAdminUrl())('concurrent migrations on the server', () => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const drop of drops) await drop().catch(() => {});
  });

  async function emptyServer() {
    const { url, drop } = await createEmptyServerDatabase();
    drops.push(drop);
    return url;
  }

  it('two tfclaims processes migrating one empty database at once both succeed, and each migration is applied once', async () => {
    const url = await emptyServer();
    const shipped = await shippedMigrations();
    const logDir = path.join(tmp.dir, 'logs-concurrent');
    const results = await Promise.all([
      cli(['db', 'migrate', '--db', url, '--json', '--log-dir', logDir]),
      cli(['--db', url, '--json', '--log-dir', logDir, 'db', 'migrate']),
    ]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const reports = results.map((r) => JSON.parse(r.stdout) as { applied: number[]; current: number });
    // One of them migrated; the other waited for it and found nothing to do.
    expect(reports.map((r) => r.applied).sort((a, b) => b.length - a.length)).toEqual([shipped.map((m) => m.version), []]);
    for (const r of reports) expect(r.current).toBe(shipped.at(-1)!.version);

    const db = openPostgres(url);
    try {
      expect((await recorded(db)).map(({ version, name, sha256 }) => ({ version, name, sha256 }))).toEqual(shipped);
    } finally {
      await db.close();
    }
  });

  it('three connection pools migrating at once take turns: every migration applied exactly once', async () => {
    const url = await emptyServer();
    // A slow first migration holds the lock while the others arrive.
    const dir = await migrationFolder({
      '0001_slow.sql': 'SELECT pg_sleep(0.4); CREATE TABLE public.c_one (id int);',
      '0002_two.sql': 'CREATE TABLE public.c_two (id int); INSERT INTO public.c_two VALUES (2);',
      '0003_three.sql': 'CREATE TABLE public.c_three (id int);',
    });
    const migrations = await loadMigrations(dir);
    const pools = [openPostgres(url), openPostgres(url), openPostgres(url)];
    try {
      const reports = await Promise.all(pools.map((db) => migrate(db, silentLogger(), migrations)));
      expect(reports.flatMap((r) => r.applied).sort()).toEqual([1, 2, 3]);
      expect(reports.filter((r) => r.applied.length > 0)).toHaveLength(1);
      for (const r of reports) expect(r.current).toBe(3);
      expect((await recorded(pools[0]!)).map((m) => m.version)).toEqual([1, 2, 3]);
      const { rows } = await sql<{ id: number }>`SELECT id FROM public.c_two`.execute(pools[1]!.kysely);
      expect(rows).toEqual([{ id: 2 }]);
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
  });

  it('the command line refuses a database from a newer version with a clear message and exit 1', async () => {
    const url = await emptyServer();
    const logDir = path.join(tmp.dir, 'logs-newer');
    const first = await cli(['--db', url, '--log-dir', logDir, 'db', 'migrate']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/: applied migrations? .*; schema version \d+$/m);

    const db = openPostgres(url);
    try {
      await db.kysely.insertInto('tfclaims_meta.migration').values({ version: 9999, name: 'future', sha256: '0'.repeat(64) }).execute();
    } finally {
      await db.close();
    }
    const refused = await cli(['--db', url, '--log-dir', logDir, 'db', 'migrate']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^tfclaims: this database was migrated by a newer tfclaims \(schema version 9999; this program knows up to \d+\)$/m);
    expect(refused.stderr).toMatch(/^ {2}what to do: /m);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });
});
