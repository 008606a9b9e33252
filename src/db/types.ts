import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

/** One database connection held for a unit of work (a transaction, a migration, a COPY). */
export interface DbSession {
  /** Typed queries on this connection (inside the transaction, if any). */
  readonly kysely: Kysely<Schema>;
  /** Run SQL text with no parameters; may hold several statements (migrations, DDL). */
  exec(sql: string): Promise<void>;
  /**
   * Run `COPY target FROM STDIN` with `data`. On a server the chunks are streamed over the
   * connection as they are produced (with backpressure); embedded, they are gathered into blobs
   * of a few MB, each handed to PGlite as one COPY. `copySql` is the statement without its FROM
   * clause, e.g. `COPY raw.attendance (a, b)`.
   *
   * Text chunks are PostgreSQL's text COPY format and may end anywhere (a blob is cut at a line
   * break). Byte chunks are binary COPY tuples without the stream's header and trailer (the
   * session adds them), and each chunk must end at the end of a tuple.
   */
  copyFrom(copySql: string, data: string | AsyncIterable<string> | AsyncIterable<Uint8Array>): Promise<void>;
  /**
   * Run `COPY (query) TO STDOUT` in PostgreSQL's text format and yield its bytes as they come:
   * rows never become objects, which for millions of rows costs more than the query. On a server
   * the output streams over the connection; embedded, PGlite hands over the whole output at once.
   * `query` is a SELECT without parameters. Read the bytes with `copyTextRows` (copy-out.ts).
   * `options` are COPY's own, in parentheses: `(FORMAT csv, HEADER)` writes a CSV file as it is.
   */
  copyTo(query: string, options?: string): AsyncIterable<Uint8Array>;
}

/** Where the data lives: a PostgreSQL server, or PostgreSQL embedded in this process (PGlite). */
export type DatabaseKind = 'postgres' | 'pglite';

/**
 * The one database interface every stage uses, over `pg` (server) or PGlite (embedded), so
 * stages run unchanged on both.
 */
export interface Database {
  readonly kind: DatabaseKind;
  /** Where the database is, safe to print and log (no password). */
  readonly description: string;
  /**
   * A server's connection string, for a worker thread's own connection (it may hold a password:
   * never print or log it). Undefined for the embedded database, which has one connection.
   */
  readonly connectionString?: string;
  /** Typed queries from a pool (server) or the single embedded connection. */
  readonly kysely: Kysely<Schema>;
  /** Run `fn` on one connection inside BEGIN ... COMMIT; any throw rolls back. */
  transaction<T>(fn: (session: DbSession) => Promise<T>): Promise<T>;
  /** Run `fn` on one dedicated connection outside any transaction (session-level locks, migrations). */
  session<T>(fn: (session: DbSession) => Promise<T>): Promise<T>;
  /** Close connections (and the embedded database's files). */
  close(): Promise<void>;
}
