import { sql } from 'kysely';
import type { CommandReport } from '../cli/output.ts';
import { loadMigrations, openTarget, resolveDatabaseTarget, SqlState, sqlStateOf, type Database, type DbSession } from '../db/index.ts';
import { JobError, UsageError } from '../errors.ts';
import { createFileLogger } from '../log/logger.ts';
import type { CommonOptions } from '../run/context.ts';
import { describeProblem, verifyChain, type ChainReport, type SealToCheck, type StoredSeal, type UnsealedRun } from './chain.ts';
import { SEAL_VERSION } from './seal.ts';

/** The migration that brought the run chain: a database below it has nothing to check. */
export const CHAIN_MIGRATION = 6;

/** What check-chain read, besides the seals. */
export interface ChainFacts {
  seals: SealToCheck[];
  unsealed: UnsealedRun[];
  /** Runs older than the first sealed run (recorded before the chain existed). */
  runsBeforeChain: number;
  /** Runs sealed at their start with no end yet: still running, or killed. */
  runningOrInterrupted: number;
  runs: number;
}

/** The version a stored seal was made with (1 when its text is not readable: the check reports that). */
function versionOf(content: string): number {
  try {
    const v = (JSON.parse(content) as { v?: unknown }).v;
    return typeof v === 'number' && Number.isInteger(v) ? v : SEAL_VERSION;
  } catch {
    return SEAL_VERSION;
  }
}

/**
 * Read the chain and, for every seal, what its records give now, in one read-only snapshot (a
 * run ending meanwhile is either wholly in it or not at all). Reads only: an auditor's read-only
 * login can run it, and checking never extends the chain it checks.
 */
export async function readChain(db: Database): Promise<ChainFacts> {
  return db.transaction(async (s) => {
    await s.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    return readChainIn(s);
  });
}

/** readChain on a session the caller holds (its transaction, its snapshot). */
export async function readChainIn(s: DbSession): Promise<ChainFacts> {
  const k = s.kysely;
  const stored = await sql<{ seq: number; run_id: number; kind: string; content: string; prev_hash: string; hash: string }>`
    SELECT seq, run_id, kind, content, prev_hash, hash FROM audit.run_seal ORDER BY seq`.execute(k);
  const seals: StoredSeal[] = stored.rows.map((r) => ({ seq: r.seq, runId: r.run_id, kind: r.kind, content: r.content, prevHash: r.prev_hash, hash: r.hash }));
  // Each seal is recomputed with the version it was made with; nearly always one query.
  const byVersion = new Map<number, number[]>();
  for (const seal of seals) {
    const v = versionOf(seal.content);
    byVersion.set(v, [...(byVersion.get(v) ?? []), seal.seq]);
  }
  const recomputed = new Map<number, unknown>();
  for (const [v, seqs] of byVersion) {
    const { rows } = await sql<{ seq: number; content: unknown }>`
      SELECT seq, audit.seal_content(run_id, kind, seq, ${v}::integer) AS content
      FROM audit.run_seal WHERE seq = ANY(${`{${seqs.join(',')}}`}::bigint[])`.execute(k);
    for (const r of rows) recomputed.set(r.seq, r.content);
  }
  const unsealed = await sql<{ run_id: number; problem: UnsealedRun['problem'] }>`
    SELECT run_id, problem FROM audit.run_unsealed ORDER BY run_id`.execute(k);
  const counts = await sql<{ runs: number; before: number; open: number }>`
    SELECT count(*)::int AS runs,
           count(*) FILTER (WHERE r.run_id < COALESCE((SELECT min(run_id) FROM audit.run_seal), 9223372036854775807))::int AS before,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM audit.run_seal s WHERE s.run_id = r.run_id)
                              AND NOT EXISTS (SELECT 1 FROM audit.run_end e WHERE e.run_id = r.run_id))::int AS open
    FROM audit.run r`.execute(k);
  const c = counts.rows[0]!;
  return {
    seals: seals.map((seal) => ({ seal, recomputed: recomputed.get(seal.seq) ?? null })),
    unsealed: unsealed.rows.map((r) => ({ runId: r.run_id, problem: r.problem })),
    runsBeforeChain: c.before,
    runningOrInterrupted: c.open,
    runs: c.runs,
  };
}

/** Read and verify the chain. */
export async function checkChain(db: Database): Promise<ChainReport & Omit<ChainFacts, 'seals' | 'unsealed'>> {
  const facts = await readChain(db);
  const report = verifyChain(facts.seals, facts.unsealed);
  return { ...report, runsBeforeChain: facts.runsBeforeChain, runningOrInterrupted: facts.runningOrInterrupted, runs: facts.runs };
}

/**
 * The newest migration applied to a database, refusing one that a newer tfclaims migrated (its
 * records may be sealed in ways this program does not know) and one with no chain yet. Used
 * instead of migrating, so that check-chain needs no more than read access.
 */
