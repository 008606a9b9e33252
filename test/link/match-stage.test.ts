import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverExtracts, ingestExtracts } from '../../src/ingest/index.ts';
import { loadCurrentPersonRecords, loadProfiles, matchPeople, profilesOf } from '../../src/link/stage.ts';
import { pairQuality } from '../../src/link/model.ts';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { matchInTransaction, testRun } from '../support/run.ts';
import { TODAY } from '../ingest/helpers.ts';
import { tempDir } from '../support/files.ts';

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');

/** Record pairs (`a|b`, a < b) that share a group. */
function pairsOf(groupOf: Map<string, string>, keys: readonly string[]): Set<string> {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const g = groupOf.get(key)!;
    groups.set(g, [...(groups.get(g) ?? []), key]);
  }
  const pairs = new Set<string>();
  for (const members of groups.values()) {
    members.sort();
    for (let i = 0; i < members.length; i++) for (let j = i + 1; j < members.length; j++) pairs.add(`${members[i]}|${members[j]}`);
  }
  return pairs;
}

for (const backend of availableBackends()) {
  describe(`match stage on ${backend}`, () => {
    let t: TestDatabase;
    let truth: Map<string, string>;
    beforeAll(async () => {
      t = await testDatabase(backend);
      const ctx = await testRun(t.db, 'run');
      await ingestExtracts(ctx, { files: await discoverExtracts(SAMPLES), today: TODAY });
      truth = new Map(
        (parse(await readFile(path.join(SAMPLES, 'truth', 'records.csv')), { columns: true }) as Record<string, string>[]).map((r) => [
          `${r.source}|${r.record_id}`,
          r.person_id!,
        ]),
      );
    });
    afterAll(async () => t?.drop());

    const people = async () => {
      const rows = await sql<{ source: string; record_id: string; person_id: number }>`
        SELECT source, record_id, person_id::int AS person_id FROM core.person_record`.execute(t.db.kysely);
      return new Map(rows.rows.map((r) => [`${r.source}|${r.record_id}`, String(r.person_id)]));
    };
    const match = async () => {
      const ctx = await testRun(t.db, 'match');
      return { summary: await t.db.transaction((s) => matchPeople(s, ctx)), runId: ctx.runId };
    };

    it('reads profiles as COPY output exactly as grouping the whole record list would, in a fixed order, each named by its least record', async () => {
      const records = await t.db.transaction((s) => loadCurrentPersonRecords(s));
      const whole = profilesOf(records);
      const streamed = await t.db.transaction((s) => loadProfiles(s));
      expect(streamed.recordCount).toBe(records.length);
      expect(streamed.profiles).toEqual(whole.profiles);
      expect(streamed.firstRecord).toEqual(whole.firstRecord);
      expect(streamed.recordsIn).toEqual(whole.recordsIn);
      expect(streamed.linkageKeys).toEqual(whole.linkageKeys);
      // Each record's profile, found by its own fields: the profile counts it, and is named by its least record.
      const profileOfKey = new Map(whole.linkageKeys.map((key, p) => [key, p]));
      const counted = whole.profiles.map(() => 0);
      for (const r of records) {
        const p = profileOfKey.get(profilesOf([r]).linkageKeys[0]!)!;
        counted[p]!++;
        expect(whole.firstRecord[p]! <= `${r.source}|${r.record_id}`).toBe(true);
      }
      expect(counted).toEqual(whole.recordsIn);
      expect(streamed.firstRecord).toEqual([...streamed.firstRecord].sort());
      // Every record's file and line gives its profile; before any match run every profile is fresh.
      const byLine = [...streamed.profileByLine.records()];
      expect(byLine.length).toBe(records.length);
      const perProfile = streamed.profiles.map(() => 0);
      for (const [, , p] of byLine) perProfile[p]!++;
      expect(perProfile).toEqual(streamed.recordsIn);
      // ... and its record id, which the person records are written from: each record once, in the profile of its own fields.
      const idsByLine = [...streamed.profileByLine.records()].map(([source, id, p]) => [`${source}|${Buffer.from(id).toString('utf8')}`, p] as const);
      expect(new Set(idsByLine.map(([key]) => key)).size).toBe(records.length);
      const expected = new Map(records.map((r) => [`${r.source}|${r.record_id}`, profileOfKey.get(profilesOf([r]).linkageKeys[0]!)!]));
      expect(new Map(idsByLine)).toEqual(expected);
      expect(streamed.freshCount).toBe(streamed.profiles.length);
      const again = await t.db.transaction((s) => loadProfiles(s));
      expect(again.profiles).toEqual(streamed.profiles);
    });

    it('links the samples into people with person-pair F1 >= 0.995 against the truth, and never against a guard', async () => {
      const analysed = async () =>
        (await sql<{ columns: number }>`SELECT count(*)::int AS columns FROM pg_stats WHERE schemaname = 'raw' AND tablename = 'attendance'`.execute(t.db.kysely)).rows[0]!.columns;
      expect(await analysed()).toBe(0);
      const { summary } = await match();
      // The extracts' tables are analysed whole, for the plans of the match, families and rules stages.
      const columns = await sql<{ n: number }>`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = 'attendance'`.execute(t.db.kysely);
      expect(await analysed()).toBe(columns.rows[0]!.n);
      const assigned = await people();
      expect(assigned.size).toBe(summary.records);
      const keys = [...assigned.keys()].filter((k) => truth.has(k));
      // Every loaded person record is in the truth (the rows synth spoilt on purpose were rejected).
      expect(keys.length).toBe(assigned.size);
      const quality = pairQuality(pairsOf(assigned, keys), pairsOf(truth, keys));
      expect(quality.f1).toBeGreaterThanOrEqual(0.995);
      // Each record was written (in SQL, found by the hashes of its raw fields) the linkage key of its own fields.
      const written = await sql<{ source: string; record_id: string; linkage_key: string }>`
        SELECT source, record_id, linkage_key::text AS linkage_key FROM core.person_record`.execute(t.db.kysely);
      const keyOf = new Map(written.rows.map((r) => [`${r.source}|${r.record_id}`, Number(r.linkage_key)]));
      const records = await t.db.transaction((s) => loadCurrentPersonRecords(s));
      for (const r of records) expect(keyOf.get(`${r.source}|${r.record_id}`)).toBe(profilesOf([r]).linkageKeys[0]);
      expect(summary.modelTrained).toBe(true);
      // No person holds two person ids of one source.
      const clash = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM (
          SELECT pr.person_id, x.source FROM core.person_record pr
          JOIN (SELECT 'attendance' AS source, record_id, person_ref FROM raw.attendance UNION ALL
                SELECT 'offending', record_id, person_ref FROM raw.offending UNION ALL
                SELECT 'employment', record_id, person_ref FROM raw.employment UNION ALL
                SELECT 'social_care', record_id, person_ref FROM raw.social_care UNION ALL
                SELECT 'attachments', record_id, person_ref FROM raw.attachments) x
            ON x.source = pr.source AND x.record_id = pr.record_id
          WHERE x.person_ref IS NOT NULL
          GROUP BY pr.person_id, x.source HAVING count(DISTINCT x.person_ref) > 1) c`.execute(t.db.kysely);
      expect(clash.rows[0]!.n).toBe(0);
      // The evidence: the model and the scored pairs, with one contribution per comparison.
      const pair = await sql<{ levels: number[]; contributions: number[]; probability: number; outcome: string }>`
        SELECT levels, contributions, probability, outcome FROM core.link_pair WHERE outcome = 'linked' LIMIT 1`.execute(t.db.kysely);
      expect(pair.rows[0]!.levels.length).toBe(pair.rows[0]!.contributions.length);
      expect(pair.rows[0]!.probability).toBeGreaterThanOrEqual(0.5);
      // Each stored pair's contributions (rounded to 4 places, once per distinct value) are its
      // own: with the prior they make its weight, the same prior for every pair of the run.
      const priors = await sql<{ low: number; high: number; pairs: number }>`
        SELECT min(weight - s) AS low, max(weight - s) AS high, count(*)::int AS pairs
        FROM (SELECT weight, (SELECT sum(c) FROM unnest(contributions) c) AS s FROM core.link_pair
              WHERE run_id = (SELECT max(run_id) FROM core.link_pair)) p`.execute(t.db.kysely);
      expect(priors.rows[0]!.pairs).toBeGreaterThan(100);
      expect(priors.rows[0]!.high - priors.rows[0]!.low).toBeLessThan(1e-3);
    });

    it.skipIf(backend !== 'server')('reads half the records on a worker thread with its own connection and gets exactly the same profiles', async () => {
      // After the match above: records have earlier people and linkage keys to carry.
      const someRecords = (await people()).keys();
      const wanted = [...someRecords].filter((_, n) => n % 7 === 0).concat(['attendance|NO-SUCH-RECORD']);
      const alone = await t.db.transaction((s) => loadProfiles(s, wanted));
      const halves = await t.db.transaction((s) => loadProfiles(s, wanted, { connection: t.db.connectionString! }));
      expect(halves.recordCount).toBe(alone.recordCount);
      expect(halves.profiles).toEqual(alone.profiles);
      expect(halves.firstRecord).toEqual(alone.firstRecord);
      expect(halves.recordsIn).toEqual(alone.recordsIn);
      expect(halves.linkageKeys).toEqual(alone.linkageKeys);
      expect(halves.fresh).toEqual(alone.fresh);
      const idsOf = (loaded: typeof alone) => [...loaded.profileByLine.records()].map(([source, id, p]) => `${source}|${Buffer.from(id).toString('utf8')}|${p}`).sort();
      expect(idsOf(halves)).toEqual(idsOf(alone));
      expect([...halves.profileOfRecord].sort()).toEqual([...alone.profileOfRecord].sort());
      expect(alone.profiles.map((_, p) => [...alone.heldBy(p)])).toEqual(halves.profiles.map((_, p) => [...halves.heldBy(p)]));
      // Both halves did hold records, and every record was read once.
      expect(alone.profiles.some((p) => p.dob === '')).toBe(false);
      const byDay = (p: { dob: string }) => (Date.parse(`${p.dob.slice(0, 4)}-${p.dob.slice(4, 6)}-${p.dob.slice(6)}`) / 86_400_000) % 2 !== 0;
      expect(alone.profiles.some(byDay) && alone.profiles.some((p) => !byDay(p))).toBe(true);
      expect(halves.freshCount).toBe(0);
      expect(halves.profileOfRecord.get('attendance|NO-SUCH-RECORD')).toBe(-1);
    });

    it('gives the same people the same ids on a second run, and obeys a reviewer who splits a pair', async () => {
      const before = await people();
      const firstRun = (await sql<{ run_id: number; stored: number }>`
        SELECT m.run_id::int AS run_id, (SELECT count(*)::int FROM core.link_pair p WHERE p.run_id = m.run_id) AS stored
        FROM core.link_model m ORDER BY m.run_id DESC LIMIT 1`.execute(t.db.kysely)).rows[0]!;
      const { summary, runId: secondRun } = await match();
      // Nothing changed: the second run is incremental, scores no pair and carries every stored pair forward.
      expect(summary).toMatchObject({ mode: 'incremental', freshProfiles: 0, candidatePairs: 0, modelRun: firstRun.run_id, carriedPairs: firstRun.stored });
      const carried = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.link_pair WHERE run_id = ${secondRun}`.execute(t.db.kysely);
      expect(carried.rows[0]!.n).toBe(firstRun.stored);
      const stored = await sql<{ mode: string; model_run: number }>`SELECT mode, model_run::int AS model_run FROM core.link_model WHERE run_id = ${secondRun}`.execute(t.db.kysely);
      expect(stored.rows[0]).toEqual({ mode: 'incremental', model_run: firstRun.run_id });
      expect(summary.newPersons).toBe(0);
      expect(summary.merges + summary.splits).toBe(0);
      expect(await people()).toEqual(before);

      // A reviewer says two linked records (from different profiles) are different people, naming
      // them the other way round from the stored pair (a decision holds for the pair either way).
      const linked = await sql<{ source_a: string; record_a: string; source_b: string; record_b: string; run_id: number }>`
        SELECT source_a, record_a, source_b, record_b, run_id::int AS run_id FROM core.link_pair
        WHERE outcome = 'linked' ORDER BY probability, source_a, record_a LIMIT 1`.execute(t.db.kysely);
      const p = linked.rows[0]!;
      await sql`INSERT INTO core.review_decision (source_a, record_a, source_b, record_b, decision, decided_by, run_id)
                VALUES (${p.source_b}, ${p.record_b}, ${p.source_a}, ${p.record_a}, 'different', 'test reviewer', ${p.run_id})`.execute(t.db.kysely);
      const { summary: after, runId } = await match();
      expect(after.reviewDecisionsApplied).toBe(1);
      expect(after.mode).toBe('incremental');
      // The pair is carried into this run's evidence with the outcome this run gave it.
      const decidedPair = await sql<{ outcome: string }>`
        SELECT outcome FROM core.link_pair WHERE run_id = ${runId} AND source_a = ${p.source_a} AND record_a = ${p.record_a}
          AND source_b = ${p.source_b} AND record_b = ${p.record_b}`.execute(t.db.kysely);
      expect(decidedPair.rows).toEqual([{ outcome: 'not linked' }]);
      const now = await people();
      expect(now.get(`${p.source_a}|${p.record_a}`)).not.toBe(now.get(`${p.source_b}|${p.record_b}`));
      // One of the two kept its old id; the split is recorded.
      const changes = await sql<{ kind: string }>`SELECT kind FROM core.person_change WHERE run_id = ${runId}`.execute(t.db.kysely);
      expect(changes.rows.map((c) => c.kind)).toContain('split');
      // Only the records whose person changed were rewritten: every other row keeps the run that wrote it.
      const movedKeys = [...now].filter(([key, person]) => before.get(key) !== person).map(([key]) => key);
      expect(movedKeys.length).toBeGreaterThan(0);
      const rewritten = await sql<{ key: string }>`
        SELECT source || '|' || record_id AS key FROM core.person_record WHERE run_id = ${runId}`.execute(t.db.kysely);
      expect(rewritten.rows.map((r) => r.key).sort()).toEqual(movedKeys.sort());
    });
  });
}

