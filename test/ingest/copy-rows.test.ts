import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { CopyRows } from '../../src/ingest/copy-rows.ts';
import { CsvByteScanner, CsvChunker, type RecordHandler } from '../../src/ingest/csv-scanner.ts';
import type { DateFormat } from '../../src/ingest/dates.ts';
import { resolveHeader } from '../../src/ingest/header.ts';
import { loadMapping, recodeMaps, type ColumnMapping } from '../../src/ingest/mapping.ts';
import { SOURCES, compileRowValidator, type CellContext, type SourceName } from '../../src/ingest/sources.ts';

/**
 * The fast path of ingest (CopyRows.writeRecord, reading cells from bytes) must accept only
 * rows the row validator accepts, and write them byte for byte as the validator's values would
 * be written; everything else it must leave to the validator, writing nothing. Checked on every
 * row of the samples and on rows mutated cell by cell into every awkward shape we know of.
 */

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Ways to spoil or disguise a cell (given its current text), valid and invalid alike. */
const MUTATIONS: ((cell: string, random: () => number) => string)[] = [
  () => '',
  () => '   ',
  (c) => ` ${c} `,
  (c) => `${c}\t`,
  (c) => c.toUpperCase(),
  (c) => c.toLowerCase(),
  (c) => (c.length > 1 ? c[0]!.toUpperCase() + c.slice(1).toLowerCase() : c),
  (c) => `${c},x`,
  (c) => `${c}"s`,
  (c) => `"${c}"`,
  (c) => `${c}\nline two`,
  (c) => `${c}\r\n`,
  (c) => `${c}é`,
  (c) => `é${c}`,
  (c) => `${c}\u00a0`,
  (c) => c.replace(/^(\d{4})-(\d{2})-(\d{2})$/, '$3/$2/$1'),
  (c) => c.replace(/^(\d{4})-0?(\d+)-0?(\d+)$/, '$1-$2-$3'),
  (c) => c.replace(/^(\d{4})-(\d{2})-(\d{2})$/, '$1-02-30'),
  (c) => c.replace(/^(\d{4})/, '1899'),
  (c) => c.replace(/^(\d{4})/, '2031'),
  (c) => c.replace(/^(\d{4})-(\d{2})-(\d{2})$/, '$1$2$3'),
  (c) => c.replace(/^(\d{4})-(\d{2})-(\d{2})$/, '$3-Feb-$1'),
  () => '2024-02-29',
  () => '2023-02-29',
  () => '29/02/2024',
  () => '31/04/2024',
  () => '00/01/2020',
  () => '2020-00-10',
  (c) => `0${c}`,
  () => '007',
  () => '-1',
  () => '1234567890',
  () => '999999999',
  () => '2.5',
  () => 'Y',
  () => 'yes',
  () => 'No',
  () => 'maybe',
  () => 'm',
  () => 'Male',
  () => 'x',
  () => '123456789012',
  () => '1234567890123',
  () => 'A1',
  () => 'jsa',
  () => 'benefit',
  () => 'BENEFIT',
  () => 'Employment',
  () => 'cin',
  () => 'lac',
  () => 'victim',
  () => 'nonsense',
  () => 'education; crime_asb;education',
  () => 'health;bogus',
  () => 'achieved',
  (c, r) => (r() < 0.5 ? '0' : '140'),
];

