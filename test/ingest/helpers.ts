import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Database } from '../../src/db/index.ts';
import { extractFromArgs, ingestExtracts, type IngestOptions, type IngestSummary } from '../../src/ingest/index.ts';
import type { SourceName } from '../../src/ingest/sources.ts';
import { testRun } from '../support/run.ts';

/** Fixed "today" so that date-of-birth-in-the-future checks do not depend on the clock. */
export const TODAY = '2026-11-22';

/** Write a file from text (exact bytes: no trailing newline added) or bytes. */
export async function writeRaw(dir: string, name: string, content: string | Buffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

/** Ingest files through `ingestExtracts` as one run; returns the summary and the run id. */
export async function ingest(
  db: Database,
  files: { source: SourceName; file: string; mapping?: string }[],
  opts: Omit<IngestOptions, 'files'> = {},
): Promise<{ summary: IngestSummary; runId: number }> {
  const ctx = await testRun(db);
  const extracts = [];
  for (const f of files) extracts.push(await extractFromArgs(f.source, f.file, f.mapping));
  const summary = await ingestExtracts(ctx, { files: extracts, today: TODAY, ...opts });
  return { summary, runId: ctx.runId };
}

/** Ingest one file expecting it to load (rejects allowed up to `maxRejectFraction`, default: any). */
export async function ingestLoaded(
  db: Database,
  source: SourceName,
  file: string,
  opts: Omit<IngestOptions, 'files'> & { mapping?: string } = {},
): Promise<{ summary: IngestSummary; fileId: number; runId: number }> {
  const { mapping, ...rest } = opts;
  const { summary, runId } = await ingest(db, [mapping ? { source, file, mapping } : { source, file }], { maxRejectFraction: 1, ...rest });
  expect(summary.files).toHaveLength(1);
  expect(summary.files[0]!.status).toBe('loaded');
  return { summary, fileId: summary.files[0]!.fileId!, runId };
}

export interface RejectRow {
  line: number;
  column_name: string | null;
  value: string | null;
  reason: string;
}

/** Rejects of one file, in line order. */
export async function rejectsOf(db: Database, fileId: number): Promise<RejectRow[]> {
  const { rows } = await sql<RejectRow>`
    SELECT line, column_name, value, reason FROM audit.reject WHERE file_id = ${fileId} ORDER BY line, reject_id`.execute(db.kysely);
  return rows;
}

/** Rows of a raw table for one file, in line order, with the given columns. */
export async function rawRows<T = Record<string, unknown>>(db: Database, source: SourceName, fileId: number, columns: string[]): Promise<T[]> {
  const { rows } = await sql<T>`
    SELECT ${sql.raw(columns.join(', '))} FROM raw.${sql.raw(source)} WHERE file_id = ${fileId} ORDER BY line`.execute(db.kysely);
  return rows;
}

/** The audit.input_file row of a file. */
export async function inputFile(db: Database, fileId: number) {
  return db.kysely.selectFrom('audit.input_file').selectAll().where('file_id', '=', fileId).executeTakeFirstOrThrow();
}

/** Row counts of every table in the raw and audit schemas: a fingerprint of "what is loaded". */
export async function tableCounts(db: Database): Promise<Record<string, number>> {
  const { rows: tables } = await sql<{ name: string }>`
    SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
    WHERE table_schema IN ('raw', 'audit') AND table_type = 'BASE TABLE' ORDER BY 1`.execute(db.kysely);
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.raw(name)}`.execute(db.kysely);
    counts[name] = rows[0]!.n;
  }
  return counts;
}

/** Base attendance columns for a valid term row. */
export function term(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    term_start: '2024-09-02',
    term_end: '2024-12-20',
    school_urn: '100001',
    sessions_possible: '140',
    sessions_authorised: '10',
    sessions_unauthorised: '5',
    fixed_exclusions: '1',
    permanent_exclusion: 'N',
    alternative_provision: 'Y',
    ...overrides,
  };
}
