import { mkdir } from 'node:fs/promises';
import type { CommandReport } from '../cli/output.ts';
import { ExitCode, UsageError } from '../errors.ts';
import { describeIngest, discoverExtracts, ingestExtracts, IngestFailedError, type IngestSummary } from '../ingest/index.ts';
import { parseDate } from '../ingest/dates.ts';
import { withRun, type CommonOptions } from './context.ts';

export interface RunPipelineOptions extends CommonOptions {
  extracts: string;
  asOf: string;
  window: string;
  out: string;
  plan?: string;
  maxRejectFraction?: number;
  today?: string;
}

/** Stages after ingest, in order, with the issue that builds each. Reported, never faked. */
export const LATER_STAGES = [
  {
    stage: 'match',
    does: 'people are linked by `tfclaims match`, run after this; families are not built yet',
    status: 'not part of run yet',
  },
  { stage: 'evaluate', does: 'identification and outcomes as of the reference date', status: 'not built yet' },
  { stage: 'claim', does: 'claim draft for the window', status: 'not built yet' },
] as const;

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
 * all or nothing), then the later stages, which report that they are not built yet.
 */
export async function runPipeline(opts: RunPipelineOptions): Promise<CommandReport> {
  const asOf = parseAsOf(opts.asOf);
  const window = parseWindowId(opts.window);
  if (opts.plan) {
    throw new UsageError('--plan is not supported yet: outcomes plans arrive with the rules stage', { hint: 'run without --plan for now' });
  }
  const files = await discoverExtracts(opts.extracts);
  if (files.length === 0) {
    throw new UsageError(`no extracts found in ${opts.extracts}`, {
      hint: 'the folder should hold one or more of attendance.csv, offending.csv, employment.csv, social_care.csv, attachments.csv, evidence.csv',
    });
  }
  await mkdir(opts.out, { recursive: true });
  const outcome = await withRun(
    'run',
    { extracts: opts.extracts, asOf, window, out: opts.out },
    opts,
    async (ctx) => {
      ctx.progress.say(`run #${ctx.runId}: ${files.length} extract${files.length === 1 ? '' : 's'} in ${opts.extracts}, as of ${asOf}, window ${window}`);
      let ingest: IngestSummary;
      try {
        ingest = await ingestExtracts(ctx, {
          files,
          outDir: opts.out,
          ...(opts.maxRejectFraction !== undefined ? { maxRejectFraction: opts.maxRejectFraction } : {}),
          ...(opts.today ? { today: opts.today } : {}),
        });
      } catch (error) {
        if (error instanceof IngestFailedError) {
          return { summary: { ingest: error.summary, stages: [] }, exitCode: ExitCode.inputRejected };
        }
        throw error;
      }
      for (const later of LATER_STAGES) {
        ctx.logger.info({ stage: later.stage }, `${later.stage}: ${later.status}`);
      }
      return { summary: { ingest, stages: LATER_STAGES.map((s) => ({ stage: s.stage, status: s.status })) }, exitCode: ExitCode.ok };
    },
  );
  const lines = ['ingest:', ...describeIngest(outcome.summary.ingest).map((l) => `  ${l}`)];
  if (outcome.exitCode === ExitCode.ok) {
    for (const later of LATER_STAGES) lines.push(`${later.stage}: ${later.status} (${later.does})`);
  } else {
    lines.push('the run stopped at ingest: nothing from it was loaded, the database is as it was before');
  }
  lines.push(`run #${outcome.runId} ${outcome.exitCode === 0 ? 'finished' : 'failed'}; outputs in ${opts.out}; log: ${outcome.logFile}`);
  return { exitCode: outcome.exitCode, lines, json: { runId: outcome.runId, asOf, window, ...outcome.summary } };
}
