import { sql, type Kysely } from 'kysely';
import type { DbSession } from '../db/index.ts';
import type { RunContext } from '../run/context.ts';
import { batches } from '../util/batches.ts';
import { copyBinaryRows, loadWithIndexesAfter, reserveIds } from '../db/copy-rows.ts';
import { copyTextRows } from '../db/copy-out.ts';
import { currentPersonRecordsSql } from '../link/records.ts';
import { AddressObservationColumns, HouseholdGrouper, type CareGroupEntry, type Household, type Identity, type RegisterEntry } from './households.ts';

/**
 * The families stage: group the people of the current extracts into families (households.ts
 * says how), keep family ids stable from run to run, and record membership history, merges and
 * splits. Runs inside the caller's transaction, after the match stage.
 */

export interface FamiliesSummary {
  people: number;
  families: number;
  attachedFamilies: number;
  newFamilies: number;
  membersJoined: number;
  membersLeft: number;
  merges: number;
  splits: number;
  refusedLinks: { social_care: number; residence: number };
  registerConflicts: number;
  communalDwellings: number;
  unplacedAddresses: number;
}

/**
 * Each person extract's rows of current files with the dates that place the person at the
 * address. A spell still open (no end date) places them there up to now: 9999-12-31.
 */
const PLACED_RECORDS = `
  SELECT 'attendance'::text AS source, r.record_id, r.uprn, r.address, r.postcode, r.term_start AS first, r.term_end AS last
    FROM raw.attendance r JOIN audit.current_file c USING (file_id)
  UNION ALL
  SELECT 'offending', r.record_id, r.uprn, r.address, r.postcode, r.event_date, r.event_date
    FROM raw.offending r JOIN audit.current_file c USING (file_id)
  UNION ALL
  SELECT 'employment', r.record_id, r.uprn, r.address, r.postcode, r.start_date, COALESCE(r.end_date, DATE '9999-12-31')
    FROM raw.employment r JOIN audit.current_file c USING (file_id)
  UNION ALL
  SELECT 'social_care', r.record_id, r.uprn, r.address, r.postcode, r.start_date, COALESCE(r.end_date, DATE '9999-12-31')
    FROM raw.social_care r JOIN audit.current_file c USING (file_id)
  UNION ALL
  SELECT 'attachments', r.record_id, r.uprn, r.address, r.postcode, r.attached_on, r.attached_on
    FROM raw.attachments r JOIN audit.current_file c USING (file_id)`;

/** A family change of this run: `old -> new` with how many members moved. */
export interface FamilyChange {
  kind: 'merge' | 'split';
  oldFamilyId: number;
  newFamilyId: number;
  members: number;
  reason: string;
}

/**
 * Stable family ids. A register family keeps the id of its case_ref. Every other household keeps
 * the earlier family id most of its members had, unless a household holding more of that
 * family's members (or the register family of that id) claims it first; else it is new. Pure.
 *
 * Returns the id per household (undefined = new) and the merges (an earlier family whose id
 * went nowhere, its members now in another) and splits (members of an earlier family now forming
 * a new one).
 */