describe('incremental and full match runs', () => {
  it('link a new record against the people already found, as a full relink of the same data does', async () => {
    const t = await testDatabase();
    const tmp = await tempDir();
    try {
      const later = path.join(tmp.dir, 'later');
      await cp(SAMPLES, later, { recursive: true });
      await ingestExtracts(await testRun(t.db, 'run'), { files: await discoverExtracts(SAMPLES), today: TODAY });
      const first = await matchInTransaction(t.db);
      expect(first.mode).toBe('full');
      // Next month DWP holds a new spell for someone already known, under a new record id and
      // with their name in lower case: a new record, found by linkage alone.
      const employment = parse(await readFile(path.join(SAMPLES, 'employment.csv')), { columns: true }) as Record<string, string>[];
      const known = employment.find((r) => r.forename && r.surname && r.dob && r.person_ref)!;
      const added = { ...known, record_id: 'DWP99999999', person_ref: '', forename: known.forename!.toLowerCase(), start_date: '2026-10-01', end_date: '' };
      await writeFile(path.join(later, 'employment.csv'), stringify([...employment, added], { header: true, columns: Object.keys(known) }));
      await ingestExtracts(await testRun(t.db, 'run'), { files: await discoverExtracts(later), today: TODAY });
      const incremental = await matchInTransaction(t.db);
      expect(incremental).toMatchObject({ mode: 'incremental', freshProfiles: 1, newPersons: 0, merges: 0, splits: 0 });
      expect(incremental.candidatePairs).toBeGreaterThan(0);
      expect(incremental.candidatePairs).toBeLessThan(first.candidatePairs / 20);
      const personOf = async (recordId: string) =>
        (await sql<{ p: number }>`SELECT person_id::int AS p FROM core.person_record WHERE source = 'employment' AND record_id = ${recordId}`.execute(t.db.kysely)).rows[0]?.p;
      expect(await personOf('DWP99999999')).toBe(await personOf(known.record_id!));
      const partition = async () =>
        new Set(
          (await sql<{ records: string }>`
            SELECT string_agg(source || ':' || record_id, ' ' ORDER BY source, record_id) AS records FROM core.person_record GROUP BY person_id`.execute(t.db.kysely)).rows.map((r) => r.records),
        );
      const afterIncremental = await partition();
      // --full relinks every record and retrains: the same people.
      const full = await matchInTransaction(t.db, { full: true });
      expect(full).toMatchObject({ mode: 'full', freshProfiles: 0, carriedPairs: 0, newPersons: 0 });
      expect(full.candidatePairs).toBeGreaterThanOrEqual(first.candidatePairs);
      expect(await partition()).toEqual(afterIncremental);
    } finally {
      await tmp.remove();
      await t.drop();
    }
  });
});