export async function requireChainSchema(db: Database): Promise<number> {
  const latest = (await loadMigrations()).at(-1)?.version ?? 0;
  let current: number;
  try {
    const { rows } = await sql<{ v: number | null }>`SELECT max(version)::int AS v FROM tfclaims_meta.migration`.execute(db.kysely);
    current = rows[0]?.v ?? 0;
  } catch (error) {
    if (sqlStateOf(error) === SqlState.undefinedTable) current = 0;
    else throw error;
  }
  if (current > latest) {
    throw new JobError(`this database was migrated by a newer tfclaims (schema version ${current}; this program knows up to ${latest})`, {
      hint: 'upgrade tfclaims to the version that migrated this database (or newer) and check again',
    });
  }
  if (current < CHAIN_MIGRATION) {
    throw new JobError(`this database has no run chain yet (schema version ${current}; the chain arrives with version ${CHAIN_MIGRATION})`, {
      hint: 'the database owner brings it up to date with `tfclaims db migrate`; runs from then on are sealed',
    });
  }
  return current;
}

/** Options of `tfclaims audit check-chain`. */
export interface CheckChainOptions extends CommonOptions {
  /** A seal hash recorded earlier (a run's log, a previous check): it must still be in the chain. */
  expectHash?: string;
}

/**
 * `tfclaims audit check-chain`: recompute every seal from the records and report the first
 * broken one. Exit 0 intact, 1 broken. Writes nothing to the database and does not migrate it.
 */
export async function runCheckChain(opts: CheckChainOptions): Promise<CommandReport> {
  if (opts.expectHash !== undefined && !/^[0-9a-f]{64}$/.test(opts.expectHash)) {
    throw new UsageError(`--expect-hash ${opts.expectHash.slice(0, 80)} is not a SHA-256 (64 lower-case hex characters)`);
  }
  const { logger, file } = createFileLogger({ logDir: opts.logDir, logFile: opts.logFile, command: 'audit-check-chain' });
  const db = await openTarget(resolveDatabaseTarget(opts.db));
  let result: Awaited<ReturnType<typeof checkChain>>;
  let schema: number;
  let sealOfExpected: { seq: number; runId: number } | undefined;
  try {
    schema = await requireChainSchema(db);
    result = await checkChain(db);
    if (opts.expectHash) {
      const { rows } = await sql<{ seq: number; run_id: number }>`SELECT seq, run_id FROM audit.run_seal WHERE hash = ${opts.expectHash}`.execute(db.kysely);
      if (rows[0]) sealOfExpected = { seq: rows[0].seq, runId: rows[0].run_id };
    }
  } catch (error) {
    if (sqlStateOf(error) === SqlState.insufficientPrivilege) {
      throw new JobError('this login may not read the run chain', {
        cause: error,
        hint: 'check-chain needs the tfclaims_auditor role (or the pipeline or owner login); see docs/auditors.md',
      });
    }
    throw error;
  } finally {
    await db.close();
  }
  const expectedMissing = opts.expectHash !== undefined && sealOfExpected === undefined;
  const intact = result.intact && !expectedMissing;
  const json = {
    database: db.description,
    schema,
    intact,
    seals: result.seals,
    runs: result.runs,
    runsBeforeChain: result.runsBeforeChain,
    runningOrInterrupted: result.runningOrInterrupted,
    head: result.head ?? null,
    ...(opts.expectHash ? { expectedHash: { hash: opts.expectHash, found: sealOfExpected ?? null } } : {}),
    firstBroken: result.problems[0] ? describeProblem(result.problems[0]) : null,
    problems: result.problems.map((p) => ({ ...p, message: describeProblem(p) })),
    logFile: file,
  };
  logger.info({ intact, seals: result.seals, problems: result.problems.length, head: result.head }, 'run chain checked');
  const lines: string[] = [];
  const head = result.head ? `head: seal ${result.head.seq} ${result.head.hash}` : 'no seals yet';
  const extra = [
    result.runsBeforeChain > 0 ? `${result.runsBeforeChain} run(s) before the chain existed (not sealed)` : '',
    result.runningOrInterrupted > 0 ? `${result.runningOrInterrupted} running or interrupted` : '',
  ].filter(Boolean);
  if (intact) {
    lines.push(`run chain intact: ${result.seals} seals over ${result.runs - result.runsBeforeChain} runs${extra.length ? ` (${extra.join('; ')})` : ''}`);
    lines.push(head);
    if (sealOfExpected) lines.push(`expected hash found: seal ${sealOfExpected.seq} (run ${sealOfExpected.runId})`);
  } else {
    const first = result.problems[0];
    lines.push(`run chain BROKEN: ${first ? describeProblem(first) : `no seal has hash ${opts.expectHash}: the chain was cut or rewritten after that hash was recorded`}`);
    if (first && expectedMissing) lines.push(`also: no seal has hash ${opts.expectHash}`);
    if (result.problems.length > 1) {
      lines.push(`${result.problems.length} problems in all:`);
      for (const p of result.problems.slice(0, 50)) lines.push(`  ${describeProblem(p)}`);
      if (result.problems.length > 50) lines.push(`  ... (--json lists all ${result.problems.length})`);
    }
    lines.push(head);
    lines.push(
      '  what to do: these records were changed after they were written (the database refuses that, so its append-only triggers were bypassed); ' +
        'keep this database as it is, compare the named runs with a backup or the runs\' log files, and report it',
    );
  }
  lines.push(`log: ${file}`);
  return { exitCode: intact ? 0 : 1, lines, json };
}
