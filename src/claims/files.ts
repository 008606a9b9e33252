import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, chmod } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../errors.ts';
import { spreadsheetSafe } from '../util/spreadsheet.ts';

/**
 * Files of the claims stage: written under a temporary name in the same folder, flushed to disk,
 * then renamed over the final name, so a reader (or a run killed half way) sees the old file or
 * the new one, never part of one. See docs/claims.md.
 */

/** Columns of `claim-<window>.csv` (cli-contract.md): exactly these, in this order. */
export const CLAIM_CSV_COLUMNS = ['window', 'family_id', 'case_ref', 'route', 'attached_on', 'outcome_date', 'problems_at_entry', 'amount_gbp'] as const;

/** A window id names files, so it is restricted: letters, digits, `.`, `_`, `-`, not starting with a dot. */
export const WINDOW_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkWindow(window: string): string {
  if (!WINDOW_PATTERN.test(window)) {
    throw new UsageError(`claim window id ${JSON.stringify(window)} is not usable`, {
      hint: 'use letters, digits, dots, underscores and hyphens (at most 64, not starting with a dot or hyphen), e.g. 2026-Q3',
    });
  }
  return window;
}

export const claimCsvName = (window: string) => `claim-${window}.csv`;
export const claimSummaryName = (window: string) => `claim-${window}-summary.json`;
/** The auditor's folder: its name says it holds personal data. */
export const evidencePackDirName = (window: string) => `audit-${window}-PERSONAL`;

/** One line of a claim as the CSV shows it (values as stored; made spreadsheet-safe on writing). */
export interface ClaimCsvLine {
  familyId: number;
  caseRef: string;
  route: string;
  attachedOn: string;
  outcomeDate: string;
  problemsAtEntry: string[];
  amountGbp: string;
}

/**
 * The claim CSV's text. Every text cell goes through `spreadsheetSafe` (a case_ref `=HYPERLINK(..)`
 * is written `'=HYPERLINK(..)`: shown as text, still recognisable). Lines in the order given.
 */
export function claimCsv(window: string, lines: readonly ClaimCsvLine[]): string {
  const rows = lines.map((l) => [
    spreadsheetSafe(window),
    String(l.familyId),
    spreadsheetSafe(l.caseRef),
    spreadsheetSafe(l.route),
    l.attachedOn,
    l.outcomeDate,
    spreadsheetSafe(l.problemsAtEntry.join(';')),
    l.amountGbp,
  ]);
  return stringify(rows, { header: true, columns: [...CLAIM_CSV_COLUMNS], record_delimiter: '\n' });
}

/** Test-only hook (docs/claims.md): pause while the claim CSV is half written, so a test can kill the process there. */
async function testPauseHook(finalPath: string): Promise<void> {
  const marker = process.env.TFCLAIMS_TEST_PAUSE_CLAIM_WRITE;
  if (!marker || !path.basename(finalPath).startsWith('claim-') || !finalPath.endsWith('.csv')) return;
  const fh = await open(marker, 'w');
  await fh.writeFile(`${process.pid}\n`);
  await fh.close();
  // Wait to be killed (never returns in a test; a stray use would hang, so it is loud in the name).
  await new Promise(() => {});
}

/** A file written under a temporary name, ready to be renamed into place. */
export interface StagedFile {
  /** The final path. */
  path: string;
  tmp: string;
}

/**
 * Write `text` to a temporary file next to `file` (mode `mode`), flushed to disk. Call
 * `publish` to rename it into place, or `discard` to remove it.
 */
export async function stageFile(file: string, text: string, mode = 0o644): Promise<StagedFile> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.chmod(mode);
    const bytes = Buffer.from(text, 'utf8');
    const half = Math.floor(bytes.length / 2);
    await fh.write(bytes, 0, half);
    await fh.sync();
    await testPauseHook(file);
    await fh.write(bytes, half, bytes.length - half);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { path: file, tmp };
}

/** Rename staged files into place (each rename is atomic), then flush the folder entries. */
export async function publish(files: readonly StagedFile[]): Promise<void> {
  for (const f of files) await rename(f.tmp, f.path);
  const dirs = new Set(files.map((f) => path.dirname(f.path)));
  for (const d of dirs) {
    try {
      const fh = await open(d, 'r');
      await fh.sync().catch(() => {});
      await fh.close();
    } catch {
      // a folder cannot be opened for sync on every platform: the renames stand regardless
    }
  }
}

export async function discard(files: readonly StagedFile[]): Promise<void> {
  await Promise.all(files.map((f) => rm(f.tmp, { force: true })));
}

/** Write one file atomically (stage, then rename). */
export async function writeAtomically(file: string, text: string, mode = 0o644): Promise<void> {
  await publish([await stageFile(file, text, mode)]);
}

/** Remove temporary files an earlier killed run left next to this window's claim files. */
export async function removeStaleTemporaries(dir: string, window: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const prefixes = [`.${claimCsvName(window)}.tmp-`, `.${claimSummaryName(window)}.tmp-`];
  const stale = names.filter((n) => prefixes.some((p) => n.startsWith(p)));
  await Promise.all(stale.map((n) => rm(path.join(dir, n), { force: true })));
  return stale.length;
}

/** An owner-only folder (0700) for personal data. */
export async function ownerOnlyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Pence -> `800.00`. */
export function gbp(pence: number): string {
  const sign = pence < 0 ? '-' : '';
  const p = Math.abs(pence);
  return `${sign}${Math.floor(p / 100)}.${String(p % 100).padStart(2, '0')}`;
}

/** `800.00` (a numeric from the database) -> pence. */
export function pence(amount: string | number): number {
  return Math.round(Number(amount) * 100);
}
