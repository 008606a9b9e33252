import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateFamilies, writeFamiliesCsv } from '../../src/families/index.ts';
import { discoverExtracts, ingestExtracts } from '../../src/ingest/index.ts';
import { matchAndGroup } from '../../src/link/command.ts';
import { availableBackends, mainBackend, testDatabase, type TestDatabase } from '../support/db.ts';
import { tempDir } from '../support/files.ts';
import { testRun } from '../support/run.ts';
import { TODAY } from '../ingest/helpers.ts';

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');

type Row = Record<string, string>;
const readCsv = async (file: string) => parse(await readFile(file), { columns: true, bom: true }) as Row[];
const writeCsv = async (file: string, rows: Row[]) => writeFile(file, stringify(rows, { header: true, columns: Object.keys(rows[0]!) }));

async function ingestAndMatch(t: TestDatabase, dir: string, opts: { asOf?: string } = {}) {
  const ingestRun = await testRun(t.db, 'run');
  await ingestExtracts(ingestRun, { files: await discoverExtracts(dir), today: TODAY });
  const ctx = await testRun(t.db, 'match');
  return { ...(await matchAndGroup(ctx, opts)), runId: ctx.runId };
}

/** Each current record's person and family: `source|record_id` -> [person_id, family_id]. */
async function placements(t: TestDatabase): Promise<Map<string, [number, number]>> {
  const rows = await sql<{ key: string; person_id: number; family_id: number }>`
    SELECT pr.source || '|' || pr.record_id AS key, pr.person_id::int AS person_id, m.family_id::int AS family_id
    FROM core.person_record pr JOIN core.current_family_member m USING (person_id)`.execute(t.db.kysely);
  return new Map(rows.rows.map((r) => [r.key, [r.person_id, r.family_id]]));
}

for (const backend of availableBackends()) {
  describe(`families stage on ${backend}`, () => {
    let t: TestDatabase;
    let out: Awaited<ReturnType<typeof tempDir>>;
    beforeAll(async () => {
      t = await testDatabase(backend);
      out = await tempDir();
    });
    afterAll(async () => {
      await t?.drop();
      await out?.remove();
    });

    it('puts every attached family\'s records, and only theirs, in its family (samples truth), writes families.csv, and is stable on a re-run', async () => {
      const first = await ingestAndMatch(t, SAMPLES);
      expect(first.families.attachedFamilies).toBe(36);
      expect(first.families.people).toBe(first.people.persons);

      const quality = await evaluateFamilies(t.db, SAMPLES);
      expect(quality.attachedFamilies).toBe(36);
      expect(quality.wrong).toEqual([]);
      expect(quality.exactFraction).toBeGreaterThanOrEqual(0.99);
      // Grouping of everyone else into households, as pairs of people (reported in docs/linkage.md).
      expect(quality.precision).toBeGreaterThan(0.95);
      expect(quality.recall).toBeGreaterThan(0.9);

      // Every person in exactly one current family; register families carry their case_ref.
      const counts = await sql<{ people: number; memberships: number; attached: number }>`
        SELECT (SELECT count(*)::int FROM core.person_detail) AS people,
               (SELECT count(*)::int FROM core.current_family_member) AS memberships,
               (SELECT count(*)::int FROM core.family WHERE case_ref IS NOT NULL) AS attached`.execute(t.db.kysely);
      expect(counts.rows[0]).toEqual({ people: first.people.persons, memberships: first.people.persons, attached: 36 });

      const { file, rows } = await writeFamiliesCsv(t.db, out.dir);
      const csv = await readCsv(file);
      expect(Object.keys(csv[0]!)).toEqual(['family_id', 'case_ref', 'person_id', 'source', 'record_id']);
      expect(csv.length).toBe(rows);
      expect(rows).toBe(first.people.records);
      const placed = await placements(t);
      for (const r of csv) expect(placed.get(`${r.source}|${r.record_id}`)).toEqual([Number(r.person_id), Number(r.family_id)]);
      expect(new Set(csv.map((r) => `${r.source}|${r.record_id}`)).size).toBe(rows);
      const caseOf = new Map((await readCsv(path.join(SAMPLES, 'attachments.csv'))).map((r) => [r.record_id, r.case_ref]));
      for (const r of csv.filter((x) => x.source === 'attachments')) expect(r.case_ref).toBe(caseOf.get(r.record_id));
      // In the contract's order (family, person, source, record); no case_ref is an empty field, not "".
      const sortKey = (r: Record<string, string>) => [Number(r.family_id), Number(r.person_id), r.source!, r.record_id!] as const;
      const ordered = [...csv].sort((x, y) => {
        const [a, b] = [sortKey(x), sortKey(y)];
        return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0) || (a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0);
      });
      expect(csv).toEqual(ordered);
      const lines = (await readFile(file, 'utf8')).split('\n');
      const unattached = csv.find((r) => r.case_ref === '')!;
      expect(lines).toContain(`${unattached.family_id},,${unattached.person_id},${unattached.source},${unattached.record_id}`);
      // A case_ref that a spreadsheet would run as a formula is written with a leading apostrophe.
      const attached = csv.find((r) => r.case_ref !== '')!;
      await sql`UPDATE core.family SET case_ref = '=1+2' WHERE family_id = ${Number(attached.family_id)}`.execute(t.db.kysely);
      const formula = await readCsv((await writeFamiliesCsv(t.db, out.dir)).file);
      expect(new Set(formula.filter((r) => r.family_id === attached.family_id).map((r) => r.case_ref))).toEqual(new Set(["'=1+2"]));
      await sql`UPDATE core.family SET case_ref = ${attached.case_ref!} WHERE family_id = ${Number(attached.family_id)}`.execute(t.db.kysely);

      // The same data again: the same people in the same families, nothing begins or ends.
      const again = await matchAndGroup(await testRun(t.db, 'match'));
      expect(again.families).toMatchObject({ newFamilies: 0, membersJoined: 0, membersLeft: 0, merges: 0, splits: 0 });
      expect(await placements(t)).toEqual(placed);
    });
  });
}

