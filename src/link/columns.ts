import type { LinkRecord } from './model.ts';

/**
 * Records as numbered columns: each field's distinct values numbered once, one dictionary for
 * both sides of a link task, so that "same value" is one integer comparison and anything worked
 * out from a value (a Soundex code, a postcode sector, a Jaro-Winkler band between two names) is
 * worked out once per distinct value or pair of values, not once per record or pair of records.
 * A council has a million records but a few thousand forenames and thirty thousand birth dates.
 */

/** Number 0 of every field: the empty value (a missing field). */
export const MISSING = 0;

/** One field numbered: `left[i]` and `right[j]` index `values` (0 is `''`, missing). */
export interface FieldColumn {
  left: Int32Array;
  right: Int32Array;
  /** The distinct values; `values[0]` is `''`. */
  values: string[];
  /** The number of each value. */
  numberOf: ReadonlyMap<string, number>;
}

/**
 * The numbered columns of one link task's records (`left` with `right`, or `left` with itself
 * when deduplicating), built a field at a time on first use. Anything a caller derives from the
 * columns (prepared comparisons) is made once per task through `once`, under a key of its own,
 * so training and scoring of one task share it.
 */
export class RecordColumns {
  readonly #fields = new Map<string, FieldColumn>();
  readonly #derived = new Map<unknown, unknown>();
  readonly left: readonly LinkRecord[];
  readonly right: readonly LinkRecord[];

  constructor(left: readonly LinkRecord[], right: readonly LinkRecord[]) {
    this.left = left;
    this.right = right;
  }

  /** The field's column. */
  field(name: string): FieldColumn {
    let column = this.#fields.get(name);
    if (!column) {
      if (numberedOnly.has(this.left)) throw new Error(`field ${name} was not among the numbered columns given (numberedRecords)`);
      this.#fields.set(name, (column = numberField(name, this.left, this.right)));
    }
    return column;
  }

  /** Take `column` as the field's column (numbered elsewhere: see {@link numberedRecords}). */
  setField(name: string, column: FieldColumn): void {
    this.#fields.set(name, column);
  }

  /** What `make` gives, made once per task and `key`. */
  once<T>(key: unknown, make: () => T): T {
    if (this.#derived.has(key)) return this.#derived.get(key) as T;
    const value = make();
    this.#derived.set(key, value);
    return value;
  }
}

function numberField(name: string, left: readonly LinkRecord[], right: readonly LinkRecord[]): FieldColumn {
  const numberOf = new Map<string, number>([['', MISSING]]);
  const values = [''];
  // Plain loops: Int32Array.from(records, fn) goes through the iterator protocol, twice as slow.
  const numbered = (records: readonly LinkRecord[]) => {
    const ids = new Int32Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const value = records[i]![name] ?? '';
      let n = numberOf.get(value);
      if (n === undefined) {
        n = values.length;
        numberOf.set(value, n);
        values.push(value);
      }
      ids[i] = n;
    }
    return ids;
  };
  const rightIds = numbered(right);
  return { left: left === right ? rightIds : numbered(left), right: rightIds, values, numberOf };
}

// One task's columns per pair of record lists, so candidatePairs, gammaTable and scoreWeights
// called one after another on the same lists number each field once. Keyed weakly: the columns go
// when the lists do. A list is taken as unchanged once linked; one whose length changed is
// numbered afresh.
const byLists = new WeakMap<readonly LinkRecord[], WeakMap<readonly LinkRecord[], RecordColumns>>();

/** The numbered columns of `left` with `right` (the same list when deduplicating). */
export function columnsOf(left: readonly LinkRecord[], right: readonly LinkRecord[]): RecordColumns {
  let byRight = byLists.get(left);
  if (!byRight) byLists.set(left, (byRight = new WeakMap()));
  let columns = byRight.get(right);
  if (!columns || columns.left.length !== left.length || columns.right.length !== right.length) {
    byRight.set(right, (columns = new RecordColumns(left, right)));
  }
  return columns;
}

/**
 * A level function on value numbers of one column: `levelOf` of the two values, worked out once
 * per pair of distinct values and remembered (per value when both are the same). Candidate pairs
 * meet the same pairs of names and dates again and again.
 */
export function levelsByValue(column: FieldColumn, levelOf: (a: string, b: string) => number): (x: number, y: number) => number {
  const { values } = column;
  const size = values.length;
  const same = new Int8Array(size).fill(-2);
  let byPair = new Map<number, number>();
  return (x, y) => {
    if (x === y) {
      let level = same[x]!;
      if (level === -2) same[x] = level = levelOf(values[x]!, values[x]!);
      return level;
    }
    // Exact: both numbers are below the number of distinct values, so the key stays under 2^53.
    const key = x * size + y;
    let level = byPair.get(key);
    if (level === undefined) {
      // Pairs of values are far fewer than pairs of records; the cap only guards a pathological task.
      if (byPair.size >= 4_000_000) byPair = new Map();
      byPair.set(key, (level = levelOf(values[x]!, values[y]!)));
    }
    return level;
  };
}

