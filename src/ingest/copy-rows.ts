import { FIELD_AFTER_QUOTE, FIELD_ESCAPED, FIELD_STRAY_QUOTE, type CsvByteScanner } from './csv-scanner.ts';
import { MAX_YEAR, MIN_YEAR, daysInMonth } from './dates.ts';
import { type ColumnSpec, CellFailure, KNOWN_PROBLEM_CODES, SOURCE_COLUMNS, parseCell, type CellContext, type CellValue, type SourceName } from './sources.ts';

/**
 * Valid rows on their way to COPY, written straight into byte buffers in PostgreSQL's binary
 * COPY format (tuples only: the database session adds the header and trailer). Binary
 * because the server then reads dates and numbers without parsing text: the same rows as CSV
 * took the server 3.1 s against 2.3 s as binary (1.3M attendance rows), `psql \copy` of the
 * raw file into text columns 2.2 s.
 *
 * Two ways in, one output. `writeRecord` is the fast path: it reads the cells of a scanned
 * record from their bytes, recognises the common valid shapes (a zero-padded date, a whole
 * number, an allowed code in any case, plain text) and copies or rewrites them without making a
 * string per cell. A cell in any other shape goes through `parseCell`, the one definition of
 * what a cell means; a cell that fails there, or a row failing a cross-column check, makes
 * `writeRecord` write nothing and return false, and the caller runs the full row validator to
 * say why. So the fast path only ever accepts, and it accepts exactly what the validator
 * accepts, with byte-identical output (a test holds it to that). `writeValues` writes a row the
 * validator has already produced.
 */

const ZERO = 48;
/** Days from 1970-01-01 to PostgreSQL's date epoch, 2000-01-01. */
const PG_EPOCH_DAYS = 10_957;
/** The type oid of `text`, for array values. */
const TEXT_OID = 25;

