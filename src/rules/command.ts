import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { stringify } from 'csv-stringify';
import { sql } from 'kysely';
import type { CommandReport } from '../cli/output.ts';
import type { Database } from '../db/index.ts';
import { withRun, type CommonOptions, type RunContext } from '../run/context.ts';
import { spreadsheetSafe } from '../util/spreadsheet.ts';
import type { EvaluationSummary } from './evaluate.ts';
import type { LoadedPlan } from './plan.ts';
import { useBulkSettings, useParallelPlans } from '../db/bulk-settings.ts';

/** Header of `eligible-unattached.csv`: one line per member of each family that meets identification but is not attached. */
export const ELIGIBLE_UNATTACHED_COLUMNS = ['family_id', 'person_id', 'problems'] as const;

/**
 * Write `OUT/eligible-unattached.csv` for an evaluation: the families that meet identification
 * but are not in the register, one line per current member, with the family's problems
 * (`;`-separated). Ids and codes only. Written under a temporary name and renamed.
 */
export async function writeEligibleUnattachedCsv(db: Database, evaluationId: number, outDir: string): Promise<{ file: string; families: number; rows: number }> {
  const file = path.join(outDir, 'eligible-unattached.csv');
  const partial = `${file}.partial`;
  const { rows } = await sql<{ family_id: string; person_id: string; problems: string[] }>`
    SELECT e.family_id::text AS family_id, m.person_id::text AS person_id, e.problems
    FROM core.eligible_unattached e JOIN core.current_family_member m USING (family_id)
    WHERE e.evaluation_id = ${evaluationId}
    ORDER BY e.family_id, m.person_id`.execute(db.kysely);
  const out = createWriteStream(partial);
  const csv = stringify({ header: true, columns: [...ELIGIBLE_UNATTACHED_COLUMNS] });
  csv.pipe(out);
  try {
    for (const r of rows) {
      if (!csv.write([r.family_id, r.person_id, spreadsheetSafe([...r.problems].sort().join(';'))])) await once(csv, 'drain');
    }
    csv.end();
    await once(out, 'close');
    await rename(partial, file);
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    throw error;
  }
  return { file, families: new Set(rows.map((r) => r.family_id)).size, rows: rows.length };
}

/** Evaluate identification and outcomes as of `asOf` under `plan`, in one transaction. */
export async function evaluateStage(ctx: RunContext, opts: { asOf: string; plan: LoadedPlan; afterStaging?: () => void }): Promise<EvaluationSummary> {
  const { evaluateFamilies } = await import('./evaluate.ts');
  return ctx.db.transaction(async (session) => {
    await useBulkSettings(session);
    if (ctx.db.kind === 'postgres') await useParallelPlans(session);
    return evaluateFamilies(session, ctx, opts);
  });
}

/** Lines a person reads about an evaluation (counts only). */
export function describeEvaluation(s: EvaluationSummary): string[] {
  const problems = Object.entries(s.problemsAtEntry)
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  return [
    `evaluate: as of ${s.asOf} under plan ${s.planId} v${s.planVersion} (sha256 ${s.planSha256.slice(0, 12)}), evaluation #${s.evaluationId}`,
    `  ${s.families} families; ${s.attachedFamilies} attached (${s.eligibleAttached} eligible at entry${s.attachedAfterAsOf ? `, ${s.attachedAfterAsOf} attached after the as-of date and not evaluated` : ''}); ${s.eligibleUnattached} eligible but not attached`,
    `  problems at entry: ${problems || 'none'}`,
    `  ${s.progressDue} due a progress test; significant and sustained progress met by ${s.sspMet}, continuous employment by ${s.ceMet}`,
    `  claimable under the rules: ${s.claimableByRules} (${s.byRoute.significant_sustained_progress} by progress, ${s.byRoute.continuous_employment} by employment); ${s.evidenceRows} evidence rows, evidence sha256 ${s.evidenceSha256.slice(0, 12)}`,
  ];
}

export interface EvaluateCommandOptions extends CommonOptions {
  asOf: string;
  /** Plan file or built-in plan id (default phase2-london-core). */
  plan?: string;
  /** Folder to write eligible-unattached.csv into. */
  out?: string;
}

/** `tfclaims evaluate --as-of DATE [--plan FILE] [--out DIR]`. */
export async function runEvaluate(opts: EvaluateCommandOptions): Promise<CommandReport> {
  const { loadPlan } = await import('./plan.ts');
  const { parseAsOf } = await import('../run/pipeline.ts');
  const asOf = parseAsOf(opts.asOf);
  const plan = await loadPlan(opts.plan);
  const outcome = await withRun('evaluate', { asOf, plan: plan.source, planSha256: plan.sha256, out: opts.out ?? null }, opts, async (ctx) => {
    const evaluation = await evaluateStage(ctx, { asOf, plan });
    let eligibleUnattachedCsv: Awaited<ReturnType<typeof writeEligibleUnattachedCsv>> | undefined;
    if (opts.out !== undefined) {
      await mkdir(opts.out, { recursive: true });
      eligibleUnattachedCsv = await writeEligibleUnattachedCsv(ctx.db, evaluation.evaluationId, opts.out);
      const { recordOutput } = await import('../audit/outputs.ts');
      await recordOutput(ctx, eligibleUnattachedCsv.file, { kind: 'eligible_unattached' });
    }
    return { summary: { evaluation, eligibleUnattachedCsv }, exitCode: 0 };
  });
  const { evaluation, eligibleUnattachedCsv } = outcome.summary;
  const lines = describeEvaluation(evaluation);
  if (eligibleUnattachedCsv) lines.push(`  ${eligibleUnattachedCsv.file}: ${eligibleUnattachedCsv.families} families (${eligibleUnattachedCsv.rows} people) for the early help service to consider`);
  lines.push(`run #${outcome.runId}; explain a family with: tfclaims explain --case-ref REF; log: ${outcome.logFile}`);
  return { exitCode: outcome.exitCode, lines, json: { runId: outcome.runId, ...outcome.summary } };
}
