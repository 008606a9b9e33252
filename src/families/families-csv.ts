import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { stringify } from 'csv-stringify';
import { sql } from 'kysely';
import { cursorPages } from '../db/cursor.ts';
import type { Database } from '../db/index.ts';
import { currentPersonRecordsSql } from '../link/records.ts';
import { spreadsheetSafe } from '../util/spreadsheet.ts';

/** Header of `families.csv` (cli-contract.md). */
export const FAMILIES_CSV_COLUMNS = ['family_id', 'case_ref', 'person_id', 'source', 'record_id'] as const;

/** Rows fetched from the cursor at a time: bounded memory at any scale. */
const FETCH_ROWS = 20_000;

/**
 * Write `OUT/families.csv`: every record of the current extracts that is in a family, as
 * `family_id,case_ref,person_id,source,record_id`, ordered by family, person, source and record.
 * Ids only (no personal data). Written to a temporary name and renamed, so the file is either the
 * whole answer or absent. Returns the number of rows.
 */
export async function writeFamiliesCsv(db: Database, outDir: string): Promise<{ file: string; rows: number }> {
  const file = path.join(outDir, 'families.csv');
  const partial = `${file}.partial`;
  const currentRecords = currentPersonRecordsSql('record_id');
  let rows = 0;
  const out = createWriteStream(partial);
  const csv = stringify({ header: true, columns: [...FAMILIES_CSV_COLUMNS] });
  csv.pipe(out);
  try {
    await db.transaction(async (session) => {
      const k = session.kysely;
      const placed = sql`
        SELECT m.family_id::text AS family_id, COALESCE(m.case_ref, '') AS case_ref, pr.person_id::text AS person_id, pr.source, pr.record_id
        FROM (${sql.raw(currentRecords)}) r
        JOIN core.person_record pr ON pr.source = r.source AND pr.record_id = r.record_id
        JOIN core.current_family_member m ON m.person_id = pr.person_id
        ORDER BY m.family_id, pr.person_id, pr.source, pr.record_id`;
      type Placed = { family_id: string; case_ref: string; person_id: string; source: string; record_id: string };
      for await (const page of cursorPages<Placed>(k, 'families_out', placed, FETCH_ROWS)) {
        for (const r of page) {
          if (!csv.write([r.family_id, spreadsheetSafe(r.case_ref), r.person_id, r.source, spreadsheetSafe(r.record_id)])) await once(csv, 'drain');
        }
        rows += page.length;
      }
    });
    csv.end();
    await once(out, 'close');
    await rename(partial, file);
  } catch (error) {
    csv.destroy();
    out.destroy();
    await rm(partial, { force: true });
    throw error;
  }
  return { file, rows };
}
