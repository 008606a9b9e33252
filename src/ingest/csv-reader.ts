import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createHash, type Hash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { CsvByteScanner, CsvChunker, CsvSyntaxError, type RecordHandler } from './csv-scanner.ts';
import { InputRejectedError } from '../errors.ts';

/** A record longer than this is treated as a broken file (almost always an unbalanced quote). */
export const MAX_RECORD_BYTES = 1_048_576;
/** Bytes read from the file at a time. */
const CHUNK_BYTES = 1 << 20;
/** A record spanning more lines than this is treated as a runaway quote, not a multi-line address. */
export const MAX_LINES_PER_RECORD = 10;

export interface CsvReadOptions {
  delimiter: string;
  encoding: 'utf-8' | 'windows-1252';
  /** Name shown in messages (the path the user gave). */
  displayName: string;
  /** Updated with the file's bytes as they are read, so the file is hashed in the same pass. */
  hash?: Hash;
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

/** Where the last UTF-8 character of `bytes` starts if it is cut off by the chunk's end, else `bytes.length`. */
function completeUtf8Length(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 4); i--) {
    const b = bytes[i]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return i + need > bytes.length ? i : bytes.length;
  }
  return bytes.length;
}

function binaryFailure(opts: CsvReadOptions, what: string): InputRejectedError {
  return new InputRejectedError(opts.displayName, `${opts.displayName} ${what}`, {
    hint: 'export the extract as "CSV UTF-8 (comma delimited)" and load that file',
  });
}

function encodingFailure(opts: CsvReadOptions, from: number, to: number, cause?: unknown): InputRejectedError {
  return new InputRejectedError(opts.displayName, `${opts.displayName} is not valid ${opts.encoding} text (a bad byte within bytes ${from}-${to})`, {
    ...(cause === undefined ? {} : { cause }),
    hint:
      opts.encoding === 'utf-8'
        ? 'save it as "CSV UTF-8", or if it came from an older system set `encoding: windows-1252` in its column mapping'
        : 'check the file is the extract you meant to load',
  });
}

/**
 * The file's content as chunks of valid UTF-8 bytes (a byte-order mark dropped; windows-1252
 * converted), refusing binary content and bytes that are not valid in the declared encoding, so
 * nothing is silently garbled on the way in. Each chunk ends on a character boundary, and is
 * valid only until the next is asked for: the file is read into one reused buffer, so reading
 * allocates nothing per chunk (fresh buffers per chunk let V8's heap grow with the file).
 */
export async function* readUtf8Chunks(path: string, opts: CsvReadOptions): AsyncGenerator<Buffer> {
  const decoder = opts.encoding === 'utf-8' ? undefined : new TextDecoder(opts.encoding, { fatal: true });
  let offset = 0;
  let first = true;
  let tail: Buffer | undefined;
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      let chunk = buffer.subarray(0, bytesRead);
      opts.hash?.update(chunk);
      if (first) {
        const binary = describeBinary(chunk.subarray(0, 8192));
        if (binary) throw binaryFailure(opts, binary);
      }
      // A NUL anywhere (not only in the first 8 KB checked above): PostgreSQL text cannot hold one,
      // so it failed the COPY as an internal error instead of refusing the file.
      const nul = chunk.indexOf(0);
      if (nul >= 0) throw binaryFailure(opts, `contains binary data (a NUL byte at byte ${offset + nul}), not CSV text`);
      const chunkOffset = offset;
      offset += chunk.length;
      if (decoder) {
        let text: string;
        try {
          text = decoder.decode(chunk, { stream: true });
        } catch (error) {
          throw encodingFailure(opts, chunkOffset, offset, error);
        }
        first = false;
        if (text !== '') yield Buffer.from(text, 'utf8');
        continue;
      }
      if (first && chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
      first = false;
      if (tail) chunk = Buffer.concat([tail, chunk]);
      const complete = completeUtf8Length(chunk);
      tail = complete < chunk.length ? Buffer.from(chunk.subarray(complete)) : undefined;
      const whole = complete < chunk.length ? chunk.subarray(0, complete) : chunk;
      if (!isUtf8(whole)) throw encodingFailure(opts, chunkOffset, offset);
      if (whole.length > 0) yield whole;
    }
  } finally {
    await handle.close();
  }
  if (tail) throw encodingFailure(opts, offset - tail.length, offset);
  if (decoder) {
    let text: string;
    try {
      text = decoder.decode();
    } catch (error) {
      throw encodingFailure(opts, offset, offset, error);
    }
    if (text !== '') yield Buffer.from(text, 'utf8');
  }
}

/** A reading or syntax failure as the file's one-line message; anything else (a bug) unchanged. */
function csvFailure(error: unknown, opts: CsvReadOptions): unknown {
  const name = opts.displayName;
  if (error instanceof InputRejectedError) return error;
  if (error instanceof CsvSyntaxError) {
    return error.kind === 'unterminated_quote'
      ? new InputRejectedError(name, `${name}: a quoted field opened on line ${error.line} is never closed (the file ends inside quotes)`, {
          cause: error,
          hint: 'look for a stray double quote on that line, fix or re-export the file, and load it again',
        })
      : new InputRejectedError(name, `${name}: the record on line ${error.line} is longer than ${MAX_RECORD_BYTES / 1_048_576} MB`, {
          cause: error,
          hint: 'a field this long is almost always an unbalanced quote or a broken export: check that line and re-export',
        });
  }
  const errno = error as NodeJS.ErrnoException;
  if (errno?.syscall === undefined) return error;
  return new InputRejectedError(name, `${name}: cannot be read (${errno.code ?? errno.message})`, {
    cause: error,
    hint: 'check the path and that the file is readable',
  });
}

/**
 * Scan a CSV file, calling `onRecord` for the header (line 1) and then every data row with the
 * line it starts on, never holding the file in memory. Yields the bytes read so far after each
 * chunk's records, so the caller can act on them asynchronously (send rows to COPY, store
 * rejects). Fails the whole file, with a one-line reason, for: binary or wrongly encoded
 * content, an unterminated quote, a record over 1 MB, or a quoted field that swallows many lines.
 */
export async function* scanCsvFile(path: string, opts: CsvReadOptions, onRecord: RecordHandler): AsyncGenerator<number> {
  const scanner = new CsvByteScanner({ delimiter: opts.delimiter, maxRecordBytes: MAX_RECORD_BYTES });
  const chunker = new CsvChunker(scanner);
  const checked: RecordHandler = (scanner, bytes, line, lineSpan, fields) => {
    if (lineSpan > MAX_LINES_PER_RECORD) {
      throw new InputRejectedError(opts.displayName, `${opts.displayName}: the record starting on line ${line} runs over ${lineSpan} lines (an unbalanced quote?)`, {
        hint: 'look for a stray double quote on that line, fix or re-export the file, and load it again',
      });
    }
    onRecord(scanner, bytes, line, lineSpan, fields);
  };
  let bytesRead = 0;
  const chunks = readUtf8Chunks(path, opts);
  for (;;) {
    try {
      const next = await chunks.next();
      if (next.done) {
        chunker.end(checked);
        break;
      }
      bytesRead += next.value.length;
      chunker.push(next.value, false, checked);
    } catch (error) {
      throw csvFailure(error, opts);
    }
    yield bytesRead;
  }
  yield bytesRead;
}
