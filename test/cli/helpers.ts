import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, inject } from 'vitest';
import { mainBackend, testDatabase, type Backend } from '../support/db.ts';
import { tempDir } from '../support/files.ts';
import { openPglite, type Database } from '../../src/db/index.ts';

/**
 * Running the real command line (`node bin/tfclaims ...`) in a child process, as a user or a
 * script would, for the CLI, logging and PII suites.
 */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = path.join(ROOT, 'bin/tfclaims');

/**
 * The Node that runs the CLI: this one when it is new enough (vitest started by npm runs on the
 * pinned Node 24), else the pinned one in node_modules.
 */
export const NODE =
  Number(process.versions.node.split('.')[0]) >= 24 || !existsSync(path.join(ROOT, 'node_modules/.bin/node'))
    ? process.execPath
    : path.join(ROOT, 'node_modules/.bin/node');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working folder of the child (default: the system temp folder, so no ./.tfclaims appears in the repo). */
  cwd?: string;
  /** Extra environment; DATABASE_URL and TFCLAIMS_DEBUG are removed unless given here. */
  env?: Record<string, string>;
}

/** Run `tfclaims ARGS...` and collect its exit code, stdout and stderr. */
export function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.DATABASE_URL;
    delete env.TFCLAIMS_DEBUG;
    delete env.TFCLAIMS_LOG_LEVEL;
    Object.assign(env, opts.env ?? {});
    execFile(
      NODE,
      [BIN, ...args],
      { cwd: opts.cwd ?? os.tmpdir(), env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(error);
          return;
        }
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** Every file under a folder (recursively), as paths. */
export async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** The log files under a log folder with their text. */
export async function logFiles(dir: string): Promise<{ file: string; text: string }[]> {
  const files = (await filesUnder(dir)).filter((f) => f.endsWith('.log')).sort();
  return Promise.all(files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
}

/** Parse a JSON-lines log, failing with the offending line when one does not parse. */
export function parseLogLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`log line is not JSON: ${line}`);
      }
    });
}

/** The log file a command reported on stderr (`log: PATH`). */
export function reportedLogFile(stderr: string): string | undefined {
  return /log: (\S+\.log)\s*$/m.exec(stderr)?.[1];
}

/** A database for CLI runs in child processes, and a way to look into it from the test. */
export interface CliDatabase {
  /** `--db` for the child. */
  dbArg: string;
  backend: Backend;
  /** Query the database (an embedded folder is opened only between CLI runs, as its lock requires). */
  withDb<T>(fn: (db: Database) => Promise<T>): Promise<T>;
  drop(): Promise<void>;
}

/**
 * A migrated database of this test file's own: a clone of the template on the server, or an
 * embedded database folder `dir` seeded from the migrated template (quicker than creating one).
 */
export async function cliDatabase(dir: string, backend: Backend = mainBackend()): Promise<CliDatabase> {
  if (backend === 'server') {
    const t = await testDatabase('server');
    return { dbArg: t.dbArg, backend, withDb: (fn) => fn(t.db), drop: () => t.drop() };
  }
  const seeded = await PGlite.create({ dataDir: dir, loadDataDir: new Blob([await readFile(inject('pgliteTarball'))]) });
  await seeded.close();
  return {
    dbArg: `pglite:${dir}`,
    backend,
    async withDb(fn) {
      const db = await openPglite({ dataDir: dir }, { lockWaitMs: 10_000 });
      try {
        return await fn(db);
      } finally {
        await db.close();
      }
    },
    drop: async () => {},
  };
}

/**
 * A temporary folder and a {@link cliDatabase} (on the main backend, its embedded folder inside
 * the temporary one) made before this test file's tests and removed after them. Read `dir` and
 * `db` inside tests and hooks only: they exist once the file's `beforeAll` has run.
 */
export function cliDatabaseForFile(): { readonly dir: string; readonly db: CliDatabase } {
  let tmp: { dir: string; remove: () => Promise<void> } | undefined;
  let db: CliDatabase | undefined;
  beforeAll(async () => {
    tmp = await tempDir();
    db = await cliDatabase(path.join(tmp.dir, 'db'));
  });
  afterAll(async () => {
    await db?.drop();
    await tmp?.remove();
  });
  return {
    get dir() {
      return tmp!.dir;
    },
    get db() {
      return db!;
    },
  };
}
