import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { tempDir } from '../support/files.ts';
import { columnNames } from '../../src/ingest/sources.ts';
import { ingest, rejectsOf } from './helpers.ts';

/**
 * A large extract (~200k rows, ~30 MB) loads with the right counts and line numbers. Memory is
 * the benchmarks' business; this is correctness at a size that crosses every batch and chunk
 * boundary of the reader and the COPY. Server only (PGlite is covered by the smaller tests).
 */
const ROWS = 200_000;

describe.runIf(availableBackends().includes('server'))('streaming a large extract on server', () => {
  let t: TestDatabase;
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    t = await testDatabase('server');
    tmp = await tempDir();
  });
  afterAll(async () => {
    await t?.drop();
    await tmp?.remove();
  });

  it(`loads ${ROWS} attendance rows with correct counts, lines and rejects`, async () => {
    const file = path.join(tmp.dir, 'attendance-large.csv');
    const out = createWriteStream(file);
    const write = async (text: string) => {
      if (!out.write(text)) await once(out, 'drain');
    };
    await write(`${columnNames('attendance').join(',')}\r\n`);
    // Every 10,000th row has an impossible date of birth; every 25,000th row an address over
    // three lines (so line numbers and row numbers drift apart); one record_id repeats.
    let line = 2;
    const expectedRejects: { line: number; column_name: string }[] = [];
    const multiLineAt: { id: string; line: number }[] = [];
    let lastGood = { record_id: '', line: 0, dob: '' };
    for (let i = 0; i < ROWS; i++) {
      const bad = i % 10_000 === 9_999;
      const multi = i % 25_000 === 12_345;
      const duplicate = i === ROWS - 3;
      const id = duplicate ? 'A0' : `A${i}`;
      const address = multi ? `"Flat ${i}\r\n${i} Long Road\r\nTown"` : `${i} Long Road`;
      const dob = bad ? '2011-02-30' : `${2005 + (i % 10)}-0${1 + (i % 9)}-1${i % 10}`;
      await write(
        `${id},UPN${i},Forename${i},,Surname${i % 5000},${dob},${i % 2 ? 'M' : 'F'},${address},SE${i % 30} ${i % 10}AB,${100000 + i},` +
          `2024-09-02,2024-12-20,10${i % 100},140,${i % 20},${i % 7},${i % 3 === 0 ? '' : '0'},${i % 50 === 0 ? 'Y' : 'N'},\r\n`,
      );
      if (bad) expectedRejects.push({ line, column_name: 'dob' });
      if (duplicate) expectedRejects.push({ line, column_name: 'record_id' });
      if (multi) multiLineAt.push({ id, line });
      if (!bad && !duplicate) lastGood = { record_id: id, line, dob };
      line += multi ? 3 : 1;
    }
    out.end();
    await once(out, 'close');
    expect((await stat(file)).size).toBeGreaterThan(20_000_000);

    const { summary } = await ingest(t.db, [{ source: 'attendance', file }]);
    const result = summary.files[0]!;
    const badRows = expectedRejects.length;
    expect(result).toMatchObject({ status: 'loaded', rowsRead: ROWS, rowsLoaded: ROWS - badRows, rowsRejected: badRows });
    const fileId = result.fileId!;

    const stats = await sql<{ n: number; lines: number; max_line: number; perm: number; fixed0: number }>`
      SELECT count(*)::int AS n, count(DISTINCT line)::int AS lines, max(line)::int AS max_line,
             count(*) FILTER (WHERE permanent_exclusion)::int AS perm,
             count(*) FILTER (WHERE fixed_exclusions = 0)::int AS fixed0
      FROM raw.attendance WHERE file_id = ${fileId}`.execute(t.db.kysely);
    expect(stats.rows[0]).toEqual({
      n: ROWS - badRows,
      lines: ROWS - badRows,
      max_line: lastGood.line,
      perm: ROWS / 50,
      fixed0: ROWS - badRows,
    });

    // Rows after each multi-line address carry the right line.
    for (const { id, line: at } of multiLineAt) {
      const { rows } = await sql<{ line: number; address: string }>`
        SELECT line, address FROM raw.attendance WHERE file_id = ${fileId} AND record_id IN (${id}, ${`A${Number(id.slice(1)) + 1}`}) ORDER BY line`.execute(t.db.kysely);
      expect(rows.map((r) => r.line)).toEqual([at, at + 3]);
      expect(rows[0]!.address).toContain('\n');
    }
    const last = await sql<{ record_id: string; line: number; dob: string }>`
      SELECT record_id, line, dob FROM raw.attendance WHERE file_id = ${fileId} ORDER BY line DESC LIMIT 1`.execute(t.db.kysely);
    expect(last.rows[0]).toEqual(lastGood);
    expect(lastGood.record_id).toBe(`A${ROWS - 2}`); // the very last row has a bad date of birth

    const rejects = await rejectsOf(t.db, fileId);
    expect(rejects.map((r) => ({ line: r.line, column_name: r.column_name }))).toEqual(expectedRejects);
    expect(rejects.filter((r) => r.column_name === 'record_id').map((r) => r.reason)).toEqual([
      'record_id A0 already appears on line 2; the later row is rejected',
    ]);
  });
});
