import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import {
  CompiledQuery,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from 'kysely';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER } from './binary-copy.ts';
import type { Database, DbSession } from './types.ts';
import type { Schema } from './schema.ts';
import { acquireDirectoryLock } from './dir-lock.ts';

/** Text gathered per embedded COPY: bounds memory while keeping the per-statement cost small. */
const PGLITE_COPY_BLOB_CHARS = 8 * 1024 * 1024;

/** A FIFO mutex: PGlite is one connection, so units of work take turns on it. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = resolve;
    });
    const acquired = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => next);
    return acquired;
  }
}

class PgliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite;
  readonly release: () => void;
  constructor(pglite: PGlite, release: () => void) {
    this.#pglite = pglite;
    this.release = release;
  }
  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.#pglite.query<R>(compiled.sql, [...compiled.parameters], { rowMode: 'object' });
    const affected = result.affectedRows;
    return affected === undefined ? { rows: result.rows } : { rows: result.rows, numAffectedRows: BigInt(affected) };
  }
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on the embedded database; page with LIMIT/OFFSET or keyset');
  }
}

/** Kysely driver over one PGlite instance. `locking` = take the mutex per query (pool use) or not (inside a held session). */
class PgliteDriver implements Driver {
  readonly #pglite: PGlite;
  readonly #mutex: Mutex | undefined;
  constructor(pglite: PGlite, mutex: Mutex | undefined) {
    this.#pglite = pglite;
    this.#mutex = mutex;
  }
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    const release = this.#mutex ? await this.#mutex.lock() : () => {};
    return new PgliteConnection(this.#pglite, release);
  }
  async beginTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('BEGIN'));
  }
  async commitTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('COMMIT'));
  }
  async rollbackTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('ROLLBACK'));
  }
  async releaseConnection(connection: DatabaseConnection) {
    (connection as PgliteConnection).release();
  }
  async destroy() {}
}

function kyselyOver(pglite: PGlite, mutex: Mutex | undefined): Kysely<Schema> {
  return new Kysely<Schema>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new PgliteDriver(pglite, mutex),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}

/** Where an embedded database lives: a folder, or memory only (tests, dry runs). */
export type PgliteLocation = { dataDir: string } | { memory: true } | { tarball: Blob };

/**
 * Open the embedded PostgreSQL. A folder is locked against a second process for as long as it
 * is open (PGlite is single-process); the second waits up to `lockWaitMs` and then fails clearly.
 */
export async function openPglite(
  location: PgliteLocation,
  opts: { lockWaitMs?: number } = {},
): Promise<Database & { dumpDataDir(): Promise<Blob> }> {
  let unlock: (() => Promise<void>) | undefined;
  let pglite: PGlite;
  const parsers = {
    [pgliteTypes.DATE]: (value: string) => value,
    [pgliteTypes.INT8]: (value: string) => Number(value),
  };
  let description: string;
  if ('dataDir' in location) {
    const dir = path.resolve(location.dataDir);
    await mkdir(dir, { recursive: true });
    unlock = await acquireDirectoryLock(dir, { waitMs: opts.lockWaitMs ?? 60_000 });
    try {
      pglite = await PGlite.create({ dataDir: dir, parsers });
    } catch (error) {
      await unlock();
      throw error;
    }
    description = `embedded PostgreSQL (PGlite) at ${location.dataDir}`;
  } else if ('tarball' in location) {
    pglite = await PGlite.create({ loadDataDir: location.tarball, parsers });
    description = 'embedded PostgreSQL (PGlite) in memory';
  } else {
    pglite = await PGlite.create({ parsers });
    description = 'embedded PostgreSQL (PGlite) in memory';
  }
  // Dates read as text come out as YYYY-MM-DD, as on a server (pg.ts SESSION_OPTIONS).
  await pglite.exec('SET DateStyle TO ISO, YMD');
  const mutex = new Mutex();
  const inSession = kyselyOver(pglite, undefined);
  const sessionApi: DbSession = {
    kysely: inSession,
    async exec(sql) {
      await pglite.exec(sql);
    },
    async copyFrom(copySql, data) {
      const copy = (parts: string[]) => pglite.query(`${copySql} FROM '/dev/blob'`, [], { blob: new Blob(parts) });
      // Binary tuples: each blob is a whole binary COPY stream, framed here.
      const copyBinary = (parts: Uint8Array[]) =>
        pglite.query(`${copySql} FROM '/dev/blob' (FORMAT binary)`, [], {
          blob: new Blob([BINARY_COPY_HEADER, ...parts, BINARY_COPY_TRAILER] as ConstructorParameters<typeof Blob>[0]),
        });
      if (typeof data === 'string') {
        await copy([data]);
        return;
      }
      // Each blob is its own COPY, so cut only at a row's end; the rest starts the next blob.
      let pending = '';
      let parts: Uint8Array[] = [];
      let partBytes = 0;
      for await (const chunk of data) {
        if (typeof chunk !== 'string') {
          // Byte chunks end at tuples' ends already (see DbSession.copyFrom).
          parts.push(chunk);
          partBytes += chunk.length;
          if (partBytes >= PGLITE_COPY_BLOB_CHARS) {
            await copyBinary(parts);
            parts = [];
            partBytes = 0;
          }
          continue;
        }
        pending += chunk;
        if (pending.length >= PGLITE_COPY_BLOB_CHARS) {
          const cut = pending.lastIndexOf('\n') + 1;
          if (cut > 0) {
            await copy([pending.slice(0, cut)]);
            pending = pending.slice(cut);
          }
        }
      }
      if (pending.length > 0) await copy([pending]);
      if (parts.length > 0) await copyBinary(parts);
    },
    async *copyTo(query, options = '') {
      const { blob } = await pglite.query(`COPY (${query}) TO '/dev/blob' ${options}`);
      if (!blob) return;
      // Handed on in slices, so a reader decodes a few MB at a time, not one huge string.
      const bytes = new Uint8Array(await blob.arrayBuffer());
      for (let at = 0; at < bytes.length; at += PGLITE_COPY_BLOB_CHARS) yield bytes.subarray(at, at + PGLITE_COPY_BLOB_CHARS);
    },
  };

  async function session<T>(fn: (s: DbSession) => Promise<T>): Promise<T> {
    const release = await mutex.lock();
    try {
      return await fn(sessionApi);
    } finally {
      release();
    }
  }

  return {
    kind: 'pglite',
    description,
    kysely: kyselyOver(pglite, mutex),
    session,
    transaction(fn) {
      return session(async (s) => {
        await s.exec('BEGIN');
        try {
          const result = await fn(s);
          await s.exec('COMMIT');
          return result;
        } catch (error) {
          await s.exec('ROLLBACK').catch(() => {});
          throw error;
        }
      });
    },
    async dumpDataDir() {
      const release = await mutex.lock();
      try {
        return await pglite.dumpDataDir('none');
      } finally {
        release();
      }
    },
    async close() {
      await pglite.close();
      await unlock?.();
    },
  };
}

