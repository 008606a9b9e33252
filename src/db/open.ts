import { UsageError, JobError } from '../errors.ts';
import { openPostgres } from './pg.ts';
import { openPglite } from './pglite.ts';
import type { Database } from './types.ts';
import { migrate, type MigrationReport } from './migrate.ts';
import type { Logger } from 'pino';

/** The embedded database folder used when neither `--db` nor `DATABASE_URL` is given. */
export const DEFAULT_PGLITE_DIR = './.tfclaims/db';

/** What `--db` / `DATABASE_URL` asked for. */
export type DatabaseTarget =
  | { kind: 'postgres'; url: string }
  | { kind: 'pglite'; dataDir: string }
  | { kind: 'pglite-memory' };

/**
 * Read `--db` (first) or `DATABASE_URL`: `postgres://` or `postgresql://` means a server;
 * `pglite:PATH` an embedded database in that folder; `pglite:memory` one that lives only in
 * this process; nothing at all, the embedded database in `./.tfclaims/db`.
 */
export function resolveDatabaseTarget(option: string | undefined, env: NodeJS.ProcessEnv = process.env): DatabaseTarget {
  const value = (option ?? env.DATABASE_URL ?? '').trim();
  if (value === '') return { kind: 'pglite', dataDir: DEFAULT_PGLITE_DIR };
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: 'postgres', url: value };
  if (/^pglite:/i.test(value)) {
    const rest = value.slice('pglite:'.length);
    if (rest === 'memory' || rest === ':memory:') return { kind: 'pglite-memory' };
    if (rest === '') throw new UsageError('--db pglite: needs a folder, e.g. --db pglite:./.tfclaims/db');
    return { kind: 'pglite', dataDir: rest };
  }
  throw new UsageError(`--db ${value.includes('@') ? '(a URL)' : value} is not a database this program knows`, {
    hint: 'use postgres://USER@HOST:PORT/DB for a PostgreSQL server, or pglite:FOLDER for the embedded database',
  });
}

/** Open the database a target names, without touching its schema. */
export async function openTarget(target: DatabaseTarget): Promise<Database> {
  try {
    switch (target.kind) {
      case 'postgres': {
        const db = openPostgres(target.url);
        // Fail here, with a clear message, rather than in the middle of the first stage.
        await db.session(async (s) => s.exec('SELECT 1'));
        return db;
      }
      case 'pglite':
        return await openPglite({ dataDir: target.dataDir });
      case 'pglite-memory':
        return await openPglite({ memory: true });
    }
  } catch (error) {
    if (error instanceof JobError) throw error;
    const where = target.kind === 'postgres' ? 'the PostgreSQL server' : 'the embedded database';
    throw new JobError(`cannot open ${where}: ${(error as Error).message}`, {
      cause: error,
      hint:
        target.kind === 'postgres'
          ? 'check that the server is running and the URL (host, port, user, database) is right'
          : 'check the folder is writable; remove it to start again from an empty database',
    });
  }
}

/** Open the database and bring its schema up to date, as every command does. */
export async function openDatabase(
  target: DatabaseTarget,
  logger: Logger,
): Promise<{ db: Database; migrations: MigrationReport }> {
  const db = await openTarget(target);
  try {
    const migrations = await migrate(db, logger);
    return { db, migrations };
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}
