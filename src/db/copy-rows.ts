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
 * Reserve `count` new ids of core.person or core.family in one statement (core.reserve_ids:
 * one nextval and one setval, not one nextval an id), so rows can be bulk-loaded by
 * {@link copyRows} with their ids known beforehand. Returns the ids, ascending.
 */
export async function reserveIds(k: Kysely<any>, table: 'core.person' | 'core.family', count: number): Promise<number[]> {
  if (count === 0) return [];
  const { rows } = await sql<{ first: string }>`SELECT core.reserve_ids(${table}::regclass, ${count})::text AS first`.execute(k);
  const first = Number(rows[0]!.first);
  return Array.from({ length: count }, (_, n) => first + n);
}
