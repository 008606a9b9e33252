import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Database, DbSession } from '../db/index.ts';
import { JobError } from '../errors.ts';

/** A file a run wrote, as `audit.output_file` records it. */
export interface OutputRecord {
  outputId: number;
  path: string;
  sha256: string;
  sizeBytes: number;
}

/** SHA-256 (lower-case hex) and size of a file, read as a stream (claim files can be large). */
export async function hashFile(file: string): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

/**
 * Register a file the current run wrote (call it once the file is complete and closed): its
 * SHA-256 and size go into `audit.output_file`, and the run's end seal covers them, so
 * `tfclaims audit check-chain` and `sha256sum` can later show the file is the one the run wrote.
 *
 * `kind` says what the file is (`claim`, `claim_summary`, `families`, `rejects`, `evidence_pack`...).
 * Pass `session` when calling inside a transaction (on the embedded database the pool would
 * wait for that transaction); the row then commits or rolls back with it. A run that has ended
 * is sealed: registering a file for it is refused.
 */
export async function recordOutput(
  run: { runId: number; db: Database },
  file: string,
  opts: { kind: string; session?: DbSession },
): Promise<OutputRecord> {
  const { sha256, sizeBytes } = await hashFile(file);
  const where = path.resolve(file);
  const k = opts.session?.kysely ?? run.db.kysely;
  const { rows } = await sql<{ output_id: number }>`
    INSERT INTO audit.output_file (run_id, kind, path, sha256, size_bytes)
    SELECT ${run.runId}, ${opts.kind}, ${where}, ${sha256}, ${sizeBytes}
    WHERE NOT EXISTS (SELECT 1 FROM audit.run_end e WHERE e.run_id = ${run.runId})
    RETURNING output_id`.execute(k);
  if (rows.length === 0) {
    throw new JobError(`run ${run.runId} has ended and is sealed: ${path.basename(file)} cannot be added to its outputs`);
  }
  return { outputId: rows[0]!.output_id, path: where, sha256, sizeBytes };
}
