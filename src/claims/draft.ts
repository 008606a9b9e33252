import path from 'node:path';
import { sql } from 'kysely';
import type { DbSession } from '../db/index.ts';
import { JobError, UsageError } from '../errors.ts';
import { recordOutput } from '../audit/outputs.ts';
import { evaluateFamilies, problemCodes, type LoadedPlan } from '../rules/index.ts';
import { dayOf, financialYearOf } from '../rules/dates.ts';
import type { RunContext } from '../run/context.ts';
import {
  checkWindow,
  claimCsvName,
  claimSummaryName,
  discard,
  gbp,
  pence,
  publish,
  removeStaleTemporaries,
  stageFile,
  type ClaimCsvLine,
  type StagedFile,
} from './files.ts';
import { csvAndHash, insertClaim, latestDraft, lockClaims, submittedClaim } from './store.ts';

/**
 * Claim drafts (issue 5, item 1): the families claimable as of the cut-off T under the plan,
 * less every family (or case_ref) already in a submitted claim, written as `claim-<window>.csv`
 * and `claim-<window>-summary.json`. See docs/claims.md.
 */

export const ROUTES = ['continuous_employment', 'significant_sustained_progress'] as const;

export interface DraftClaimOptions {
  /** Claim window id, e.g. `2026-Q3`. */
  window: string;
  /** The cut-off T, `YYYY-MM-DD`. */
  asOf: string;
  plan: LoadedPlan;
  /** Folder for the claim files. */
  outDir: string;
}

/** What a claim holds: counts and ids only (safe to print, log and hand to finance). */
export interface ClaimSummary {
  window: string;
  status: 'draft' | 'submitted';
  claimId: number;
  runId: number;
  evaluationId: number;
  /** True when an evaluation of this run (same as-of date and plan) was reused, not redone. */
  evaluationReused: boolean;
  asOf: string;
  financialYear: string;
  plan: { id: string; version: string; sha256: string };
  lines: number;
  totalGbp: string;
  byRoute: Record<(typeof ROUTES)[number], { families: number; amountGbp: string }>;
  /** Claimed families with each problem at entry (every plan problem, plan order). */
  byProblem: Record<string, number>;
  /** Families claimable by the rules as of T (before the ledger). */
  claimableByRules: number;
  /** Of those, already in a submitted claim (by family_id or case_ref): not claimed again. */
  alreadyClaimed: number;
  linesSha256: string;
  files: { claimCsv: string; summaryJson: string };
  /** Submitted claims: the draft, the audit sample, and the sampled lines that failed and dropped out. */
  submission?: { draftId: number; sampleId: number; sampleSize: number; failedDropped: string[] };
}

