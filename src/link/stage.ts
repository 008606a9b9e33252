import { sql, type Kysely } from 'kysely';
import type { DbSession } from '../db/index.ts';
import type { RunContext } from '../run/context.ts';
import { batches } from '../util/batches.ts';
import { hash53 } from '../util/hash.ts';
import { copyBinaryRows, loadWithIndexesAfter, reserveIds, type BinaryCell } from '../db/copy-rows.ts';
import { clusterMembers, pairGuard, type CandidateLink, type ClusterMember } from './clusters.ts';
import { personDetails, type PersonDetail } from './person-details.ts';
import { candidatePairs, gammaAt, gammaTable, probabilityOf, scoreCandidates, scorePair, scoreWeights, type LinkModel, type LinkRecord } from './model.ts';
import { parseStoredModel } from './breakdown.ts';
import { forgetColumns } from './columns.ts';
import { JobError } from '../errors.ts';
import { currentPersonRecordsSql } from './records.ts';
import { loadProfiles, recordKey, type LoadedProfiles, type LoadedRecord, type Profile } from './profiles.ts';

export { loadProfiles, profilesOf } from './profiles.ts';
import { assignStableIds } from './stable-ids.ts';
import { COUNCIL_BLOCKING, COUNCIL_COMPARISONS, COUNCIL_MAX_BLOCK_SIZE, councilScoringTask } from './council.ts';
import { scoreCouncilOnTwoThreads, TWO_THREADS_FROM } from './score-on-two-threads.ts';

/**
 * The match stage: link the person records of the current extracts (`raw.*` rows of files not
 * superseded) into people, in one transaction.
 *
 * 1. Records identical in every linkage field (a pupil's rows term after term) form one profile.
 * 2. Deterministic links: profiles of one source with the same person id.
 * 3. Probabilistic links: the council model (OR-ed blocking, comparison levels, u from random
 *    pairs, m by EM in training sessions) scores candidate pairs; a pair at or above the
 *    threshold is a link, and pairs in the review band go to the clerical review queue.
 * 4. Clerical decisions: `same` is a link, `different` forbids one; every run obeys them.
 * 5. Clusters, guarded against chaining (see clusters.ts), become people with stable ids
 *    (stable-ids.ts); merges and splits are recorded.
 */

export interface MatchOptions {
  /** Probability at or above which a scored pair is a link (default 0.5). */
  threshold?: number;
  /** Pairs with probability in [reviewLow, reviewHigh) go to the review queue (default 0.2-0.8). */
  reviewLow?: number;
  reviewHigh?: number;
  /**
   * Link every record and train the model afresh, even when an earlier match run could be
   * built on (default false: a run after the first links only new and changed records).
   */
  full?: boolean;
}

/** What the stage did (counts only: safe to print and log). */
export interface MatchSummary {
  /**
   * `full`: every record linked, model trained in this run. `incremental`: only the profiles new
   * or changed since the previous match run were scored (against everyone), with its model; the
   * others kept their people.
   */
  mode: 'full' | 'incremental';
  records: number;
  profiles: number;
  /** Profiles new or changed since the previous match run (all of them in a first run). */
  freshProfiles: number;
  /** The match run whose model scored the pairs (this run when the mode is full). */
  modelRun: number;
  /** Scored pairs of unchanged records carried forward from the previous match run. */
  carriedPairs: number;
  candidatePairs: number;
  candidatesByRule: Record<string, number>;
  /** Pairs compared to train m (everyone born on one day, sampled; some are candidates too), never scored as links. */
  trainingPairs: number;
  deterministicLinks: number;
  probabilisticLinks: number;
  reviewDecisionsApplied: number;
  refusedLinks: Record<string, number>;
  reviewQueue: number;
  persons: number;
  newPersons: number;
  merges: number;
  splits: number;
  storedPairs: number;
  modelTrained: boolean;
  /** Wall-clock seconds spent blocking and comparing candidate pairs (levels, EM training, scoring). */
  scoringSeconds: number;
  /** Threads that scored: 2 for a first (full) match of TWO_THREADS_FROM profiles or more, else 1. */
  scoringThreads: 1 | 2;
}

