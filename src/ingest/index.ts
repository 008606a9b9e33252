import { access, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputRejectedError, UsageError } from '../errors.ts';
import type { RunContext } from '../run/context.ts';
import { loadFileInTransaction, type ExtractFile, type FileLoadResult } from './load.ts';
import { loadMapping } from './mapping.ts';
import { RejectsCsv } from './rejects.ts';
import { SOURCES, isSource, type SourceName } from './sources.ts';

export { SOURCES, SOURCE_COLUMNS, rowSchema, compileRowValidator, parseCell, type SourceName } from './sources.ts';
export { ColumnMappingSchema, loadMapping, type ColumnMapping } from './mapping.ts';
export { DEFAULT_MAX_REJECT_FRACTION, type ExtractFile, type FileLoadResult } from './load.ts';
export { REJECTS_CSV_COLUMNS } from './rejects.ts';

/** Counts of one ingest (per file, plus totals). Carries no personal data. */
export interface IngestSummary {
  files: FileLoadResult[];
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  rejectsFile?: string;
}

/** Raised when one or more files failed; the database is as it was before the ingest. */
export class IngestFailedError extends InputRejectedError {
  readonly summary: IngestSummary;
  constructor(summary: IngestSummary) {
    const failed = summary.files.filter((f) => f.status === 'failed');
    super(
      failed[0]?.file ?? '',
      failed.length === 1 ? failed[0]!.message ?? 'file failed' : `${failed.length} files failed:\n  ${failed.map((f) => f.message).join('\n  ')}`,
      { hint: summary.files.length > 1 ? 'nothing from this run was loaded; fix the files named and run again' : failed[0]?.hint },
    );
    this.summary = summary;
  }
}

export interface IngestOptions {
  files: ExtractFile[];
  /** Folder for rejects.csv; none = rejects are kept only in the database. */
  outDir?: string;
  /** Default largest share of rejected rows per file (a mapping may set its own). */
  maxRejectFraction?: number;
  /** Today's date, ISO (a date of birth after it is rejected); defaults to the real date. */
  today?: string;
}

/** The mapping file that `run` uses for an extract when one lies beside it: `offending.mapping.yaml`. */
const MAPPING_SUFFIXES = ['.mapping.yaml', '.mapping.yml', '.mapping.json'];

/**
 * Find the extracts in a folder: `attendance.csv`, `offending.csv`, ... (each optional), each
 * with its column mapping if one lies beside it.
 */
export async function discoverExtracts(dir: string): Promise<ExtractFile[]> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new UsageError(`--extracts ${dir} is not a folder`, { hint: 'give the folder that holds attendance.csv, offending.csv, ...' });
  }
  const files: ExtractFile[] = [];
  for (const source of SOURCES) {
    const file = path.join(dir, `${source}.csv`);
    if (!(await exists(file))) continue;
    let mapping;
    for (const suffix of MAPPING_SUFFIXES) {
      const candidate = path.join(dir, `${source}${suffix}`);
      if (await exists(candidate)) {
        mapping = await loadMapping(candidate, source);
        break;
      }
    }
    files.push(mapping ? { source, path: file, displayName: file, mapping } : { source, path: file, displayName: file });
  }
  return files;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Check a SOURCE FILE pair from the command line and load its mapping, if any. */
export async function extractFromArgs(source: string, file: string, mappingPath?: string): Promise<ExtractFile> {
  if (!isSource(source)) {
    throw new UsageError(`unknown source "${source}"`, { hint: `SOURCE is one of ${SOURCES.join(', ')}` });
  }
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`${file} is not a file`, { hint: 'check the path of the extract' });
  const mapping = mappingPath ? await loadMapping(mappingPath, source as SourceName) : undefined;
  return mapping ? { source, path: file, displayName: file, mapping } : { source, path: file, displayName: file };
}

/**
 * Load extracts in one transaction: every file validated and loaded, or (when any file is
 * rejected) none, leaving the database as it was. rejects.csv is written either way, so the
 * data officer can see why.
 */
export async function ingestExtracts(ctx: RunContext, opts: IngestOptions): Promise<IngestSummary> {
  const rejectsCsv = opts.outDir ? await openRejects(opts.outDir) : undefined;
  const results: FileLoadResult[] = [];
  const summary = (): IngestSummary => ({
    files: results,
    rowsRead: sum(results.filter((r) => r.status !== 'unchanged'), 'rowsRead'),
    rowsLoaded: sum(results.filter((r) => r.status === 'loaded'), 'rowsLoaded'),
    rowsRejected: sum(results.filter((r) => r.status !== 'unchanged'), 'rowsRejected'),
    ...(rejectsCsv ? { rejectsFile: rejectsCsv.path } : {}),
  });
  try {
    await ctx.db.transaction(async (session) => {
      for (const file of opts.files) {
        const result = await loadFileInTransaction(session, file, {
          runId: ctx.runId,
          logger: ctx.logger.child({ stage: 'ingest' }),
          progress: ctx.progress,
          ...(rejectsCsv ? { rejectsCsv } : {}),
          today: opts.today ?? new Date().toISOString().slice(0, 10),
          ...(opts.maxRejectFraction !== undefined ? { maxRejectFraction: opts.maxRejectFraction } : {}),
        });
        results.push(result);
      }
      if (results.some((r) => r.status === 'failed')) throw new IngestFailedError(summary());
    });
  } finally {
    await rejectsCsv?.close();
    // The run's seal covers the rejects file too (written whether or not the files loaded).
    if (rejectsCsv) {
      const { recordOutput } = await import('../audit/outputs.ts');
      await recordOutput(ctx, rejectsCsv.path, { kind: 'rejects' });
    }
  }
  return summary();
}

async function openRejects(outDir: string): Promise<RejectsCsv> {
  await mkdir(outDir, { recursive: true });
  return RejectsCsv.create(path.join(outDir, 'rejects.csv'));
}

function sum(rows: FileLoadResult[], key: 'rowsRead' | 'rowsLoaded' | 'rowsRejected'): number {
  return rows.reduce((total, r) => total + r[key], 0);
}

/** Human lines describing an ingest (counts only). */
export function describeIngest(summary: IngestSummary): string[] {
  const lines = summary.files.flatMap((f) => {
    const head = `${f.source.padEnd(12)} ${f.file}`;
    if (f.status === 'unchanged') return `${head}: unchanged (${f.message})`;
    if (f.status === 'failed') return [`${head}: FAILED: ${f.message}`, ...(f.hint ? [`  what to do: ${f.hint}`] : [])];
    const kinds = Object.entries(f.rejectsByKind)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([k, n]) => `${n} ${k}`)
      .join('; ');
    const replaced = f.superseded.length > 0 ? `, replaces file #${f.superseded.join(', #')}` : '';
    return `${head}: file #${f.fileId}, ${f.rowsLoaded} of ${f.rowsRead} rows loaded, ${f.rowsRejected} rejected${kinds ? ` (${kinds})` : ''}${replaced}`;
  });
  if (summary.rejectsFile && summary.rowsRejected > 0) lines.push(`rejected rows and reasons: ${summary.rejectsFile} (holds personal data: owner-only)`);
  return lines;
}
