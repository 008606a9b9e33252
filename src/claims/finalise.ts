import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/index.ts';
import { recordOutput } from '../audit/outputs.ts';
import { SqlState, sqlStateOf } from '../db/sqlstate.ts';
import { JobError, UsageError } from '../errors.ts';
import type { RunContext } from '../run/context.ts';
import { ROUTES, summaryJson, tally, type ClaimSummary } from './draft.ts';
import { checkWindow, claimCsvName, claimSummaryName, discard, publish, stageFile, type StagedFile } from './files.ts';
import {
  claimLines,
  csvAndHash,
  draftAndSample,
  insertClaim,
  lockClaims,
  resolveSampledCaseRef,
  sampleStatus,
  submittedClaim,
  type ClaimRow,
} from './store.ts';

/**
 * Verifying sampled lines, finalising (submitting) a claim, and withdrawing a submitted line
 * (issue 5, items 2 and 3). See docs/claims.md.
 */

/** More than this share of the sample failing blocks the whole claim. */
export const MAX_FAILED_SHARE = 0.05;

export interface VerifyOptions {
  window: string;
  caseRef: string;
  result: 'pass' | 'fail';
  by: string;
  note?: string;
}

export interface VerifySummary {
  window: string;
  sampleId: number;
  verificationId: number;
  caseRef: string;
  result: 'pass' | 'fail';
  sampleSize: number;
  verified: number;
  failed: number;
  unverified: string[];
}

/** `tfclaims audit verify`: record one check of a sampled line (a new row; the latest per line counts). */
export async function auditVerify(ctx: RunContext, opts: VerifyOptions): Promise<VerifySummary> {
  const window = checkWindow(opts.window);
  if (opts.result !== 'pass' && opts.result !== 'fail') throw new UsageError('--result must be pass or fail');
  if (opts.by.trim() === '') throw new UsageError('--by must name the person who checked the line');
  return ctx.db.transaction(async (session) => {
    const k = session.kysely;
    await lockClaims(session);
    const submitted = await submittedClaim(k, window);
    if (submitted) throw new JobError(`window ${window} was already submitted (claim ${submitted.claimId}): its audit is closed`);
    const { sample } = await draftAndSample(k, window, 'record a verification');
    const line = await resolveSampledCaseRef(k, sample.sampleId, opts.caseRef);
    if (!line) {
      const status = await sampleStatus(k, sample.sampleId);
      throw new JobError(`case_ref ${opts.caseRef} is not in the audit sample of window ${window} (sample ${sample.sampleId})`, {
        hint: `the sampled case_refs are: ${status.map((s) => s.caseRef).join(', ')}`,
      });
    }
    const ins = await sql<{ id: number }>`
      INSERT INTO core.audit_verification (sample_id, case_ref, result, verified_by, note, run_id)
      VALUES (${sample.sampleId}, ${line.caseRef}, ${opts.result}, ${opts.by.trim()}, ${opts.note ?? null}, ${ctx.runId})
      RETURNING verification_id::int AS id`.execute(k);
    const status = await sampleStatus(k, sample.sampleId);
    return {
      window,
      sampleId: sample.sampleId,
      verificationId: ins.rows[0]!.id,
      caseRef: line.caseRef,
      result: opts.result,
      sampleSize: status.length,
      verified: status.filter((s) => s.result !== null).length,
      failed: status.filter((s) => s.result === 'fail').length,
      unverified: status.filter((s) => s.result === null).map((s) => s.caseRef),
    };
  });
}

export function describeVerify(v: VerifySummary): string[] {
  return [
    `recorded: ${v.caseRef} ${v.result} (verification ${v.verificationId}, sample ${v.sampleId} of window ${v.window})`,
    `  ${v.verified} of ${v.sampleSize} sampled lines verified, ${v.failed} failing` +
      (v.unverified.length ? `; still to verify: ${v.unverified.join(', ')}` : `; ready: tfclaims claim finalise --window ${v.window}`),
  ];
}

export interface FinaliseOptions {
  window: string;
  /** Folder for the submitted claim files: default the folder the draft was written to. */
  outDir?: string;
}

