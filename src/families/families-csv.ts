import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import type { Database } from '../db/index.ts';
import { currentPersonRecordsSql } from '../link/records.ts';
import { spreadsheetSafeSql } from '../util/spreadsheet.ts';
import { useBulkSettings } from '../db/bulk-settings.ts';

/** Header of `families.csv` (cli-contract.md). */
export const FAMILIES_CSV_COLUMNS = ['family_id', 'case_ref', 'person_id', 'source', 'record_id'] as const;

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
  // CSV written by PostgreSQL itself (COPY ... TO, header included), straight to the file: the
  // rows never become objects. An empty case reference is NULL, so it is written as nothing, not "".
  const placed = `
    SELECT m.family_id AS family_id, ${spreadsheetSafeSql("NULLIF(m.case_ref, '')")} AS case_ref, pr.person_id AS person_id,
           pr.source AS source, ${spreadsheetSafeSql('pr.record_id')} AS record_id
    FROM (${currentRecords}) r
    JOIN core.person_record pr ON pr.source = r.source AND pr.record_id = r.record_id
    JOIN core.current_family_member m ON m.person_id = pr.person_id
    ORDER BY m.family_id, pr.person_id, pr.source, pr.record_id`;
  let rows = 0;
  try {
    await db.transaction(async (session) => {
      // Every current record is placed, so the planner's guess of a few thousand rows (it cannot
      // see that each union branch's source matches) picked 1.9M index lookups at 1x: hash joins
      // and an in-memory sort took half the time.
      await useBulkSettings(session);
      await session.exec('SET LOCAL enable_nestloop = off');
      // One core: `run` writes this file while the rules stage works on the other, and a parallel
      // worker here slowed the rules more than it sped this up (1x: the rules 18.6 -> 17.2 s,
      // this file 4.4 -> 4.8 s).
      await session.exec('SET LOCAL max_parallel_workers_per_gather = 0');
      // Lines are counted outside quotes: a quoted value may hold a line break.
      let quoted = false;
      async function* counted(chunks: AsyncIterable<Uint8Array>) {
        for await (const chunk of chunks) {
          for (let i = 0; i < chunk.length; i++) {
            const byte = chunk[i]!;
            if (byte === 34) quoted = !quoted;
            else if (byte === 10 && !quoted) rows++;
          }
          yield chunk;
        }
      }
      await pipeline(counted(session.copyTo(placed, '(FORMAT csv, HEADER)')), createWriteStream(partial));
    });
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  // The header line is not a row.
  rows = Math.max(0, rows - 1);
  return { file, rows };
}