/**
 * Dense numbers (0, 1, 2, ...) for pairs of non-negative 31-bit integers, in order of first
 * appearance: an open-addressing hash table over typed arrays. Blocking folds a million records'
 * numbers a dozen times; a `Map` keyed by `p * size + q` spent most of that time hashing and
 * growing, this does not allocate per entry.
 */
export class PairNumbers {
  #mask: number;
  /** Slot -> number + 1 (0: empty). */
  #slots: Int32Array;
  #firsts: Int32Array;
  #seconds: Int32Array;
  #size = 0;

  constructor(expected = 1024) {
    let capacity = 1024;
    while (capacity < expected * 2) capacity *= 2;
    this.#mask = capacity - 1;
    this.#slots = new Int32Array(capacity);
    this.#firsts = new Int32Array(capacity >> 1);
    this.#seconds = new Int32Array(capacity >> 1);
  }

  /** How many pairs are numbered. */
  get size(): number {
    return this.#size;
  }

  /** The first and second integer of each number, `size` long. */
  get firsts(): Int32Array {
    return this.#firsts.subarray(0, this.#size);
  }
  get seconds(): Int32Array {
    return this.#seconds.subarray(0, this.#size);
  }

  /** The number of the pair (p, q), numbering it next when new. */
  numberOf(p: number, q: number): number {
    const mask = this.#mask;
    let slot = (Math.imul(p, 0x9e3779b1) ^ Math.imul(q + 0x7f4a7c15, 0x85ebca77)) >>> 0;
    slot = (slot ^ (slot >>> 15)) & mask;
    const slots = this.#slots;
    for (;;) {
      const at = slots[slot]!;
      if (at === 0) break;
      if (this.#firsts[at - 1] === p && this.#seconds[at - 1] === q) return at - 1;
      slot = (slot + 1) & mask;
    }
    const n = this.#size++;
    slots[slot] = n + 1;
    this.#firsts[n] = p;
    this.#seconds[n] = q;
    // At most half full, so probes stay short.
    if (this.#size * 2 > mask) this.#grow();
    return n;
  }

  #grow(): void {
    const capacity = (this.#mask + 1) * 2;
    const mask = capacity - 1;
    const slots = new Int32Array(capacity);
    for (let n = 0; n < this.#size; n++) {
      const p = this.#firsts[n]!;
      const q = this.#seconds[n]!;
      let slot = (Math.imul(p, 0x9e3779b1) ^ Math.imul(q + 0x7f4a7c15, 0x85ebca77)) >>> 0;
      slot = (slot ^ (slot >>> 15)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = n + 1;
    }
    const firsts = new Int32Array(capacity >> 1);
    firsts.set(this.#firsts);
    const seconds = new Int32Array(capacity >> 1);
    seconds.set(this.#seconds);
    this.#mask = mask;
    this.#slots = slots;
    this.#firsts = firsts;
    this.#seconds = seconds;
  }
}

/** One numbered field as {@link numberedRecords} takes it: each record's value number and the values. */
export interface NumberedField {
  ids: Int32Array;
  values: string[];
}

/** Stand-in record lists made by {@link numberedRecords}: they hold no records, only a length. */
const numberedOnly = new WeakSet<readonly LinkRecord[]>();

/**
 * A stand-in for a list of records (deduplicated against itself) known only by numbered columns,
 * as another thread numbered them: every function here and in model.ts that takes the list
 * (candidate pairs, levels, u) works on the columns given, and a field not given is an error,
 * as is anything that needs a record itself. A scoring worker thread gets a million profiles'
 * columns as a few typed arrays and the distinct values, not a million objects.
 */
export function numberedRecords(length: number, fields: Readonly<Record<string, NumberedField>>): readonly LinkRecord[] {
  const standIn: readonly LinkRecord[] = new Array<LinkRecord>(length);
  numberedOnly.add(standIn);
  const columns = columnsOf(standIn, standIn);
  for (const [name, { ids, values }] of Object.entries(fields)) {
    if (ids.length !== length) throw new Error(`numbered field ${name} has ${ids.length} records, not ${length}`);
    columns.setField(name, { left: ids, right: ids, values, numberOf: new Map(values.map((value, n) => [value, n])) });
  }
  return standIn;
}

/** Whether `records` is a stand-in made by {@link numberedRecords} (no records to read, only columns). */
export function isNumberedOnly(records: readonly LinkRecord[]): boolean {
  return numberedOnly.has(records);
}

/** Drop the numbered columns of `left` with `right` (and what was derived from them) once a task is scored. */
export function forgetColumns(left: readonly LinkRecord[], right: readonly LinkRecord[]): void {
  byLists.get(left)?.delete(right);
}