/** `claim-<window>-summary.json`: the summary in snake_case, for finance. */
export function summaryJson(s: ClaimSummary): string {
  const doc = {
    window: s.window,
    status: s.status,
    cut_off: s.asOf,
    financial_year: s.financialYear,
    claim_id: s.claimId,
    run_id: s.runId,
    evaluation_id: s.evaluationId,
    plan: { id: s.plan.id, version: s.plan.version, sha256: s.plan.sha256 },
    lines: s.lines,
    total_amount_gbp: s.totalGbp,
    by_route: Object.fromEntries(ROUTES.map((r) => [r, { families: s.byRoute[r].families, amount_gbp: s.byRoute[r].amountGbp }])),
    by_problem: s.byProblem,
    claimable_by_rules: s.claimableByRules,
    already_claimed: s.alreadyClaimed,
    claim_csv: path.basename(s.files.claimCsv),
    claim_csv_sha256: s.linesSha256,
    ...(s.submission
      ? {
          submission: {
            draft_claim_id: s.submission.draftId,
            audit_sample_id: s.submission.sampleId,
            audit_sample_size: s.submission.sampleSize,
            failed_audit_dropped: s.submission.failedDropped,
          },
        }
      : {}),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Counts by route and problem, and the total, of a set of lines. */
export function tally(lines: readonly ClaimCsvLine[], problems: readonly string[]): Pick<ClaimSummary, 'lines' | 'totalGbp' | 'byRoute' | 'byProblem'> {
  const byRoutePence = { continuous_employment: [0, 0], significant_sustained_progress: [0, 0] } as Record<string, [number, number]>;
  const byProblem: Record<string, number> = Object.fromEntries(problems.map((p) => [p, 0]));
  let total = 0;
  for (const l of lines) {
    const p = pence(l.amountGbp);
    total += p;
    const r = byRoutePence[l.route]!;
    r[0]++;
    r[1] += p;
    for (const code of l.problemsAtEntry) byProblem[code] = (byProblem[code] ?? 0) + 1;
  }
  const byRoute = Object.fromEntries(ROUTES.map((r) => [r, { families: byRoutePence[r]![0], amountGbp: gbp(byRoutePence[r]![1]) }])) as ClaimSummary['byRoute'];
  return { lines: lines.length, totalGbp: gbp(total), byRoute, byProblem };
}

/** The evaluation to draft on: this run's, for the same date and plan, when there is one; else a new one. */
async function evaluationFor(session: DbSession, ctx: RunContext, asOf: string, plan: LoadedPlan): Promise<{ evaluationId: number; reused: boolean }> {
  const r = await sql<{ evaluation_id: number }>`
    SELECT evaluation_id::int AS evaluation_id FROM core.rules_evaluation
    WHERE run_id = ${ctx.runId} AND as_of = ${asOf}::date AND plan_sha256 = ${plan.sha256} AND evidence_sha256 IS NOT NULL
    ORDER BY evaluation_id DESC LIMIT 1`.execute(session.kysely);
  if (r.rows[0]) return { evaluationId: r.rows[0].evaluation_id, reused: true };
  const summary = await evaluateFamilies(session, ctx, { asOf, plan });
  return { evaluationId: summary.evaluationId, reused: false };
}

/**
 * Draft a window's claim inside the caller's transaction and stage its files (written under
 * temporary names): the caller commits, then calls `publish(staged)` (or `discard(staged)` on
 * failure). `draftClaim` does all of that; use this to draft inside a larger transaction.
 */
export async function draftClaimInTransaction(
  session: DbSession,
  ctx: RunContext,
  opts: DraftClaimOptions,
): Promise<{ summary: ClaimSummary; staged: StagedFile[] }> {
  const window = checkWindow(opts.window);
  try {
    dayOf(opts.asOf);
  } catch {
    throw new UsageError(`--as-of ${JSON.stringify(opts.asOf)} is not a date (YYYY-MM-DD)`);
  }
  const { plan, sha256 } = opts.plan;
  const k = session.kysely;
  const outDir = path.resolve(opts.outDir);
  await lockClaims(session);

  const submitted = await submittedClaim(k, window);
  if (submitted) {
    throw new JobError(
      `window ${window} was submitted on ${submitted.createdAt} (claim ${submitted.claimId}, ${submitted.lines} lines, GBP ${submitted.totalGbp}); a submitted claim never changes, so it cannot be drafted again`,
      { hint: 'draft the next window under a new window id; correct a submitted line with tfclaims claim withdraw' },
    );
  }

  const { evaluationId, reused } = await evaluationFor(session, ctx, opts.asOf, opts.plan);
  const verdicts = await sql<{
    family_id: number;
    case_ref: string;
    route: string;
    attached_on: string;
    problems_at_entry: string[];
    payment_gbp: string | null;
    financial_year: string;
    claimed: boolean;
  }>`
    SELECT v.family_id::int AS family_id, v.case_ref, v.route, to_char(v.attached_on, 'YYYY-MM-DD') AS attached_on,
           v.problems_at_entry, v.payment_gbp::text AS payment_gbp, v.financial_year,
           EXISTS (SELECT 1 FROM core.claim_line l
                   WHERE l.status = 'submitted' AND (l.family_id = v.family_id OR l.case_ref = v.case_ref)) AS claimed
    FROM core.family_verdict v
    WHERE v.evaluation_id = ${evaluationId} AND v.claimable_by_rules
    ORDER BY v.case_ref COLLATE "C", v.family_id`.execute(k);
  const fy = await sql<{ financial_year: string }>`
    SELECT DISTINCT financial_year FROM core.family_verdict WHERE evaluation_id = ${evaluationId}`.execute(k);
  const claimable = verdicts.rows;
  const lines: ClaimCsvLine[] = [];
  for (const v of claimable) {
    if (v.claimed) continue;
    if (v.payment_gbp === null) {
      throw new JobError(`outcomes plan ${plan.id} has no results payment for financial year ${v.financial_year} (the cut-off ${opts.asOf})`, {
        hint: 'add a payments entry for that financial year to the plan',
      });
    }
    lines.push({
      familyId: v.family_id,
      caseRef: v.case_ref,
      route: v.route,
      attachedOn: v.attached_on,
      // The outcome is claimed as achieved on the cut-off T: the date the rules found the route met on.
      outcomeDate: opts.asOf,
      problemsAtEntry: v.problems_at_entry,
      amountGbp: gbp(pence(v.payment_gbp)),
    });
  }
  const financialYear = fy.rows[0]?.financial_year ?? financialYearOf(dayOf(opts.asOf));
  const { csv, sha256: linesSha256 } = await csvAndHash(window, lines);
  const claimId = await insertClaim(k, {
    windowId: window,
    status: 'draft',
    asOf: opts.asOf,
    financialYear,
    evaluationId,
    planId: plan.id,
    planVersion: plan.version,
    planSha256: sha256,
    draftId: null,
    sampleId: null,
    lines,
    totalGbp: tally(lines, []).totalGbp,
    linesSha256,
    outDir,
    runId: ctx.runId,
  });
  const summary: ClaimSummary = {
    window,
    status: 'draft',
    claimId,
    runId: ctx.runId,
    evaluationId,
    evaluationReused: reused,
    asOf: opts.asOf,
    financialYear,
    plan: { id: plan.id, version: plan.version, sha256 },
    ...tally(lines, problemCodes(plan)),
    claimableByRules: claimable.length,
    alreadyClaimed: claimable.length - lines.length,
    linesSha256,
    files: { claimCsv: path.join(outDir, claimCsvName(window)), summaryJson: path.join(outDir, claimSummaryName(window)) },
  };
  await removeStaleTemporaries(outDir, window);
  const staged: StagedFile[] = [];
  try {
    staged.push(await stageFile(summary.files.claimCsv, csv));
    staged.push(await stageFile(summary.files.summaryJson, summaryJson(summary)));
  } catch (error) {
    await discard(staged);
    throw error;
  }
  ctx.logger.info({ stage: 'claims', window, claimId, lines: summary.lines, alreadyClaimed: summary.alreadyClaimed, evaluationId, reused }, 'claim drafted');
  return { summary, staged };
}

/**
 * Draft the claim for a window, as `tfclaims claim draft` and the last step of `tfclaims run` do:
 * one transaction (evaluating the rules as of `asOf` unless this run already did for the same
 * date and plan, then the claim and its lines), then the files renamed into place and registered
 * as the run's outputs. Returns counts and ids only.
 *
 * A draft replaces the window's earlier draft (same data: a byte-identical CSV); a window
 * already submitted is refused (JobError, exit 1).
 */
export async function draftClaim(ctx: RunContext, opts: DraftClaimOptions): Promise<ClaimSummary> {
  let staged: StagedFile[] = [];
  const summary = await ctx.db
    .transaction(async (session) => {
      const r = await draftClaimInTransaction(session, ctx, opts);
      staged = r.staged;
      return r.summary;
    })
    .catch(async (error: unknown) => {
      await discard(staged);
      throw error;
    });
  await publish(staged);
  await recordOutput(ctx, summary.files.claimCsv, { kind: 'claim_draft' });
  await recordOutput(ctx, summary.files.summaryJson, { kind: 'claim_draft_summary' });
  return summary;
}

/** Lines a person reads about a claim (counts only). */
export function describeClaim(s: ClaimSummary): string[] {
  const routes = ROUTES.map((r) => `${s.byRoute[r].families} ${r}`).join(', ');
  const lines = [
    `claim ${s.status} for window ${s.window} (claim ${s.claimId}, cut-off ${s.asOf}, financial year ${s.financialYear}, plan ${s.plan.id} v${s.plan.version}):`,
    `  ${s.lines} families, GBP ${s.totalGbp} (${routes}); ${s.claimableByRules} claimable by the rules, ${s.alreadyClaimed} already in a submitted claim`,
    `  evaluation ${s.evaluationId}${s.evaluationReused ? " (this run's)" : ''}; ${s.files.claimCsv} and ${path.basename(s.files.summaryJson)}`,
  ];
  if (s.submission) {
    lines.push(`  audit sample ${s.submission.sampleId}: ${s.submission.sampleSize} lines checked; ${s.submission.failedDropped.length} failed and dropped out` +
      (s.submission.failedDropped.length ? ` (${s.submission.failedDropped.join(', ')})` : ''));
  }
  return lines;
}

export { latestDraft };
