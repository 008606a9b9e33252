import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBinaryRows, type BinaryCell, type BinaryColumnType } from '../../src/db/copy-rows.ts';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';

/**
 * copyBinaryRows writes what PostgreSQL makes of the same values given as text: the same rows
 * read back the same, column type by column type, edge values included.
 */
const TYPES: BinaryColumnType[] = ['int8', 'int4', 'float8', 'bool', 'text', 'date', 'int2[]', 'float4[]'];
const COLUMNS = '(a, b, c, d, e, f, g, h)';
const TABLE = '(a bigint, b integer, c double precision, d boolean, e text, f date, g smallint[], h real[])';

const ROWS: { binary: BinaryCell[]; text: (string | number | null)[] }[] = [
  { binary: [1, 2, 0.5, true, 'plain', '2026-10-31', [0, 1, 2], [7.5129, -10.0183]], text: [1, 2, 0.5, 't', 'plain', '2026-10-31', '{0,1,2}', '{7.5129,-10.0183}'] },
  {
    binary: [2 ** 53 - 1, -2_147_483_648, 28.058615346886473, false, 'tab\there, new\nline, back\\slash, Zoë 👪', '0001-01-01', [-1, 32_767], [0.9999999964230313, 1e-7]],
    text: [2 ** 53 - 1, -2_147_483_648, 28.058615346886473, 'f', 'tab\there, new\nline, back\\slash, Zoë 👪', '0001-01-01', '{-1,32767}', '{0.9999999964230313,1e-7}'],
  },
  { binary: [-(2 ** 40) - 3, 0, -0.0001, 't', '', '9999-12-31', [], []], text: [-(2 ** 40) - 3, 0, -0.0001, 't', '', '9999-12-31', '{}', '{}'] },
  { binary: [4_294_967_296, null, null, null, null, null, null, null], text: [4_294_967_296, null, null, null, null, null, null, null] },
  // Text given as its UTF-8 bytes (how the match stage sends record ids) goes as it is.
  { binary: [5, 5, 5, true, Buffer.from('ATT-Zoë 👪 0001', 'utf8'), '2026-01-01', [5], [5]], text: [5, 5, 5, 't', 'ATT-Zoë 👪 0001', '2026-01-01', '{5}', '{5}'] },
  { binary: [-1, 7, Number.MAX_VALUE, false, 'x'.repeat(5000), '2000-01-01', Int8Array.from([3, -2]), [Math.fround(0.1)]], text: [-1, 7, Number.MAX_VALUE, 'f', 'x'.repeat(5000), '2000-01-01', '{3,-2}', `{${Math.fround(0.1)}}`] },
];

for (const backend of availableBackends()) {
  describe(`binary COPY on ${backend}`, () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await testDatabase(backend);
    });
    afterAll(async () => t?.drop());

    it('loads every column type as PostgreSQL reads the same values as text, many chunks long', async () => {
      await t.db.transaction(async (s) => {
        const read = async (table: string) =>
          (await sql<Record<string, unknown>>`SELECT a::text, b::text, c::text, d::text, e, f::text, g::text, h::text FROM ${sql.raw(table)} ORDER BY n`.execute(s.kysely)).rows;
        await sql`CREATE TEMP TABLE by_binary ${sql.raw(TABLE)} ON COMMIT DROP`.execute(s.kysely);
        await sql`CREATE TEMP TABLE by_text ${sql.raw(TABLE)} ON COMMIT DROP`.execute(s.kysely);
        // Enough rows for several chunks (1 MB each).
        const times = 1000;
        const count = await copyBinaryRows(s, `by_binary ${COLUMNS}`, TYPES, (function* () {
          for (let i = 0; i < times; i++) for (const r of ROWS) yield r.binary;
        })());
        expect(count).toBe(ROWS.length * times);
        for (const { text: [a, b, c, d, e, f, g, h] } of ROWS) {
          await sql`INSERT INTO by_text ${sql.raw(COLUMNS)} VALUES (${a}::bigint, ${b}::integer, ${c}::double precision, ${d}::boolean, ${e}, ${f}::date, ${g}::smallint[], ${h}::real[])`.execute(s.kysely);
        }
        await sql`ALTER TABLE by_binary ADD COLUMN n serial`.execute(s.kysely);
        await sql`ALTER TABLE by_text ADD COLUMN n serial`.execute(s.kysely);
        const [binary, text] = [await read('by_binary'), await read('by_text')];
        expect(binary).toHaveLength(ROWS.length * times);
        expect(binary).toEqual(Array.from({ length: times }, () => text).flat());
        expect(binary.slice(0, 2)).toMatchObject([
          { a: '1', d: 'true', f: '2026-10-31', g: '{0,1,2}', h: '{7.5129,-10.0183}' },
          { a: String(2 ** 53 - 1), b: '-2147483648', f: '0001-01-01', g: '{-1,32767}' },
        ]);
      });
    });

    it('sends nothing for no rows, and refuses a row of the wrong width or a value of the wrong kind', async () => {
      await t.db.transaction(async (s) => {
        await sql`CREATE TEMP TABLE narrow (a bigint, f date) ON COMMIT DROP`.execute(s.kysely);
        expect(await copyBinaryRows(s, 'narrow (a, f)', ['int8', 'date'], [])).toBe(0);
      });
      await expect(t.db.transaction((s) => copyBinaryRows(s, 'nowhere (a)', ['int8'], [[1, 2]]))).rejects.toThrow(/a row of 2 values for 1 columns/);
      await expect(t.db.transaction((s) => copyBinaryRows(s, 'nowhere (a)', ['int8'], [[1.5]]))).rejects.toThrow(/not an integer/);
      const badDate = await t.db.transaction((s) => copyBinaryRows(s, 'nowhere (a)', ['date'], [['14/11/2012']])).then(() => undefined, (e: unknown) => e);
      expect(String((badDate as Error).message)).toMatch(/not a YYYY-MM-DD date/);
      expect(String((badDate as Error).message)).not.toContain('14/11/2012');
      await expect(t.db.transaction((s) => copyBinaryRows(s, 'nowhere (a)', ['int4'], [[2 ** 31]]))).rejects.toThrow(/not an integer for an integer column/);
      await expect(t.db.transaction((s) => copyBinaryRows(s, 'nowhere (a)', ['text'], [[7]]))).rejects.toThrow(/not a string for a text column/);
    });
  });
}
