import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { from as copyFromStream, to as copyToStream } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER } from './binary-copy.ts';
import type { Database, DbSession } from './types.ts';
import type { Schema } from './schema.ts';

const DATE_OID = 1082;
const INT8_OID = 20;

/** DATE stays a `YYYY-MM-DD` string (no time zone games); bigint ids fit in a JS number. */
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === DATE_OID) return (value: string) => value;
    if (oid === INT8_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/**
 * What every connection tells the server at start-up (the `options` of its start-up packet):
 * dates come out as `YYYY-MM-DD` whatever DateStyle the server or database has by default (a
 * council's server may be set to `SQL, DMY`). Dates are read as text (typeParsers, and the COPY
 * output the stages parse), so they are read without `to_char`, which cost about 0.6 µs a date
 * on the server: 1.3 s at 1x for the families stage's 2.9M dates.
 */
export const SESSION_OPTIONS = '-c DateStyle=ISO,YMD';

/**
 * The `pg` connection settings for `url`: its connection string and start-up options, with the
 * operator's own options (PGOPTIONS, or `options=` in the URL) first and {@link SESSION_OPTIONS}
 * after them, so ours win where both set the same thing.
 */
export function pgConnectionConfig(url: string, env: NodeJS.ProcessEnv = process.env): { connectionString: string; options: string } {
  let connectionString = url;
  let fromUrl: string | null = null;
  try {
    const parsed = new URL(url);
    fromUrl = parsed.searchParams.get('options');
    if (fromUrl !== null) {
      // pg lets the URL's options replace the ones given beside it: moved into ours instead.
      parsed.searchParams.delete('options');
      connectionString = parsed.toString();
    }
  } catch {
    // Not a URL pg would read either: pg reports it when connecting.
  }
  const options = [env.PGOPTIONS, fromUrl, SESSION_OPTIONS].filter((o) => o !== undefined && o !== null && o.trim() !== '').join(' ');
  return { connectionString, options };
}

/** Describe a connection string without its password. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

function kyselyOnClient(client: pg.PoolClient): Kysely<Schema> {
  // Kysely releases what it acquires; the session owns the client, so release is a no-op here.
  const borrowed = {
    query: (...args: unknown[]) => (client.query as (...a: unknown[]) => unknown)(...args),
    release: () => {},
  };
  return new Kysely<Schema>({
    dialect: new PostgresDialect({ pool: { connect: async () => borrowed, end: async () => {} } as unknown as pg.Pool }),
  });
}

function sessionOn(client: pg.PoolClient): DbSession {
  return {
    kysely: kyselyOnClient(client),
    async exec(sql) {
      await client.query(sql);
    },
    async copyFrom(copySql, data) {
      if (typeof data === 'string') {
        await pipeline(Readable.from([data]), client.query(copyFromStream(`${copySql} FROM STDIN`)));
        return;
      }
      // The first chunk says the format: bytes are binary COPY tuples, framed here.
      const chunks = data[Symbol.asyncIterator]();
      const first = await chunks.next();
      if (first.done) return;
      const binary = typeof first.value !== 'string';
      async function* framed(): AsyncGenerator<string | Uint8Array> {
        if (binary) yield BINARY_COPY_HEADER;
        yield first.value!;
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
        if (binary) yield BINARY_COPY_TRAILER;
      }
      await pipeline(Readable.from(framed(), { highWaterMark: 1 }), client.query(copyFromStream(`${copySql} FROM STDIN${binary ? ' (FORMAT binary)' : ''}`)));
    },
    async *copyTo(query, options = '') {
      const stream = client.query(copyToStream(`COPY (${query}) TO STDOUT ${options}`));
      let finished = false;
      try {
        for await (const chunk of stream) yield chunk as Buffer;
        finished = true;
      } finally {
        // A reader that stops early leaves the server mid-COPY, and the connection can run nothing
        // else: the ROLLBACK after a failure would wait for ever. So the connection is closed; its
        // pending statements fail and the session discards the client.
        if (!finished) {
          // The closed connection is reported as an error event; it is expected here.
          client.on('error', () => {});
          (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
        }
      }
    },
  };
}

/** A database on a PostgreSQL server reached through `pg`. */
export function openPostgres(url: string, opts: { applicationName?: string } = {}): Database {
  const pool = new pg.Pool({
    ...pgConnectionConfig(url),
    max: 4,
    types: typeParsers,
    application_name: opts.applicationName ?? 'tfclaims',
  });
  // An idle client's error (server restart) must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const kysely = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });

  async function session<T>(fn: (s: DbSession) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let broken = false;
    try {
      return await fn(sessionOn(client));
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      // A client whose work failed may hold session state (locks, an aborted COPY): discard it.
      client.release(broken);
    }
  }

  return {
    kind: 'postgres',
    description: redactUrl(url),
    connectionString: url,
    kysely,
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
    async close() {
      await kysely.destroy();
      // Kysely ends the pool only if it ever ran a query of its own; work done only through
      // sessions (`db migrate`) left idle clients that kept the process alive for 10 s.
      if (!pool.ending) await pool.end();
    },
  };
}
