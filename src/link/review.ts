import { sql, type Kysely } from 'kysely';
import type { CommandReport } from '../cli/output.ts';
import type { Database, Schema } from '../db/index.ts';
import { UsageError } from '../errors.ts';
import { withRun, type CommonOptions, type RunContext } from '../run/context.ts';
import {
  breakdownLines,
  forecastDecision,
  formatProbability,
  formatWeight,
  guardRefusal,
  levelName,
  recordsSideBySide,
  reviewOrder,
  storedBreakdown,
  type PairBreakdown,
} from './breakdown.ts';
import { formatPairId, formatRecordRef, parsePairId, type PersonSource, type RecordRef } from './pair-id.ts';
import { guardFactsOf, latestDecision, latestMatchRun, loadRecords, personsOf, type SourceRecord, type StoredDecision } from './review-store.ts';
import { profilesOf } from './stage.ts';

/**
 * The clerical review queue (issue 3): `tfclaims review list` shows the pairs the latest match
 * run was unsure of, with the same breakdown as explain-match and no personal data unless asked;
 * `tfclaims review decide` records a reviewer's `same` or `different`, which every later match
 * obeys (stage.ts reads `core.review_decision`, the latest decision per pair winning).
 */

/** How the queue is ordered: least certain first (nearest probability 0.5), or most probable first. */
export type ReviewSort = 'uncertainty' | 'probability';

/** One pair awaiting review. No personal data unless `records` was asked for. */
export interface QueuedPair {
  pairId: string;
  a: RecordRef;
  b: RecordRef;
  probability: number;
  /** The stored total match weight of the run. */
  weight: number;
  /** What the run did with the pair: `review` (not linked) or `linked` (a link in the band). */
  outcome: string;
  reason: string | null;
  breakdown: PairBreakdown;
  /** Each record's person now; undefined when not matched (or no longer current). */
  personA: number | undefined;
  personB: number | undefined;
  /** With `showRecords`: each record's person fields, undefined when it is no longer among the current records. */
  records?: { a: SourceRecord | undefined; b: SourceRecord | undefined };
}

export interface ReviewQueue {
  matchRun: { runId: number; startedAt: string; reviewLow: number; reviewHigh: number; threshold: number };
  /** Pairs in the queue (before `limit`), and how many of each outcome. */
  total: number;
  byOutcome: Record<string, number>;
  pairs: QueuedPair[];
}

/**
 * The review queue of the latest match run: its scored pairs with probability in the run's review
 * band and no decision yet (in either order), ordered by `sort`, at most `limit`. That is the
 * queue `tfclaims match` counts: pairs left unlinked for a reviewer, and links made inside the
 * band (a reviewer confirms or splits them). Pairs the guards keep apart (refused links, and
 * unlinked pairs of two person ids of one source or irreconcilable dates of birth) are not
 * asked about: no decision could join them.
 */