/** Pairs below this probability are counted but not stored (explain-match recomputes any pair). */
const STORE_PAIRS_FROM = 0.01;


/** The person records of every current extract, in a fixed order (whole: for small lookups and tests). */
export async function loadCurrentPersonRecords(session: DbSession): Promise<LoadedRecord[]> {
  const columns = "record_id, person_ref, forename, surname, to_char(dob, 'YYYY-MM-DD') AS dob, sex, address, postcode, uprn";
  const { rows } = await sql<LoadedRecord>`${sql.raw(currentPersonRecordsSql(columns))} ORDER BY 1, 2`.execute(session.kysely);
  return rows;
}


/** `[source, record_id]` of a record key made by recordKey (a source name holds no `|`). */
function splitRecordKey(key: string): [string, string] {
  const cut = key.indexOf('|');
  return [key.slice(0, cut), key.slice(cut + 1)];
}

/**
 * Scored pairs for an incremental run: candidate pairs with at least one fresh profile, scored
 * with the model of an earlier run (no training: the same model scores month after month, so an
 * unchanged pair keeps its weight).
 */
function scoreFreshProfiles(profiles: readonly Profile[], fresh: Uint8Array, model: LinkModel) {
  const { pairs, byRule } = candidatePairs(COUNCIL_BLOCKING, profiles, profiles, { dedupe: true, maxBlockSize: COUNCIL_MAX_BLOCK_SIZE, involving: fresh });
  const table = gammaTable(COUNCIL_COMPARISONS, profiles, profiles, pairs);
  const weights = scoreWeights(model, table, profiles, profiles, pairs);
  forgetColumns(profiles, profiles);
  return { model, pairs, byRule, trainingPairs: 0, table, weights };
}

/** The latest match run: its id, the run whose model it used, and that model (undefined when none or not of this version). */
async function lastMatchRun(k: Kysely<any>): Promise<{ runId: number; modelRun: number; model: LinkModel | undefined } | undefined> {
  const { rows } = await sql<{ run_id: number; model_run: number; model: unknown }>`
    SELECT run_id::int AS run_id, COALESCE(model_run, run_id)::int AS model_run, model FROM core.link_model ORDER BY run_id DESC LIMIT 1`.execute(k);
  const row = rows[0];
  if (!row) return undefined;
  let model: LinkModel | undefined;
  try {
    model = parseStoredModel(row.model, COUNCIL_COMPARISONS);
  } catch (error) {
    // A model from another version of the comparisons cannot score this version's levels: relink in full.
    if (!(error instanceof JobError)) throw error;
  }
  return { runId: row.run_id, modelRun: row.model_run, model };
}

/** Every current person record's source and record id. */
const CURRENT_RECORDS = currentPersonRecordsSql('record_id');

/**
 * Copy the stored pairs of `fromRun` whose records are both settled (in profiles unchanged
 * since then, so the same model gives the same weights) into `runId`, with the outcome this run
 * gives them: decided by a reviewer, not linked; at or above the threshold, linked when both
 * records are one person now and refused otherwise; in the review band, review. Call after
 * this run's person records are written (by {@link writePersonRecords}, which leaves record_change). Returns how many, and how many await review.
 */