export function assignFamilyIds(
  households: readonly Household[],
  previousFamilyOf: ReadonlyMap<number, number>,
  familyOfCase: ReadonlyMap<string, number>,
): { familyIdOf: (number | undefined)[]; changes: (Omit<FamilyChange, 'newFamilyId'> & { household: number })[] } {
  const familyIdOf: (number | undefined)[] = households.map((h) => (h.caseRef === null ? undefined : familyOfCase.get(h.caseRef)));
  const taken = new Set(familyIdOf.filter((id): id is number => id !== undefined));
  // Candidates: (household, earlier id, members it holds), best claims first.
  const claims: { household: number; id: number; n: number }[] = [];
  households.forEach((h, i) => {
    if (familyIdOf[i] !== undefined) return;
    const counts = new Map<number, number>();
    for (const m of h.members) {
      const id = previousFamilyOf.get(m.personId);
      if (id !== undefined && !taken.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const [id, n] of counts) claims.push({ household: i, id, n });
  });
  claims.sort((x, y) => y.n - x.n || x.id - y.id || x.household - y.household);
  for (const c of claims) {
    if (familyIdOf[c.household] !== undefined || taken.has(c.id)) continue;
    familyIdOf[c.household] = c.id;
    taken.add(c.id);
  }
  // Where each earlier family's members went.
  const destinations = new Map<number, Map<number, number>>();
  households.forEach((h, i) => {
    for (const m of h.members) {
      const id = previousFamilyOf.get(m.personId);
      if (id === undefined) continue;
      let byHousehold = destinations.get(id);
      if (!byHousehold) destinations.set(id, (byHousehold = new Map()));
      byHousehold.set(i, (byHousehold.get(i) ?? 0) + 1);
    }
  });
  const changes: (Omit<FamilyChange, 'newFamilyId'> & { household: number })[] = [];
  for (const [oldId, byHousehold] of [...destinations].sort((x, y) => x[0] - y[0])) {
    const survives = taken.has(oldId);
    for (const [household, n] of [...byHousehold].sort((x, y) => x[0] - y[0])) {
      if (familyIdOf[household] === oldId) continue;
      if (!survives) changes.push({ kind: 'merge', oldFamilyId: oldId, household, members: n, reason: 'members now live in one family with others' });
      else if (households[household]!.members.every((m) => previousFamilyOf.get(m.personId) === oldId || !previousFamilyOf.has(m.personId)) && familyIdOf[household] === undefined) {
        changes.push({ kind: 'split', oldFamilyId: oldId, household, members: n, reason: 'members now form a family of their own' });
      }
    }
  }
  return { familyIdOf, changes };
}

const OPEN_ENDED = '9999-12-31';

/** How each of `personIds` is written in their current records (distinct name and date of birth), in one query. */
async function loadIdentities(k: Kysely<any>, personIds: number[]): Promise<Map<number, Identity[]>> {
  const identities = new Map<number, Identity[]>();
  if (personIds.length === 0) return identities;
  const rows = await sql<{ person_id: number; forename: string; surname: string; dob: string }>`
    SELECT DISTINCT pr.person_id::int AS person_id, r.forename, r.surname, r.dob
    FROM core.person_record pr JOIN (${sql.raw(currentPersonRecordsSql('record_id, forename, surname, dob'))}) r ON r.source = pr.source AND r.record_id = pr.record_id
    WHERE pr.person_id = ANY(${personIds}::bigint[])`.execute(k);
  for (const r of rows.rows) {
    const list = identities.get(r.person_id);
    const identity = { forename: r.forename, surname: r.surname, dob: r.dob };
    if (list) list.push(identity);
    else identities.set(r.person_id, [identity]);
  }
  return identities;
}

/**
 * Where and when each person's current records place them, read as COPY text into columns (1.4M
 * rows at 1x, which as query results or objects cost more than the query), and the data date:
 * the latest date the extracts speak of (not after `asOf`), so a rerun on the same data dates
 * history the same.
 */
async function readObservations(session: DbSession, asOf: string | undefined): Promise<{ observations: AddressObservationColumns; dataDate: string }> {
  const observations = new AddressObservationColumns();
  const observationsSql = `
    SELECT pr.person_id, r.uprn, r.address, r.postcode, min(r.first), max(r.last), count(*)
    FROM (${PLACED_RECORDS}) r JOIN core.person_record pr ON pr.source = r.source AND pr.record_id = r.record_id
    GROUP BY pr.person_id, r.uprn, r.address, r.postcode
    ORDER BY 1, 2, 3, 4`;
  let dataDate = '0001-01-01';
  for await (const rows of copyTextRows(session.copyTo(observationsSql))) {
    for (const [personId, uprn, address, postcode, first, last, records] of rows) {
      observations.add({ personId: Number(personId), uprn: uprn ?? null, address: address ?? null, postcode: postcode ?? null, first: first!, last: last!, records: Number(records) });
      const latest = last === OPEN_ENDED ? first! : last!;
      if (latest > dataDate) dataDate = latest;
    }
  }
  if (asOf !== undefined && dataDate > asOf) dataDate = asOf;
  return { observations, dataDate };
}

export interface FamiliesOptions {
  /**
   * The run's reference date (`run --as-of`), `YYYY-MM-DD`: memberships that end in this run end
   * on the data date but never after it. Extracts carry dates after the month they describe (a
   * planned end of a spell), and a membership must not be recorded as ending in the future.
   */
  asOf?: string;
}

/** Run the families stage inside the caller's transaction. */
export async function buildFamilies(session: DbSession, ctx: RunContext, opts: FamiliesOptions = {}): Promise<FamiliesSummary> {
  const log = ctx.logger.child({ stage: 'families' });
  const k = session.kysely;
  // Milliseconds per phase, logged with the summary (as the match stage does).
  const phaseMs: Record<string, number> = {};
  let phaseStarted = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phaseMs[name] = Math.round(now - phaseStarted);
    phaseStarted = now;
  };
  await sql`SELECT pg_advisory_xact_lock(7425114101)`.execute(k);
  // The match stage has just rewritten person_record: fresh statistics keep the joins below hash joins.
  await sql`ANALYZE core.person_record, core.family, core.family_member`.execute(k);
  phase('statistics');

  // The observation columns are not kept past the grouper's construction (33 bytes a row, 5.6M rows at 4x).
  let evidence: Awaited<ReturnType<typeof readObservations>> | undefined = await readObservations(session, opts.asOf);
  const { dataDate } = evidence;
  const observationCount = evidence.observations.length;
  const register = (
    await sql<RegisterEntry>`
      SELECT DISTINCT pr.person_id::int AS "personId", r.case_ref AS "caseRef", r.attached_on AS "attachedOn", r.uprn, r.address, r.postcode
      FROM raw.attachments r JOIN audit.current_file c USING (file_id)
      JOIN core.person_record pr ON pr.source = 'attachments' AND pr.record_id = r.record_id
      ORDER BY 1, 2, 3, 4, 5, 6`.execute(k)
  ).rows;
  const careGroups = (
    await sql<CareGroupEntry>`
      SELECT pr.person_id::int AS "personId", r.case_ref AS "caseRef", min(r.start_date) AS first
      FROM raw.social_care r JOIN audit.current_file c USING (file_id)
      JOIN core.person_record pr ON pr.source = 'social_care' AND pr.record_id = r.record_id
      WHERE NULLIF(trim(r.case_ref), '') IS NOT NULL
      GROUP BY 1, 2 ORDER BY 1, 2`.execute(k)
  ).rows;
  phase('evidence');
  const grouper = new HouseholdGrouper([], evidence.observations, register, careGroups);
  evidence = undefined;
  const people = grouper.people;
  log.info({ people, observations: observationCount, register: register.length, careGroups: careGroups.length }, 'family evidence loaded');
  ctx.progress.say(`families: grouping ${people} people`);
  const candidates = grouper.lookalikeCandidates();
  const identities = await loadIdentities(k, [...new Set([...candidates.keys(), ...register.map((r) => r.personId)])]);
  phase('grouper built');
  const grouping = grouper.group(identities);
  const { households } = grouping;
  phase('grouping');
  const previousFamilyOf = new Map<number, number>();
  for await (const rows of copyTextRows(session.copyTo('SELECT person_id, family_id FROM core.family_member WHERE left_run IS NULL'))) {
    for (const [personId, familyId] of rows) previousFamilyOf.set(Number(personId), Number(familyId));
  }
  const caseRows = await sql<{ case_ref: string; family_id: number }>`
    SELECT case_ref, family_id::int AS family_id FROM core.family WHERE case_ref IS NOT NULL`.execute(k);
  const familyOfCase = new Map(caseRows.rows.map((r) => [r.case_ref, r.family_id]));
  const { familyIdOf, changes } = assignFamilyIds(households, previousFamilyOf, familyOfCase);
  phase('family ids');

  const newHouseholds = familyIdOf.flatMap((id, i) => (id === undefined ? [i] : []));
  if (newHouseholds.length > 0) {
    const ids = await reserveIds(k, 'core.family', newHouseholds.length);
    newHouseholds.forEach((h, n) => {
      familyIdOf[h] = ids[n]!;
    });
    await copyBinaryRows(session, 'core.family (family_id, created_run)', ['int8', 'int8'], newHouseholds.map((h) => [familyIdOf[h]!, ctx.runId]));
  }
  // Case refs follow the register: cleared first so a case_ref can move without a transient duplicate.
  const attached = households.flatMap((h, i) => (h.caseRef === null ? [] : [{ familyId: familyIdOf[i]!, caseRef: h.caseRef }]));
  await sql`
    UPDATE core.family SET case_ref = NULL
    WHERE case_ref IS NOT NULL AND NOT (family_id, case_ref) IN (
      SELECT f, c FROM unnest(${attached.map((a) => a.familyId)}::bigint[], ${attached.map((a) => a.caseRef)}::text[]) AS t(f, c))`.execute(k);
  await sql`
    UPDATE core.family f SET case_ref = t.c
    FROM unnest(${attached.map((a) => a.familyId)}::bigint[], ${attached.map((a) => a.caseRef)}::text[]) AS t(fid, c)
    WHERE f.family_id = t.fid AND f.case_ref IS DISTINCT FROM t.c`.execute(k);

  // Memberships: close those that ended, then open those that began (one open membership per
  // person), in two passes over the households rather than a map of everyone's membership.
  const leaving: number[] = [];
  let stillMembers = 0;
  households.forEach((h, i) => {
    for (const m of h.members) {
      const before = previousFamilyOf.get(m.personId);
      if (before === undefined) continue;
      stillMembers++;
      if (before !== familyIdOf[i]) leaving.push(m.personId);
    }
  });
  if (stillMembers < previousFamilyOf.size) {
    // Some earlier members are in no household now (their records are gone).
    const current = new Set(households.flatMap((h) => h.members.map((m) => m.personId)));
    for (const personId of previousFamilyOf.keys()) if (!current.has(personId)) leaving.push(personId);
  }
  await batches(leaving, 10_000, async (batch) => {
    await sql`
      UPDATE core.family_member SET left_run = ${ctx.runId}, left_on = ${dataDate}::date
      WHERE left_run IS NULL AND person_id = ANY(${batch}::bigint[])`.execute(k);
  });
  const joining = await loadWithIndexesAfter(k, 'core.family_member', () =>
    copyBinaryRows(
      session,
      'core.family_member (family_id, person_id, basis, joined_on, joined_run)',
      ['int8', 'int8', 'text', 'date', 'int8'],
      (function* () {
        for (let i = 0; i < households.length; i++) {
          for (const m of households[i]!.members) {
            if (previousFamilyOf.get(m.personId) !== familyIdOf[i]) yield [familyIdOf[i]!, m.personId, m.basis, m.joinedOn, ctx.runId];
          }
        }
      })(),
    ),
  );
  await batches(changes, 10_000, async (batch) => {
    await sql`
      INSERT INTO core.family_change (run_id, kind, old_family_id, new_family_id, members, reason)
      SELECT ${ctx.runId}, kind, o, n, m, why
      FROM unnest(${batch.map((c) => c.kind)}::text[], ${batch.map((c) => c.oldFamilyId)}::bigint[], ${batch.map((c) => familyIdOf[c.household]!)}::bigint[],
                  ${batch.map((c) => c.members)}::int[], ${batch.map((c) => c.reason)}::text[]) AS t(kind, o, n, m, why)`.execute(k);
  });

  phase('writing');
  await sql`ANALYZE core.family, core.family_member, core.person_detail`.execute(k);
  phase('statistics after');

  const summary: FamiliesSummary = {
    people,
    families: households.length,
    attachedFamilies: attached.length,
    newFamilies: newHouseholds.length,
    membersJoined: joining,
    membersLeft: leaving.length,
    merges: changes.filter((c) => c.kind === 'merge').length,
    splits: changes.filter((c) => c.kind === 'split').length,
    refusedLinks: grouping.refused,
    registerConflicts: grouping.registerConflicts,
    communalDwellings: grouping.communalDwellings,
    unplacedAddresses: grouping.unplacedAddresses,
  };
  log.info({ ...summary, phaseMs }, 'families built');
  return summary;
}

