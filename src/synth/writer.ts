import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { isoToDayMonthName } from './calendar.ts';
import type { Rng } from './random.ts';

/**
 * Streaming CSV output for synth: rows are buffered per chunk of households, shuffled (so a
 * family's records are not neighbours in a file, as in real extracts), numbered, written with
 * back-pressure, and traced in the truth files. Invalid rows are made here, from ordinary
 * residents' rows only, and recorded with the line they land on.
 */

/** Quote a cell when RFC 4180 needs it. */
const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

export function csvCell(value: string): string {
  return value.length > 0 && NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\n`;
}

/** A buffered, back-pressured text file. */
export class TextFile {
  readonly #stream: WriteStream;
  #buffer = '';

  constructor(path: string, mode = 0o644) {
    this.#stream = createWriteStream(path, { mode });
  }

  async write(text: string): Promise<void> {
    this.#buffer += text;
    if (this.#buffer.length >= 1 << 20) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const chunk = this.#buffer;
    this.#buffer = '';
    if (!this.#stream.write(chunk)) await once(this.#stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => this.#stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
}

/** A row about to be written: cells in canonical order, record_id (cell 0) left blank. */
export interface PendingRow {
  cells: string[];
  /** Truth person id (blank for evidence rows). */
  personId: string;
  /** Ordinary residents' rows may be made invalid; rows of families built to a truth never are. */
  corruptible: boolean;
}

/** One way a row is made invalid on purpose. `apply` edits the cells and returns the blamed column. */
export interface Corruption {
  kind: string;
  apply(cells: string[], rng: Rng, recentIds: readonly string[]): string | undefined;
}

export interface ExtractLayout {
  /** Header names as written. */
  header: string[];
  /** Canonical column index for each written column (-1: a column the pipeline ignores). */
  order: number[];
  /** Fill a column the pipeline ignores. */
  extra?: (cells: string[], rng: Rng) => string[];
  /** Rewrite cells for this layout (value spellings, date format). */
  transform?: (cells: string[]) => string[];
}

/** The vendor layout of the police/community safety export, with its column mapping. */
export const OFFENDING_EXPORT: { layout: ExtractLayout; mapping: string } = (() => {
  // canonical: record_id person_ref forename middle_names surname dob sex address postcode uprn event_date event_type role detail
  const header = [
    'Occurrence Ref', 'Nominal ID', 'Last Name', 'First Name', 'Middle Name(s)', 'Date of Birth', 'Gender', 'Home Address', 'Post Code',
    'UPRN', 'Occurrence Date', 'Category', 'Involvement', 'Occurrence Summary', 'Recording Unit',
  ];
  const order = [0, 1, 4, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, -1];
  const category: Record<string, string> = {
    proven_offence: 'Crime - Proven Outcome',
    asb_incident: 'ASB - Incident',
    asb_intervention: 'ASB - Intervention',
    domestic_abuse: 'Domestic Abuse',
  };
  const involvement: Record<string, string> = { victim: 'Victim', perpetrator: 'Perpetrator', other: 'Other Party' };
  const gender: Record<string, string> = { M: 'Male', F: 'Female', U: 'Not Known' };
  const units = ['SE Safer Neighbourhoods', 'Youth Offending Service', 'Community Safety Team', 'CID South'];
  const mapping = [
    '# Column mapping for the police and community safety export (a differently-headed extract).',
    '# See docs/ingest.md. Headers are matched case-insensitively; unlisted headers are ignored.',
    'source: offending',
    'date_format: DD-MMM-YYYY',
    'columns:',
    '  Occurrence Ref: record_id',
    '  Nominal ID: person_ref',
    '  Last Name: surname',
    '  First Name: forename',
    '  Middle Name(s): middle_names',
    '  Date of Birth: dob',
    '  Gender: sex',
    '  Home Address: address',
    '  Post Code: postcode',
    '  UPRN: uprn',
    '  Occurrence Date: event_date',
    '  Category: event_type',
    '  Involvement: role',
    '  Occurrence Summary: detail',
    'values:',
    '  event_type:',
    ...Object.entries(category).map(([k, v]) => `    ${v}: ${k}`),
    '  role:',
    ...Object.entries(involvement).map(([k, v]) => `    ${v}: ${k}`),
    '  sex:',
    ...Object.entries(gender).map(([k, v]) => `    ${v}: ${k}`),
    '',
  ].join('\n');
  return {
    mapping,
    layout: {
      header,
      order,
      extra: (_cells, rng) => [rng.pick(units)],
      transform: (cells) => {
        const out = cells.slice();
        out[5] = isoToDayMonthName(out[5]!);
        out[10] = isoToDayMonthName(out[10]!);
        out[11] = category[out[11]!] ?? out[11]!;
        out[12] = involvement[out[12]!] ?? out[12]!;
        out[6] = gender[out[6]!] ?? out[6]!;
        return out;
      },
    },
  };
})();

export interface ExtractWriterOptions {
  path: string;
  source: string;
  canonicalHeader: string[];
  idPrefix: string;
  corruptions: readonly Corruption[];
  corruptRate: number;
  layout?: ExtractLayout;
  records: TextFile;
  rejects: TextFile;
}

/** Writes one extract. */
export class ExtractWriter {
  readonly #o: ExtractWriterOptions;
  readonly #file: TextFile;
  #pending: PendingRow[] = [];
  /** Line the next row starts on (the header is line 1). */
  #line = 2;
  #count = 0;
  rows = 0;
  rejects = 0;
  readonly #recentIds: string[] = [];

  constructor(o: ExtractWriterOptions) {
    this.#o = o;
    this.#file = new TextFile(o.path);
  }

  async open(): Promise<void> {
    const header = this.#o.layout?.header ?? this.#o.canonicalHeader;
    await this.#file.write(csvLine(header));
  }

  add(row: PendingRow): void {
    this.#pending.push(row);
  }

  /** Shuffle, number and write everything pending. */
  async flush(rng: Rng): Promise<void> {
    const rows = this.#pending;
    this.#pending = [];
    for (let i = rows.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [rows[i], rows[j]] = [rows[j]!, rows[i]!];
    }
    const o = this.#o;
    for (const row of rows) {
      this.#count++;
      const recordId = `${o.idPrefix}${String(this.#count).padStart(8, '0')}`;
      row.cells[0] = recordId;
      let rejectColumn: string | undefined;
      let rejectKind = '';
      if (row.corruptible && o.corruptions.length > 0 && rng.chance(o.corruptRate)) {
        const corruption = rng.pick(o.corruptions);
        rejectColumn = corruption.apply(row.cells, rng, this.#recentIds);
        rejectKind = corruption.kind;
      }
      const line = this.#render(row.cells, rng);
      const at = this.#line;
      this.#line += countNewlines(line);
      this.rows++;
      await this.#file.write(line);
      if (rejectColumn !== undefined) {
        this.rejects++;
        await o.rejects.write(csvLine([o.source, row.cells[0]!, String(at), rejectColumn, rejectKind]));
      } else {
        if (row.personId) await o.records.write(csvLine([o.source, row.cells[0]!, row.personId]));
        this.#recentIds.push(row.cells[0]!);
        if (this.#recentIds.length > 200) this.#recentIds.shift();
      }
    }
  }

  #render(cells: string[], rng: Rng): string {
    const layout = this.#o.layout;
    if (!layout) return csvLine(cells);
    const t = layout.transform ? layout.transform(cells) : cells;
    const extra = layout.extra ? layout.extra(t, rng) : [];
    let e = 0;
    return csvLine(layout.order.map((i) => (i >= 0 ? t[i]! : (extra[e++] ?? ''))));
  }

  async close(): Promise<void> {
    await this.#file.close();
  }
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