async function stageClaimFiles(summary: ClaimSummary, csv: string): Promise<StagedFile[]> {
  const staged: StagedFile[] = [];
  try {
    staged.push(await stageFile(summary.files.claimCsv, csv));
    staged.push(await stageFile(summary.files.summaryJson, summaryJson(summary)));
    return staged;
  } catch (error) {
    await discard(staged);
    throw error;
  }
}

/** The summary of a stored claim (draft or submitted), rebuilt from the database. */
async function storedSummary(k: Kysely<Schema>, claim: ClaimRow, outDir: string, extra: Partial<ClaimSummary> = {}): Promise<{ summary: ClaimSummary; csv: string }> {
  const lines = await claimLines(k, claim.claimId);
  const plan = await sql<{ codes: string[]; claimable: number }>`
    SELECT ARRAY(SELECT jsonb_object_keys(e.plan -> 'problems')) AS codes,
           (SELECT count(*)::int FROM core.family_verdict v WHERE v.evaluation_id = e.evaluation_id AND v.claimable_by_rules) AS claimable
    FROM core.rules_evaluation e WHERE e.evaluation_id = ${claim.evaluationId}`.execute(k);
  const { csv, sha256 } = await csvAndHash(claim.windowId, lines);
  const t = tally(lines, plan.rows[0]?.codes ?? []);
  const summary: ClaimSummary = {
    window: claim.windowId,
    status: claim.status,
    claimId: claim.claimId,
    runId: claim.runId,
    evaluationId: claim.evaluationId,
    evaluationReused: true,
    asOf: claim.asOf,
    financialYear: claim.financialYear,
    plan: { id: claim.planId, version: claim.planVersion, sha256: claim.planSha256 },
    ...t,
    claimableByRules: plan.rows[0]?.claimable ?? 0,
    alreadyClaimed: 0,
    linesSha256: sha256,
    files: { claimCsv: path.join(outDir, claimCsvName(claim.windowId)), summaryJson: path.join(outDir, claimSummaryName(claim.windowId)) },
    ...extra,
  };
  return { summary, csv };
}

/**
 * `tfclaims claim finalise`: submit the window's draft. Refuses (JobError, exit 1, saying exactly
 * what is missing) while there is no draft, no sample for the draft's lines, any sampled line is
 * unverified, more than 5% of the sample fails (latest verification per line), or a line's
 * family was submitted in another window since the draft. Otherwise, in one transaction: a new
 * submitted claim with the draft's lines less the failed ones, filling the ledger (the partial
 * unique indexes refuse a family claimed before, whatever races). Then the files
 * `claim-<window>.csv` and its summary (status `submitted`) replace the draft's.
 */
