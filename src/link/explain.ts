import { sql, type Kysely } from 'kysely';
import type { CommandReport } from '../cli/output.ts';
import type { Schema } from '../db/index.ts';
import { JobError, UsageError } from '../errors.ts';
import { withRun, type CommonOptions } from '../run/context.ts';
import { breakdownLines, breakdownOf, formatProbability, formatWeight, levelName, modelVerdict, recordsSideBySide, type MatchThresholds, type PairBreakdown } from './breakdown.ts';
import { COUNCIL_BLOCKING, COUNCIL_COMPARISONS } from './council.ts';
import { blockingKey, gammaOf, type LinkRecord } from './model.ts';
import { formatPairId, formatRecordRef, orderPair, parseRecordRef, sameRecord, type RecordRef } from './pair-id.ts';
import { toLinkRecord } from './records.ts';
import { latestDecision, latestMatchRun, loadRecords, personsOf, type StoredDecision } from './review-store.ts';
import { profilesOf } from './stage.ts';

/**
 * `tfclaims explain-match A B` (issue 3, item 6): why the linkage model scores two records as it
 * does. The comparison is recomputed from the records as they are now with the model of the
 * latest match run, so it works for any two records, stored pair or not; what the run stored for
 * the pair, the people the records are in now and any reviewer's decision are shown beside it.
 */

export interface MatchExplanation {
  /** The two records in stored pair order, and the pair id the review commands use. */
  a: RecordRef;
  b: RecordRef;
  pairId: string;
  matchRun: { runId: number; startedAt: string } & MatchThresholds;
  breakdown: PairBreakdown;
  /** What the model alone makes of the probability at the run's thresholds. */
  verdict: string;
  /** Blocking rules under which the pair is a candidate; none means the match stage never scores it. */
  blockingRules: string[];
  /** Same source and the same person id: linked deterministically, whatever the model says. */
  samePersonRef: boolean;
  /** Identical in every linkage field, source and person id: the match stage reads them as one record. */
  sameProfile: boolean;
  /** The pair as the latest match run stored it (probability >= 0.01 and the first record of each profile), if it did. */
  stored: { weight: number; probability: number; outcome: string; reason: string | null } | undefined;
  personA: number | undefined;
  personB: number | undefined;
  decision: StoredDecision | undefined;
  /** With `showRecords`: the values the comparisons saw (normalised; personal data). */
  compared?: { a: LinkRecord; b: LinkRecord };
}

/**
 * Explain the model's score of two records (in either order). Throws UsageError when a record is
 * not among the current records, JobError when no match run has stored a model yet.
 */
export async function explainMatch(k: Kysely<Schema>, first: RecordRef, second: RecordRef, opts: { showRecords?: boolean } = {}): Promise<MatchExplanation> {
  if (sameRecord(first, second)) throw new UsageError(`explain-match needs two different records, not ${formatRecordRef(first)} twice`);
  const [a, b] = orderPair(first, second);
  const run = await latestMatchRun(k);
  const records = await loadRecords(k, [a, b]);
  const missing = [a, b].filter((r) => !records.has(formatRecordRef(r))).map(formatRecordRef);
  if (missing.length > 0) {
    throw new UsageError(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not among the current records`, {
      hint: 'a record is SOURCE:RECORD_ID as in the extract, e.g. attendance:ATT00000012; superseded extracts are not searched',
    });
  }
  if (!run.model) {
    throw new JobError(`match run #${run.runId} had too few candidate pairs to train the linkage model, so there is no score to explain`, {
      hint: 'load fuller extracts and run `tfclaims match` again; until then only deterministic links (one source, one person id) are made',
    });
  }
  const ra = records.get(formatRecordRef(a))!;
  const rb = records.get(formatRecordRef(b))!;
  const la = toLinkRecord(ra);
  const lb = toLinkRecord(rb);
  const breakdown = breakdownOf(run.model, gammaOf(COUNCIL_COMPARISONS, la, lb), { a: la, b: lb });
  const blockingRules = COUNCIL_BLOCKING.filter((rule) => {
    const key = blockingKey(rule, la);
    return key !== undefined && key === blockingKey(rule, lb);
  }).map((rule) => rule.name);
  const refA = (ra.person_ref ?? '').trim();
  const { rows } = await sql<{ weight: number; probability: number; outcome: string; reason: string | null }>`
    SELECT weight, probability, outcome, reason FROM core.link_pair
    WHERE run_id = ${run.runId}
      AND ((source_a = ${a.source} AND record_a = ${a.recordId} AND source_b = ${b.source} AND record_b = ${b.recordId})
        OR (source_a = ${b.source} AND record_a = ${b.recordId} AND source_b = ${a.source} AND record_b = ${a.recordId}))`.execute(k);
  const stored = rows[0] && { weight: Number(rows[0].weight), probability: Number(rows[0].probability), outcome: rows[0].outcome, reason: rows[0].reason };
  const persons = await personsOf(k, [a, b]);
  return {
    a,
    b,
    pairId: formatPairId(a, b),
    matchRun: { runId: run.runId, startedAt: run.startedAt, ...run.thresholds },
    breakdown,
    verdict: modelVerdict(breakdown.probability, run.thresholds).text,
    blockingRules,
    samePersonRef: a.source === b.source && refA !== '' && refA === (rb.person_ref ?? '').trim(),
    sameProfile: profilesOf([ra, rb]).profiles.length === 1,
    stored,
    personA: persons.get(formatRecordRef(a)),
    personB: persons.get(formatRecordRef(b)),
    decision: await latestDecision(k, a, b),
    ...(opts.showRecords ? { compared: { a: la, b: lb } } : {}),
  };
}

