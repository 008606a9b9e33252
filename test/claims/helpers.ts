import { sql } from 'kysely';
import type { Database } from '../../src/db/index.ts';
import { loadPlan, type LoadedPlan } from '../../src/rules/index.ts';
import type { RunContext } from '../../src/run/context.ts';
import { auditSample, auditVerify, claimFinalise, draftClaim, type ClaimSummary } from '../../src/claims/index.ts';
import { testRun } from '../support/run.ts';
import { World } from '../rules/world.ts';

/**
 * Hand-built claimable families for the claims tests (see test/rules/world.ts): an adult with
 * keyworker problems domestic_abuse and health, attached on `attachedOn`, with health attested
 * `achieved` on `achievedOn`. With no offending, domestic_abuse passes; so the family meets
 * significant and sustained progress as of any T >= attachedOn + 6 months and >= achievedOn.
 */
export async function claimableFamilies(
  db: Database,
  specs: { caseRef: string; attachedOn?: string; achievedOn?: string }[],
): Promise<Map<string, number>> {
  const ctx = await testRun(db, 'world');
  const w = await new World(db, ctx.runId).setup();
  const ids = new Map<string, number>();
  for (const s of specs) {
    const a = await w.person('1985-05-05');
    const family = await w.family([a], { caseRef: s.caseRef, attachedOn: s.attachedOn ?? '2026-01-15', problems: ['domestic_abuse', 'health'] });
    await w.evidence(s.caseRef, 'health', 'achieved', s.achievedOn ?? '2026-09-01');
    ids.set(s.caseRef, family);
  }
  return ids;
}

let plan: LoadedPlan | undefined;
export async function defaultPlan(): Promise<LoadedPlan> {
  plan ??= await loadPlan('phase2-london-core');
  return plan;
}

/** A run context whose run is ended (sealed) by `end()`, like withRun does. */
export async function run(db: Database, command = 'test'): Promise<RunContext> {
  return testRun(db, command);
}

export async function draft(db: Database, window: string, asOf: string, outDir: string): Promise<ClaimSummary> {
  return draftClaim(await run(db, 'claim draft'), { window, asOf, plan: await defaultPlan(), outDir });
}

/** Draft, sample everything (fraction 1 unless given), verify every sampled line as `results` says (default pass), finalise. */
export async function submit(
  db: Database,
  window: string,
  asOf: string,
  outDir: string,
  opts: { fraction?: number; seed?: string; results?: Record<string, 'pass' | 'fail'> } = {},
): Promise<ClaimSummary> {
  await draft(db, window, asOf, outDir);
  const sample = await auditSample(await run(db, 'audit sample'), { window, seed: opts.seed ?? '1', fraction: opts.fraction ?? 1 });
  for (const s of sample.sampled) {
    await auditVerify(await run(db, 'audit verify'), { window, caseRef: s.caseRef, result: opts.results?.[s.caseRef] ?? 'pass', by: 'Test Auditor' });
  }
  return claimFinalise(await run(db, 'claim finalise'), { window });
}

/** Every family in a submitted claim, as the ledger view shows it. */
export async function ledger(db: Database): Promise<{ family_id: number; case_ref: string; window_id: string }[]> {
  const r = await sql<{ family_id: number; case_ref: string; window_id: string }>`
    SELECT family_id::int AS family_id, case_ref, window_id FROM core.claimed_family ORDER BY case_ref`.execute(db.kysely);
  return r.rows;
}