export async function claimFinalise(ctx: RunContext, opts: FinaliseOptions): Promise<ClaimSummary> {
  const window = checkWindow(opts.window);
  let staged: StagedFile[] = [];
  let outcome: { summary: ClaimSummary } | { already: ClaimRow };
  try {
    outcome = await ctx.db.transaction(async (session): Promise<{ summary: ClaimSummary } | { already: ClaimRow }> => {
      const k = session.kysely;
      await lockClaims(session);
      const already = await submittedClaim(k, window);
      if (already) return { already };
      const { draft, sample } = await draftAndSample(k, window, `finalise window ${window}`);
      const status = await sampleStatus(k, sample.sampleId);
      const unverified = status.filter((s) => s.result === null).map((s) => s.caseRef);
      const failed = status.filter((s) => s.result === 'fail').map((s) => s.caseRef);
      if (unverified.length > 0) {
        throw new JobError(
          `cannot finalise window ${window}: ${unverified.length} of ${status.length} sampled lines are not verified yet: ${unverified.join(', ')}`,
          { hint: `record each: tfclaims audit verify --window ${window} --case-ref REF --result pass|fail --by NAME (evidence packs: tfclaims audit sample --window ${window})` },
        );
      }
      if (failed.length > MAX_FAILED_SHARE * status.length) {
        const pct = ((100 * failed.length) / status.length).toFixed(1);
        throw new JobError(
          `cannot finalise window ${window}: ${failed.length} of ${status.length} sampled lines failed (${pct}%, more than ${MAX_FAILED_SHARE * 100}%): the whole claim is blocked until re-verified. Failed: ${failed.join(', ')}`,
          { hint: `investigate; once corrected, record a new check of each line (tfclaims audit verify --window ${window} --case-ref REF --result pass --by NAME), or fix the data and draft again` },
        );
      }
      const lines = (await claimLines(k, draft.claimId)).filter((l) => !failed.includes(l.caseRef));
      const clash = await sql<{ case_ref: string; family_id: number; window_id: string }>`
        SELECT l.case_ref, l.family_id::int AS family_id, c.window_id
        FROM core.claim_line l JOIN core.claim c ON c.claim_id = l.claim_id
        WHERE l.status = 'submitted' AND (l.family_id = ANY(${lines.map((l) => l.familyId)}::bigint[]) OR l.case_ref = ANY(${lines.map((l) => l.caseRef)}::text[]))
        ORDER BY l.case_ref`.execute(k);
      if (clash.rows.length > 0) {
        throw new JobError(
          `cannot finalise window ${window}: ${clash.rows.length} families of its draft were submitted since in another claim: ` +
            clash.rows.map((c) => `${c.case_ref} (family ${c.family_id}, window ${c.window_id})`).join(', '),
          { hint: `draft window ${window} again (families already claimed are left out), then sample and verify the new draft` },
        );
      }
      const { csv, sha256 } = await csvAndHash(window, lines);
      const claimId = await insertClaim(k, {
        windowId: window,
        status: 'submitted',
        asOf: draft.asOf,
        financialYear: draft.financialYear,
        evaluationId: draft.evaluationId,
        planId: draft.planId,
        planVersion: draft.planVersion,
        planSha256: draft.planSha256,
        draftId: draft.claimId,
        sampleId: sample.sampleId,
        lines,
        totalGbp: tally(lines, []).totalGbp,
        linesSha256: sha256,
        outDir: path.resolve(opts.outDir ?? draft.outDir),
        runId: ctx.runId,
      });
      const submitted = (await submittedClaim(k, window))!;
      const built = await storedSummary(k, submitted, submitted.outDir, {
        submission: { draftId: draft.claimId, sampleId: sample.sampleId, sampleSize: status.length, failedDropped: failed },
      });
      if (built.summary.claimId !== claimId) throw new Error('submitted claim id mismatch');
      staged = await stageClaimFiles(built.summary, csv);
      return { summary: built.summary };
    });
  } catch (error) {
    await discard(staged);
    if (sqlStateOf(error) === SqlState.uniqueViolation) {
      // The ledger's unique indexes: another transaction submitted this window or one of its families first.
      throw new JobError(`cannot finalise window ${window}: the ledger refused it (a family or the window was submitted by another run at the same moment)`, {
        hint: `see what was submitted: SELECT * FROM core.claimed_family WHERE window_id = '${window}'; then draft again if needed`,
        cause: error,
      });
    }
    throw error;
  }
  if ('already' in outcome) throw await alreadySubmitted(ctx, outcome.already, opts.outDir);
  const summary = outcome.summary;
  await publish(staged);
  await recordOutput(ctx, summary.files.claimCsv, { kind: 'claim' });
  await recordOutput(ctx, summary.files.summaryJson, { kind: 'claim_summary' });
  ctx.logger.info({ stage: 'claims', window, claimId: summary.claimId, lines: summary.lines, dropped: summary.submission?.failedDropped.length }, 'claim submitted');
  return summary;
}

/**
 * A second finalise of a submitted window: refused. If the submitted files are missing or differ
 * from the ledger (a run killed between commit and rename), they are written again first from
 * the ledger (byte-identical to what the submitting run wrote), and the message says so.
 */