async function carryForwardPairs(
  session: DbSession,
  opts: { runId: number; fromRun: number; threshold: number; reviewLow: number; reviewHigh: number },
): Promise<{ pairs: number; inReviewBand: number }> {
  const k = session.kysely;
  // Settled: current records whose profile is not fresh (record_change holds every record of a
  // fresh profile), with the person this run gave them.
  await sql`
    CREATE TEMP TABLE settled_record ON COMMIT DROP AS
    SELECT r.source, r.record_id, pr.person_id FROM (${sql.raw(CURRENT_RECORDS)}) r
    JOIN core.person_record pr ON pr.source = r.source AND pr.record_id = r.record_id
    WHERE NOT EXISTS (SELECT 1 FROM record_change c WHERE c.fresh AND c.source = r.source AND c.record_id = r.record_id)`.execute(k);
  await sql`ANALYZE settled_record`.execute(k);
  // Hash joins, whatever the statistics say: link_pair's may not know the last run's million
  // pairs yet (autovacuum has not been by, and the pipeline role cannot ANALYZE a table it does not
  // own), and the planner then chose a million index lookups per joined table: 40 s at 1x.
  await sql`SET LOCAL enable_nestloop = off`.execute(k);
  const { rows } = await sql<{ pairs: number; in_band: number }>`
    WITH decided AS (
      -- A decision names its pair either way round.
      SELECT source_a, record_a, source_b, record_b FROM core.review_decision
      UNION
      SELECT source_b, record_b, source_a, record_a FROM core.review_decision
    ), previous AS (
      SELECT lp.*, a.person_id = b.person_id AS same_person, d.source_a IS NOT NULL AS decided
      FROM core.link_pair lp
      JOIN settled_record a ON a.source = lp.source_a AND a.record_id = lp.record_a
      JOIN settled_record b ON b.source = lp.source_b AND b.record_id = lp.record_b
      LEFT JOIN decided d ON d.source_a = lp.source_a AND d.record_a = lp.record_a AND d.source_b = lp.source_b AND d.record_b = lp.record_b
      WHERE lp.run_id = ${opts.fromRun}
    ), carried AS (
      INSERT INTO core.link_pair (run_id, source_a, record_a, source_b, record_b, weight, probability, levels, contributions, outcome, reason)
      SELECT ${opts.runId}, source_a, record_a, source_b, record_b, weight, probability, levels, contributions,
             CASE WHEN decided THEN 'not linked'
                  WHEN probability >= ${opts.threshold} THEN CASE WHEN same_person THEN 'linked' ELSE 'refused' END
                  -- Kept apart by a guard (the reason says which): the same records, the same verdict.
                  WHEN outcome = 'not linked' AND reason IS NOT NULL THEN 'not linked'
                  WHEN probability >= ${opts.reviewLow} AND probability < ${opts.reviewHigh} THEN 'review'
                  ELSE 'not linked' END,
             CASE WHEN decided THEN NULL
                  WHEN probability >= ${opts.threshold} THEN CASE WHEN same_person THEN NULL ELSE COALESCE(reason, 'a reviewer decided different people') END
                  WHEN outcome = 'not linked' THEN reason END
      FROM previous
      RETURNING probability, outcome)
    SELECT count(*)::int AS pairs,
           count(*) FILTER (WHERE probability >= ${opts.reviewLow} AND probability < ${opts.reviewHigh} AND outcome IN ('review', 'linked'))::int AS in_band
    FROM carried`.execute(k);
  await sql`RESET enable_nestloop`.execute(k);
  await sql`DROP TABLE settled_record`.execute(k);
  return { pairs: rows[0]!.pairs, inReviewBand: rows[0]!.in_band };
}

/** The earlier person id most of a profile's records had (ties: the smallest); NaN when none had one. */
function mainHeldId(loaded: LoadedProfiles, p: number): number {
  let best = Number.NaN;
  let bestRecords = 0;
  for (const [personId, records] of loaded.heldBy(p)) {
    if (records > bestRecords || (records === bestRecords && personId < best)) [best, bestRecords] = [personId, records];
  }
  return best;
}

/**
 * Write every current record's person and linkage key where either changed, straight from the
 * profiles (which hold each record's id by file and line): no join back to the raw rows, which
 * cost most of the 7.7 s this took at 1x (2.6 to 3.5 s now). On a first run every record goes by COPY into
 * core.person_record, its indexes built after; on a later run the records of the profiles that
 * changed go to the temporary table record_change (with their person, linkage key, and whether
 * the profile is fresh) and from there into core.person_record. Leaves record_change (empty on a
 * first run) for {@link carryForwardPairs}.
 */
