import { mkdir } from 'node:fs/promises';
import type { CommandReport } from '../cli/output.ts';
import { ExitCode, UsageError } from '../errors.ts';
import { describeIngest, discoverExtracts, ingestExtracts, IngestFailedError, type IngestSummary } from '../ingest/index.ts';
import { parseDate } from '../ingest/dates.ts';
import { withRun, type CommonOptions } from './context.ts';
import { recordOutput } from '../audit/outputs.ts';
import { describeMatch, matchAndGroup, type MatchAndGroupSummary } from '../link/command.ts';
import { writeFamiliesCsv } from '../families/index.ts';
import { describeEvaluation, evaluateStage, writeEligibleUnattachedCsv } from '../rules/command.ts';
import { loadPlan, type EvaluationSummary } from '../rules/index.ts';
import { describeClaim, draftClaim, type ClaimSummary } from '../claims/index.ts';
import { submittedClaim } from '../claims/store.ts';

export interface RunPipelineOptions extends CommonOptions {
  extracts: string;
  asOf: string;
  window: string;
  out: string;
  plan?: string;
  maxRejectFraction?: number;
  today?: string;
  /** Stop after this stage (later stages are reported as skipped). */
  stopAfter?: RunStage;
  /** Relink every record and retrain the linkage model (default: only new and changed records after the first run). */
  fullMatch?: boolean;
}


/** Stages `--stop-after` accepts, in run order. */
export const RUN_STAGES = ['ingest', 'match', 'evaluate'] as const;
export type RunStage = (typeof RUN_STAGES)[number];

/** What a run did, recorded with it and printed with --json. */
interface RunSummary {
  ingest: IngestSummary;
  match?: MatchAndGroupSummary;
  familiesCsv?: { file: string; rows: number };
  evaluation?: EvaluationSummary;
  eligibleUnattachedCsv?: { file: string; families: number; rows: number };
  claim?: ClaimSummary;
  /** Wall-clock seconds per stage. */
  seconds?: Record<string, number>;
  stages: { stage: string; status: string }[];
}

/** Check `--as-of` is a real ISO date. */
export function parseAsOf(value: string): string {
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(value) ? parseDate(value, 'YYYY-MM-DD') : undefined;
  if (!parsed?.ok) throw new UsageError(`--as-of ${value} is not a real date in YYYY-MM-DD form`, { hint: 'e.g. --as-of 2026-10-31' });
  return parsed.iso;
}

/** Check a claim window id: letters, digits, `-`, `_` (it becomes part of file names). */
export function parseWindowId(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/.test(value)) {
    throw new UsageError(`--window ${value} is not a valid window id`, { hint: 'use letters, digits, - and _, e.g. --window 2026-Q3' });
  }
  return value;
}

/**
 * `tfclaims run`: the monthly job. Ingests every known extract in the folder (one transaction:
 * all or nothing), links people and families (one transaction) and writes families.csv,
 * evaluates every family under the plan (one transaction) and writes eligible-unattached.csv,
 * and drafts the claim for the window (claim-<window>.csv and its summary).
 */
