import type { CommandReport } from '../cli/output.ts';
import { UsageError } from '../errors.ts';
import { createFileLogger } from '../log/logger.ts';
import { silentProgress, terminalProgress } from '../log/progress.ts';
import { parseAsOf } from '../run/pipeline.ts';
import type { CommonOptions } from '../run/context.ts';
import { runSynth } from './index.ts';

export interface SynthCommandOptions extends CommonOptions {
  out: string;
  families: number;
  seed: number;
  population?: number;
  asOf: string;
  exportedSource?: string;
  invalidRate?: number;
}

/** `tfclaims synth`: write a synthetic council with its truth (no database). */
export async function runSynthCommand(opts: SynthCommandOptions): Promise<CommandReport> {
  if (opts.exportedSource !== undefined && opts.exportedSource !== 'offending') {
    throw new UsageError(`--exported-source ${opts.exportedSource} is not available`, { hint: 'only offending has a vendor export layout' });
  }
  const asOf = parseAsOf(opts.asOf);
  const { logger, file } = createFileLogger({ logDir: opts.logDir, logFile: opts.logFile, command: 'synth' });
  const summary = await runSynth({
    outDir: opts.out,
    families: opts.families,
    seed: opts.seed,
    asOf,
    logger,
    ...(opts.invalidRate !== undefined ? { invalidRate: opts.invalidRate } : {}),
    progress: opts.quiet || opts.json ? silentProgress : terminalProgress(),
    ...(opts.population !== undefined ? { population: opts.population } : {}),
    ...(opts.exportedSource === 'offending' ? { exportedSource: 'offending' as const } : {}),
  });
  const rows = Object.entries(summary.rows)
    .map(([source, n]) => `${source} ${n}`)
    .join(', ');
  return {
    exitCode: 0,
    lines: [
      `synthetic council in ${summary.outDir}: ${summary.residents} residents, ${summary.attachedFamilies} attached families (seed ${summary.seed}, as of ${summary.asOf})`,
      `rows: ${rows}; ${summary.expectedRejects} rows made invalid on purpose (truth/rejects.csv)`,
      `log: ${file}`,
    ],
    json: { ...summary },
  };
}
