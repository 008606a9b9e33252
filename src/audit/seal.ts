import { sql } from 'kysely';
import type { Database, DbSession } from '../db/index.ts';
import { JobError } from '../errors.ts';
import { canonicalJson, GENESIS_HASH, sealHash } from './canonical.ts';

/**
 * Writing the run chain (the database half; the hashing is in canonical.ts). A run is sealed
 * twice: when it starts, in the transaction that records `audit.run`, so even a run killed
 * midway is in the chain; and when it ends, in the transaction that records `audit.run_end`, so
 * its end, the files it loaded and wrote, and its rules evaluations are covered too. What a seal
 * holds is `audit.seal_content()` (migration 0006), the one definition sealing, checking and
 * auditors' SQL all use.
 */

/**
 * Advisory lock held (for one transaction) while a seal is appended: two runs ending at once
 * take turns, so each links to the other's seal instead of both linking to the same one. The
 * table's unique prev_hash would refuse a fork anyway; the lock makes the second wait instead of fail.
 */
export const CHAIN_LOCK_KEY = 7_425_115_001;

/** The version of audit.seal_content() new seals are made with (stored in the content as `v`). */
export const SEAL_VERSION = 1;

/** A seal's place in the chain. */
export interface Seal {
  seq: number;
  hash: string;
}

/** Append the seal of one run's start or end, inside the caller's transaction. */
export async function appendSeal(s: DbSession, runId: number, kind: 'start' | 'end'): Promise<Seal> {
  const k = s.kysely;
  await sql`SELECT pg_advisory_xact_lock(${CHAIN_LOCK_KEY})`.execute(k);
  const last = await sql<{ seq: number; hash: string }>`SELECT seq, hash FROM audit.run_seal ORDER BY seq DESC LIMIT 1`.execute(k);
  const seq = (last.rows[0]?.seq ?? 0) + 1;
  const prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
  const built = await sql<{ content: unknown }>`
    SELECT audit.seal_content(${runId}::bigint, ${kind}::text, ${seq}::bigint, ${SEAL_VERSION}::integer) AS content`.execute(k);
  const value = built.rows[0]?.content;
  if (value === null || value === undefined) throw new JobError(`cannot seal run ${runId}: its record is not in audit.run`);
  const content = canonicalJson(value);
  const hash = sealHash(prevHash, content);
  await sql`INSERT INTO audit.run_seal (seq, run_id, kind, content, prev_hash, hash)
            VALUES (${seq}, ${runId}, ${kind}, ${content}, ${prevHash}, ${hash})`.execute(k);
  return { seq, hash };
}

/** What `audit.run` records about a run when it starts. */
export interface RunStart {
  command: string;
  /** The arguments as JSON text. */
  args: string;
  operator: string;
  codeVersion: string;
}

/** Record a run's start and seal it, in one transaction: a run is never recorded without its seal. */
export async function recordRunStart(db: Database, start: RunStart): Promise<{ runId: number; seal: Seal }> {
  return db.transaction(async (s) => {
    const run = await s.kysely
      .insertInto('audit.run')
      .values({ command: start.command, args: start.args, operator: start.operator, code_version: start.codeVersion })
      .returning('run_id')
      .executeTakeFirstOrThrow();
    return { runId: run.run_id, seal: await appendSeal(s, run.run_id, 'start') };
  });
}

/** How a run ended. */
export interface RunEnd {
  status: 'succeeded' | 'failed';
  exitCode: number;
  /** The summary as JSON text. */
  summary: string;
}

/** Record a run's end and seal it (with everything the run loaded, wrote and evaluated), in one transaction. */
export async function recordRunEnd(db: Database, runId: number, end: RunEnd): Promise<Seal> {
  return db.transaction(async (s) => {
    await s.kysely
      .insertInto('audit.run_end')
      .values({ run_id: runId, status: end.status, exit_code: end.exitCode, summary: end.summary })
      .execute();
    return appendSeal(s, runId, 'end');
  });
}
