import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { CsvParser, CsvSyntaxError, type ParsedRecord } from './csv-parser.ts';
import { InputRejectedError } from '../errors.ts';

/** A record longer than this is treated as a broken file (almost always an unbalanced quote). */
export const MAX_RECORD_CHARS = 1_048_576;
/** A record spanning more lines than this is treated as a runaway quote, not a multi-line address. */
export const MAX_LINES_PER_RECORD = 10;

/** One record: the line it starts on (the header is line 1) and its cells as text. */
export type CsvRecord = ParsedRecord;

/** Records parsed from one chunk of the file, and how much of the file (in characters) has been read. */
export interface CsvBatch {
  records: CsvRecord[];
  charsRead: number;
}

export interface CsvReadOptions {
  delimiter: string;
  encoding: 'utf-8' | 'windows-1252';
  /** Name shown in messages (the path the user gave). */
  displayName: string;
}

/** SHA-256 and size of a file, read as a stream. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

function describeBinary(first: Buffer): string | undefined {
  if (first.length >= 4 && first[0] === 0x50 && first[1] === 0x4b && first[2] === 0x03 && first[3] === 0x04) {
    return 'is an Excel workbook or zip archive, not a CSV file';
  }
  if (first.length >= 4 && first[0] === 0xd0 && first[1] === 0xcf && first[2] === 0x11 && first[3] === 0xe0) {
    return 'is an old-style Excel (.xls) workbook, not a CSV file';
  }
  if (first.includes(0)) return 'contains binary data (NUL bytes), not CSV text';
  return undefined;
}

/**
 * Decode the file's bytes to text, refusing binary content and bytes that are not valid in the
 * declared encoding, so nothing is silently garbled on the way in.
 */
async function* decodedText(path: string, opts: CsvReadOptions): AsyncGenerator<string> {
  const decoder = new TextDecoder(opts.encoding, { fatal: true });
  let offset = 0;
  let first = true;
  for await (const raw of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const chunk = raw as Buffer;
    if (first) {
      const binary = describeBinary(chunk.subarray(0, 8192));
      if (binary) {
        throw new InputRejectedError(opts.displayName, `${opts.displayName} ${binary}`, {
          hint: 'export the extract as "CSV UTF-8 (comma delimited)" and load that file',
        });
      }
      first = false;
    }
    // A NUL anywhere (not only in the first 8 KB checked above): PostgreSQL text cannot hold one,
    // so it failed the COPY as an internal error instead of refusing the file.
    const nul = chunk.indexOf(0);
    if (nul >= 0) {
      throw new InputRejectedError(opts.displayName, `${opts.displayName} contains binary data (a NUL byte at byte ${offset + nul}), not CSV text`, {
        hint: 'export the extract as "CSV UTF-8 (comma delimited)" and load that file',
      });
    }
    try {
      yield decoder.decode(chunk, { stream: true });
    } catch (error) {
      throw new InputRejectedError(
        opts.displayName,
        `${opts.displayName} is not valid ${opts.encoding} text (a bad byte within bytes ${offset}-${offset + chunk.length})`,
        {
          cause: error,
          hint:
            opts.encoding === 'utf-8'
              ? 'save it as "CSV UTF-8", or if it came from an older system set `encoding: windows-1252` in its column mapping'
              : 'check the file is the extract you meant to load',
        },
      );
    }
    offset += chunk.length;
  }
  const tail = decoder.decode();
  if (tail) yield tail;
}

function csvFailure(error: unknown, opts: CsvReadOptions): InputRejectedError {
  const name = opts.displayName;
  if (error instanceof InputRejectedError) return error;
  if (error instanceof CsvSyntaxError) {
    return error.kind === 'unterminated_quote'
      ? new InputRejectedError(name, `${name}: a quoted field opened on line ${error.line} is never closed (the file ends inside quotes)`, {
          cause: error,
          hint: 'look for a stray double quote on that line, fix or re-export the file, and load it again',
        })
      : new InputRejectedError(name, `${name}: the record on line ${error.line} is longer than ${MAX_RECORD_CHARS / 1_048_576} MB`, {
          cause: error,
          hint: 'a field this long is almost always an unbalanced quote or a broken export: check that line and re-export',
        });
  }
  return new InputRejectedError(name, `${name}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
    cause: error,
    hint: 'check the path and that the file is readable',
  });
}

/**
 * Read a CSV file as a stream of record batches, never holding the file in memory. The header
 * comes first (as line 1), then every data row with the line it starts on. Fails the whole file,
 * with a one-line reason, for: binary or wrongly encoded content, an unterminated quote, a record
 * over 1 MB, or a quoted field that swallows many lines.
 */
export async function* readCsv(path: string, opts: CsvReadOptions): AsyncGenerator<CsvBatch> {
  const parser = new CsvParser({ delimiter: opts.delimiter, maxRecordChars: MAX_RECORD_CHARS });
  let charsRead = 0;
  const check = (batch: ParsedRecord[]): CsvBatch => {
    for (const record of batch) {
      if (record.lineSpan > MAX_LINES_PER_RECORD) {
        throw new InputRejectedError(
          opts.displayName,
          `${opts.displayName}: the record starting on line ${record.line} runs over ${record.lineSpan} lines (an unbalanced quote?)`,
          { hint: 'look for a stray double quote on that line, fix or re-export the file, and load it again' },
        );
      }
    }
    return { records: batch, charsRead };
  };
  try {
    for await (const text of decodedText(path, opts)) {
      charsRead += text.length;
      const out: ParsedRecord[] = [];
      parser.push(text, out);
      if (out.length > 0) yield check(out);
    }
    const out: ParsedRecord[] = [];
    parser.end(out);
    if (out.length > 0) yield check(out);
  } catch (error) {
    throw csvFailure(error, opts);
  }
}
