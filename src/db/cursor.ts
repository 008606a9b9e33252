import { sql, type Kysely, type RawBuilder } from 'kysely';

/**
 * The rows of `query` a page at a time, over a server-side cursor (`DECLARE ... NO SCROLL`), so
 * that millions of rows are never held at once. Must run inside a transaction; the cursor is
 * closed when the pages are done (or the loop is left early). `name` must be unique among the
 * transaction's open cursors.
 */
export async function* cursorPages<Row>(k: Kysely<any>, name: string, query: RawBuilder<unknown>, pageRows: number): AsyncGenerator<Row[]> {
  const cursor = sql.id(name);
  await sql`DECLARE ${cursor} NO SCROLL CURSOR FOR ${query}`.execute(k);
  let read = false;
  try {
    for (;;) {
      const { rows } = await sql<Row>`FETCH ${sql.raw(String(pageRows))} FROM ${cursor}`.execute(k);
      if (rows.length > 0) yield rows;
      if (rows.length < pageRows) break;
    }
    read = true;
  } finally {
    // Left early or failed: the transaction may be aborted, and its end drops the cursor anyway;
    // a failing CLOSE must not hide the error that brought us here.
    const close = sql`CLOSE ${cursor}`.execute(k);
    if (read) await close;
    else await close.catch(() => {});
  }
}
