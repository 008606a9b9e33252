import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openPglite, openPostgres, type Database } from '../../src/db/index.ts';
import { SqlState, sqlStateOf } from '../../src/db/sqlstate.ts';

/** A database of this test file's own, migrated, and how to reach it from a child process. */
export interface TestDatabase {
  db: Database;
  /** `--db` value for the CLI in a child process. */
  dbArg: string;
  kind: 'postgres' | 'pglite';
  /** Server URL (postgres only). */
  url?: string;
  drop(): Promise<void>;
}

export type Backend = 'server' | 'pglite';

/** The backends available to this run: the server (or container) when there is one, and PGlite always. */
export function availableBackends(): Backend[] {
  return inject('testDb').kind === 'postgres' ? ['server', 'pglite'] : ['pglite'];
}

/** The suite's main backend: the server when there is one, else PGlite. */
export function mainBackend(): Backend {
  return inject('testDb').kind === 'postgres' ? 'server' : 'pglite';
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Admin URL of the test server, or undefined when the suite runs on PGlite only. */
export function serverAdminUrl(): string | undefined {
  const t = inject('testDb');
  return t.kind === 'postgres' ? t.adminUrl : undefined;
}

/** Create an empty (unmigrated) database on the test server; returns its URL and a dropper. */
export async function createEmptyServerDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = serverAdminUrl();
  if (!adminUrl) throw new Error('no test server');
  const name = `tfclaims_e_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return { url: withDatabase(adminUrl, name), drop: () => dropServerDatabase(adminUrl, name) };
}

async function dropServerDatabase(adminUrl: string, name: string) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

/** A fresh migrated database for this test file (a clone of the template), on the given backend. */
export async function testDatabase(backend: Backend = mainBackend()): Promise<TestDatabase> {
  const t = inject('testDb');
  if (backend === 'server') {
    if (t.kind !== 'postgres') throw new Error('no test server');
    const name = `tfclaims_t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: t.adminUrl });
    await admin.connect();
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${t.template}`);
        break;
      } catch (error) {
        // Another file cloning the template at the same instant holds it briefly.
        if (attempt > 50 || sqlStateOf(error) !== '55006') throw error;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
    await admin.end();
    const url = withDatabase(t.adminUrl, name);
    const db = openPostgres(url);
    return {
      db,
      dbArg: url,
      kind: 'postgres',
      url,
      drop: async () => {
        await db.close().catch(() => {});
        await dropServerDatabase(t.adminUrl, name);
      },
    };
  }
  const tarball = new Blob([await readFile(inject('pgliteTarball'))]);
  const db = await openPglite({ tarball });
  return { db, dbArg: 'pglite:memory', kind: 'pglite', drop: () => db.close() };
}

export { SqlState };