async function alreadySubmitted(ctx: RunContext, claim: ClaimRow, outDir: string | undefined): Promise<JobError> {
  const dir = path.resolve(outDir ?? claim.outDir);
  const draftId = await sql<{ draft_id: number; sample_id: number; sample_size: number }>`
    SELECT c.draft_id::int AS draft_id, c.sample_id::int AS sample_id, s.sample_size FROM core.claim c JOIN core.audit_sample s USING (sample_id)
    WHERE c.claim_id = ${claim.claimId}`.execute(ctx.db.kysely);
  const d = draftId.rows[0]!;
  const status = await sampleStatus(ctx.db.kysely, d.sample_id);
  const { summary, csv } = await storedSummary(ctx.db.kysely, claim, dir, {
    submission: { draftId: d.draft_id, sampleId: d.sample_id, sampleSize: d.sample_size, failedDropped: status.filter((s) => s.result === 'fail').map((s) => s.caseRef) },
  });
  const want = [
    [summary.files.claimCsv, csv],
    [summary.files.summaryJson, summaryJson(summary)],
  ] as const;
  let restored = false;
  for (const [file, text] of want) {
    const have = await readFile(file, 'utf8').catch(() => undefined);
    if (have !== text) {
      await publish([await stageFile(file, text)]);
      restored = true;
    }
  }
  return new JobError(
    `window ${claim.windowId} was already submitted on ${claim.createdAt} (claim ${claim.claimId} by run ${claim.runId}, ${claim.lines} lines, GBP ${claim.totalGbp}); a submitted claim never changes` +
      (restored ? `. Its files in ${dir} were missing or out of date and have been written again from the ledger` : ''),
    { hint: 'correct a submitted line with tfclaims claim withdraw; claim later outcomes under a new window id' },
  );
}

export interface WithdrawOptions {
  window: string;
  caseRef: string;
  reason: string;
  by: string;
}

export interface WithdrawSummary {
  window: string;
  claimId: number;
  withdrawalId: number;
  caseRef: string;
  familyId: number;
  amountGbp: string;
}

/**
 * Withdraw a line of a submitted claim: a new linked record with a reason and who, never an edit.
 * The family stays in the ledger (it is not claimed again).
 */
export async function claimWithdraw(ctx: RunContext, opts: WithdrawOptions): Promise<WithdrawSummary> {
  const w = checkWindow(opts.window);
  if (opts.reason.trim() === '') throw new UsageError('--reason must say why the line is withdrawn');
  if (opts.by.trim() === '') throw new UsageError('--by must name who withdraws it');
  return ctx.db.transaction(async (session) => {
    const k = session.kysely;
    await lockClaims(session);
    const claim = await submittedClaim(k, w);
    if (!claim) throw new JobError(`window ${w} has no submitted claim: only a submitted line can be withdrawn (a draft is simply drafted again)`);
    const candidates = opts.caseRef.startsWith("'") ? [opts.caseRef, opts.caseRef.slice(1)] : [opts.caseRef];
    const line = await sql<{ family_id: number; case_ref: string; amount_gbp: string }>`
      SELECT family_id::int AS family_id, case_ref, amount_gbp::text AS amount_gbp FROM core.claim_line
      WHERE claim_id = ${claim.claimId} AND case_ref = ANY(${candidates}::text[]) ORDER BY (case_ref = ${opts.caseRef}) DESC LIMIT 1`.execute(k);
    const l = line.rows[0];
    if (!l) throw new JobError(`case_ref ${opts.caseRef} is not a line of the submitted claim of window ${w} (claim ${claim.claimId})`);
    try {
      const ins = await sql<{ id: number }>`
        INSERT INTO core.claim_withdrawal (claim_id, family_id, case_ref, reason, withdrawn_by, run_id)
        VALUES (${claim.claimId}, ${l.family_id}, ${l.case_ref}, ${opts.reason.trim()}, ${opts.by.trim()}, ${ctx.runId})
        RETURNING withdrawal_id::int AS id`.execute(k);
      return { window: w, claimId: claim.claimId, withdrawalId: ins.rows[0]!.id, caseRef: l.case_ref, familyId: l.family_id, amountGbp: l.amount_gbp };
    } catch (error) {
      if (sqlStateOf(error) === SqlState.uniqueViolation) throw new JobError(`the line ${l.case_ref} of window ${w} was already withdrawn`, { cause: error });
      throw error;
    }
  });
}

export { ROUTES };
