import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CommandReport } from '../cli/output.ts';
import { UsageError } from '../errors.ts';
import { useBulkSettings } from '../db/bulk-settings.ts';
import { withRun, type CommonOptions, type RunContext } from '../run/context.ts';
import type { FamiliesSummary } from '../families/index.ts';
import type { MatchSummary } from './stage.ts';
import { evaluateFebrl, readFebrl, type LinkageEvaluation } from './febrl.ts';

/** FEBRL files shipped with the project (public synthetic benchmark data, see their README). */
export const DEFAULT_FEBRL_DIR = path.join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'febrl');

function line(name: string, r: LinkageEvaluation): string {
  return (
    `${name}: F1 ${r.f1.toFixed(4)} (precision ${r.precision.toFixed(4)}, recall ${r.recall.toFixed(4)}; ` +
    `${r.tp} true links found, ${r.fp} false, ${r.fn} missed of ${r.truePairs}) from ${r.candidatePairs} candidate pairs, ` +
    `threshold probability ${r.threshold}, EM ${r.model.converged ? 'converged' : 'did not converge'} in ${r.model.iterations} iterations`
  );
}

/**
 * `tfclaims linkage-eval`: score the unsupervised linkage model against FEBRL's ground truth
 * (FEBRL4 link and FEBRL1 dedupe) with default settings. Needs no database.
 */
export async function runLinkageEval(opts: { febrl?: string; synth?: string; threshold?: number }): Promise<CommandReport> {
  const dir = opts.febrl ?? DEFAULT_FEBRL_DIR;
  for (const name of ['dataset1.csv', 'dataset4a.csv', 'dataset4b.csv']) {
    if (!existsSync(path.join(dir, name))) {
      throw new UsageError(`--febrl ${dir} has no ${name}`, { hint: 'give the folder holding dataset1.csv, dataset4a.csv and dataset4b.csv' });
    }
  }
  if (opts.synth !== undefined && !existsSync(path.join(opts.synth, 'truth', 'records.csv'))) {
    throw new UsageError(`--synth ${opts.synth} has no truth/records.csv`, { hint: 'give a folder written by tfclaims synth' });
  }
  const threshold = opts.threshold ?? 0.5;
  const febrl4 = evaluateFebrl(await readFebrl(path.join(dir, 'dataset4a.csv')), await readFebrl(path.join(dir, 'dataset4b.csv')), { threshold });
  const febrl1 = evaluateFebrl(await readFebrl(path.join(dir, 'dataset1.csv')), undefined, { threshold });
  const summary = (r: LinkageEvaluation) => ({
    f1: r.f1, precision: r.precision, recall: r.recall, tp: r.tp, fp: r.fp, fn: r.fn, truePairs: r.truePairs,
    candidatePairs: r.candidatePairs, candidatesByRule: r.byRule, threshold: r.threshold, prior: r.model.prior,
    emIterations: r.model.iterations, emConverged: r.model.converged, weightHistogram: r.weightHistogram,
    levels: r.model.comparisons,
  });
  const lines = [line('FEBRL4 link (dataset4a x dataset4b)', febrl4), line('FEBRL1 dedupe (dataset1)', febrl1)];
  const json: Record<string, unknown> = { febrl4: summary(febrl4), febrl1: summary(febrl1) };
  if (opts.synth !== undefined) {
    const { evaluateSynthetic } = await import('./synthetic.ts');
    const s = await evaluateSynthetic(opts.synth, { threshold });
    lines.push(
      `synthetic council (${s.records} person records, dedupe): person-pair F1 ${s.f1.toFixed(4)} (precision ${s.precision.toFixed(4)}, ` +
        `recall ${s.recall.toFixed(4)}; ${s.tp} true pairs found, ${s.fp} false, ${s.fn} missed of ${s.truePairs}) from ${s.candidatePairs} candidate pairs`,
    );
    json.synthetic = {
      records: s.records, f1: s.f1, precision: s.precision, recall: s.recall, tp: s.tp, fp: s.fp, fn: s.fn, truePairs: s.truePairs,
      candidatePairs: s.candidatePairs, candidatesByRule: s.byRule, prior: s.model.prior, levels: s.model.comparisons,
    };
  }
  lines.push('targets (benchmarks.md): FEBRL4 F1 >= 0.999 (Splink 0.9992 at weight 0), FEBRL1 F1 >= 0.99, synthetic person-pair F1 >= 0.995');
  return { exitCode: 0, lines, json };
}

