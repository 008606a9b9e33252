import { sql, type Kysely } from 'kysely';
import type { DbSession } from '../db/index.ts';
import type { RunContext } from '../run/context.ts';
import { batches } from '../util/batches.ts';
import { hash53 } from '../util/hash.ts';
import { copyRows, nextIds, type CopyCell } from '../db/copy-rows.ts';
import { copyTextRows } from '../db/copy-out.ts';
import { clusterMembers, pairGuard, type CandidateLink, type ClusterMember } from './clusters.ts';
import { candidatePairs, gammaAt, gammaTable, probabilityOf, scoreCandidates, scorePair, scoreWeights, type LinkModel, type LinkRecord } from './model.ts';
import { parseStoredModel } from './breakdown.ts';
import { forgetColumns } from './columns.ts';
import { JobError } from '../errors.ts';
import { currentPersonRecordsSql, normaliseDob, normaliseName, normalisePostcode, toLinkRecord, type Normalisers, type PersonColumns } from './records.ts';
import { assignStableIds } from './stable-ids.ts';
import { COUNCIL_BLOCKING, COUNCIL_COMPARISONS, COUNCIL_SESSIONS, COUNCIL_TRAINING } from './council.ts';

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
  /** Wall-clock seconds spent comparing candidate pairs (levels, EM training, scoring), single-threaded. */
  scoringSeconds: number;
}

/** Pairs below this probability are counted but not stored (explain-match recomputes any pair). */
const STORE_PAIRS_FROM = 0.01;

interface LoadedRecord extends PersonColumns {
  source: string;
  record_id: string;
  person_ref: string | null;
}

/** The person records of every current extract, in a fixed order (whole: for small lookups and tests). */
export async function loadCurrentPersonRecords(session: DbSession): Promise<LoadedRecord[]> {
  const columns = "record_id, person_ref, forename, surname, to_char(dob, 'YYYY-MM-DD') AS dob, sex, address, postcode, uprn";
  const { rows } = await sql<LoadedRecord>`${sql.raw(currentPersonRecordsSql(columns))} ORDER BY 1, 2`.execute(session.kysely);
  return rows;
}

const recordKey = (source: string, recordId: string) => `${source}|${recordId}`;

/** `[source, record_id]` of a record key made by recordKey (a source name holds no `|`). */
function splitRecordKey(key: string): [string, string] {
  const cut = key.indexOf('|');
  return [key.slice(0, cut), key.slice(cut + 1)];
}

interface Profile extends LinkRecord {
  source: string;
  personRef: string;
  /** YYYYMMDD, '' when missing (as every LinkRecord from toLinkRecord has). */
  dob: string;
}

/** Profiles of person records, and the record keys (`source|record_id`) behind each. */
export interface Profiles {
  profiles: Profile[];
  recordsOf: string[][];
  recordCount: number;
  /** Per profile, a 53-bit hash of its linkage fields (stored as person_record.linkage_key). */
  linkageKeys: number[];
}

/** `normalise`, remembering each value's result (the cap only guards a pathological extract). */
function remembered(normalise: (value: string) => string): (value: string | null | undefined) => string {
  const seen = new Map<string, string>();
  return (value) => {
    const raw = value ?? '';
    let normal = seen.get(raw);
    if (normal === undefined) {
      if (seen.size > 1_000_000) seen.clear();
      seen.set(raw, (normal = normalise(raw)));
    }
    return normal;
  };
}

/**
 * Groups records identical in every linkage field (and source and person id) into profiles, as
 * they arrive. Names, dates of birth and postcodes are normalised once per distinct spelling.
 */
class ProfileBuilder implements Profiles {
  readonly profiles: Profile[] = [];
  readonly recordsOf: string[][] = [];
  readonly linkageKeys: number[] = [];
  recordCount = 0;
  private readonly index = new Map<string, number>();
  // Each distinct spelling normalised once: a council has a few thousand names, tens of thousands
  // of postcodes and birth dates, and a million records.
  private readonly normalise: Normalisers = { name: remembered(normaliseName), dob: remembered(normaliseDob), postcode: remembered(normalisePostcode) };

  /** The last row added and its profile: a pupil's rows term after term arrive one after another. */
  private last: LoadedRecord | undefined;
  private lastAt = -1;

