import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { columnNames, type SourceName } from '../../src/ingest/sources.ts';

/** A temporary folder removed after the test file. */
export async function tempDir(prefix = 'tfclaims-t-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Quote a CSV cell when it needs it (RFC 4180). */
export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Write rows (objects keyed by canonical column) as a canonical extract; missing keys are blank. */
export async function writeExtract(
  dir: string,
  source: SourceName,
  rows: Record<string, string>[],
  opts: { name?: string; header?: string[]; bom?: boolean } = {},
): Promise<string> {
  const header = opts.header ?? columnNames(source);
  const lines = [header.join(','), ...rows.map((r) => header.map((h) => csvCell(r[h] ?? '')).join(','))];
  const file = path.join(dir, opts.name ?? `${source}.csv`);
  await writeFile(file, `${opts.bom ? '\uFEFF' : ''}${lines.join('\n')}\n`);
  return file;
}

/** A valid person block for any extract (fictional). */
export function person(n: number): Record<string, string> {
  return {
    record_id: `R${n}`,
    person_ref: `P${n}`,
    forename: `Forename${n}`,
    surname: `Surname${n}`,
    dob: '2012-03-04',
    sex: 'F',
    address: `${n} Example Road`,
    postcode: 'SE15 5AB',
    uprn: String(100000 + n),
  };
}