/** How the fast path reads a column (numbers, not strings, so the row loop switches cheaply). */
const Kind = { Text: 0, Date: 1, Count: 2, YesNo: 3, Sex: 4, Uprn: 5, Enum: 6, Code: 7, Other: 8 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

/** The type each kind of column has in the raw tables. */
const PgType = { Text: 0, Date: 1, Int4: 2, Bool: 3, TextArray: 4 } as const;
type PgType = (typeof PgType)[keyof typeof PgType];

type CellKindName = ColumnSpec['kind']['type'];

/** How the fast path reads each kind of cell. */
const KIND_OF: Record<CellKindName, Kind> = {
  text: Kind.Text, date: Kind.Date, count: Kind.Count, yn: Kind.YesNo, sex: Kind.Sex, uprn: Kind.Uprn,
  enum: Kind.Enum, problem: Kind.Enum, code: Kind.Code, problems: Kind.Other,
};

/** The raw tables' column type for each kind of cell (migrations/0001_foundation.sql). */
const PG_TYPE_OF: Record<CellKindName, PgType> = {
  text: PgType.Text, date: PgType.Date, count: PgType.Int4, yn: PgType.Bool, sex: PgType.Text, uprn: PgType.Text,
  enum: PgType.Text, problem: PgType.Text, code: PgType.Text, problems: PgType.TextArray,
};

/** Rows are cut into buffers of about this size; each buffer ends at the end of a row. */
const BUFFER_BYTES = 1 << 20;

/** A date cell's value as the number yyyymmdd, for cross-column checks without strings. */
function isoToNumber(iso: string): number {
  return Number(iso.slice(0, 4)) * 10000 + Number(iso.slice(5, 7)) * 100 + Number(iso.slice(8, 10));
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** PostgreSQL's day number of the first of each month, MIN_YEAR-01 to MAX_YEAR-12 (the years a date cell may have). */
const MONTH_START_PG_DAYS = Int32Array.from({ length: (MAX_YEAR - MIN_YEAR + 1) * 12 }, (_, k) =>
  daysFromCivil(MIN_YEAR + Math.floor(k / 12), (k % 12) + 1, 1) - PG_EPOCH_DAYS,
);


function digitAt(bytes: Uint8Array, at: number): number {
  const d = bytes[at]! - ZERO;
  return d >= 0 && d <= 9 ? d : -100_000;
}

/** A set of allowed lower-case codes, matched case-insensitively against ASCII bytes. */
class CodeSet {
  readonly #codes: Uint8Array[];
  constructor(codes: readonly string[]) {
    this.#codes = codes.map((c) => Buffer.from(c, 'latin1'));
  }
  /** Index of the code the bytes spell in any case, or -1. */
  match(bytes: Uint8Array, from: number, to: number): number {
    const length = to - from;
    codes: for (let k = 0; k < this.#codes.length; k++) {
      const code = this.#codes[k]!;
      if (code.length !== length) continue;
      for (let i = 0; i < length; i++) {
        let c = bytes[from + i]!;
        if (c >= 65 && c <= 90) c += 32;
        if (c !== code[i]) continue codes;
      }
      return k;
    }
    return -1;
  }
  bytes(k: number): Uint8Array {
    return this.#codes[k]!;
  }
}

export interface CopyRowsOptions {
  source: SourceName;
  /** For each canonical column, its index among the record's fields, or -1. */
  positions: readonly number[];
  ctx: CellContext;
  /** Per canonical column: the mapping's value recodes (lower-cased given value -> canonical). */
  recode?: Record<string, Map<string, string>>;
  fileId: number;
  /** Size of the buffers rows are cut into (default 1 MB; tests use small ones to see each row). */
  bufferBytes?: number;
  /** Told each loaded row's record_id, as bytes when plain ASCII (returns false to ask for text) or as text. */
  onRecordId: { bytes(bytes: Uint8Array, from: number, to: number): boolean; text(id: string): void };
}

/** Writes valid rows as binary COPY tuples, in buffers that each end at a row's end. */
export class CopyRows {
  /** The field count, `file_id` and the length of `line`: how every tuple begins. */
  readonly #prefix: Buffer;
  readonly #types: PgType[];
  readonly #kinds: Kind[];
  readonly #codeSets: (CodeSet | undefined)[];
  readonly #specs: (typeof SOURCE_COLUMNS)[SourceName];
  readonly #positions: readonly number[];
  readonly #recoders: (Map<string, string> | undefined)[];
  readonly #ctx: CellContext;
  readonly #todayNumber: number;
  readonly #dobIndex: number;
  readonly #recordIdIndex: number;
  readonly #dateFormat: 0 | 1 | 2 | 3;
  readonly #numbers: Float64Array;
  /** Per column, what a blank cell is written as (undefined: blank is not allowed) and its number. */
  readonly #blankBytes: (Buffer | undefined)[];
  readonly #blankNumbers: number[];
  readonly #check: (n: Float64Array) => boolean;
  readonly #onRecordId: CopyRowsOptions['onRecordId'];
  readonly #bufferBytes: number;
  #out: Buffer;
  #pos = 0;
  /** Where the row being written starts in `#out` (a declined row is rolled back to it). */
  #rowStart = 0;
  /** The record_id's value when it went through the text path. */
  #recordIdValue: string | undefined;
  readonly #ready: Buffer[] = [];
  /** Rows written by the fast path and by `writeValues` (for the log: a drop in the first means a slow load). */
  fastRows = 0;
  slowRows = 0;

  constructor(opts: CopyRowsOptions) {
    const specs = SOURCE_COLUMNS[opts.source];
    this.#specs = specs;
    this.#bufferBytes = opts.bufferBytes ?? BUFFER_BYTES;
    this.#out = Buffer.allocUnsafe(this.#bufferBytes);
    this.#prefix = Buffer.alloc(2 + 12 + 4);
    this.#prefix.writeInt16BE(2 + specs.length, 0);
    this.#prefix.writeInt32BE(8, 2);
    this.#prefix.writeBigInt64BE(BigInt(opts.fileId), 6);
    this.#prefix.writeInt32BE(4, 14);
    this.#types = specs.map((s) => PG_TYPE_OF[s.kind.type]);
    this.#positions = opts.positions;
    this.#ctx = opts.ctx;
    this.#onRecordId = opts.onRecordId;
    this.#recoders = specs.map((s) => opts.recode?.[s.name]);
    this.#todayNumber = isoToNumber(opts.ctx.today);
    this.#dobIndex = specs.findIndex((s) => s.name === 'dob');
    this.#recordIdIndex = specs.findIndex((s) => s.name === 'record_id');
    this.#numbers = new Float64Array(specs.length);
    // 0: `auto` (YYYY-MM-DD or DD/MM/YYYY), 1: YYYY-MM-DD only, 2: DD/MM/YYYY only, 3: others (text path).
    const format = opts.ctx.dateFormat;
    this.#dateFormat = format === 'auto' ? 0 : format === 'YYYY-MM-DD' ? 1 : format === 'DD/MM/YYYY' ? 2 : 3;
    this.#kinds = specs.map((s) => KIND_OF[s.kind.type]);
    this.#codeSets = specs.map((s) =>
      s.kind.type === 'enum' ? new CodeSet(s.kind.values) : s.kind.type === 'problem' ? new CodeSet(KNOWN_PROBLEM_CODES) : undefined,
    );
    // A blank cell means what `parseCell` says it means (required, a fallback, or missing).
    this.#blankBytes = [];
    this.#blankNumbers = [];
    specs.forEach((spec, i) => {
      const value = parseCell(spec, undefined, opts.ctx);
      this.#blankBytes.push(value instanceof CellFailure ? undefined : encodeValue(value, this.#types[i]!));
      this.#blankNumbers.push(typeof value === 'number' ? value : -1);
    });
    this.#check = crossCheckOnNumbers(opts.source, specs.map((s) => s.name), this.#codeSets);
  }

  /** Room for `bytes` more; a row already begun moves whole to the new buffer, so buffers end at rows' ends. */
  #ensure(bytes: number): void {
    if (this.#pos + bytes <= this.#out.length) return;
    const begun = this.#pos - this.#rowStart;
    const next = Buffer.allocUnsafe(Math.max(this.#bufferBytes, begun + bytes));
    this.#out.copy(next, 0, this.#rowStart, this.#pos);
    if (this.#rowStart > 0) this.#ready.push(this.#out.subarray(0, this.#rowStart));
    this.#out = next;
    this.#pos = begun;
    this.#rowStart = 0;
  }

  /** Buffers completed so far (each ends at a row's end); the caller sends them to COPY. */
  take(): Buffer[] {
    return this.#ready.splice(0);
  }

  /** Everything written, the current buffer included. */
  finish(): Buffer[] {
    if (this.#pos > 0) {
      this.#ready.push(this.#out.subarray(0, this.#pos));
      this.#out = Buffer.allocUnsafe(this.#bufferBytes);
      this.#pos = 0;
      this.#rowStart = 0;
    }
    return this.take();
  }

  #byte(b: number): void {
    this.#out[this.#pos++] = b;
  }

  #copy(bytes: Uint8Array, from: number, to: number): void {
    const out = this.#out;
    let pos = this.#pos;
    if (to - from < 32) {
      for (let i = from; i < to; i++) out[pos++] = bytes[i]!;
    } else {
      out.set(bytes.subarray(from, to), pos);
      pos += to - from;
    }
    this.#pos = pos;
  }

  /** A signed 32-bit integer, big-endian. */
  #int32(value: number): void {
    const out = this.#out;
    const at = this.#pos;
    out[at] = value >>> 24;
    out[at + 1] = (value >>> 16) & 255;
    out[at + 2] = (value >>> 8) & 255;
    out[at + 3] = value & 255;
    this.#pos = at + 4;
  }

  /** A text field of the bytes in [from, to): its length, then the bytes. */
  #field(bytes: Uint8Array, from: number, to: number): void {
    this.#int32(to - from);
    this.#copy(bytes, from, to);
  }

  /** A cell handled as text by `parseCell`: written, with its number for the cross checks; false when it fails. */
  #viaText(scanner: CsvByteScanner, bytes: Uint8Array, i: number, at: number): boolean {
    let text: string | undefined = at < 0 ? undefined : scanner.fieldText(bytes, at);
    // Exactly the row validator's preparation of a cell: trim, blank means missing, then recode.
    if (text !== undefined) {
      if (text.length > 0 && (text.charCodeAt(0) <= 32 || text.charCodeAt(text.length - 1) <= 32)) text = text.trim();
      if (text === '') text = undefined;
      else {
        const recoder = this.#recoders[i];
        if (recoder !== undefined) text = recoder.get(text.toLowerCase()) ?? text;
      }
    }
    const spec = this.#specs[i]!;
    const value = parseCell(spec, text, this.#ctx);
    if (value instanceof CellFailure) return false;
    if (i === this.#recordIdIndex) this.#recordIdValue = value as string;
    const kind = this.#kinds[i]!;
    if (value === null) this.#numbers[i] = -1;
    else if (kind === Kind.Date) this.#numbers[i] = isoToNumber(value as string);
    else if (kind === Kind.Count) this.#numbers[i] = value as number;
    else if (kind === Kind.Enum) this.#numbers[i] = this.#codeSets[i]!.match(Buffer.from(value as string, 'latin1'), 0, (value as string).length);
    else this.#numbers[i] = 0;
    const encoded = encodeValue(value, this.#types[i]!);
    this.#ensure(encoded.length);
    this.#copy(encoded, 0, encoded.length);
    return true;
  }

  /** Undo the row begun (a method, not a closure per row: the row loop allocates nothing). */
  #decline(): false {
    this.#pos = this.#rowStart;
    return false;
  }

  /**
   * The fast path: write the scanned record as a COPY row if every cell is valid and the row
   * passes its cross-column checks. Returns false, writing nothing, otherwise.
   */
  writeRecord(scanner: CsvByteScanner, bytes: Uint8Array, line: number): boolean {
    const positions = this.#positions;
    const count = positions.length;
    const start = scanner.start;
    const end = scanner.end;
    const flags = scanner.flags;
    const numbers = this.#numbers;
    // A field is at most its bytes and a 4-byte length; cells sent through the text path reserve their own room.
    let size = this.#prefix.length + 4;
    for (let i = 0; i < count; i++) {
      const at = positions[i]!;
      if (at >= 0) size += end[at]! - start[at]! + 8;
      else size += 8;
    }
    this.#rowStart = this.#pos;
    this.#ensure(size);
    this.#recordIdValue = undefined;
    this.#copy(this.#prefix, 0, this.#prefix.length);
    this.#int32(line);
    for (let i = 0; i < count; i++) {
      const at = positions[i]!;
      if (this.#recoders[i] !== undefined) {
        if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
        continue;
      }
      const from = at < 0 ? 0 : start[at]!;
      const to = at < 0 ? 0 : end[at]!;
      const f = at < 0 ? 0 : flags[at]!;
      if (from === to && (f & FIELD_AFTER_QUOTE) === 0) {
        const blank = this.#blankBytes[i];
        if (blank === undefined) return this.#decline();
        this.#copy(blank, 0, blank.length);
        numbers[i] = this.#blankNumbers[i]!;
        continue;
      }
      // Anything but a plain cell (doubled quotes, text after a closing quote, a stray quote,
      // space to trim, blank) is left to the text path.
      if ((f & (FIELD_ESCAPED | FIELD_AFTER_QUOTE | FIELD_STRAY_QUOTE)) !== 0 || from === to || bytes[from]! <= 32 || bytes[to - 1]! <= 32) {
        if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
        continue;
      }
      const length = to - from;
      switch (this.#kinds[i]!) {
        case Kind.Text:
          // Binary COPY needs no quoting: the value's bytes as they stand.
          this.#field(bytes, from, to);
          numbers[i] = 0;
          continue;
        case Kind.Date: {
          let year = -1;
          let month = 0;
          let day = 0;
          if (length === 10) {
            const format = this.#dateFormat;
            if (format <= 1 && bytes[from + 4] === 45 && bytes[from + 7] === 45) {
              year = digitAt(bytes, from) * 1000 + digitAt(bytes, from + 1) * 100 + digitAt(bytes, from + 2) * 10 + digitAt(bytes, from + 3);
              month = digitAt(bytes, from + 5) * 10 + digitAt(bytes, from + 6);
              day = digitAt(bytes, from + 8) * 10 + digitAt(bytes, from + 9);
            } else if ((format === 0 || format === 2) && bytes[from + 2] === 47 && bytes[from + 5] === 47) {
              day = digitAt(bytes, from) * 10 + digitAt(bytes, from + 1);
              month = digitAt(bytes, from + 3) * 10 + digitAt(bytes, from + 4);
              year = digitAt(bytes, from + 6) * 1000 + digitAt(bytes, from + 7) * 100 + digitAt(bytes, from + 8) * 10 + digitAt(bytes, from + 9);
            }
          }
          const value = year * 10000 + month * 100 + day;
          if (
            year < MIN_YEAR || year > MAX_YEAR || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) ||
            (i === this.#dobIndex && value > this.#todayNumber)
          ) {
            if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
            continue;
          }
          this.#int32(4);
          this.#int32(MONTH_START_PG_DAYS[(year - MIN_YEAR) * 12 + month - 1]! + day - 1);
          numbers[i] = value;
          continue;
        }
        case Kind.Count: {
          let value = 0;
          let ok = length <= 9;
          for (let k = from; ok && k < to; k++) {
            const d = bytes[k]! - ZERO;
            if (d < 0 || d > 9) ok = false;
            else value = value * 10 + d;
          }
          if (!ok) {
            if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
            continue;
          }
          this.#int32(4);
          this.#int32(value);
          numbers[i] = value;
          continue;
        }
        case Kind.YesNo: {
          const c = bytes[from]! | 32;
          const yes = (length === 1 && c === 121) || (length === 3 && c === 121 && (bytes[from + 1]! | 32) === 101 && (bytes[from + 2]! | 32) === 115);
          const no = (length === 1 && c === 110) || (length === 2 && c === 110 && (bytes[from + 1]! | 32) === 111);
          if (!yes && !no) {
            if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
            continue;
          }
          this.#int32(1);
          this.#byte(yes ? 1 : 0);
          numbers[i] = 0;
          continue;
        }
        case Kind.Sex: {
          const c = bytes[from]! & ~32;
          if (length === 1 && (c === 77 || c === 70 || c === 85)) {
            this.#int32(1);
            this.#byte(c);
            numbers[i] = 0;
            continue;
          }
          if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
          continue;
        }
        case Kind.Uprn: {
          let ok = length <= 12;
          for (let k = from; ok && k < to; k++) {
            const d = bytes[k]! - ZERO;
            if (d < 0 || d > 9) ok = false;
          }
          if (!ok) {
            if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
            continue;
          }
          this.#field(bytes, from, to);
          numbers[i] = 0;
          continue;
        }
        case Kind.Enum: {
          const codes = this.#codeSets[i]!;
          const k = codes.match(bytes, from, to);
          if (k < 0) {
            if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
            continue;
          }
          const code = codes.bytes(k);
          this.#field(code, 0, code.length);
          numbers[i] = k;
          continue;
        }
        case Kind.Code: {
          let ascii = true;
          for (let k = from; k < to; k++) {
            if (bytes[k]! >= 128) {
              ascii = false;
              break;
            }
          }
          if (!ascii) {
            if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
            continue;
          }
          this.#int32(length);
          for (let k = from; k < to; k++) {
            const c = bytes[k]!;
            this.#byte(c >= 97 && c <= 122 ? c - 32 : c);
          }
          numbers[i] = 0;
          continue;
        }
        default:
          if (!this.#viaText(scanner, bytes, i, at)) return this.#decline();
          continue;
      }
    }
    if (!this.#check(numbers)) return this.#decline();
    // The id last: a declined row must not count as seen. An id the text path read (to trim
    // or recode it) is told as that text; a plain one as its bytes, or as text when not ASCII.
    if (this.#recordIdValue !== undefined) this.#onRecordId.text(this.#recordIdValue);
    else {
      const idAt = positions[this.#recordIdIndex]!;
      if (!this.#onRecordId.bytes(bytes, start[idAt]!, end[idAt]!)) this.#onRecordId.text(scanner.fieldText(bytes, idAt));
    }
    this.fastRows++;
    return true;
  }

  /** Write a row the row validator produced (canonical column order). */
  writeValues(line: number, values: readonly CellValue[]): void {
    const fields = values.map((value, i) => encodeValue(value, this.#types[i]!));
    this.#rowStart = this.#pos;
    this.#ensure(this.#prefix.length + 4 + fields.reduce((n, f) => n + f.length, 0));
    this.#copy(this.#prefix, 0, this.#prefix.length);
    this.#int32(line);
    for (const field of fields) this.#copy(field, 0, field.length);
    this.slowRows++;
  }
}

/** One value as a binary COPY field (its length, then its bytes; length -1 for null). */
function encodeValue(value: CellValue, type: PgType): Buffer {
  if (value === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
  switch (type) {
    case PgType.Date: {
      const iso = value as string;
      const field = Buffer.alloc(8);
      field.writeInt32BE(4, 0);
      field.writeInt32BE(daysFromCivil(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)), Number(iso.slice(8, 10))) - PG_EPOCH_DAYS, 4);
      return field;
    }
    case PgType.Int4: {
      const field = Buffer.alloc(8);
      field.writeInt32BE(4, 0);
      field.writeInt32BE(value as number, 4);
      return field;
    }
    case PgType.Bool:
      return Buffer.from([0, 0, 0, 1, value ? 1 : 0]);
    case PgType.TextArray: {
      // One dimension (none when empty), no nulls, text elements, lower bound 1.
      const items = (value as string[]).map((item) => Buffer.from(item, 'utf8'));
      const header = Buffer.alloc(items.length === 0 ? 16 : 24);
      header.writeInt32BE(header.length - 4 + items.reduce((n, b) => n + 4 + b.length, 0), 0);
      header.writeInt32BE(items.length === 0 ? 0 : 1, 4);
      header.writeInt32BE(0, 8);
      header.writeInt32BE(TEXT_OID, 12);
      if (items.length > 0) {
        header.writeInt32BE(items.length, 16);
        header.writeInt32BE(1, 20);
      }
      const parts: Buffer[] = [header];
      for (const item of items) {
        const length = Buffer.alloc(4);
        length.writeInt32BE(item.length, 0);
        parts.push(length, item);
      }
      return Buffer.concat(parts);
    }
    default: {
      const text = Buffer.from(String(value), 'utf8');
      const length = Buffer.alloc(4);
      length.writeInt32BE(text.length, 0);
      return Buffer.concat([length, text]);
    }
  }
}

/**
 * The cross-column checks of `crossCheck` (sources.ts) over the fast path's numbers (dates as
 * yyyymmdd, counts, -1 for missing, enum index). Only a quick pass: a row failing here goes to
 * the row validator, whose `crossCheck` gives the reason.
 */
function crossCheckOnNumbers(source: SourceName, names: readonly string[], codeSets: readonly (CodeSet | undefined)[]): (n: Float64Array) => boolean {
  const at = (name: string) => names.indexOf(name);
  switch (source) {
    case 'attendance': {
      const [termStart, termEnd, possible, authorised, unauthorised] = ['term_start', 'term_end', 'sessions_possible', 'sessions_authorised', 'sessions_unauthorised'].map(at) as [number, number, number, number, number];
      return (n) => n[termEnd]! > n[termStart]! && n[authorised]! + n[unauthorised]! <= n[possible]!;
    }
    case 'employment': {
      const [startDate, endDate, spellType, benefitType] = ['start_date', 'end_date', 'spell_type', 'benefit_type'].map(at) as [number, number, number, number];
      const benefit = codeSets[spellType]!.match(Buffer.from('benefit'), 0, 7);
      return (n) => (n[endDate] === -1 || n[endDate]! >= n[startDate]!) && !(n[spellType] === benefit && n[benefitType] === -1);
    }
    case 'social_care': {
      const [startDate, endDate] = ['start_date', 'end_date'].map(at) as [number, number];
      return (n) => n[endDate] === -1 || n[endDate]! >= n[startDate]!;
    }
    default:
      return () => true;
  }
}