/** One CSV cell as an export might write it: quoted when it must be, sometimes when it need not be, sometimes oddly. */
function csvCell(text: string, random: () => number): string {
  const r = random();
  if (/[",\r\n]/.test(text) || r < 0.1) return `"${text.replaceAll('"', '""')}"`;
  if (r < 0.13 && text.length > 1) return `"${text.slice(0, 1).replaceAll('"', '""')}"${text.slice(1)}`;
  return text;
}

interface Seen {
  ids: string[];
}

function copyRows(source: SourceName, positions: number[], ctx: CellContext, seen: Seen, recode?: Record<string, Map<string, string>>) {
  return new CopyRows({
    source,
    positions,
    ctx,
    fileId: 42,
    bufferBytes: 256,
    ...(recode ? { recode } : {}),
    onRecordId: {
      bytes: (bytes, from, to) => {
        for (let i = from; i < to; i++) if (bytes[i]! >= 128) return false;
        seen.ids.push(Buffer.from(bytes.subarray(from, to)).toString('latin1'));
        return true;
      },
      text: (id) => seen.ids.push(id),
    },
  });
}

/** Rows the fast path wrote; valid rows it left to the validator; invalid rows (declined, rightly). */
interface Outcome {
  fast: number;
  slow: number;
  rejected: number;
}

/**
 * Feed CSV text through the scanner and compare, record by record, the fast path with the
 * row validator. `header` gives the file's column order.
 */
function compare(source: SourceName, csv: string, ctx: CellContext, mapping?: ColumnMapping): Outcome {
  const recode = recodeMaps(mapping);
  const outcome: Outcome = { fast: 0, slow: 0, rejected: 0 };
  let fast: CopyRows | undefined;
  let slow: CopyRows | undefined;
  let validate: ReturnType<typeof compileRowValidator> | undefined;
  let width = 0;
  const fastSeen: Seen = { ids: [] };
  const slowSeen: Seen = { ids: [] };
  const onRecord: RecordHandler = (scanner, bytes, line, _span, fields) => {
    if (!fast) {
      const { positions } = resolveHeader(source, scanner.cells(bytes, fields), mapping, source);
      width = fields;
      fast = copyRows(source, positions, ctx, fastSeen, recode);
      slow = copyRows(source, positions, ctx, slowSeen, recode);
      validate = compileRowValidator(source, positions, ctx, recode);
      return;
    }
    if (fields !== width) return;
    const accepted = fast.writeRecord(scanner, bytes, line);
    const written = Buffer.concat(fast.finish()).toString('hex');
    const result = validate!(scanner.cells(bytes, fields));
    const where = `${source} line ${line}: ${JSON.stringify(scanner.cells(bytes, fields))}`;
    if (accepted) {
      outcome.fast++;
      expect(result.ok, `fast path accepted a row the validator rejects: ${where}`).toBe(true);
      if (!result.ok) return;
      slow!.writeValues(line, result.values);
      expect(written, where).toBe(Buffer.concat(slow!.finish()).toString('hex'));
      expect(fastSeen.ids.at(-1), `record_id told to the duplicate check: ${where}`).toBe(result.values[0]);
    } else {
      expect(written, `a declined row wrote something: ${where}`).toBe('');
      if (result.ok) outcome.slow++;
      else outcome.rejected++;
    }
  };
  const chunker = new CsvChunker(new CsvByteScanner());
  chunker.push(Buffer.from(csv, 'utf8'), false, onRecord);
  chunker.end(onRecord);
  return outcome;
}

async function sampleRows(source: SourceName): Promise<{ header: string[]; rows: string[][] }> {
  const [header, ...rows] = parse(await readFile(path.join(SAMPLES, `${source}.csv`)), { bom: true, relax_column_count: true }) as string[][];
  return { header: header!, rows };
}

const ctx: CellContext = { dateFormat: 'auto', today: '2026-11-22' };

describe('the fast path of ingest agrees with the row validator', () => {
  for (const source of SOURCES) {
    it(`${source}: every sample row, and rows mutated into awkward shapes`, async () => {
      const { header, rows } = await sampleRows(source);
      // The offending sample is a vendor layout with its own mapping (renames, recodes, DD-MMM-YYYY dates).
      const mappingFile = path.join(SAMPLES, `${source}.mapping.yaml`);
      const mapping = existsSync(mappingFile) ? (await loadMapping(mappingFile, source)).mapping : undefined;
      const sampleCtx: CellContext = { ...ctx, dateFormat: mapping?.date_format ?? 'auto' };
      const random = rng(source.length * 104_729);
      const plain = [header.map((h) => csvCell(h, () => 1)).join(','), ...rows.map((r) => r.map((c) => csvCell(c, () => 1)).join(','))].join('\n');
      const samples = compare(source, `${plain}\n`, sampleCtx, mapping);
      // The fast path only ever leaves invalid rows to the validator: a valid row it declined
      // would load correctly but slowly, and silently undo ingest's speed.
      expect(samples.slow).toBe(0);
      expect(samples.fast).toBeGreaterThan(rows.length * 0.95);

      const lines = [header.map((h) => csvCell(h, () => 1)).join(',')];
      for (let round = 0; round < Math.max(6, Math.ceil(4000 / rows.length)); round++) {
        for (const row of rows) {
          const cells = [...row];
          const changes = 1 + Math.floor(random() * 2);
          for (let k = 0; k < changes; k++) {
            const at = Math.floor(random() * cells.length);
            cells[at] = MUTATIONS[Math.floor(random() * MUTATIONS.length)]!(cells[at]!, random);
          }
          // Boundaries across columns: one date a day before, on or after another (a term ending the day it starts),
          // or one count the sum of two others (absences equal to sessions possible).
          const iso = (c: string) => c.replace(/^(\d{2})\/(\d{2})\/(\d{4})$/, '$3-$2-$1');
          const dates = cells.flatMap((c, i) => (/^\d{4}-\d{2}-\d{2}$/.test(iso(c)) ? [i] : []));
          if (dates.length >= 2 && random() < 0.3) {
            const from = dates[Math.floor(random() * dates.length)]!;
            const to = dates.filter((i) => i !== from)[Math.floor(random() * (dates.length - 1))]!;
            const day = new Date(`${iso(cells[from]!)}T00:00:00Z`);
            day.setUTCDate(day.getUTCDate() + Math.floor(random() * 3) - 1);
            if (!Number.isNaN(day.getTime())) cells[to] = day.toISOString().slice(0, 10);
          }
          const counts = cells.flatMap((c, i) => (/^\d{1,3}$/.test(c) ? [i] : []));
          if (counts.length >= 3 && random() < 0.2) cells[counts[0]!] = String(Number(cells[counts[1]!]) + Number(cells[counts[2]!]));
          lines.push(cells.map((c) => csvCell(c, random)).join(','));
        }
      }
      const mutated = compare(source, `${lines.join('\r\n')}\r\n`, sampleCtx, mapping);
      expect(mutated.slow).toBe(0);
      // The mutations make both valid and invalid rows.
      expect(mutated.fast).toBeGreaterThan(rows.length);
      expect(mutated.rejected).toBeGreaterThan(rows.length / 2);
    });
  }

  it('agrees under a mapping: other date layouts, recoded values, columns in another order or absent', async () => {
    const { header, rows } = await sampleRows('attendance');
    const random = rng(7);
    const order = header.map((_, i) => i).sort(() => random() - 0.5).filter((i) => header[i] !== 'school_urn');
    for (const dateFormat of ['DD/MM/YYYY', 'YYYY-MM-DD', 'DD-MMM-YYYY'] as DateFormat[]) {
      const lines = [order.map((i) => header[i]).join(',')];
      for (const row of rows) {
        const cells = order.map((i) => row[i]!);
        for (let k = 0; k < cells.length; k++) {
          if (random() < 0.3) cells[k] = MUTATIONS[Math.floor(random() * MUTATIONS.length)]!(cells[k]!, random);
        }
        lines.push(cells.map((c) => csvCell(c, random)).join(','));
      }
      const mapping = { values: { permanent_exclusion: { Excluded: 'Y', 'Not excluded': 'N' } } } as unknown as ColumnMapping;
      const outcome = compare('attendance', `${lines.join('\n')}\n`, { dateFormat, today: '2026-11-22' }, mapping);
      expect(outcome.slow).toBe(0);
      expect(outcome.fast + outcome.rejected).toBe(rows.length);
    }
  });
});
