import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { DbSession } from '../db/index.ts';
import { InputRejectedError } from '../errors.ts';
import type { ProgressReporter } from '../log/progress.ts';
import { CopyRows } from './copy-rows.ts';
import { hashFile, scanCsvFile } from './csv-reader.ts';
import type { RecordHandler } from './csv-scanner.ts';
import { resolveHeader, type HeaderLayout } from './header.ts';
import { recodeMaps, type LoadedMapping } from './mapping.ts';
import { RejectSpill, type RejectsCsv } from './rejects.ts';
import { SeenIds } from './seen-ids.ts';
import { columnNames, compileRowValidator, type RowProblem, type RowValidator, type SourceName } from './sources.ts';

/** Default largest share of a file's rows that may be rejected before the whole file fails. */
export const DEFAULT_MAX_REJECT_FRACTION = 0.05;

/** One extract to load. */
export interface ExtractFile {
  source: SourceName;
  path: string;
  /** The name shown in messages and stored (the path as the user gave it). */
  displayName: string;
  mapping?: LoadedMapping;
}

/** What happened to one file (counts and ids only: safe to print and log). */
export interface FileLoadResult {
  source: SourceName;
  file: string;
  status: 'loaded' | 'unchanged' | 'failed';
  fileId?: number;
  sha256: string;
  sizeBytes: number;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  /** `column: kind` -> count, e.g. `dob: not a real date` -> 3. */
  rejectsByKind: Record<string, number>;
  /** Earlier files of this source that this one replaced. */
  superseded: number[];
  /** Columns in the file that match nothing canonical (ignored). */
  ignoredColumns: string[];
  /** Why the file failed, or a note about an unchanged file. */
  message?: string;
  /** What to do about a failed file (shown as its own "what to do" line). */
  hint?: string;
  durationMs: number;
}

export interface LoadContext {
  runId: number;
  logger: Logger;
  progress: ProgressReporter;
  rejectsCsv?: RejectsCsv;
  /** Today's date (ISO): a date of birth after it is rejected. */
  today: string;
  /** The limit given on the command line; else the mapping's; else 5%. */
  maxRejectFraction?: number;
}

/** The file's size; a file that cannot be read fails with the reader's message. */
async function fileSize(file: ExtractFile): Promise<number> {
  try {
    return (await stat(file.path)).size;
  } catch {
    return (await hashFile(file.path)).size;
  }
}

/** Advisory lock per source so that two loads of one source never interleave their supersessions. */
function sourceLockKey(source: SourceName): number {
  return 7_425_114_000 + ['attendance', 'offending', 'employment', 'social_care', 'attachments', 'evidence'].indexOf(source);
}

/**
 * Load one file inside the caller's transaction. Identical content already loaded for the source
 * loads nothing. Otherwise rows are validated as they stream past, good rows COPYed into the raw
 * table, rejects kept; a file over its reject limit is rolled back to the savepoint taken here and
 * reported as failed, leaving the database as it was before the file.
 */
