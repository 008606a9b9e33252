import { matchPeople, type MatchOptions, type MatchSummary } from '../../src/link/stage.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { silentProgress } from '../../src/log/progress.ts';
import type { Database } from '../../src/db/index.ts';
import type { RunContext } from '../../src/run/context.ts';

/** Record a run in `audit.run` and return a context for calling stage functions directly. */
export async function testRun(db: Database, command = 'test'): Promise<RunContext> {
  const row = await db.kysely
    .insertInto('audit.run')
    .values({ command, args: '{}', operator: 'test', code_version: 'test' })
    .returning('run_id')
    .executeTakeFirstOrThrow();
  return { runId: row.run_id, db, logger: silentLogger(), progress: silentProgress, logFile: '' };
}

/**
 * The match stage in one transaction under a run recorded first. The run is recorded before the
 * transaction opens: PGlite has one connection, so a query outside an open transaction waits for it.
 */
export async function matchInTransaction(db: Database, opts: MatchOptions = {}): Promise<MatchSummary> {
  const ctx = await testRun(db, 'match');
  return db.transaction((session) => matchPeople(session, ctx, opts));
}