/** The explanation as text for stdout. Personal data (compared values, a decision's note) only with `showRecords`. */
export function explanationText(e: MatchExplanation, opts: { showRecords?: boolean } = {}): string[] {
  const t = e.matchRun;
  const lines = [
    `explain-match ${e.pairId}`,
    `model of match run #${t.runId} (${t.startedAt}); ${opts.showRecords ? 'PERSONAL DATA below (--show-records)' : 'no personal data below (--show-records adds the compared values)'}`,
    '',
    ...breakdownLines(e.breakdown, { withMU: true }),
    '',
    `  the model alone makes this: ${e.verdict} (run #${t.runId}: link at probability >= ${t.threshold}, review band ${t.reviewLow}-${t.reviewHigh})`,
  ];
  if (e.sameProfile) lines.push('  the two records are identical in every linkage field, source and person id: the match stage reads them as one record');
  else if (e.samePersonRef) lines.push(`  one person id in ${e.a.source}: a deterministic link, whatever the score (unless a reviewer said different)`);
  lines.push(
    e.blockingRules.length > 0
      ? `  blocking: a candidate pair under ${e.blockingRules.join(', ')}`
      : '  blocking: no blocking rule brings these two together, so the match stage never scores them (no probabilistic link)',
  );
  lines.push(
    e.stored
      ? `  stored by run #${t.runId}: ${e.stored.outcome}${e.stored.reason ? ` (${e.stored.reason})` : ''}, match weight ${formatWeight(e.stored.weight)}, probability ${formatProbability(e.stored.probability)}`
      : `  not stored by run #${t.runId} (it stores candidate pairs with probability >= 0.01, by the first record of each group of identical records)`,
  );
  const { personA: pa, personB: pb } = e;
  const unmatched = [pa === undefined ? e.a : undefined, pb === undefined ? e.b : undefined].flatMap((r) => (r ? [formatRecordRef(r)] : []));
  lines.push(
    `  people now: ${unmatched.length > 0 ? `${unmatched.join(' and ')} not matched yet (loaded after the latest match)` : pa === pb ? `the same person (#${pa})` : `different people (#${pa}, #${pb})`}`,
  );
  const d = e.decision;
  lines.push(
    d
      ? `  review decision #${d.decisionId}: ${d.decision}, by ${d.decidedBy}, ${d.decidedAt}${opts.showRecords && d.note ? `; note: ${d.note}` : d.note ? ' (with a note: --show-records shows it)' : ''}`
      : '  review decision: none',
  );
  if (opts.showRecords && e.compared) {
    lines.push('', '  the values compared (after normalising case, accents, spacing and date format):');
    lines.push(
      ...recordsSideBySide({ label: formatRecordRef(e.a), fields: e.compared.a }, { label: formatRecordRef(e.b), fields: e.compared.b }, { indent: '    ', markDifferences: true }),
    );
  }
  return lines;
}

/** The explanation as JSON (the compared values and a decision's note only with `showRecords`). */
export function explanationJson(e: MatchExplanation, opts: { showRecords?: boolean } = {}): Record<string, unknown> {
  const { note, ...decision } = e.decision ?? { note: null };
  return {
    pair: e.pairId,
    a: formatRecordRef(e.a),
    b: formatRecordRef(e.b),
    matchRunId: e.matchRun.runId,
    thresholds: { threshold: e.matchRun.threshold, reviewLow: e.matchRun.reviewLow, reviewHigh: e.matchRun.reviewHigh },
    comparisons: e.breakdown.comparisons.map((c) => ({ ...c, name: levelName(c) })),
    priorWeight: e.breakdown.priorWeight,
    weight: e.breakdown.weight,
    probability: e.breakdown.probability,
    verdict: e.verdict,
    blockingRules: e.blockingRules,
    samePersonRef: e.samePersonRef,
    sameProfile: e.sameProfile,
    stored: e.stored ?? null,
    personA: e.personA ?? null,
    personB: e.personB ?? null,
    samePerson: e.personA !== undefined && e.personA === e.personB,
    decision: e.decision ? { ...decision, ...(opts.showRecords ? { note } : {}) } : null,
    ...(opts.showRecords && e.compared ? { compared: e.compared } : {}),
  };
}

export interface ExplainMatchOptions extends CommonOptions {
  /** `source:record_id` each. */
  recordA: string;
  recordB: string;
  showRecords?: boolean;
  /** Where the explanation goes (default: stdout). Personal data must never go to stderr or a log. */
  print?: (text: string) => void;
}

/** `tfclaims explain-match RECORD_A RECORD_B`: the explanation on stdout (or JSON with `--json`), recorded as a run. */
export async function runExplainMatch(opts: ExplainMatchOptions): Promise<CommandReport> {
  const a = parseRecordRef(opts.recordA);
  const b = parseRecordRef(opts.recordB);
  const showRecords = opts.showRecords ?? false;
  let explanation: MatchExplanation | undefined;
  const outcome = await withRun('explain-match', { a: formatRecordRef(a), b: formatRecordRef(b), showRecords }, opts, async (ctx) => {
    explanation = await explainMatch(ctx.db.kysely, a, b, { showRecords });
    // Ids and numbers only: this summary is stored with the run.
    return { summary: { pair: explanation.pairId, matchRunId: explanation.matchRun.runId, weight: explanation.breakdown.weight }, exitCode: 0 };
  });
  const e = explanation!;
  if (!opts.json) (opts.print ?? ((text: string) => void process.stdout.write(text)))(`${explanationText(e, { showRecords }).join('\n')}\n`);
  return {
    exitCode: outcome.exitCode,
    lines: [`explain-match: ${e.pairId} probability ${formatProbability(e.breakdown.probability)}; run #${outcome.runId}; log: ${outcome.logFile}`],
    json: { runId: outcome.runId, ...explanationJson(e, { showRecords }) },
  };
}
