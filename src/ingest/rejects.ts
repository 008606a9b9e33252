import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { stringify, type Stringifier } from 'csv-stringify';
import { spreadsheetSafe } from '../util/spreadsheet.ts';
import { copyLine } from './copy-text.ts';
import type { RowProblem, SourceName } from './sources.ts';

/** Header of `rejects.csv` (cli-contract.md). */
export const REJECTS_CSV_COLUMNS = ['source', 'file', 'line', 'column', 'value', 'reason'] as const;

async function writeOrWait(stream: NodeJS.WritableStream, chunk: unknown): Promise<void> {
  if (!stream.write(chunk as string)) await once(stream, 'drain');
}

async function closeStream(stream: NodeJS.WritableStream & { end(cb?: () => void): unknown }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/**
 * `OUT/rejects.csv`: every rejected row of a run, created owner-only (0600) because values can be
 * personal data, and formula-safe because data officers open it in a spreadsheet.
 */
export class RejectsCsv {
  readonly path: string;
  readonly #csv: Stringifier;
  readonly #file: WriteStream;
  count = 0;

  private constructor(file: string, stream: WriteStream) {
    this.path = file;
    this.#file = stream;
    this.#csv = stringify({ header: true, columns: [...REJECTS_CSV_COLUMNS] });
    this.#csv.pipe(stream);
  }

  /** Create (or replace) the file with owner-only permissions. */
  static async create(file: string): Promise<RejectsCsv> {
    const stream = createWriteStream(file, { mode: 0o600 });
    await once(stream, 'open');
    await chmod(file, 0o600); // an existing file keeps its old mode otherwise
    return new RejectsCsv(file, stream);
  }

  async add(source: SourceName, displayName: string, line: number, problem: RowProblem): Promise<void> {
    this.count++;
    await writeOrWait(this.#csv, [
      source,
      spreadsheetSafe(displayName),
      String(line),
      problem.column ?? '',
      spreadsheetSafe(problem.value ?? ''),
      spreadsheetSafe(problem.reason),
    ]);
  }

  async close(): Promise<void> {
    await closeStream(this.#csv);
    if (!this.#file.closed) await once(this.#file, 'close');
  }
}

/**
 * Rejects of one file on their way to `audit.reject`: spilled to an owner-only temporary file in
 * COPY format as they are found (memory stays flat however many there are), then copied into the
 * database in the file's transaction.
 */
export class RejectSpill {
  readonly #dir: string;
  readonly #file: string;
  readonly #stream: WriteStream;
  rows = 0;
  /** Count per kind of problem (safe to print: no values). */
  readonly byKind = new Map<string, number>();

  private constructor(dir: string) {
    this.#dir = dir;
    this.#file = path.join(dir, 'rejects.copy');
    this.#stream = createWriteStream(this.#file, { mode: 0o600, encoding: 'utf8' });
  }

  static async create(): Promise<RejectSpill> {
    return new RejectSpill(await mkdtemp(path.join(os.tmpdir(), 'tfclaims-rejects-')));
  }

  /** Record one problem; `fileId`, `runId`, `source` are the leading columns of audit.reject. */
  async add(fileId: number, runId: number, source: SourceName, line: number, problem: RowProblem): Promise<void> {
    this.rows++;
    const key = `${problem.column ?? 'row'}: ${problem.kind}`;
    this.byKind.set(key, (this.byKind.get(key) ?? 0) + 1);
    await writeOrWait(this.#stream, copyLine([fileId, runId, source, line], [problem.column, problem.value, problem.reason]));
  }

  /** The spilled rows as text chunks for COPY (closes the writer first). */
  async *read(): AsyncGenerator<string> {
    await closeStream(this.#stream);
    for await (const chunk of createReadStream(this.#file, { encoding: 'utf8', highWaterMark: 1 << 20 })) yield chunk as string;
  }

  async dispose(): Promise<void> {
    // End (not destroy) a writer never read back (the file failed): destroying it under a write
    // still in flight raised an uncaught ERR_STREAM_DESTROYED.
    if (!this.#stream.writableEnded) await closeStream(this.#stream).catch(() => {});
    await rm(this.#dir, { recursive: true, force: true });
  }
}
