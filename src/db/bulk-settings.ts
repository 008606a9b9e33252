import { UsageError } from '../errors.ts';
import type { DbSession } from './types.ts';

/**
 * Memory each sort or hash of a stage's bulk statements may use before spilling to disk, for the
 * rest of the caller's transaction (`SET LOCAL`). The server's default (4 MB) is for many small
 * queries at once; a run's stages join and sort every current record (7.7M at 4x) a few times.
 * Spilled to disk, a hash join also comes out in hash order, so the rows it inserts land at
 * random in the target's indexes: writing person records at 4x took 94 s at 4 MB and 51 s at
 * 1 GB (docs/run.md, "Database memory"). The setting is a ceiling, not an allocation: small
 * councils use what they need.
 */
export const BULK_WORK_MEM = '512MB';

/** `TFCLAIMS_WORK_MEM` when set (a PostgreSQL memory size such as `256MB`), else {@link BULK_WORK_MEM}. */
export function bulkWorkMem(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.TFCLAIMS_WORK_MEM?.trim();
  if (given === undefined || given === '') return BULK_WORK_MEM;
  if (!/^\d+(kB|MB|GB)$/.test(given)) {
    throw new UsageError(`TFCLAIMS_WORK_MEM=${JSON.stringify(given)} is not a memory size`, { hint: 'give a whole number with kB, MB or GB, such as 256MB, or unset it for 512MB' });
  }
  return given;
}

/**
 * Settings for a stage's bulk statements, for the rest of the caller's transaction: sorts and
 * hashes may use {@link bulkWorkMem}, and no statement is JIT-compiled. The planner's costs for
 * statements over a run's temporary tables reach the JIT thresholds, and compiling took up to
 * 0.9 s a statement for nothing back: the 1x rules stage took 23.0 and 24.0 s with JIT, 22.1 and
 * 22.6 s without. Indexes built after a first load (loadWithIndexesAfter) sort with the same
 * memory (`maintenance_work_mem`). Call inside a transaction.
 */
export async function useBulkSettings(session: DbSession, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const memory = bulkWorkMem(env);
  await session.exec(`SET LOCAL work_mem = '${memory}'; SET LOCAL maintenance_work_mem = '${memory}'; SET LOCAL jit = off`);
}

/**
 * Parallel plans costed as the statements of one batch job deserve, for the rest of the caller's
 * transaction: no cost for starting the workers (`parallel_setup_cost`, 1000 by default) and
 * almost none for passing rows up to the leader (`parallel_tuple_cost`, 0.1). The defaults are
 * for a server running many small queries at once; a stage's statements are few, each reads
 * every current record, and one core is otherwise idle while they run. Staging a million school
 * terms at 1x (a parallel hash join and sort under the aggregate) took 4.4 and 4.6 s in `psql`,
 * against 6.0 and 6.2 s without, and the whole 1x evaluation 25.4 s against 28.9 s (three runs
 * each, by turns). Only on a server: embedded PostgreSQL starts no workers.
 */
export async function useParallelPlans(session: DbSession): Promise<void> {
  await session.exec('SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0.001');
}