export async function reviewQueue(k: Kysely<Schema>, opts: { limit?: number; sort?: ReviewSort; showRecords?: boolean } = {}): Promise<ReviewQueue> {
  const run = await latestMatchRun(k);
  const matchRun = { runId: run.runId, startedAt: run.startedAt, ...run.thresholds };
  // A run that trained no model scored no pairs: nothing can await review.
  if (!run.model) return { matchRun, total: 0, byOutcome: {}, pairs: [] };
  const model = run.model;
  const { rows } = await sql<{
    source_a: PersonSource;
    record_a: string;
    source_b: PersonSource;
    record_b: string;
    weight: number;
    probability: number;
    levels: number[];
    contributions: number[];
    outcome: string;
    reason: string | null;
  }>`
    SELECT lp.source_a, lp.record_a, lp.source_b, lp.record_b, lp.weight, lp.probability, lp.levels, lp.contributions, lp.outcome, lp.reason
    FROM core.link_pair lp
    WHERE lp.run_id = ${run.runId} AND lp.probability >= ${run.thresholds.reviewLow} AND lp.probability < ${run.thresholds.reviewHigh}
      AND lp.outcome IN ('review', 'linked')
      AND NOT EXISTS (
        SELECT 1 FROM core.review_decision d
        WHERE (d.source_a = lp.source_a AND d.record_a = lp.record_a AND d.source_b = lp.source_b AND d.record_b = lp.record_b)
           OR (d.source_a = lp.source_b AND d.record_a = lp.record_b AND d.source_b = lp.source_a AND d.record_b = lp.record_a))`.execute(k);
  const byOutcome: Record<string, number> = {};
  for (const r of rows) byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
  const all = rows.map((r) => {
    const a: RecordRef = { source: r.source_a, recordId: r.record_a };
    const b: RecordRef = { source: r.source_b, recordId: r.record_b };
    return { row: r, a, b, pairId: formatPairId(a, b), probability: Number(r.probability) };
  });
  const chosen = reviewOrder(all, opts.sort ?? 'uncertainty').slice(0, opts.limit ?? all.length);
  const refs = chosen.flatMap((p) => [p.a, p.b]);
  const persons = await personsOf(k, refs);
  const records = opts.showRecords ? await loadRecords(k, refs) : undefined;
  const pairs = chosen.map(({ row, a, b, pairId, probability }): QueuedPair => ({
    pairId,
    a,
    b,
    probability,
    weight: Number(row.weight),
    outcome: row.outcome,
    reason: row.reason,
    // The run's own evidence for the pair: for records unchanged since, what explain-match recomputes.
    breakdown: storedBreakdown(model, {
      levels: row.levels.map(Number),
      contributions: row.contributions.map(Number),
      weight: Number(row.weight),
      probability,
    }),
    personA: persons.get(formatRecordRef(a)),
    personB: persons.get(formatRecordRef(b)),
    ...(records ? { records: { a: records.get(formatRecordRef(a)), b: records.get(formatRecordRef(b)) } } : {}),
  }));
  return {
    matchRun,
    total: rows.length,
    byOutcome,
    pairs,
  };
}

/** The person fields printed for a reviewer with `--show-records` (personal data). */
export function personFields(r: SourceRecord | undefined): Record<string, string | null> {
  if (!r) return { record: '(not among the current records: loaded again since the match?)' };
  return {
    person_ref: r.person_ref,
    forename: r.forename,
    middle_names: r.middle_names,
    surname: r.surname,
    dob: r.dob,
    sex: r.sex,
    address: r.address,
    postcode: r.postcode,
    uprn: r.uprn,
  };
}

const peopleNow = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? 'not matched yet' : a === b ? `one person now (#${a})` : `different people now (#${a}, #${b})`;

const outcomeText = (p: QueuedPair) =>
  p.outcome === 'review' ? 'left unlinked for review' : p.outcome === 'linked' ? 'linked, awaiting confirmation' : p.outcome === 'refused' ? `link refused (${p.reason ?? 'a guard'})` : p.outcome;

/** The queue as text for stdout: a header, then each pair with its breakdown (and records with `--show-records`). */
export function reviewQueueText(q: ReviewQueue, opts: { showRecords?: boolean; sort?: ReviewSort } = {}): string[] {
  const band = `${q.matchRun.reviewLow}-${q.matchRun.reviewHigh}`;
  const lines = [
    `review queue of match run #${q.matchRun.runId} (${q.matchRun.startedAt}): ${q.total} pair${q.total === 1 ? '' : 's'} with probability ${band} and no decision yet`,
  ];
  if (q.total === 0) {
    lines.push('nothing to review');
    return lines;
  }
  const outcomes = Object.entries(q.byOutcome)
    .sort()
    .map(([o, n]) => `${n} ${o}`)
    .join(', ');
  lines.push(
    `  (${outcomes}); showing ${q.pairs.length}, ${opts.sort === 'probability' ? 'most probable' : 'least certain'} first` +
      (q.pairs.length < q.total ? ' (--limit N for more)' : ''),
  );
  lines.push(
    opts.showRecords
      ? '  PERSONAL DATA below (--show-records): do not paste it into tickets or e-mails'
      : '  no personal data below: --show-records adds the two records, `tfclaims explain-match A B` explains one pair',
  );
  lines.push('  decide with: tfclaims review decide PAIR same|different --by NAME');
  q.pairs.forEach((p, i) => {
    lines.push('');
    lines.push(`${i + 1}. ${p.pairId}`);
    lines.push(`   probability ${formatProbability(p.probability)}, match weight ${formatWeight(p.weight)}; ${outcomeText(p)}; ${peopleNow(p.personA, p.personB)}`);
    lines.push(...breakdownLines(p.breakdown, { indent: '     ' }));
    if (p.records) {
      lines.push(
        ...recordsSideBySide(
          { label: formatRecordRef(p.a), fields: personFields(p.records.a) },
          { label: formatRecordRef(p.b), fields: personFields(p.records.b) },
          { indent: '     ' },
        ),
      );
    }
  });
  return lines;
}

