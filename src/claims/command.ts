import type { CommandReport } from '../cli/output.ts';
import { loadPlan } from '../rules/index.ts';
import { withRun, type CommonOptions } from '../run/context.ts';
import { describeClaim, draftClaim, type ClaimSummary } from './draft.ts';
import { auditVerify, claimFinalise, claimWithdraw, describeVerify } from './finalise.ts';
import { auditSample, describeSample } from './sample.ts';

/**
 * The claims commands (issue 5): each one recorded run calling one typed function. The CLI
 * (src/cli/main.ts) only declares them. See docs/claims.md.
 */

function claimJson(runId: number, s: ClaimSummary): Record<string, unknown> {
  return { ...s, runId };
}

export async function runClaimDraft(opts: CommonOptions & { window: string; asOf: string; out: string; plan?: string }): Promise<CommandReport> {
  const plan = await loadPlan(opts.plan);
  const outcome = await withRun('claim draft', { window: opts.window, asOf: opts.asOf, out: opts.out, plan: plan.source, planSha256: plan.sha256 }, opts, async (ctx) => {
    const summary = await draftClaim(ctx, { window: opts.window, asOf: opts.asOf, plan, outDir: opts.out });
    return { summary, exitCode: 0 };
  });
  const lines = describeClaim(outcome.summary);
  lines.push(`  next: tfclaims audit sample --window ${outcome.summary.window}`, `run #${outcome.runId}; log: ${outcome.logFile}`);
  return { exitCode: 0, lines, json: claimJson(outcome.runId, outcome.summary) };
}

export async function runClaimFinalise(opts: CommonOptions & { window: string; out?: string }): Promise<CommandReport> {
  const outcome = await withRun('claim finalise', { window: opts.window, out: opts.out ?? null }, opts, async (ctx) => ({
    summary: await claimFinalise(ctx, { window: opts.window, ...(opts.out === undefined ? {} : { outDir: opts.out }) }),
    exitCode: 0,
  }));
  const lines = describeClaim(outcome.summary);
  lines.push(`run #${outcome.runId}; log: ${outcome.logFile}`);
  return { exitCode: 0, lines, json: claimJson(outcome.runId, outcome.summary) };
}

export async function runClaimWithdraw(opts: CommonOptions & { window: string; caseRef: string; reason: string; by: string }): Promise<CommandReport> {
  // The reason is free text (it may name someone): the run records that there was one, not its text.
  const outcome = await withRun('claim withdraw', { window: opts.window, caseRef: opts.caseRef, by: opts.by }, opts, async (ctx) => ({
    summary: await claimWithdraw(ctx, opts),
    exitCode: 0,
  }));
  const s = outcome.summary;
  return {
    exitCode: 0,
    lines: [`withdrawn: ${s.caseRef} (family ${s.familyId}, GBP ${s.amountGbp}) from the submitted claim ${s.claimId} of window ${s.window} (withdrawal ${s.withdrawalId})`, `run #${outcome.runId}; log: ${outcome.logFile}`],
    json: { runId: outcome.runId, ...s },
  };
}

export async function runAuditSample(opts: CommonOptions & { window: string; seed?: string; fraction?: number; out?: string }): Promise<CommandReport> {
  const args = { window: opts.window, seed: opts.seed ?? null, fraction: opts.fraction ?? null, out: opts.out ?? null };
  const outcome = await withRun('audit sample', args, opts, async (ctx) => ({
    summary: await auditSample(ctx, {
      window: opts.window,
      ...(opts.seed === undefined ? {} : { seed: opts.seed }),
      ...(opts.fraction === undefined ? {} : { fraction: opts.fraction }),
      ...(opts.out === undefined ? {} : { outDir: opts.out }),
    }),
    exitCode: 0,
  }));
  const lines = describeSample(outcome.summary);
  lines.push(`run #${outcome.runId}; log: ${outcome.logFile}`);
  return { exitCode: 0, lines, json: { runId: outcome.runId, ...outcome.summary } };
}

export async function runAuditVerify(opts: CommonOptions & { window: string; caseRef: string; result: 'pass' | 'fail'; by: string; note?: string }): Promise<CommandReport> {
  // The note is free text: stored in core.audit_verification, not in the run record or the log.
  const outcome = await withRun('audit verify', { window: opts.window, caseRef: opts.caseRef, result: opts.result, by: opts.by, note: opts.note !== undefined }, opts, async (ctx) => ({
    summary: await auditVerify(ctx, opts),
    exitCode: 0,
  }));
  const lines = describeVerify(outcome.summary);
  lines.push(`run #${outcome.runId}; log: ${outcome.logFile}`);
  return { exitCode: 0, lines, json: { runId: outcome.runId, ...outcome.summary } };
}
