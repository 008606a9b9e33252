import type { CommandReport } from '../cli/output.ts';
import { ExitCode } from '../errors.ts';
import { withRun, type CommonOptions } from '../run/context.ts';
import { describeIngest, extractFromArgs, ingestExtracts, IngestFailedError } from './index.ts';

export interface IngestCommandOptions extends CommonOptions {
  source: string;
  file: string;
  mapping?: string;
  out?: string;
  maxRejectFraction?: number;
  today?: string;
}

/** `tfclaims ingest SOURCE FILE`: load one extract as one run. */
export async function runIngest(opts: IngestCommandOptions): Promise<CommandReport> {
  const extract = await extractFromArgs(opts.source, opts.file, opts.mapping);
  const outcome = await withRun(
    'ingest',
    { source: opts.source, file: opts.file, mapping: opts.mapping ?? null, out: opts.out ?? null },
    opts,
    async (ctx) => {
      try {
        const summary = await ingestExtracts(ctx, {
          files: [extract],
          ...(opts.out ? { outDir: opts.out } : {}),
          ...(opts.maxRejectFraction !== undefined ? { maxRejectFraction: opts.maxRejectFraction } : {}),
          ...(opts.today ? { today: opts.today } : {}),
        });
        return { summary, exitCode: ExitCode.ok };
      } catch (error) {
        if (error instanceof IngestFailedError) return { summary: error.summary, exitCode: ExitCode.inputRejected };
        throw error;
      }
    },
  );
  const lines = describeIngest(outcome.summary);
  if (outcome.exitCode !== ExitCode.ok) lines.push('nothing was loaded: the database is as it was before this file');
  lines.push(`run #${outcome.runId}; log: ${outcome.logFile}`);
  return { exitCode: outcome.exitCode, lines, json: { runId: outcome.runId, ...outcome.summary } };
}