/**
 * A database of its own and a scratch folder for the enclosing describe block, dropped after it.
 * Filled in before its tests run: read them inside a test.
 */
function ownDatabaseAndFolder(): { t: TestDatabase; tmp: Awaited<ReturnType<typeof tempDir>> } {
  const own = {} as { t: TestDatabase; tmp: Awaited<ReturnType<typeof tempDir>> };
  beforeAll(async () => {
    own.t = await testDatabase();
    own.tmp = await tempDir();
  });
  afterAll(async () => {
    await own.t?.drop();
    await own.tmp?.remove();
  });
  return own;
}

describe(`two consecutive monthly runs on ${mainBackend()}`, () => {
  const own = ownDatabaseAndFolder();

  it('keeps person and family ids when a record is added, a name corrected and a person moves house, and records the move', async () => {
    const { t, tmp } = own;
    const october = path.join(tmp.dir, 'october');
    const november = path.join(tmp.dir, 'november');
    await cp(SAMPLES, october, { recursive: true });
    await cp(SAMPLES, november, { recursive: true });

    // October's register holds a mistyped forename that November corrects.
    const attachments = await readCsv(path.join(SAMPLES, 'attachments.csv'));
    const corrected = attachments.find((r) => r.forename!.length >= 4)!;
    await writeCsv(path.join(october, 'attachments.csv'), attachments.map((r) => (r === corrected ? { ...r, forename: `${r.forename!.slice(0, 2)}${r.forename!.slice(3)}` } : r)));

    const first = await ingestAndMatch(t, october);
    const before = await placements(t);

    // Pick an adult with DWP records in an unattached family of two or more, and another
    // unattached family (with a UPRN) for them to move into.
    const employment = await readCsv(path.join(SAMPLES, 'employment.csv'));
    const families = await sql<{ family_id: number; person_id: number; members: number; attached: boolean }>`
      SELECT m.family_id::int AS family_id, m.person_id::int AS person_id, (count(*) OVER (PARTITION BY m.family_id))::int AS members, m.case_ref IS NOT NULL AS attached
      FROM core.current_family_member m ORDER BY m.family_id, m.person_id`.execute(t.db.kysely);
    const familyOfPerson = new Map(families.rows.map((r) => [r.person_id, r]));
    const mover = employment.find((r) => {
      const placed = before.get(`employment|${r.record_id}`);
      const f = placed && familyOfPerson.get(placed[0]);
      return f && !f.attached && f.members >= 2 && r.person_ref !== '';
    })!;
    expect(mover).toBeDefined();
    const [moverId, oldFamily] = before.get(`employment|${mover.record_id}`)!;
    const attendance = await readCsv(path.join(SAMPLES, 'attendance.csv'));
    const destination = attendance.find((r) => {
      const placed = before.get(`attendance|${r.record_id}`);
      const f = placed && familyOfPerson.get(placed[0]);
      return r.uprn !== '' && f && !f.attached && f.family_id !== oldFamily && r.term_end! >= '2026-07-01';
    })!;
    const [, newFamily] = before.get(`attendance|${destination.record_id}`)!;

    // November: the mover's new spell at the destination's home; a new term for a pupil, the
    // current one, which ends after the as-of date.
    await writeCsv(path.join(november, 'employment.csv'), [
      ...employment,
      { ...mover, record_id: 'DWP90000001', address: destination.address!, postcode: destination.postcode!, uprn: destination.uprn!, start_date: '2026-10-05', end_date: '' },
    ]);
    const pupil = attendance.find((r) => r.term_end === '2026-07-21' && r.person_ref !== '')!;
    await writeCsv(path.join(november, 'attendance.csv'), [
      ...attendance,
      { ...pupil, record_id: 'ATT90000001', term_start: '2026-09-02', term_end: '2026-12-18', sessions_possible: '76', sessions_authorised: '2', sessions_unauthorised: '0' },
    ]);

    const second = await ingestAndMatch(t, november, { asOf: '2026-10-31' });
    const after = await placements(t);
    // November is linked incrementally: only the corrected, moved and added records' profiles are
    // scored, with October's model; everyone else keeps their person without being compared again.
    expect(first.people.mode).toBe('full');
    expect(second.people).toMatchObject({ mode: 'incremental', modelRun: first.people.modelRun });
    expect(second.people.freshProfiles).toBeGreaterThanOrEqual(3);
    expect(second.people.freshProfiles).toBeLessThanOrEqual(4);
    expect(second.people.candidatePairs).toBeLessThan(first.people.candidatePairs / 10);
    expect(second.people.carriedPairs).toBeGreaterThan(0);
    expect(second.people.newPersons).toBe(0);
    expect(second.families.newFamilies).toBe(0);
    expect(second.people.merges + second.people.splits).toBe(0);
    // Nobody's date of birth or sex changed: every person's details keep the run that wrote them.
    const detailsRewritten = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.person_detail WHERE run_id = ${second.runId}`.execute(t.db.kysely);
    expect(detailsRewritten.rows[0]!.n).toBe(0);

    // Every record of October has the same person in November, the corrected one included.
    for (const [key, [personId]] of before) expect(after.get(key)?.[0], key).toBe(personId);
    expect(after.get(`attendance|ATT90000001`)?.[0]).toBe(before.get(`attendance|${pupil.record_id}`)![0]);
    expect(after.get(`employment|DWP90000001`)?.[0]).toBe(moverId);

    // Families keep their ids; only the mover changed family.
    const moved = [...before].filter(([key, [, familyId]]) => after.get(key)![1] !== familyId);
    expect(new Set(moved.map(([, [personId]]) => personId))).toEqual(new Set([moverId]));
    expect(after.get(`employment|${mover.record_id}`)![1]).toBe(newFamily);
    expect(second.families).toMatchObject({ membersJoined: 1, membersLeft: 1 });
    const register = await sql<{ case_ref: string; family_id: number }>`SELECT case_ref, family_id::int AS family_id FROM core.family WHERE case_ref IS NOT NULL ORDER BY 1`.execute(t.db.kysely);
    expect(register.rows).toHaveLength(first.families.attachedFamilies);

    // The membership history: the old family left on November's data date (the new term ends in
    // December, after the as-of date, so the as-of date), the new one joined.
    const history = await sql<{ family_id: number; joined_run: number; left_run: number | null; left_on: string | null; joined_on: string | null }>`
      SELECT family_id::int AS family_id, joined_run::int AS joined_run, left_run::int AS left_run, to_char(left_on, 'YYYY-MM-DD') AS left_on,
             to_char(joined_on, 'YYYY-MM-DD') AS joined_on
      FROM core.family_member WHERE person_id = ${moverId} ORDER BY joined_run`.execute(t.db.kysely);
    expect(history.rows).toEqual([
      { family_id: oldFamily, joined_run: expect.any(Number), left_run: second.runId, left_on: '2026-10-31', joined_on: expect.any(String) },
      { family_id: newFamily, joined_run: second.runId, left_run: null, left_on: null, joined_on: expect.any(String) },
    ]);
  });
});

describe(`a person whose records are gone, on ${mainBackend()}`, () => {
  const own = ownDatabaseAndFolder();

  it('ends their membership on the next run and leaves everyone else where they were', async () => {
    const { t, tmp } = own;
    const november = path.join(tmp.dir, 'november');
    await cp(SAMPLES, november, { recursive: true });
    await ingestAndMatch(t, SAMPLES);
    const before = await placements(t);

    // Someone in an unattached family of three or more, whose every record goes from November's extracts.
    const families = await sql<{ person_id: number; family_id: number }>`
      SELECT person_id::int AS person_id, family_id::int AS family_id FROM core.current_family_member m
      WHERE case_ref IS NULL AND (SELECT count(*) FROM core.current_family_member o WHERE o.family_id = m.family_id) >= 3
      ORDER BY family_id, person_id LIMIT 1`.execute(t.db.kysely);
    const { person_id: goneId, family_id: familyId } = families.rows[0]!;
    const goneRecords = [...before].filter(([, [personId]]) => personId === goneId).map(([key]) => key);
    expect(goneRecords.length).toBeGreaterThan(0);
    for (const source of new Set(goneRecords.map((key) => key.split('|')[0]!))) {
      const file = path.join(november, `${source}.csv`);
      const rows = await readCsv(file);
      await writeCsv(file, rows.filter((r) => !goneRecords.includes(`${source}|${r.record_id}`)));
    }

    const second = await ingestAndMatch(t, november, { asOf: '2026-10-31' });
    expect(second.families).toMatchObject({ membersLeft: 1, membersJoined: 0, newFamilies: 0 });
    const history = await sql<{ family_id: number; left_run: number | null }>`
      SELECT family_id::int AS family_id, left_run::int AS left_run FROM core.family_member WHERE person_id = ${goneId}`.execute(t.db.kysely);
    expect(history.rows).toEqual([{ family_id: familyId, left_run: second.runId }]);
    const after = await placements(t);
    for (const [key, placed] of before) if (!goneRecords.includes(key)) expect(after.get(key), key).toEqual(placed);
  });
});