export interface MatchCommandOptions extends CommonOptions {
  threshold?: number;
  /** Relink every record and retrain the model (default: only new and changed records after the first run). */
  full?: boolean;
  /** Folder to write families.csv into. */
  out?: string;
  /**
   * The month's reference date (`YYYY-MM-DD`), as `run --as-of` gives it: a family membership
   * that ends in this run ends on the extracts' data date, but never after this date.
   */
  asOf?: string;
}

/** What the match step of a run did: people, then families (counts only). */
export interface MatchAndGroupSummary {
  people: MatchSummary;
  families: FamiliesSummary;
}

/**
 * Link the current extracts' person records into people, then group people into families, in
 * one transaction (a failure leaves both as they were).
 */
export async function matchAndGroup(ctx: RunContext, opts: { threshold?: number; full?: boolean; asOf?: string } = {}): Promise<MatchAndGroupSummary> {
  const { matchPeople } = await import('./stage.ts');
  const { buildFamilies } = await import('../families/index.ts');
  return ctx.db.transaction(async (session) => {
    await useBulkSettings(session);
    const people = await matchPeople(session, ctx, {
      ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }),
      ...(opts.full ? { full: true } : {}),
    });
    const families = await buildFamilies(session, ctx, opts.asOf === undefined ? {} : { asOf: opts.asOf });
    return { people, families };
  });
}

/** Lines a person reads about the match step (counts only). */
export function describeMatch(s: MatchAndGroupSummary): string[] {
  const p = s.people;
  const f = s.families;
  const refused = Object.entries(p.refusedLinks).map(([why, n]) => `${n} (${why})`).join(', ') || 'none';
  return [
    `match: ${p.records} person records (${p.profiles} distinct profiles) linked into ${p.persons} people (${p.newPersons} new)`,
    p.mode === 'incremental'
      ? `  incremental: ${p.freshProfiles} profiles new or changed since the last match run, scored with the model of run #${p.modelRun}; ` +
        `the others kept their people and ${p.carriedPairs} scored pairs (--full relinks everything)`
      : `  full: every profile scored${p.modelTrained ? ' and the model trained in this run' : ''}`,
    `  ${p.candidatePairs} candidate pairs scored${p.modelTrained ? '' : ' (too few to train the model: deterministic links only)'}; ` +
      `${p.deterministicLinks} deterministic and ${p.probabilisticLinks} probabilistic links; refused: ${refused}`,
    `  ${p.reviewQueue} pairs await clerical review; ${p.reviewDecisionsApplied} earlier decisions applied; ${p.merges} merges and ${p.splits} splits of earlier people`,
    `families: ${f.people} people in ${f.families} families (${f.attachedFamilies} attached, ${f.newFamilies} new); ` +
      `${f.membersJoined} memberships began and ${f.membersLeft} ended; ${f.merges} merges and ${f.splits} splits of earlier families`,
  ];
}

/** `tfclaims match`: people and families, as one run (one transaction); families.csv with --out. */
export async function runMatch(opts: MatchCommandOptions): Promise<CommandReport> {
  const { parseAsOf } = await import('../run/pipeline.ts');
  const asOf = opts.asOf === undefined ? undefined : parseAsOf(opts.asOf);
  const args = { threshold: opts.threshold ?? null, out: opts.out ?? null, full: opts.full ?? false, asOf: asOf ?? null };
  const outcome = await withRun('match', args, opts, async (ctx) => {
    const summary = await matchAndGroup(ctx, { ...opts, ...(asOf === undefined ? {} : { asOf }) });
    let familiesCsv: { file: string; rows: number } | undefined;
    if (opts.out !== undefined) {
      await mkdir(opts.out, { recursive: true });
      const { writeFamiliesCsv } = await import('../families/index.ts');
      familiesCsv = await writeFamiliesCsv(ctx.db, opts.out);
      const { recordOutput } = await import('../audit/outputs.ts');
      await recordOutput(ctx, familiesCsv.file, { kind: 'families' });
    }
    return { summary: { ...summary, familiesCsv }, exitCode: 0 };
  });
  const s = outcome.summary;
  const lines = describeMatch(s);
  if (s.familiesCsv) lines.push(`  ${s.familiesCsv.file}: ${s.familiesCsv.rows} records placed in families`);
  lines.push(`run #${outcome.runId}; log: ${outcome.logFile}`);
  return { exitCode: outcome.exitCode, lines, json: { runId: outcome.runId, ...s } };
}
