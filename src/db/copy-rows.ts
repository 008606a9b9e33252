import { sql, type Kysely } from 'kysely';
import type { DbSession } from './types.ts';

/**
 * Reserve `count` new ids of core.person or core.family in one statement (core.reserve_ids:
 * one nextval and one setval, not one nextval an id), so rows can be bulk-loaded by COPY
 * ({@link copyBinaryRows}) with their ids known beforehand. Returns the ids, ascending.
 */
export async function reserveIds(k: Kysely<any>, table: 'core.person' | 'core.family', count: number): Promise<number[]> {
  if (count === 0) return [];
  const { rows } = await sql<{ first: string }>`SELECT core.reserve_ids(${table}::regclass, ${count})::text AS first`.execute(k);
  const first = Number(rows[0]!.first);
  return Array.from({ length: count }, (_, n) => first + n);
}

/** Tables whose indexes a first load may build after its rows (migrations/0012_index_after_first_load.sql). */
export type IndexAfterLoadTable = 'core.person_record' | 'core.link_pair' | 'core.family_member' | 'core.person_detail';

/**
 * Run `load` (which writes rows into `table`) with the table's indexes built after its rows when
 * the table is empty, as on a first run: keeping 1.9M person records' indexes up to date row by
 * row cost 11.9 s, building them afterwards 2.7 s. When the table holds rows (every later run) the
 * indexes stay and `load` runs as it is. Call inside a transaction: the indexes are dropped and
 * created again in it (core.drop_indexes_for_load, core.restore_indexes), and the commit is
 * refused if they were not. A failure in `load` leaves them to the rollback.
 */
export async function loadWithIndexesAfter<T>(k: Kysely<any>, table: IndexAfterLoadTable, load: () => Promise<T>): Promise<T> {
  const { rows } = await sql<{ dropped: number }>`SELECT core.drop_indexes_for_load(${table}::regclass) AS dropped`.execute(k);
  const result = await load();
  if (rows[0]!.dropped > 0) await sql`SELECT core.restore_indexes(${table}::regclass)`.execute(k);
  return result;
}

/** PostgreSQL types {@link copyBinaryRows} writes, each as the binary COPY format sends it. */
export type BinaryColumnType = 'int8' | 'int4' | 'float8' | 'bool' | 'text' | 'date' | 'int2[]' | 'float4[]';

/**
 * A value for {@link copyBinaryRows}: as its column's type says (a date as `YYYY-MM-DD`, an array
 * as numbers, text as a string or as its UTF-8 bytes), or null.
 */
export type BinaryCell = number | string | boolean | ArrayLike<number> | null;

const INT2_OID = 21;
const FLOAT4_OID = 700;
const TWO_32 = 4_294_967_296;
/** Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_DAY = 10_957;
const CHUNK_BYTES = 1 << 20;

/**
 * Writes tuples of the binary COPY format into a growing buffer: numbers go as their bytes,
 * not as text PostgreSQL must parse again (a run sends millions of ids, weights and levels).
 */
class BinaryTuples {
  #buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  #at = 0;

  get size(): number {
    return this.#at;
  }