/** The queue as JSON: ids, numbers and level labels; records only when asked for. */
export function reviewQueueJson(q: ReviewQueue): Record<string, unknown> {
  return {
    matchRunId: q.matchRun.runId,
    matchRunStarted: q.matchRun.startedAt,
    reviewBand: [q.matchRun.reviewLow, q.matchRun.reviewHigh],
    threshold: q.matchRun.threshold,
    total: q.total,
    byOutcome: q.byOutcome,
    pairs: q.pairs.map((p) => ({
      pair: p.pairId,
      a: formatRecordRef(p.a),
      b: formatRecordRef(p.b),
      probability: p.probability,
      weight: p.weight,
      outcome: p.outcome,
      reason: p.reason,
      personA: p.personA ?? null,
      personB: p.personB ?? null,
      priorWeight: p.breakdown.priorWeight,
      comparisons: p.breakdown.comparisons.map((c) => ({ comparison: c.comparison, level: c.level, label: c.label, name: levelName(c), weight: c.weight })),
      ...(p.records ? { records: { a: p.records.a ? personFields(p.records.a) : null, b: p.records.b ? personFields(p.records.b) : null } } : {}),
    })),
  };
}

export interface ReviewListOptions extends CommonOptions {
  limit?: number;
  sort?: ReviewSort;
  /** Print the two records' person fields (personal data, stdout only). */
  showRecords?: boolean;
  /** Where the listing goes (default: stdout). Personal data must never go to stderr or a log. */
  print?: (text: string) => void;
}

const toStdout = (text: string) => void process.stdout.write(text);

/**
 * `tfclaims review list`: the review queue on stdout (or as JSON with `--json`); stderr gets only
 * the run line. Recorded as a run, so who listed the queue (with or without records) is audited.
 */
export async function runReviewList(opts: ReviewListOptions): Promise<CommandReport> {
  const limit = opts.limit ?? 20;
  const sort = opts.sort ?? 'uncertainty';
  let queue: ReviewQueue | undefined;
  const outcome = await withRun('review list', { limit, sort, showRecords: opts.showRecords ?? false }, opts, async (ctx) => {
    queue = await reviewQueue(ctx.db.kysely, { limit, sort, showRecords: opts.showRecords ?? false });
    // Counts only: this summary is stored with the run.
    return { summary: { matchRunId: queue.matchRun.runId, total: queue.total, shown: queue.pairs.length }, exitCode: 0 };
  });
  const q = queue!;
  if (!opts.json) (opts.print ?? toStdout)(`${reviewQueueText(q, { showRecords: opts.showRecords ?? false, sort }).join('\n')}\n`);
  return {
    exitCode: outcome.exitCode,
    lines: [`review list: ${q.pairs.length} of ${q.total} pairs awaiting review; run #${outcome.runId}; log: ${outcome.logFile}`],
    json: { runId: outcome.runId, ...reviewQueueJson(q) },
  };
}

/** A decision to record. `note` may hold personal data: stored, never logged. */
export interface DecisionInput {
  pair: string;
  decision: string;
  by: string;
  note?: string;
}

/** What `decide` did and what the next match will do. Ids and words only (no note, no record values). */
export interface DecisionRecorded {
  decisionId: number;
  pairId: string;
  decision: 'same' | 'different';
  decidedBy: string;
  /** The decision this one replaces, if any (the latest wins). */
  replaces: Omit<StoredDecision, 'note'> | undefined;
  personA: number | undefined;
  personB: number | undefined;
  forecast: string[];
}

function parseDecision(value: string): 'same' | 'different' {
  const v = value.trim().toLowerCase();
  if (v === 'same' || v === 'different') return v;
  throw new UsageError(`decision must be "same" or "different", not "${value}"`, { hint: 'same: the two records are one person; different: they are not' });
}

/**
 * Record a reviewer's decision on a pair, in the caller's run. Both records must be among the
 * current records (a typo would otherwise be stored and silently never apply). The pair is
 * stored in its normal order (see `orderPair`) whichever way round it was typed, so a later
 * decision on it replaces this one.
 */