  private sameAsLast(r: LoadedRecord): boolean {
    const l = this.last;
    return (
      l !== undefined && l.source === r.source && l.person_ref === r.person_ref && l.forename === r.forename && l.surname === r.surname &&
      l.dob === r.dob && l.sex === r.sex && l.address === r.address && l.postcode === r.postcode && l.uprn === r.uprn
    );
  }

  /** Add one record to its profile (a new one when no earlier record had its fields). */
  add(r: LoadedRecord): void {
    this.recordCount++;
    if (this.sameAsLast(r)) {
      this.recordsOf[this.lastAt]!.push(recordKey(r.source, r.record_id));
      return;
    }
    const link = toLinkRecord(r, this.normalise);
    const personRef = (r.person_ref ?? '').trim();
    const key = [r.source, personRef, link.forename, link.surname, link.dob, link.sex, link.postcode, link.uprn, link.houseNumber].join('\u0001');
    let at = this.index.get(key);
    if (at === undefined) {
      at = this.profiles.length;
      this.index.set(key, at);
      this.profiles.push({ ...link, dob: link.dob ?? '', source: r.source, personRef });
      this.recordsOf.push([]);
      this.linkageKeys.push(hash53(key));
    }
    this.recordsOf[at]!.push(recordKey(r.source, r.record_id));
    this.last = r;
    this.lastAt = at;
  }
}

/** Group records identical in every linkage field (and source and person id) into profiles. */
export function profilesOf(records: readonly LoadedRecord[]): Profiles {
  const builder = new ProfileBuilder();
  for (const r of records) builder.add(r);
  return builder;
}

/**
 * The profiles of every current person record, read as COPY output so the process never holds
 * the loaded rows themselves (nor makes an object of each), only profiles and record keys. Rows
 * come in storage order (sorting 1.9M rows on nine text columns in the database cost more than
 * all the rest); profiles and their records are then put in a fixed order (by source and first
 * record id), so the same records always give the same profiles in the same order.
 */
export async function loadProfiles(session: DbSession): Promise<Profiles> {
  const columns = "record_id, person_ref, forename, surname, to_char(dob, 'YYYY-MM-DD') AS dob, sex, address, postcode, uprn";
  const builder = new ProfileBuilder();
  for await (const rows of copyTextRows(session.copyTo(currentPersonRecordsSql(columns)))) {
    for (const [source, recordId, personRef, forename, surname, dob, sex, address, postcode, uprn] of rows) {
      builder.add({
        source: source!,
        record_id: recordId!,
        person_ref: personRef ?? null,
        forename: forename ?? null,
        surname: surname ?? null,
        dob: dob ?? null,
        sex: sex ?? null,
        address: address ?? null,
        postcode: postcode ?? null,
        uprn: uprn ?? null,
      });
    }
  }
  return inFixedOrder(builder);
}

/** Profiles ordered by their first record (`source|record_id`, compared as strings), each profile's records sorted. */
function inFixedOrder(p: Profiles): Profiles {
  const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  for (const keys of p.recordsOf) if (keys.length > 1) keys.sort(byCodeUnits);
  const order = p.profiles.map((_, i) => i).sort((a, b) => byCodeUnits(p.recordsOf[a]![0]!, p.recordsOf[b]![0]!));
  return {
    profiles: order.map((i) => p.profiles[i]!),
    recordsOf: order.map((i) => p.recordsOf[i]!),
    linkageKeys: order.map((i) => p.linkageKeys[i]!),
    recordCount: p.recordCount,
  };
}

/** Scored pairs of profiles: the council model (undefined when too few pairs to train), the pairs, their levels and total weights. */
function scoreProfiles(profiles: readonly Profile[]) {
  return scoreCandidates({
    comparisons: COUNCIL_COMPARISONS,
    blocking: COUNCIL_BLOCKING,
    training: COUNCIL_TRAINING,
    left: profiles,
    sessions: COUNCIL_SESSIONS,
    maxBlockSize: 20_000,
  });
}

/**
 * Scored pairs for an incremental run: candidate pairs with at least one fresh profile, scored
 * with the model of an earlier run (no training: the same model scores month after month, so an
 * unchanged pair keeps its weight).
 */
