import { sql, type Kysely } from 'kysely';
import { copyEscape } from '../ingest/copy-text.ts';
import type { DbSession } from './types.ts';

/** A value for {@link copyRows}: text, a number, or null. Arrays go as their PostgreSQL literal (`{1,2}`). */
export type CopyCell = string | number | null;

const LINES_PER_CHUNK = 5_000;

/**
 * Bulk-load rows with text COPY (`COPY target FROM STDIN`): much faster than INSERT ... unnest
 * for hundreds of thousands of rows, on a server and on PGlite alike. `target` is the table and
 * its columns, e.g. `core.link_pair (run_id, source_a)`. Rows may be produced lazily (a
 * generator), so millions are never held at once; nothing is sent for no rows.
 */
export async function copyRows(session: DbSession, target: string, rows: Iterable<readonly CopyCell[]>): Promise<number> {
  const iterator = rows[Symbol.iterator]();
  let next = iterator.next();
  if (next.done) return 0;
  let count = 0;
  async function* chunks(): AsyncGenerator<string> {
    let lines: string[] = [];
    for (; !next.done; next = iterator.next()) {
      const row = next.value;
      lines.push(row.map((v) => (v === null ? '\\N' : typeof v === 'number' ? String(v) : copyEscape(v))).join('\t'));
      count++;
      if (lines.length >= LINES_PER_CHUNK) {
        yield `${lines.join('\n')}\n`;
        lines = [];
      }
    }
    if (lines.length > 0) yield `${lines.join('\n')}\n`;
  }
  await session.copyFrom(`COPY ${target}`, chunks());
  return count;
}

/**
 * Take `count` ids from the identity sequence of `table.column` in one statement, so rows can be
 * bulk-loaded by {@link copyRows} with their ids known beforehand.
 */
export async function nextIds(k: Kysely<any>, table: string, column: string, count: number): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`
    SELECT nextval(pg_get_serial_sequence(${table}, ${column}))::int AS id FROM generate_series(1, ${count})`.execute(k);
  return rows.map((r) => r.id);
}