  /** The bytes written so far, handed over; the writer starts a fresh buffer. */
  take(): Buffer {
    const out = this.#buffer.subarray(0, this.#at);
    this.#buffer = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, this.#buffer.length));
    this.#at = 0;
    return out;
  }

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#at + bytes));
    this.#buffer.copy(grown, 0, 0, this.#at);
    this.#buffer = grown;
  }

  // A million dates are a few thousand distinct days: each is read once (1.2M parses: 0.27 s).
  readonly #pgDays = new Map<string, number>();

  /** Days from 2000-01-01 to a `YYYY-MM-DD` date, as PostgreSQL stores a date. */
  #pgDay(iso: string): number {
    let day = this.#pgDays.get(iso);
    if (day === undefined) {
      const unixDay = Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
      if (!/^\d{4}-\d{2}-\d{2}$/.test(iso) || !Number.isInteger(unixDay)) throw new TypeError('not a YYYY-MM-DD date for a date column (the value is not quoted: dates here are dates of birth)');
      if (this.#pgDays.size >= 100_000) this.#pgDays.clear();
      this.#pgDays.set(iso, (day = unixDay - PG_EPOCH_DAY));
    }
    return day;
  }

  /** Room for a field of `bytes` bytes, its length written; returns where its value goes. */
  #fixed(bytes: number): number {
    this.#room(4 + bytes);
    this.#buffer.writeInt32BE(bytes, this.#at);
    const at = this.#at + 4;
    this.#at = at + bytes;
    return at;
  }

  tuple(types: readonly BinaryColumnType[], row: readonly BinaryCell[]): void {
    this.#room(2);
    this.#buffer.writeInt16BE(types.length, this.#at);
    this.#at += 2;
    for (let f = 0; f < types.length; f++) this.#field(types[f]!, row[f] ?? null);
  }

  #field(type: BinaryColumnType, value: BinaryCell): void {
    if (value === null) {
      this.#room(4);
      this.#buffer.writeInt32BE(-1, this.#at);
      this.#at += 4;
      return;
    }
    switch (type) {
      case 'int8': {
        const n = value as number;
        if (!Number.isSafeInteger(n)) throw new TypeError(`not an integer for a bigint column: ${String(value)}`);
        // High and low 32 bits (two's complement for negatives), exact for safe integers.
        const at = this.#fixed(8);
        this.#buffer.writeInt32BE(Math.floor(n / TWO_32), at);
        this.#buffer.writeUInt32BE(n >>> 0, at + 4);
        return;
      }
      case 'int4':
        if (!Number.isInteger(value) || (value as number) < -2_147_483_648 || (value as number) > 2_147_483_647) {
          throw new TypeError(`not an integer for an integer column: ${String(value)}`);
        }
        this.#buffer.writeInt32BE(value as number, this.#fixed(4));
        return;
      case 'float8':
        this.#buffer.writeDoubleBE(value as number, this.#fixed(8));
        return;
      case 'bool':
        this.#buffer[this.#fixed(1)] = value === true || value === 't' ? 1 : 0;
        return;
      case 'date':
        this.#buffer.writeInt32BE(this.#pgDay(value as string), this.#fixed(4));
        return;
      case 'text': {
        if (value instanceof Uint8Array) {
          // Already UTF-8 (a record id as the profiles keep it): the bytes go as they are.
          this.#buffer.set(value, this.#fixed(value.length));
          return;
        }
        if (typeof value !== 'string') throw new TypeError(`not a string for a text column: ${String(value)}`);
        const text = value;
        this.#room(4 + text.length * 3);
        const written = this.#buffer.write(text, this.#at + 4, 'utf8');
        this.#buffer.writeInt32BE(written, this.#at);
        this.#at += 4 + written;
        return;
      }
      case 'int2[]':
      case 'float4[]': {
        const items = value as ArrayLike<number>;
        const n = items.length;
        const bytes = n === 0 ? 12 : 20 + n * (type === 'int2[]' ? 6 : 8);
        let at = this.#fixed(bytes);
        const b = this.#buffer;
        b.writeInt32BE(n === 0 ? 0 : 1, at); // dimensions
        b.writeInt32BE(0, at + 4); // no nulls
        b.writeInt32BE(type === 'int2[]' ? INT2_OID : FLOAT4_OID, at + 8);
        at += 12;
        if (n > 0) {
          b.writeInt32BE(n, at);
          b.writeInt32BE(1, at + 4); // lower bound
          at += 8;
          for (let i = 0; i < n; i++) {
            if (type === 'int2[]') {
              b.writeInt32BE(2, at);
              b.writeInt16BE(items[i]!, at + 4);
              at += 6;
            } else {
              b.writeInt32BE(4, at);
              b.writeFloatBE(items[i]!, at + 4);
              at += 8;
            }
          }
        }
        return;
      }
    }
  }
}

/**
 * Bulk-load rows with binary COPY (`COPY target FROM STDIN (FORMAT binary)`), each column
 * written as `types` says, which must be the target columns' own types (binary COPY does not
 * convert: an int4 column refuses an int8). Much faster than INSERT for hundreds of thousands of
 * rows, on a server and on PGlite alike, and cheaper than text COPY on both sides: nothing is
 * formatted as text and parsed again. Rows may come lazily; nothing is
 * sent for no rows. Returns how many rows were sent.
 */
export async function copyBinaryRows(
  session: DbSession,
  target: string,
  types: readonly BinaryColumnType[],
  rows: Iterable<readonly BinaryCell[]>,
): Promise<number> {
  const iterator = rows[Symbol.iterator]();
  let next = iterator.next();
  if (next.done) return 0;
  let count = 0;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const tuples = new BinaryTuples();
    for (; !next.done; next = iterator.next()) {
      const row = next.value;
      if (row.length !== types.length) throw new TypeError(`a row of ${row.length} values for ${types.length} columns of ${target}`);
      tuples.tuple(types, row);
      count++;
      if (tuples.size >= CHUNK_BYTES - 4096) yield tuples.take();
    }
    if (tuples.size > 0) yield tuples.take();
  }
  await session.copyFrom(`COPY ${target}`, chunks());
  return count;
}