function scoreFreshProfiles(profiles: readonly Profile[], fresh: Uint8Array, model: LinkModel) {
  const { pairs, byRule } = candidatePairs(COUNCIL_BLOCKING, profiles, profiles, { dedupe: true, maxBlockSize: 20_000, involving: fresh });
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

/**
 * Copy the stored pairs of `fromRun` whose records are both among `settled` (records unchanged
 * since then, so the same model gives the same weights) into `runId`, with the outcome this run
 * gives them: decided by a reviewer, not linked; at or above the threshold, linked when both
 * records are one person now and refused otherwise; in the review band, review. Call after
 * this run's person records are written. Returns how many, and how many await review.
 */
async function carryForwardPairs(
  session: DbSession,
  opts: { runId: number; fromRun: number; threshold: number; reviewLow: number; reviewHigh: number },
  settled: () => Iterable<CopyCell[]>,
): Promise<{ pairs: number; inReviewBand: number }> {
  const k = session.kysely;
  await sql`CREATE TEMP TABLE settled_record (source text, record_id text, PRIMARY KEY (source, record_id)) ON COMMIT DROP`.execute(k);
  await copyRows(session, 'settled_record (source, record_id)', settled());
  await sql`ANALYZE settled_record`.execute(k);
  const { rows } = await sql<{ pairs: number; in_band: number }>`
    WITH previous AS (
      SELECT lp.*, pa.person_id = pb.person_id AS same_person,
             EXISTS (SELECT 1 FROM core.review_decision d
                     WHERE (d.source_a = lp.source_a AND d.record_a = lp.record_a AND d.source_b = lp.source_b AND d.record_b = lp.record_b)
                        OR (d.source_a = lp.source_b AND d.record_a = lp.record_b AND d.source_b = lp.source_a AND d.record_b = lp.record_a)) AS decided
      FROM core.link_pair lp
      JOIN settled_record a ON a.source = lp.source_a AND a.record_id = lp.record_a
      JOIN settled_record b ON b.source = lp.source_b AND b.record_id = lp.record_b
      JOIN core.person_record pa ON pa.source = lp.source_a AND pa.record_id = lp.record_a
      JOIN core.person_record pb ON pb.source = lp.source_b AND pb.record_id = lp.record_b
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
  await sql`DROP TABLE settled_record`.execute(k);
  return { pairs: rows[0]!.pairs, inReviewBand: rows[0]!.in_band };
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

  // The loaded rows are dropped as soon as they are grouped: only profiles are kept.
  const { profiles, recordsOf, recordCount, linkageKeys } = await loadProfiles(session);
  log.info({ records: recordCount, profiles: profiles.length }, 'records loaded');

  // What earlier runs linked: each record's person, and the hash of its fields then. Read as COPY
  // output: the whole result (1.9M row objects at 1x) held at once was most of a monthly run's peak.
  const previous = new Map<string, number>();
  const previousKey = new Map<string, number | null>();
  for await (const rows of copyTextRows(session.copyTo('SELECT source, record_id, person_id, linkage_key FROM core.person_record'))) {
    for (const [source, recordId, personId, linkageKey] of rows) {
      const key = recordKey(source!, recordId!);
      previous.set(key, Number(personId));
      previousKey.set(key, linkageKey === null || linkageKey === undefined ? null : Number(linkageKey));
    }
  }
  // A profile is fresh when any of its records is new or was linked with other fields.
  const fresh = new Uint8Array(profiles.length);
  let freshProfiles = 0;
  recordsOf.forEach((keys, p) => {
    const linkageKey = linkageKeys[p]!;
    if (keys.some((key) => !previous.has(key) || previousKey.get(key) !== linkageKey)) {
      fresh[p] = 1;
      freshProfiles++;
    }
  });
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
  const { model, pairs, byRule, trainingPairs, table, weights } = incremental ? scoreFreshProfiles(profiles, fresh, last!.model!) : scoreProfiles(profiles);
  const scoringSeconds = (performance.now() - scoringStarted) / 1000;

  const decisions = await sql<{ source_a: string; record_a: string; source_b: string; record_b: string; decision: 'same' | 'different' }>`
    SELECT DISTINCT ON (source_a, record_a, source_b, record_b) source_a, record_a, source_b, record_b, decision
    FROM core.review_decision ORDER BY source_a, record_a, source_b, record_b, decision_id DESC`.execute(k);
  // Where each decided record lives (profile index): only those records are looked up.
  const profileOfRecord = new Map<string, number>();
  for (const d of decisions.rows) {
    profileOfRecord.set(recordKey(d.source_a, d.record_a), -1);
    profileOfRecord.set(recordKey(d.source_b, d.record_b), -1);
  }
  if (profileOfRecord.size > 0) recordsOf.forEach((keys, p) => keys.forEach((key) => profileOfRecord.has(key) && profileOfRecord.set(key, p)));

  const links: CandidateLink[] = [];
  const linkOfPair = new Map<number, number>();
  const different: [number, number][] = [];
  let reviewDecisionsApplied = 0;
  const decided = new Set<string>();
  for (const d of decisions.rows) {
    const a = profileOfRecord.get(recordKey(d.source_a, d.record_a));
    const b = profileOfRecord.get(recordKey(d.source_b, d.record_b));
    if (a === undefined || b === undefined || a < 0 || b < 0 || a === b) continue;
    reviewDecisionsApplied++;
    decided.add(`${Math.min(a, b)}|${Math.max(a, b)}`);
    if (d.decision === 'same') links.push({ a, b, kind: 'review', weight: Number.POSITIVE_INFINITY });
    else different.push([a, b]);
  }
  // Profiles of one source with one person id are one person (subject to the guards).
  const firstWithRef = new Map<string, number>();
  let deterministicLinks = 0;
  profiles.forEach((p, i) => {
    if (p.personRef === '') return;
    const key = `${p.source}|${p.personRef}`;
    const first = firstWithRef.get(key);
    if (first === undefined) firstWithRef.set(key, i);
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
      const person = previous.get(recordsOf[p]![0]!)!;
      const first = firstOfPerson.get(person);
      if (first === undefined) firstOfPerson.set(person, p);
      else links.push({ a: first, b: p, kind: 'previous', weight: Number.POSITIVE_INFINITY });
    });
  }
  let probabilisticLinks = 0;
  for (let n = 0; n < weights.length; n++) {
    const a = pairs.left[n]!;
    const b = pairs.right[n]!;
    if (probabilityOf(weights[n]!) < threshold || decided.has(`${a}|${b}`)) continue;
    linkOfPair.set(n, links.length);
    links.push({ a, b, kind: 'probabilistic', weight: weights[n]! });
    probabilisticLinks++;
  }
  const phaseMs: Record<string, number> = { scoring: Math.round(scoringSeconds * 1000) };
  let phaseStarted = performance.now();
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

  // Clusters of record keys, in a fixed order (by their first profile).
  const clusterIndex = new Map<number, number>();
  const clusters: string[][] = [];
  clusterOf.forEach((root, p) => {
    let c = clusterIndex.get(root);
    if (c === undefined) {
      c = clusters.length;
      clusterIndex.set(root, c);
      clusters.push([]);
    }
    clusters[c]!.push(...recordsOf[p]!);
  });
  phase('clusters');
  const { personIdOf, changes } = assignStableIds(clusters, previous);
  phase('stable ids');
  const newClusters = personIdOf.flatMap((id, c) => (id === undefined ? [c] : []));
  if (newClusters.length > 0) {
    const ids = await nextIds(k, 'core.person', 'person_id', newClusters.length);
    newClusters.forEach((c, n) => {
      personIdOf[c] = ids[n]!;
    });
    await copyRows(session, 'core.person (person_id, created_run)', newClusters.map((c) => [personIdOf[c]!, ctx.runId]));
  }

  phase('new people');
  // Every current record's person and linkage key, written only where either changed.
  // Rows are made as COPY consumes them: at 4x there are millions, never held at once.
  function* changedRecords(): Generator<CopyCell[]> {
    for (let p = 0; p < profiles.length; p++) {
      const personId = personIdOf[clusterIndex.get(clusterOf[p]!)!]!;
      const linkageKey = linkageKeys[p]!;
      for (const key of recordsOf[p]!) {
        if (previous.get(key) === personId && previousKey.get(key) === linkageKey) continue;
        yield [...splitRecordKey(key), personId, String(linkageKey), ctx.runId];
      }
    }
  }
  const personRecordColumns = '(source, record_id, person_id, linkage_key, run_id)';
  if (previous.size === 0) {
    // The first run: nothing to update, so straight in by COPY.
    await copyRows(session, `core.person_record ${personRecordColumns}`, changedRecords());
  } else {
    // Loaded by COPY into a scratch table, then upserted in one statement.
    await sql`CREATE TEMP TABLE person_record_changed (source text, record_id text, person_id bigint, linkage_key bigint, run_id bigint) ON COMMIT DROP`.execute(k);
    if ((await copyRows(session, `person_record_changed ${personRecordColumns}`, changedRecords())) > 0) {
      await sql`
        INSERT INTO core.person_record ${sql.raw(personRecordColumns)}
        SELECT source, record_id, person_id, linkage_key, run_id FROM person_record_changed
        ON CONFLICT (source, record_id) DO UPDATE SET person_id = EXCLUDED.person_id, linkage_key = EXCLUDED.linkage_key, run_id = EXCLUDED.run_id`.execute(k);
    }
    await sql`DROP TABLE person_record_changed`.execute(k);
  }
  phase('person records');
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
  const first = (p: number) => splitRecordKey(recordsOf[p]![0]!);
  let reviewQueue = 0;
  // Rows are made as COPY consumes them: at bench scale there are millions, never held at once.
  function* storedPairs(): Generator<CopyCell[]> {
    for (let n = 0; n < weights.length; n++) {
      if (probabilityOf(weights[n]!) < STORE_PAIRS_FROM) continue;
      const a = pairs.left[n]!;
      const b = pairs.right[n]!;
      const gamma = gammaAt(table, n);
      // The breakdown is worked out only for the pairs kept as evidence.
      const score = scorePair(model!, gamma, profiles[a], profiles[b]);
      const link = linkOfPair.get(n);
      const why = link === undefined ? undefined : refused[link];
      const inBand = score.probability >= reviewLow && score.probability < reviewHigh && !decided.has(`${a}|${b}`);
      // A pair the guards keep apart is not worth a reviewer's time: no decision could join it.
      const keptApart = link === undefined ? pairGuard(members[a]!, members[b]!) : undefined;
      const outcome = why ? 'refused' : link !== undefined ? 'linked' : inBand && !keptApart ? 'review' : 'not linked';
      if (inBand && (outcome === 'review' || outcome === 'linked')) reviewQueue++;
      const [sa, ra] = first(a);
      const [sb, rb] = first(b);
      yield [
        ctx.runId, sa, ra, sb, rb, score.weight, score.probability,
        `{${Array.from(gamma).join(',')}}`, `{${score.contributions.map((c) => c.toFixed(4)).join(',')}}`, outcome, why ?? keptApart ?? null,
      ];
    }
  }
  const storedCount = await copyRows(
    session,
    'core.link_pair (run_id, source_a, record_a, source_b, record_b, weight, probability, levels, contributions, outcome, reason)',
    storedPairs(),
  );

  // Incremental: the stored pairs of unchanged records, as the previous match run scored them
  // (same model, same fields), so this run's evidence and review queue stay whole.
  let carriedPairs = 0;
  if (incremental) {
    const carried = await carryForwardPairs(session, { runId: ctx.runId, fromRun: last!.runId, threshold, reviewLow, reviewHigh }, function* () {
      for (let p = 0; p < profiles.length; p++) {
        if (fresh[p]) continue;
        for (const key of recordsOf[p]!) yield splitRecordKey(key);
      }
    });
    carriedPairs = carried.pairs;
    reviewQueue += carried.inReviewBand;
  }
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
    persons: clusters.length,
    newPersons: newClusters.length,
    merges: changes.filter((c) => c.kind === 'merge').length,
    splits: changes.filter((c) => c.kind === 'split').length,
    storedPairs: storedCount,
    modelTrained: model !== undefined,
    scoringSeconds,
  };
  log.info({ ...summary, phaseMs }, 'people linked');
  return summary;
}