describe('match stage with too little to train on', () => {
  it('links nothing on an empty database, and only deterministically when the model cannot be trained', async () => {
    const t = await testDatabase();
    try {
      const empty = await matchInTransaction(t.db);
      expect(empty).toMatchObject({ records: 0, persons: 0, candidatePairs: 0, modelTrained: false });
      // Three records: two share a school person id, the third shares nothing.
      await sql`INSERT INTO audit.input_file (file_id, run_id, source, file_name, sha256, size_bytes, rows_read, rows_loaded, rows_rejected, started_at)
                SELECT 1, min(run_id), 'attendance', 'a.csv', repeat('0', 64), 1, 3, 3, 0, now() FROM audit.run`.execute(t.db.kysely);
      await sql`INSERT INTO raw.attendance (file_id, line, record_id, person_ref, forename, surname, dob, term_start, term_end,
                  sessions_possible, sessions_authorised, sessions_unauthorised, fixed_exclusions, permanent_exclusion)
                VALUES (1, 2, 'A1', 'U1', 'Ann', 'Lee', '2012-01-02', '2024-09-01', '2024-12-20', 100, 0, 0, 0, false),
                       (1, 3, 'A2', 'U1', 'Ann', 'Lee', '2012-01-02', '2025-01-06', '2025-04-01', 100, 0, 0, 0, false),
                       (1, 4, 'A3', 'U2', 'Bob', 'Kay', '2013-05-06', '2024-09-01', '2024-12-20', 100, 0, 0, 0, false)`.execute(t.db.kysely);
      const tiny = await matchInTransaction(t.db);
      expect(tiny).toMatchObject({ records: 3, persons: 2, modelTrained: false });
    } finally {
      await t.drop();
    }
  });
});
