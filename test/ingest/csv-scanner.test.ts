import { describe, expect, it } from 'vitest';
import { parse as oracleParse } from 'csv-parse/sync';
import { CsvByteScanner, CsvChunker, CsvSyntaxError, type RecordHandler } from '../../src/ingest/csv-scanner.ts';

interface ParsedRecord {
  line: number;
  lineSpan: number;
  cells: string[];
}

/** Parse `text` fed as UTF-8 bytes in chunks of `size` bytes (cutting through characters too). */
function parseChunked(text: string, size: number, delimiter = ','): ParsedRecord[] {
  const chunker = new CsvChunker(new CsvByteScanner({ delimiter, maxRecordBytes: 1000 }));
  const out: ParsedRecord[] = [];
  const onRecord: RecordHandler = (scanner, bytes, line, lineSpan, fields) => out.push({ line, lineSpan, cells: scanner.cells(bytes, fields) });
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += size) chunker.push(bytes.subarray(i, i + size), false, onRecord);
  chunker.end(onRecord);
  return out;
}

/** A small deterministic generator of awkward CSV: quotes, doubled quotes, commas, CRLF, multi-line fields, blanks. */
function awkwardCsv(seed: number, rows: number): string {
  let state = seed;
  const rnd = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const pieces = ['plain', '', 'with, comma', 'say "hi"', 'two\nlines', 'crlf\r\nline', ' spaced ', 'é£', '""', ','];
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < 4; c++) {
      const v = pieces[Math.floor(rnd() * pieces.length)]!;
      cells.push(/[",\r\n]/.test(v) || (v === '' && rnd() < 0.3) ? `"${v.replace(/"/g, '""')}"` : v);
    }
    lines.push(cells.join(','));
  }
  const eol = rnd() < 0.5 ? '\n' : '\r\n';
  return lines.join(eol) + eol;
}

describe('CsvByteScanner', () => {
  it('agrees with csv-parse on awkward but valid CSV, whatever the chunk size', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const text = awkwardCsv(seed, 40);
      const expected = oracleParse(text, { relax_column_count: true, skip_empty_lines: true }) as string[][];
      for (const size of [1, 2, 3, 7, 64, 100_000]) {
        expect(parseChunked(text, size).map((r) => r.cells), `seed ${seed} chunk ${size}`).toEqual(expected);
      }
    }
  });

  it('numbers records by the line they start on, across multi-line fields and blank lines', () => {
    const text = 'h1,h2\na,b\n"multi\nline",c\n\nd,e\r\nf,"g\r\nh"\ni,j';
    const records = parseChunked(text, 3);
    expect(records.map((r) => [r.line, r.lineSpan, r.cells])).toEqual([
      [1, 1, ['h1', 'h2']],
      [2, 1, ['a', 'b']],
      [3, 2, ['multi\nline', 'c']],
      [6, 1, ['d', 'e']],
      [7, 2, ['f', 'g\r\nh']],
      [9, 1, ['i', 'j']],
    ]);
  });

  it('keeps stray quotes inside unquoted fields and text after a closing quote', () => {
    expect(parseChunked('O"Brien,"ab"cd,x\n', 4).map((r) => r.cells)).toEqual([['O"Brien', 'abcd', 'x']]);
  });

  it('reads a trailing empty field and a final record without a newline', () => {
    expect(parseChunked('a,b,\nc,d,', 2).map((r) => r.cells)).toEqual([
      ['a', 'b', ''],
      ['c', 'd', ''],
    ]);
  });

  it('uses another delimiter when told', () => {
    expect(parseChunked('a;b;"c;d"\n', 5, ';').map((r) => r.cells)).toEqual([['a', 'b', 'c;d']]);
  });

  it('fails on an unterminated quote, naming the line it opened on', () => {
    const error = (() => {
      try {
        parseChunked('a,b\nc,"never closed\nmore\n', 5);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CsvSyntaxError);
    expect((error as CsvSyntaxError).kind).toBe('unterminated_quote');
    expect((error as CsvSyntaxError).line).toBe(2);
  });

  it('fails on a record longer than the limit, even when it arrives in small chunks', () => {
    const long = `a,${'x'.repeat(5000)}\n`;
    expect(() => parseChunked(long, 100)).toThrow(/longer than 1000 bytes/);
  });
});
