import { sql } from 'kysely';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Logger } from 'pino';
import { JobError } from '../errors.ts';
import type { Database } from './types.ts';

/** Folder of numbered plain SQL migrations shipped with the program. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * Advisory lock key held while migrating, so processes that start at once take turns
 * (the first migrates, the others then find nothing to do).
 */
export const MIGRATION_LOCK_KEY = 7_425_113_001;

/** One migration file: `NNNN_name.sql`. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  sha256: string;
}

export interface MigrationReport {
  applied: number[];
  current: number;
}

/** The file a migration was read from, as the user sees it in migrations/: `0002_name.sql`. */
export function migrationFileName(m: Pick<Migration, 'version' | 'name'>): string {
  return `${String(m.version).padStart(4, '0')}_${m.name}.sql`;
}

/** Read and order the migration files; a misnamed or duplicated number is a packaging fault. */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of names) {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new JobError(`migration file ${file} is not named NNNN_name.sql`);
    const sql = await readFile(path.join(dir, file), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) throw new JobError(`two migrations are numbered ${match[1]}`);
    migrations.push({ version, name: match[2]!, sql, sha256: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations;
}

/**
 * Bring the schema up to date: each pending migration in its own transaction, all under one
 * session-level advisory lock. Refuses a database migrated by a newer tfclaims, and one whose
 * applied migrations were edited afterwards.
 */
export async function migrate(db: Database, logger: Logger, migrations?: Migration[]): Promise<MigrationReport> {
  const all = migrations ?? (await loadMigrations());
  const latest = all.at(-1)?.version ?? 0;
  return db.session(async (s) => {
    await s.exec(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    try {
      // Created once; a login without CREATE on the database (tfclaims_pipeline) must not be
      // asked to, even with IF NOT EXISTS, which PostgreSQL checks the privilege for first.
      const { rows: exists } = await sql<{ present: boolean }>`SELECT to_regclass('tfclaims_meta.migration') IS NOT NULL AS present`.execute(s.kysely);
      if (!exists[0]?.present) await s.exec(`
        CREATE SCHEMA IF NOT EXISTS tfclaims_meta;
        CREATE TABLE IF NOT EXISTS tfclaims_meta.migration (
          version integer PRIMARY KEY,
          name text NOT NULL,
          sha256 text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        );`);
      const applied = await s.kysely
        .selectFrom('tfclaims_meta.migration')
        .select(['version', 'name', 'sha256'])
        .orderBy('version')
        .execute();
      const newest = applied.at(-1)?.version ?? 0;
      if (newest > latest) {
        throw new JobError(
          `this database was migrated by a newer tfclaims (schema version ${newest}; this program knows up to ${latest})`,
          { hint: 'run the newer tfclaims that migrated it, or upgrade this installation' },
        );
      }
      for (const done of applied) {
        const file = all.find((m) => m.version === done.version);
        if (file && file.sha256 !== done.sha256) {
          throw new JobError(
            `migration ${migrationFileName(done)} was changed after it was applied to this database`,
            { hint: 'migrations are never edited once released: restore the file and add a new numbered migration instead' },
          );
        }
      }
      const done = new Set(applied.map((m) => m.version));
      const report: MigrationReport = { applied: [], current: newest };
      for (const m of all) {
        if (done.has(m.version)) continue;
        await s.exec('BEGIN');
        try {
          await s.exec(m.sql);
          await s.kysely
            .insertInto('tfclaims_meta.migration')
            .values({ version: m.version, name: m.name, sha256: m.sha256 })
            .execute();
          await s.exec('COMMIT');
        } catch (error) {
          await s.exec('ROLLBACK').catch(() => {});
          throw new JobError(`migration ${migrationFileName(m)} failed: ${(error as Error).message}`, {
            cause: error,
            hint: 'the database is unchanged by this migration; report this with the log file',
          });
        }
        // (not `name`: the logger redacts that key as personal data)
        logger.info({ migration: m.version, file: migrationFileName(m) }, 'migration applied');
        report.applied.push(m.version);
        report.current = m.version;
      }
      return report;
    } finally {
      await s.exec(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`).catch(() => {});
    }
  });
}