export async function runPipeline(opts: RunPipelineOptions): Promise<CommandReport> {
  const asOf = parseAsOf(opts.asOf);
  const window = parseWindowId(opts.window);
  // A bad plan is a usage error before anything touches the database.
  const plan = await loadPlan(opts.plan);
  const files = await discoverExtracts(opts.extracts);
  if (files.length === 0) {
    throw new UsageError(`no extracts found in ${opts.extracts}`, {
      hint: 'the folder should hold one or more of attendance.csv, offending.csv, employment.csv, social_care.csv, attachments.csv, evidence.csv',
    });
  }
  await mkdir(opts.out, { recursive: true });
  const outcome = await withRun<RunSummary>(
    'run',
    { extracts: opts.extracts, asOf, window, out: opts.out, plan: plan.source, planSha256: plan.sha256, stopAfter: opts.stopAfter ?? null, fullMatch: opts.fullMatch ?? false },
    opts,
    async (ctx) => {
      ctx.progress.say(`run #${ctx.runId}: ${files.length} extract${files.length === 1 ? '' : 's'} in ${opts.extracts}, as of ${asOf}, window ${window}`);
      let ingest: IngestSummary;
      const started = performance.now();
      try {
        ingest = await ingestExtracts(ctx, {
          files,
          outDir: opts.out,
          ...(opts.maxRejectFraction !== undefined ? { maxRejectFraction: opts.maxRejectFraction } : {}),
          ...(opts.today ? { today: opts.today } : {}),
        });
      } catch (error) {
        if (error instanceof IngestFailedError) {
          return { summary: { ingest: error.summary, stages: [] } as RunSummary, exitCode: ExitCode.inputRejected };
        }
        throw error;
      }
      const seconds: Record<string, number> = { ingest: (performance.now() - started) / 1000 };
      if (opts.stopAfter === 'ingest') {
        return { summary: { ingest, seconds, stages: [{ stage: 'match', status: 'skipped (--stop-after ingest)' }] }, exitCode: ExitCode.ok };
      }
      const matchStarted = performance.now();
      const match = await matchAndGroup(ctx, { asOf, ...(opts.fullMatch ? { full: true } : {}) });
      // families.csv only reads what the match committed, so it is written while the rules
      // evaluate (on a server, on its own connection; embedded, the two take turns). It starts
      // once the rules' staging is built: the staging's big statements use both cores (parallel
      // plans), the many statements after it one.
      const { promise: familiesCsvStarted, resolve: startFamiliesCsv } = Promise.withResolvers<void>();
      const familiesCsvWritten = familiesCsvStarted.then(async () => {
        const written = await writeFamiliesCsv(ctx.db, opts.out);
        await recordOutput(ctx, written.file, { kind: 'families' });
        return written;
      });
      if (opts.stopAfter === 'match') {
        startFamiliesCsv();
        const familiesCsv = await familiesCsvWritten;
        seconds.match = (performance.now() - matchStarted) / 1000;
        return { summary: { ingest, match, familiesCsv, seconds, stages: [] }, exitCode: ExitCode.ok };
      }
      seconds.match = (performance.now() - matchStarted) / 1000;
      const evaluateStarted = performance.now();
      // Started whatever happens to the evaluation, so the file is never left waiting.
      const evaluated = evaluateStage(ctx, { asOf, plan, afterStaging: startFamiliesCsv }).finally(startFamiliesCsv);
      const [csvOutcome, evaluationOutcome] = await Promise.allSettled([familiesCsvWritten, evaluated]);
      if (evaluationOutcome.status === 'rejected') throw evaluationOutcome.reason;
      if (csvOutcome.status === 'rejected') throw csvOutcome.reason;
      const familiesCsv = csvOutcome.value;
      const evaluation = evaluationOutcome.value;
      const eligibleUnattachedCsv = await writeEligibleUnattachedCsv(ctx.db, evaluation.evaluationId, opts.out);
      await recordOutput(ctx, eligibleUnattachedCsv.file, { kind: 'eligible_unattached' });
      seconds.evaluate = (performance.now() - evaluateStarted) / 1000;
      if (opts.stopAfter === 'evaluate') return { summary: { ingest, match, familiesCsv, evaluation, eligibleUnattachedCsv, seconds, stages: [] }, exitCode: ExitCode.ok };
      // A window already submitted keeps its claim: running the month again never redrafts or re-claims it.
      const submitted = await submittedClaim(ctx.db.kysely, window);
      if (submitted) {
        const status = `window ${window} was already submitted (claim ${submitted.claimId}); nothing drafted`;
        ctx.logger.info({ stage: 'claim', claimId: submitted.claimId }, status);
        return { summary: { ingest, match, familiesCsv, evaluation, eligibleUnattachedCsv, seconds, stages: [{ stage: 'claim', status }] }, exitCode: ExitCode.ok };
      }
      const claimStarted = performance.now();
      const claim = await draftClaim(ctx, { window, asOf, plan, outDir: opts.out });
      seconds.claim = (performance.now() - claimStarted) / 1000;
      return { summary: { ingest, match, familiesCsv, evaluation, eligibleUnattachedCsv, claim, seconds, stages: [] }, exitCode: ExitCode.ok };
    },
  );
  const lines = ['ingest:', ...describeIngest(outcome.summary.ingest).map((l) => `  ${l}`)];
  const { match, familiesCsv, evaluation, eligibleUnattachedCsv, claim, stages } = outcome.summary;
  if (outcome.exitCode === ExitCode.ok) {
    if (match) lines.push(...describeMatch(match));
    if (familiesCsv) lines.push(`  ${familiesCsv.file}: ${familiesCsv.rows} records placed in families`);
    if (evaluation) lines.push(...describeEvaluation(evaluation));
    if (eligibleUnattachedCsv) lines.push(`  ${eligibleUnattachedCsv.file}: ${eligibleUnattachedCsv.families} families (${eligibleUnattachedCsv.rows} people) for the early help service to consider`);
    if (claim) lines.push(...describeClaim(claim));
    for (const s of stages) lines.push(`${s.stage}: ${s.status}`);
    if (opts.stopAfter) lines.push(`stopped after ${opts.stopAfter} (--stop-after)`);
  } else {
    lines.push('the run stopped at ingest: nothing from it was loaded, the database is as it was before');
  }
  lines.push(`run #${outcome.runId} ${outcome.exitCode === 0 ? 'finished' : 'failed'}; outputs in ${opts.out}; log: ${outcome.logFile}`);
  return { exitCode: outcome.exitCode, lines, json: { runId: outcome.runId, asOf, window, ...outcome.summary } };
}