export async function decidePair(db: Database, ctx: RunContext, input: DecisionInput): Promise<DecisionRecorded> {
  const [a, b] = parsePairId(input.pair);
  const pairId = formatPairId(a, b);
  const decision = parseDecision(input.decision);
  const by = input.by.trim();
  if (by === '') throw new UsageError('--by must name who decided', { hint: 'e.g. --by "J. Smith"' });
  const note = input.note?.trim() || null;
  return db.transaction(async (session) => {
    const k = session.kysely;
    const records = await loadRecords(k, [a, b]);
    const missing = [a, b].filter((r) => !records.has(formatRecordRef(r))).map(formatRecordRef);
    if (missing.length > 0) {
      throw new UsageError(`cannot decide on pair ${pairId}: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not among the current records`, {
        hint: 'copy the pair id from `tfclaims review list`; records of a superseded extract cannot be decided on',
      });
    }
    const ra = records.get(formatRecordRef(a))!;
    const rb = records.get(formatRecordRef(b))!;
    // The match stage treats records identical in every linkage field, source and person id as one profile.
    const sameProfile = profilesOf([ra, rb]).profiles.length === 1;
    if (decision === 'different' && sameProfile) {
      throw new UsageError(`cannot record "different" for ${pairId}: the two records are identical in every linkage field and carry one person id of one source`, {
        hint: 'the match stage reads them as one record; if they are different people, the source system must give them different ids',
      });
    }
    const persons = await personsOf(k, [a, b]);
    const personA = persons.get(formatRecordRef(a));
    const personB = persons.get(formatRecordRef(b));
    const refusal = decision === 'same' && !sameProfile ? guardRefusal(await guardFactsOf(k, ra, personA), await guardFactsOf(k, rb, personB)) : undefined;
    const previous = await latestDecision(k, a, b);
    const { rows } = await sql<{ decision_id: number }>`
      INSERT INTO core.review_decision (source_a, record_a, source_b, record_b, decision, decided_by, run_id, note)
      VALUES (${a.source}, ${a.recordId}, ${b.source}, ${b.recordId}, ${decision}, ${by}, ${ctx.runId}, ${note})
      RETURNING decision_id::int AS decision_id`.execute(k);
    ctx.logger.info({ decisionId: rows[0]!.decision_id, pair: pairId, decision, replaces: previous?.decisionId ?? null }, 'review decision recorded');
    return {
      decisionId: rows[0]!.decision_id,
      pairId,
      decision,
      decidedBy: by,
      replaces: previous && { decisionId: previous.decisionId, decision: previous.decision, decidedBy: previous.decidedBy, decidedAt: previous.decidedAt, runId: previous.runId },
      personA,
      personB,
      forecast: forecastDecision({ decision, pairId, sameProfile, personA, personB, refusal }),
    };
  });
}

export interface ReviewDecideOptions extends CommonOptions, DecisionInput {}

/** `tfclaims review decide PAIR same|different --by NAME [--note TEXT]`: record a decision as one run. */
export async function runReviewDecide(opts: ReviewDecideOptions): Promise<CommandReport> {
  // Bad usage fails before the database is opened (decidePair checks again for other callers).
  parsePairId(opts.pair);
  parseDecision(opts.decision);
  // The note is left out of the run's recorded arguments: it may hold personal data.
  const args = { pair: opts.pair, decision: opts.decision, by: opts.by, note: opts.note === undefined ? null : '(given)' };
  const outcome = await withRun('review decide', args, opts, async (ctx) => {
    const done = await decidePair(ctx.db, ctx, opts);
    return { summary: done, exitCode: 0 };
  });
  const d = outcome.summary;
  const lines = [
    `decision #${d.decisionId} recorded: ${d.pairId} ${d.decision === 'same' ? 'are the same person' : 'are different people'} (by ${d.decidedBy})`,
    ...(d.replaces ? [`  it replaces decision #${d.replaces.decisionId} (${d.replaces.decision}, by ${d.replaces.decidedBy}, ${d.replaces.decidedAt}): the latest decision is the one obeyed`] : []),
    ...d.forecast.map((f) => `  ${f}`),
    `run #${outcome.runId}; log: ${outcome.logFile}`,
  ];
  return { exitCode: outcome.exitCode, lines, json: { runId: outcome.runId, ...d, replaces: d.replaces ?? null, personA: d.personA ?? null, personB: d.personB ?? null } };
}