async function writePersonRecords(
  session: DbSession,
  loaded: LoadedProfiles,
  personOf: (profile: number) => number,
  opts: { runId: number; linkedBefore: boolean; phase?: (name: string) => void },
): Promise<void> {
  const k = session.kysely;
  const phase = opts.phase ?? (() => {});
  await sql`CREATE TEMP TABLE record_change (source text, record_id text, person_id bigint, linkage_key bigint, fresh boolean) ON COMMIT DROP`.execute(k);
  if (!opts.linkedBefore) {
    // The first run: every record is new, and the table's indexes are built after them.
    // Rows are made as COPY consumes them: at 4x there are millions, never held at once.
    const runId = opts.runId;
    function* personRecords(): Generator<BinaryCell[]> {
      for (const [source, recordId, p] of loaded.profileByLine.records()) yield [source, recordId, personOf(p), loaded.linkageKeys[p]!, runId];
    }
    await loadWithIndexesAfter(k, 'core.person_record', async () => {
      await copyBinaryRows(session, 'core.person_record (source, record_id, person_id, linkage_key, run_id)', ['text', 'text', 'int8', 'int8', 'int8'], personRecords());
      phase('person records: inserted');
    });
    phase('person records: indexes built');
    return;
  }
  // A profile is written when fresh (a new record, or other fields), or when its records' person changed.
  const changed = new Uint8Array(loaded.profiles.length);
  for (let p = 0; p < changed.length; p++) {
    if (loaded.fresh[p]) changed[p] = 1;
    else for (const [personId] of loaded.heldBy(p)) if (personId !== personOf(p)) changed[p] = 1;
  }
  function* changedRecords(): Generator<BinaryCell[]> {
    for (const [source, recordId, p] of loaded.profileByLine.records()) {
      if (changed[p]) yield [source, recordId, personOf(p), loaded.linkageKeys[p]!, loaded.fresh[p] === 1];
    }
  }
  const recordChangeTypes = ['text', 'text', 'int8', 'int8', 'bool'] as const;
  if ((await copyBinaryRows(session, 'record_change (source, record_id, person_id, linkage_key, fresh)', recordChangeTypes, changedRecords())) === 0) return;
  await sql`ANALYZE record_change`.execute(k);
  phase('person records: changes sent');
  // Unchanged records of a changed profile keep their row (and the run that wrote it).
  await sql`
    INSERT INTO core.person_record (source, record_id, person_id, linkage_key, run_id)
    SELECT c.source, c.record_id, c.person_id, c.linkage_key, ${opts.runId}::bigint FROM record_change c
    ON CONFLICT (source, record_id) DO UPDATE SET person_id = EXCLUDED.person_id, linkage_key = EXCLUDED.linkage_key, run_id = EXCLUDED.run_id
    WHERE core.person_record.person_id IS DISTINCT FROM EXCLUDED.person_id OR core.person_record.linkage_key IS DISTINCT FROM EXCLUDED.linkage_key`.execute(k);
}

/**
 * Write each person's date of birth and sex (core.person_detail) where they changed, with this
 * run's id; a person whose details are as before keeps the run that wrote them.
 */