export async function loadFileInTransaction(session: DbSession, file: ExtractFile, ctx: LoadContext): Promise<FileLoadResult> {
  const started = Date.now();
  const startedAt = new Date();
  const size = await fileSize(file);
  // Where the time went (for the log: what to look at when a load is slow).
  const phaseMs: Record<string, number> = {};
  let phaseStart = Date.now();
  const phase = (name: string) => {
    const now = Date.now();
    phaseMs[name] = now - phaseStart;
    phaseStart = now;
  };
  const log = ctx.logger.child({ source: file.source, file: file.displayName });
  const base = {
    source: file.source,
    file: file.displayName,
    sizeBytes: size,
    rejectsByKind: {},
    superseded: [],
    ignoredColumns: [],
  };
  const k = session.kysely;
  await sql`SELECT pg_advisory_xact_lock(${sourceLockKey(file.source)})`.execute(k);

  // Content identical to a file already loaded loads nothing. Only a file of the same size can
  // be identical: then the file is hashed first; otherwise it is hashed as it is read (one pass
  // over the file instead of two, which saved about half a second per million rows).
  let sha256: string | undefined;
  const sameSize = await k
    .selectFrom('audit.input_file')
    .select('file_id')
    .where('source', '=', file.source)
    .where('size_bytes', '=', size)
    .executeTakeFirst();
  if (sameSize) {
    sha256 = (await hashFile(file.path)).sha256;
    phase('hash');
    const existing = await k
      .selectFrom('audit.input_file as f')
      .leftJoin('audit.file_supersession as s', 's.file_id', 'f.file_id')
      .select(['f.file_id', 'f.rows_read', 'f.rows_loaded', 'f.rows_rejected', 's.superseded_by'])
      .where('f.source', '=', file.source)
      .where('f.sha256', '=', sha256)
      .executeTakeFirst();
    if (existing) {
      const message =
        existing.superseded_by == null
          ? `identical to file #${existing.file_id}, already loaded: nothing loaded again`
          : `identical to file #${existing.file_id}, which file #${existing.superseded_by} has since replaced: nothing loaded`;
      log.info({ fileId: existing.file_id, sha256 }, message);
      return {
        ...base,
        sha256,
        status: 'unchanged',
        fileId: existing.file_id,
        rowsRead: existing.rows_read,
        rowsLoaded: existing.rows_loaded,
        rowsRejected: existing.rows_rejected,
        message,
        durationMs: Date.now() - started,
      };
    }
  }
  const hashWhileReading = sha256 === undefined ? createHash('sha256') : undefined;
  const { rows: idRows } = await sql<{ id: number }>`SELECT nextval(pg_get_serial_sequence('audit.input_file', 'file_id'))::int AS id`.execute(k);
  const fileId = idRows[0]!.id;
  const mapping = file.mapping?.mapping;
  const maxFraction = ctx.maxRejectFraction ?? mapping?.max_reject_fraction ?? DEFAULT_MAX_REJECT_FRACTION;
  const spill = await RejectSpill.create();
  const task = ctx.progress.start(`${file.source}`, { unit: 'rows' });
  const columns = columnNames(file.source);
  let rowsRead = 0;
  let rowsRejected = 0;
  let ignoredColumns: string[] = [];

  await session.exec('SAVEPOINT tfclaims_file');
  try {
    if (size === 0) {
      throw new InputRejectedError(file.displayName, `${file.displayName} is empty (0 bytes)`, {
        hint: `expected a header row and data rows of the ${file.source} extract; re-export it`,
      });
    }
    const delimiter = mapping?.delimiter ?? ',';
    const recode = recodeMaps(mapping);
    const cellContext = { dateFormat: mapping?.date_format ?? 'auto', today: ctx.today } as const;
    const seen = SeenIds.forFileOf(size);
    const recordIdIndex = columns.indexOf('record_id');
    let layout: HeaderLayout | undefined;
    let validate: RowValidator | undefined;
    let rows: CopyRows | undefined;
    // Records arrive synchronously from the scanner; their rejects are stored after each chunk.
    let pending: { line: number; problems: RowProblem[] }[] = [];

    const onRecord: RecordHandler = (scanner, bytes, line, _lineSpan, fields) => {
      if (layout === undefined) {
        layout = resolveHeader(file.source, scanner.cells(bytes, fields), mapping, file.displayName);
        ignoredColumns = layout.ignored;
        if (layout.ignored.length > 0) log.warn({ ignoredColumns: layout.ignored }, 'columns that match no canonical column are ignored');
        validate = compileRowValidator(file.source, layout.positions, cellContext, recode);
        rows = new CopyRows({
          source: file.source,
          positions: layout.positions,
          ctx: cellContext,
          recode,
          fileId,
          onRecordId: { bytes: (b, from, to) => seen.addBytes(b, from, to), text: (id) => seen.add(id) },
        });
        return;
      }
      rowsRead++;
      if (fields !== layout.width) {
        pending.push({
          line,
          problems: [
            {
              column: null,
              value: null,
              reason: `row has ${fields} fields but the header has ${layout.width} (a comma inside an unquoted value?)`,
              kind: 'wrong number of fields',
            },
          ],
        });
        return;
      }
      if (rows!.writeRecord(scanner, bytes, line)) return;
      // Not plainly valid: the row validator decides, and says why when it is not.
      const result = validate!(scanner.cells(bytes, fields));
      if (result.ok) {
        seen.add(result.values[recordIdIndex] as string);
        rows!.writeValues(line, result.values);
      } else pending.push({ line, problems: result.problems });
    };

    const reject = async (line: number, problems: RowProblem[]) => {
      rowsRejected++;
      for (const problem of problems) {
        await spill.add(fileId, ctx.runId, file.source, line, problem);
        await ctx.rejectsCsv?.add(file.source, file.displayName, line, problem);
      }
    };

    async function* copyChunks(): AsyncGenerator<Uint8Array> {
      let counted = 0;
      const readOptions = { delimiter, encoding: mapping?.encoding ?? 'utf-8', displayName: file.displayName, ...(hashWhileReading ? { hash: hashWhileReading } : {}) } as const;
      for await (const bytesRead of scanCsvFile(file.path, readOptions, onRecord)) {
        const batch = pending;
        pending = [];
        for (const r of batch) await reject(r.line, r.problems);
        if (rowsRead > counted) {
          task.setTotal(Math.round((rowsRead * size) / Math.max(bytesRead, 1)));
          task.tick(rowsRead - counted);
          counted = rowsRead;
        }
        if (rows) yield* rows.take();
      }
      if (rows) yield* rows.finish();
    }

    phase('prepare');
    await session.copyFrom(`COPY raw.${file.source} (file_id, line, ${columns.join(', ')})`, copyChunks());
    phase('copy');
    sha256 ??= hashWhileReading!.digest('hex');
    if (layout === undefined) {
      throw new InputRejectedError(file.displayName, `${file.displayName} has no header row (the file holds only blank lines)`, {
        hint: `expected a header row and data rows of the ${file.source} extract; re-export it`,
      });
    }
    log.debug({ fastRows: rows!.fastRows, checkedRows: rows!.slowRows }, 'rows copied');

    // A record_id seen again in the same file: the later rows are rejects (extracts.md). The
    // filter names the few ids that may repeat; the database says which really do.
    if (seen.candidates.size > 0) {
      const repeats = await sql<{ line: number; record_id: string }>`
        SELECT line, record_id FROM raw.${sql.raw(file.source)}
        WHERE file_id = ${fileId} AND record_id = ANY(${[...seen.candidates]}::text[])
        ORDER BY record_id, line`.execute(k);
      const firstLine = new Map<string, number>();
      const later: { line: number; record_id: string; first_line: number }[] = [];
      for (const row of repeats.rows) {
        const first = firstLine.get(row.record_id);
        if (first === undefined) firstLine.set(row.record_id, row.line);
        else later.push({ ...row, first_line: first });
      }
      later.sort((a, b) => a.line - b.line);
      if (later.length > 0) {
        await sql`DELETE FROM raw.${sql.raw(file.source)} WHERE file_id = ${fileId} AND line = ANY(${later.map((d) => d.line)}::int[])`.execute(k);
      }
      for (const d of later) {
        await reject(d.line, [
          {
            column: 'record_id',
            value: d.record_id,
            reason: `record_id ${d.record_id} already appears on line ${d.first_line}; the later row is rejected`,
            kind: 'duplicate record_id',
          },
        ]);
      }
    }
    task.done();
    phase('duplicates');

    const rowsLoaded = rowsRead - rowsRejected;
    const rejectsByKind = Object.fromEntries(spill.byKind);
    if (rowsRead > 0 && rowsRejected / rowsRead > maxFraction) {
      const percent = ((rowsRejected / rowsRead) * 100).toFixed(1);
      throw new InputRejectedError(
        file.displayName,
        `${file.displayName}: ${rowsRejected} of ${rowsRead} rows rejected (${percent}%), over the ${(maxFraction * 100).toFixed(1)}% allowed for ${file.source}; nothing from this file was loaded`,
        {
          hint: `${ctx.rejectsCsv ? `read ${ctx.rejectsCsv.path}` : 'load it again with --out DIR to get rejects.csv'} for each row's reason; fix the export (or its column mapping) and load again, or raise the limit with --max-reject-fraction`,
        },
      );
    }
    if (rowsRead === 0) log.warn('the file has a header but no data rows');

    await k
      .insertInto('audit.input_file')
      .values({
        file_id: fileId,
        run_id: ctx.runId,
        source: file.source,
        file_name: file.displayName,
        sha256,
        size_bytes: size,
        rows_read: rowsRead,
        rows_loaded: rowsLoaded,
        rows_rejected: rowsRejected,
        mapping: file.mapping ? JSON.stringify({ path: file.mapping.path, ...file.mapping.mapping }) : null,
        mapping_sha256: file.mapping?.sha256 ?? null,
        started_at: startedAt,
      } as never)
      .execute();
    if (spill.rows > 0) await session.copyFrom('COPY audit.reject (file_id, run_id, source, line, column_name, value, reason)', spill.read());
    const superseded = await sql<{ file_id: number }>`
      INSERT INTO audit.file_supersession (file_id, superseded_by, run_id, reason)
      SELECT c.file_id, ${fileId}, ${ctx.runId}, 'replaced by a newer ' || c.source || ' extract'
      FROM audit.current_file c
      WHERE c.source = ${file.source} AND c.file_id <> ${fileId}
      RETURNING file_id`.execute(k);
    await session.exec('RELEASE SAVEPOINT tfclaims_file');
    phase('provenance');
    const result: FileLoadResult = {
      ...base,
      sha256,
      status: 'loaded',
      fileId,
      rowsRead,
      rowsLoaded,
      rowsRejected,
      rejectsByKind,
      superseded: superseded.rows.map((r) => r.file_id),
      ignoredColumns,
      durationMs: Date.now() - started,
    };
    log.info(
      { fileId, sha256, rowsRead, rowsLoaded, rowsRejected, rejectsByKind, superseded: result.superseded, durationMs: result.durationMs, phaseMs },
      'file loaded',
    );
    return result;
  } catch (error) {
    task.cancel();
    await session.exec('ROLLBACK TO SAVEPOINT tfclaims_file');
    await session.exec('RELEASE SAVEPOINT tfclaims_file');
    if (!(error instanceof InputRejectedError)) throw error;
    log.warn({ rowsRead, rowsRejected, reason: error.message }, 'file failed');
    // A file that failed part-way was not hashed whole as it was read.
    sha256 ??= await hashFile(file.path).then((h) => h.sha256, () => '');
    return {
      ...base,
      sha256,
      status: 'failed',
      rowsRead,
      rowsLoaded: 0,
      rowsRejected,
      rejectsByKind: Object.fromEntries(spill.byKind),
      ignoredColumns,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
      durationMs: Date.now() - started,
    };
  } finally {
    await spill.dispose();
  }
}