export async function writePersonDetails(session: DbSession, details: Iterable<PersonDetail>, runId: number): Promise<void> {
  const k = session.kysely;
  const { empty } = (await sql<{ empty: boolean }>`SELECT NOT EXISTS (SELECT 1 FROM core.person_detail) AS empty`.execute(k)).rows[0]!;
  if (empty) {
    // A first run: everyone is new, so the rows go straight in (not through a table of changes
    // compared with the empty one: 2.5-3.1 -> 1.7 s at 1x), with the indexes built after them.
    await loadWithIndexesAfter(k, 'core.person_detail', () =>
      copyBinaryRows(session, 'core.person_detail (person_id, dob, sex, run_id)', ['int8', 'date', 'text', 'int8'], (function* () {
        for (const d of details) yield [d.personId, d.dob, d.sex, runId];
      })()),
    );
    return;
  }
  await sql`CREATE TEMP TABLE detail_change (person_id bigint, dob date, sex text) ON COMMIT DROP`.execute(k);
  await copyBinaryRows(session, 'detail_change (person_id, dob, sex)', ['int8', 'date', 'text'], (function* () {
    for (const d of details) yield [d.personId, d.dob, d.sex];
  })());
  await sql`ANALYZE detail_change`.execute(k);
  await loadWithIndexesAfter(k, 'core.person_detail', async () => {
    // An update of the changed and an insert of the new, not INSERT ... ON CONFLICT: that inserts
    // each row speculatively (1.55 s for the 600k people of a fresh 1x run, 0.81 s this way). The
    // match stage's advisory lock keeps other writers out between the two.
    await sql`
      UPDATE core.person_detail p SET dob = c.dob, sex = c.sex, run_id = ${runId}::bigint
      FROM detail_change c WHERE c.person_id = p.person_id AND (p.dob, p.sex) IS DISTINCT FROM (c.dob, c.sex)`.execute(k);
    await sql`
      INSERT INTO core.person_detail (person_id, dob, sex, run_id)
      SELECT person_id, dob, sex, ${runId}::bigint FROM detail_change c
      WHERE NOT EXISTS (SELECT 1 FROM core.person_detail p WHERE p.person_id = c.person_id)`.execute(k);
  });
  await sql`DROP TABLE detail_change`.execute(k);
}

/** Run the match stage inside the caller's transaction. */
export async function matchPeople(session: DbSession, ctx: RunContext, opts: MatchOptions = {}): Promise<MatchSummary> {
  const threshold = opts.threshold ?? 0.5;
  const reviewLow = opts.reviewLow ?? 0.2;
  const reviewHigh = opts.reviewHigh ?? 0.8;
  const log = ctx.logger.child({ stage: 'match' });
  const k = session.kysely;
  await sql`SELECT pg_advisory_xact_lock(7425114100)`.execute(k);
  // Freshly loaded tables have no statistics yet; without them the planner picks nested loops over millions of rows.
  await sql`ANALYZE audit.input_file, audit.file_supersession, raw.attendance, raw.offending, raw.employment, raw.social_care, raw.attachments, core.person_record`.execute(k);

  const decisions = await sql<{ source_a: string; record_a: string; source_b: string; record_b: string; decision: 'same' | 'different' }>`
    SELECT DISTINCT ON (source_a, record_a, source_b, record_b) source_a, record_a, source_b, record_b, decision
    FROM core.review_decision ORDER BY source_a, record_a, source_b, record_b, decision_id DESC`.execute(k);
  // Records are grouped as they come: only profiles are kept, and the profiles of decided records.
  // On a server, half the records are read on a worker thread with a connection of its own.
  const loaded = await loadProfiles(
    session,
    decisions.rows.flatMap((d) => [recordKey(d.source_a, d.record_a), recordKey(d.source_b, d.record_b)]),
    ctx.db.connectionString === undefined ? {} : { connection: ctx.db.connectionString },
  );
  const { profiles, firstRecord, recordCount, linkageKeys, fresh, freshCount: freshProfiles, profileOfRecord } = loaded;
  log.info({ records: recordCount, profiles: profiles.length }, 'records loaded');
  const linkedBefore = (await sql<{ linked_before: boolean }>`SELECT EXISTS (SELECT 1 FROM core.person_record) AS linked_before`.execute(k)).rows[0]!.linked_before;
  const last = await lastMatchRun(k);
  // Incremental when there is a model to build on and most people are already known; a month in
  // which half the records are new or changed is relinked in full (and the model retrained).
  const incremental = !opts.full && last?.model !== undefined && freshProfiles * 2 <= profiles.length;
  ctx.progress.say(
    incremental
      ? `match: scoring ${freshProfiles} new or changed profiles of ${profiles.length} (incremental; model of run #${last!.modelRun})`
      : `match: scoring candidate pairs of ${profiles.length} profiles`,
  );
  const modelRun = incremental ? last!.modelRun : ctx.runId;
  const scoringStarted = performance.now();
  const scoringMs: Record<string, number> = {};
  const scoringThreads = !incremental && profiles.length >= TWO_THREADS_FROM ? 2 : 1;
  const { model, pairs, byRule, trainingPairs, table, weights } = incremental
    ? scoreFreshProfiles(profiles, fresh, last!.model!)
    : scoringThreads === 2
      ? await scoreCouncilOnTwoThreads(profiles, { timings: scoringMs })
      : scoreCandidates(councilScoringTask(profiles));
  const scoringSeconds = (performance.now() - scoringStarted) / 1000;
  // Phases are timed from the end of scoring, so building the links below is the phase 'links'.
  let phaseStarted = performance.now();

  const links: CandidateLink[] = [];
  // Each scored pair's link (its index in links), -1 for none: a typed array, not a Map of 600k at 1x.
  const linkOfPair = new Int32Array(weights.length).fill(-1);
  const different: [number, number][] = [];
  let reviewDecisionsApplied = 0;
  const decided = new Set<string>();
  // Most runs have no decisions: then no key string is made for each of a million pairs.
  const isDecided = (a: number, b: number) => decided.size > 0 && decided.has(`${a}|${b}`);
  for (const d of decisions.rows) {
    const a = profileOfRecord.get(recordKey(d.source_a, d.record_a));
    const b = profileOfRecord.get(recordKey(d.source_b, d.record_b));
    if (a === undefined || b === undefined || a < 0 || b < 0 || a === b) continue;
    reviewDecisionsApplied++;
    decided.add(`${Math.min(a, b)}|${Math.max(a, b)}`);
    if (d.decision === 'same') links.push({ a, b, kind: 'review', weight: Number.POSITIVE_INFINITY });
    else different.push([a, b]);
  }
  // Profiles of one source with one person id are one person (subject to the guards). A map per
  // source, keyed by the profiles' own person id strings (no key string made for each of a million).
  const firstWithRef = new Map<string, Map<string, number>>();
  let deterministicLinks = 0;
  profiles.forEach((p, i) => {
    if (p.personRef === '') return;
    let ofSource = firstWithRef.get(p.source);
    if (!ofSource) firstWithRef.set(p.source, (ofSource = new Map()));
    const first = ofSource.get(p.personRef);
    if (first === undefined) ofSource.set(p.personRef, i);
    else {
      links.push({ a: first, b: i, kind: 'deterministic', weight: Number.POSITIVE_INFINITY });
      deterministicLinks++;
    }
  });
  // Incremental: profiles unchanged since the last run stay with the people they were in.
  if (incremental) {
    const firstOfPerson = new Map<number, number>();
    fresh.forEach((isFresh, p) => {
      if (isFresh) return;
      const person = mainHeldId(loaded, p);
      const first = firstOfPerson.get(person);
      if (first === undefined) firstOfPerson.set(person, p);
      else links.push({ a: first, b: p, kind: 'previous', weight: Number.POSITIVE_INFINITY });
    });
  }
  let probabilisticLinks = 0;
  for (let n = 0; n < weights.length; n++) {
    const a = pairs.left[n]!;
    const b = pairs.right[n]!;
    if (probabilityOf(weights[n]!) < threshold || isDecided(a, b)) continue;
    linkOfPair[n] = links.length;
    links.push({ a, b, kind: 'probabilistic', weight: weights[n]! });
    probabilisticLinks++;
  }
  const phaseMs: Record<string, number> = { scoring: Math.round(scoringSeconds * 1000) };
  const phase = (name: string) => {
    const now = performance.now();
    phaseMs[name] = Math.round(now - phaseStarted);
    phaseStarted = now;
  };
  phase('links');
  // Profiles carry what clustering needs (source, person id, date of birth): no copy of a million objects.
  const members: readonly ClusterMember[] = profiles;
  const { clusterOf, refused } = clusterMembers(members, links, different);
  const refusedLinks: Record<string, number> = {};
  for (const why of refused) if (why) refusedLinks[why] = (refusedLinks[why] ?? 0) + 1;

  // Clusters in a fixed order (by their first profile, whose first record is the cluster's first).
  const clusterIndex = new Map<number, number>();
  const clusterFirst: string[] = [];
  const clusterOfProfile = new Int32Array(profiles.length);
  clusterOf.forEach((root, p) => {
    let c = clusterIndex.get(root);
    if (c === undefined) {
      c = clusterFirst.length;
      clusterIndex.set(root, c);
      clusterFirst.push(firstRecord[p]!);
    }
    clusterOfProfile[p] = c;
  });
  phase('clusters');
  const { personIdOf, changes } = assignStableIds(clusterFirst, (function* () {
    for (let p = 0; p < profiles.length; p++) {
      for (const [personId, records] of loaded.heldBy(p)) yield { cluster: clusterOfProfile[p]!, personId, records };
    }
  })());
  phase('stable ids');
  const newClusters = personIdOf.flatMap((id, c) => (id === undefined ? [c] : []));
  if (newClusters.length > 0) {
    const ids = await reserveIds(k, 'core.person', newClusters.length);
    newClusters.forEach((c, n) => {
      personIdOf[c] = ids[n]!;
    });
    await copyBinaryRows(session, 'core.person (person_id, created_run)', ['int8', 'int8'], newClusters.map((c) => [personIdOf[c]!, ctx.runId]));
  }

  phase('new people');
  const personOf = (p: number) => personIdOf[clusterOfProfile[p]!]!;
  await writePersonRecords(session, loaded, personOf, { runId: ctx.runId, linkedBefore, phase });
  phase('person records');
  await writePersonDetails(session, personDetails(profiles, loaded.recordsIn, personOf), ctx.runId);
  phase('person details');
  await batches(changes, 10_000, async (batch) => {
    const newIds = batch.map((c) => (typeof c.newPersonId === 'number' ? c.newPersonId : personIdOf[c.newPersonId.cluster]!));
    await sql`
      INSERT INTO core.person_change (run_id, kind, old_person_id, new_person_id, records, reason)
      SELECT ${ctx.runId}, kind, old_id, new_id, n, reason
      FROM unnest(${batch.map((c) => c.kind)}::text[], ${batch.map((c) => c.oldPersonId)}::bigint[], ${newIds}::bigint[],
                  ${batch.map((c) => c.records)}::int[], ${batch.map((c) => c.reason)}::text[]) AS t(kind, old_id, new_id, n, reason)`.execute(k);
  });

  phase('person changes');
  // The evidence: every pair scored at or above STORE_PAIRS_FROM, and the model.
  const first = (p: number) => splitRecordKey(firstRecord[p]!);
  let reviewQueue = 0;
  // A comparison's contribution takes few values (one a level, or a level and a name's
  // frequency): each is rounded once, not seven million times at 1x (0.8 -> 0.25 s).
  const rounded = new Map<number, number>();
  const fourPlaces = (c: number): number => {
    let r = rounded.get(c);
    if (r === undefined) {
      if (rounded.size >= 1_000_000) rounded.clear();
      rounded.set(c, (r = Number(c.toFixed(4))));
    }
    return r;
  };
  // Rows are made as COPY consumes them: at bench scale there are millions, never held at once.
  function* storedPairs(): Generator<BinaryCell[]> {
    for (let n = 0; n < weights.length; n++) {
      if (probabilityOf(weights[n]!) < STORE_PAIRS_FROM) continue;
      const a = pairs.left[n]!;
      const b = pairs.right[n]!;
      const gamma = gammaAt(table, n);
      // The breakdown is worked out only for the pairs kept as evidence.
      const score = scorePair(model!, gamma, profiles[a], profiles[b]);
      const linked = linkOfPair[n]!;
      const link = linked < 0 ? undefined : linked;
      const why = link === undefined ? undefined : refused[link];
      const inBand = score.probability >= reviewLow && score.probability < reviewHigh && !isDecided(a, b);
      // A pair the guards keep apart is not worth a reviewer's time: no decision could join it.
      const keptApart = link === undefined ? pairGuard(members[a]!, members[b]!) : undefined;
      const outcome = why ? 'refused' : link !== undefined ? 'linked' : inBand && !keptApart ? 'review' : 'not linked';
      if (inBand && (outcome === 'review' || outcome === 'linked')) reviewQueue++;
      const [sa, ra] = first(a);
      const [sb, rb] = first(b);
      // Contributions to 4 decimal places, as stored before they went in binary (a 4-place
      // decimal and the double nearest it give the same float4 at these magnitudes).
      yield [
        ctx.runId, sa, ra, sb, rb, score.weight, score.probability,
        gamma, score.contributions.map(fourPlaces), outcome, why ?? keptApart ?? null,
      ];
    }
  }
  const storedCount = await loadWithIndexesAfter(k, 'core.link_pair', async () => {
    const sent = await copyBinaryRows(
      session,
      'core.link_pair (run_id, source_a, record_a, source_b, record_b, weight, probability, levels, contributions, outcome, reason)',
      ['int8', 'text', 'text', 'text', 'text', 'float8', 'float8', 'int2[]', 'float4[]', 'text', 'text'],
      storedPairs(),
    );
    phase('evidence: pairs sent');
    return sent;
  });
  phase('evidence: indexes built');

  // Incremental: the stored pairs of unchanged records, as the previous match run scored them
  // (same model, same fields), so this run's evidence and review queue stay whole.
  let carriedPairs = 0;
  if (incremental) {
    const carried = await carryForwardPairs(session, { runId: ctx.runId, fromRun: last!.runId, threshold, reviewLow, reviewHigh });
    carriedPairs = carried.pairs;
    reviewQueue += carried.inReviewBand;
  }
  await sql`DROP TABLE IF EXISTS record_change`.execute(k);
  await sql`
    INSERT INTO core.link_model (run_id, model, records, profiles, candidate_pairs, pairs_by_rule, match_threshold, review_low, review_high,
                                 mode, model_run, fresh_profiles, carried_pairs)
    VALUES (${ctx.runId}, ${JSON.stringify(model ?? null)}, ${recordCount}, ${profiles.length}, ${pairs.length}, ${JSON.stringify(byRule)},
            ${threshold}, ${reviewLow}, ${reviewHigh}, ${incremental ? 'incremental' : 'full'}, ${modelRun},
            ${freshProfiles}, ${carriedPairs})`.execute(k);
  phase('evidence');
  const summary: MatchSummary = {
    mode: incremental ? 'incremental' : 'full',
    records: recordCount,
    profiles: profiles.length,
    freshProfiles,
    modelRun,
    carriedPairs,
    candidatePairs: pairs.length,
    candidatesByRule: byRule,
    trainingPairs,
    deterministicLinks,
    probabilisticLinks,
    reviewDecisionsApplied,
    refusedLinks,
    reviewQueue,
    persons: clusterFirst.length,
    newPersons: newClusters.length,
    merges: changes.filter((c) => c.kind === 'merge').length,
    splits: changes.filter((c) => c.kind === 'split').length,
    storedPairs: storedCount,
    modelTrained: model !== undefined,
    scoringSeconds,
    scoringThreads,
  };
  log.info({ ...summary, phaseMs, scoringMs }, 'people linked');
  return summary;
}

