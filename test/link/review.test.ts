import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobError, UsageError } from '../../src/errors.ts';
import { discoverExtracts, ingestExtracts } from '../../src/ingest/index.ts';
import { COUNCIL_COMPARISONS } from '../../src/link/council.ts';
import { explainMatch } from '../../src/link/explain.ts';
import { formatPairId, formatRecordRef, orderPair, type RecordRef } from '../../src/link/pair-id.ts';
import { loadRecords } from '../../src/link/review-store.ts';
import { decidePair, reviewQueue, reviewQueueJson, reviewQueueText, runReviewList } from '../../src/link/review.ts';
import { loadCurrentPersonRecords, matchPeople, profilesOf } from '../../src/link/stage.ts';
import { availableBackends, mainBackend, testDatabase, type TestDatabase } from '../support/db.ts';
import { matchInTransaction, testRun } from '../support/run.ts';
import { TODAY } from '../ingest/helpers.ts';

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');

interface StoredPair {
  source_a: string;
  record_a: string;
  source_b: string;
  record_b: string;
  weight: number;
  probability: number;
  contributions: number[];
  outcome: string;
}

const refsOf = (p: StoredPair): [RecordRef, RecordRef] => [
  { source: p.source_a as RecordRef['source'], recordId: p.record_a },
  { source: p.source_b as RecordRef['source'], recordId: p.record_b },
];

/** The personal values of records, as they could appear in output: names, dates of birth (as loaded and as compared), addresses, postcodes. */
async function personalValues(t: TestDatabase, refs: readonly RecordRef[], opts: { compactDates?: boolean } = {}): Promise<string[]> {
  const records = await loadRecords(t.db.kysely, refs);
  expect(records.size).toBe(new Set(refs.map((r) => `${r.source}:${r.recordId}`)).size);
  return [...records.values()].flatMap((r) =>
    [r.forename, r.surname, r.dob, opts.compactDates ? r.dob?.replace(/-/g, '') : undefined, r.address, r.postcode].filter((v): v is string => !!v && v.length >= 3),
  );
}

/** Whether `text` holds `value` as a whole word (a forename "Ann" is not found inside "annual"). */
function holds(text: string, value: string): boolean {
  return new RegExp(`(^|[^\\p{L}\\p{N}])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}\\p{N}])`, 'u').test(text);
}

for (const backend of availableBackends()) {
  describe(`clerical review and explain-match on ${backend}`, () => {
    let t: TestDatabase;
    let firstMatch: Awaited<ReturnType<typeof matchPeople>>;

    // The samples' names are as varied as a real council's, so the default band (0.2-0.8) is
    // nearly empty there; a wide band puts enough pairs in the queue to test it.
    const match = async () => {
      const ctx = await testRun(t.db, 'match');
      return { summary: await t.db.transaction((s) => matchPeople(s, ctx, { reviewLow: 0.01, reviewHigh: 0.99 })), runId: ctx.runId };
    };
    const personOf = async (ref: RecordRef) =>
      (
        await sql<{ person_id: number }>`SELECT person_id::int AS person_id FROM core.person_record WHERE source = ${ref.source} AND record_id = ${ref.recordId}`.execute(
          t.db.kysely,
        )
      ).rows[0]?.person_id;
    const pairsOf = async (runId: number, where: string) =>
      (
        await sql<StoredPair>`
          SELECT source_a, record_a, source_b, record_b, weight, probability, contributions, outcome FROM core.link_pair
          WHERE run_id = ${runId} AND ${sql.raw(where)} ORDER BY abs(probability - 0.5), source_a, record_a, source_b, record_b`.execute(t.db.kysely)
      ).rows;
    const latestRun = async () => (await sql<{ run_id: number }>`SELECT max(run_id)::int AS run_id FROM core.link_model`.execute(t.db.kysely)).rows[0]!.run_id;
    const decide = async (pair: string, decision: string, by = 'test reviewer', note?: string) =>
      decidePair(t.db, await testRun(t.db, 'review decide'), { pair, decision, by, ...(note === undefined ? {} : { note }) });

    beforeAll(async () => {
      t = await testDatabase(backend);
      await ingestExtracts(await testRun(t.db, 'run'), { files: await discoverExtracts(SAMPLES), today: TODAY });
      firstMatch = (await match()).summary;
    });
    afterAll(async () => t?.drop());

    it('lists the review band of the latest match run, least certain first, with breakdowns and no personal data', async () => {
      const runId = await latestRun();
      const queue = await reviewQueue(t.db.kysely);
      expect(queue.matchRun.runId).toBe(runId);
      // The queue is the one `tfclaims match` counted, and holds every pair it left for review.
      expect(queue.total).toBe(firstMatch.reviewQueue);
      expect(queue.pairs.length).toBe(queue.total);
      // In the band: pairs left unlinked for review, and links awaiting confirmation.
      const review = await pairsOf(runId, `outcome IN ('review', 'linked') AND probability >= 0.01 AND probability < 0.99`);
      expect(review.length).toBeGreaterThan(0);
      const listed = new Set(queue.pairs.map((p) => p.pairId));
      for (const p of review) expect(listed.has(formatPairId(...refsOf(p)))).toBe(true);
      expect((queue.byOutcome.review ?? 0) + (queue.byOutcome.linked ?? 0)).toBe(review.length);
      // Pairs the guards keep apart are not asked about: no decision could join them.
      for (const p of queue.pairs) expect(['review', 'linked']).toContain(p.outcome);
      const guarded = await pairsOf(runId, `(outcome = 'refused' OR (outcome = 'not linked' AND reason IS NOT NULL)) AND probability >= 0.01 AND probability < 0.99`);
      for (const p of guarded) expect(listed.has(formatPairId(...refsOf(p)))).toBe(false);
      const distances = queue.pairs.map((p) => Math.abs(p.probability - 0.5));
      expect(distances).toEqual([...distances].sort((x, y) => x - y));
      for (const p of queue.pairs) {
        // The breakdown adds up to the weight the run stored (its contributions are stored rounded).
        expect(Math.abs(p.breakdown.priorWeight + p.breakdown.comparisons.reduce((s, c) => s + c.weight, 0) - p.weight)).toBeLessThan(1e-3);
        expect(p.breakdown.weight).toBe(p.weight);
        expect(p.breakdown.comparisons.map((c) => c.comparison)).toEqual(COUNCIL_COMPARISONS.map((c) => c.name));
      }
      const limited = await reviewQueue(t.db.kysely, { limit: 3 });
      expect(limited.pairs.map((p) => p.pairId)).toEqual(queue.pairs.slice(0, 3).map((p) => p.pairId));
      expect(limited.total).toBe(queue.total);

      // No name, date of birth, address or postcode of any listed record, as text or JSON.
      const output = `${reviewQueueText(queue).join('\n')}\n${JSON.stringify(reviewQueueJson(queue))}`;
      expect(output).toMatch(/forename: /);
      const values = await personalValues(t, queue.pairs.flatMap((p) => [p.a, p.b]), { compactDates: true });
      expect(values.length).toBeGreaterThan(queue.pairs.length * 4);
      for (const value of values) expect(holds(output, value), `listing holds a personal value of a listed record`).toBe(false);

      // --show-records adds them.
      const withRecords = await reviewQueue(t.db.kysely, { limit: 1, showRecords: true });
      const shown = reviewQueueText(withRecords, { showRecords: true }).join('\n');
      expect(shown).toContain('PERSONAL DATA');
      for (const value of await personalValues(t, [withRecords.pairs[0]!.a, withRecords.pairs[0]!.b])) expect(holds(shown, value)).toBe(true);
    });

    it('obeys "same" on a pair in two people: the next match makes them one person (and a guard still outranks a reviewer)', async () => {
      // On the samples the review pairs in two people are namesakes that a guard keeps apart (one of
      // them is tried below), so the case is built: a record with no person id of its own, in a person with other
      // records, gets a new name and address (a marriage and a move) and keeps its date of birth. The
      // model no longer links it; the guards would allow it back (no person id, one date of birth).
      const moved = (
        await sql<{ source: RecordRef['source']; record_id: string; person_id: number }>`
          SELECT pr.source, pr.record_id, pr.person_id::int AS person_id FROM core.person_record pr
          JOIN (SELECT 'offending' AS source, record_id, person_ref FROM raw.offending UNION ALL
                SELECT 'employment', record_id, person_ref FROM raw.employment UNION ALL
                SELECT 'attachments', record_id, person_ref FROM raw.attachments) x ON x.source = pr.source AND x.record_id = pr.record_id
          WHERE coalesce(trim(x.person_ref), '') = '' AND (SELECT count(*) FROM core.person_record o WHERE o.person_id = pr.person_id) >= 3
          ORDER BY pr.source, pr.record_id LIMIT 1`.execute(t.db.kysely)
      ).rows[0]!;
      const r: RecordRef = { source: moved.source, recordId: moved.record_id };
      await sql`UPDATE ${sql.table(`raw.${r.source}`)} SET forename = 'Zebediah', surname = 'Quillfeather', address = '1 Nowhere Lane', postcode = 'ZZ9 9ZZ', uprn = NULL
                WHERE record_id = ${r.recordId}`.execute(t.db.kysely);
      const { runId } = await match();
      const former = moved.person_id;
      expect(await personOf(r), 'the changed record is no longer linked to its person').not.toBe(former);
      // The pair to decide on: the changed record and a record of its old person, the stored one nearest
      // probability 0.5 if the run stored any (as a reviewer would pick it from the queue), else any.
      const storedPair = (
        await sql<StoredPair>`
          SELECT lp.source_a, lp.record_a, lp.source_b, lp.record_b, lp.weight, lp.probability, lp.contributions, lp.outcome
          FROM core.link_pair lp JOIN core.person_record pr
            ON (lp.source_a = ${r.source} AND lp.record_a = ${r.recordId} AND pr.source = lp.source_b AND pr.record_id = lp.record_b)
            OR (lp.source_b = ${r.source} AND lp.record_b = ${r.recordId} AND pr.source = lp.source_a AND pr.record_id = lp.record_a)
          WHERE lp.run_id = ${runId} AND pr.person_id = ${former}
          ORDER BY abs(lp.probability - 0.5), lp.source_a, lp.record_a, lp.source_b, lp.record_b LIMIT 1`.execute(t.db.kysely)
      ).rows[0];
      const partner = (
        await sql<{ source: RecordRef['source']; record_id: string }>`
          SELECT source, record_id FROM core.person_record WHERE person_id = ${former} ORDER BY source, record_id LIMIT 1`.execute(t.db.kysely)
      ).rows[0]!;
      const [a, b] = storedPair ? refsOf(storedPair) : orderPair(r, { source: partner.source, recordId: partner.record_id });
      const queue = await reviewQueue(t.db.kysely);
      if (storedPair?.outcome === 'review') expect(queue.pairs.map((p) => p.pairId)).toContain(formatPairId(a, b));
      expect(await personOf(a)).not.toBe(await personOf(b));

      // Typed the other way round: stored in link_pair's order all the same, with its note.
      const done = await decide(`${formatRecordRef(b)}~${formatRecordRef(a)}`, 'same', 'test reviewer', 'confirmed by phone');
      expect(done.pairId).toBe(formatPairId(a, b));
      expect(done.forecast.join(' ')).toMatch(/will make person #\d+ and person #\d+ one person/);
      const stored = await sql<{ source_a: string; record_a: string; note: string }>`
        SELECT source_a, record_a, note FROM core.review_decision WHERE decision_id = ${done.decisionId}`.execute(t.db.kysely);
      expect(stored.rows[0]).toEqual({ source_a: a.source, record_a: a.recordId, note: 'confirmed by phone' });

      // A review pair in two people that a guard keeps apart: "same" is stored, the forecast says it will not join them, and it does not.
      const guarded = queue.pairs.find((p) => p.outcome === 'review' && p.personA !== p.personB && p.pairId !== done.pairId);
      const refused = guarded && (await decide(guarded.pairId, 'same'));
      if (guarded) expect(refused!.forecast.join(' ')).toMatch(/will (still keep them apart|make person)/);

      const { summary } = await match();
      expect(summary.reviewDecisionsApplied).toBeGreaterThanOrEqual(1);
      expect(await personOf(a)).toBe(await personOf(b));
      expect(await personOf(r)).toBe(former);
      // Whichever the forecast said, the match did it.
      if (guarded) {
        const together = (await personOf(guarded.a)) === (await personOf(guarded.b));
        expect(together).toBe(/make person/.test(refused!.forecast.join(' ')));
      }
      // Decided pairs leave the queue, and explain-match shows the decision.
      const after = await reviewQueue(t.db.kysely);
      expect(after.pairs.map((q) => q.pairId)).not.toContain(done.pairId);
      const explained = await explainMatch(t.db.kysely, b, a);
      expect(explained.decision).toMatchObject({ decisionId: done.decisionId, decision: 'same', decidedBy: 'test reviewer' });
      expect(explained.personA).toBe(explained.personB);
    });

    it('obeys "different" on a linked pair: the next match splits them; a later "same" on the pair wins over it', async () => {
      const runId = await latestRun();
      const linked = await pairsOf(runId, `outcome = 'linked' AND probability >= 0.99`);
      const p = linked.find((l) => l.probability < 1) ?? linked[0]!;
      const [a, b] = refsOf(p);
      expect(await personOf(a)).toBe(await personOf(b));
      const done = await decide(formatPairId(a, b), 'different');
      expect(done.forecast.join(' ')).toMatch(/will split person #\d+/);
      await match();
      expect(await personOf(a)).not.toBe(await personOf(b));
      const explained = await explainMatch(t.db.kysely, a, b);
      expect(explained.decision?.decision).toBe('different');
      expect(explained.personA).not.toBe(explained.personB);

      const again = await decide(formatPairId(b, a), 'same');
      expect(again.replaces).toMatchObject({ decisionId: done.decisionId, decision: 'different' });
      await match();
      expect(await personOf(a)).toBe(await personOf(b));
    });

    it('refuses decisions on records not among the current records, naming the pair, and stores nothing', async () => {
      const before = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.review_decision`.execute(t.db.kysely);
      const some = (await t.db.transaction((s) => loadCurrentPersonRecords(s)))[0]!;
      const known = `${some.source}:${some.record_id}`;
      await expect(decide(`${known}~offending:NO-SUCH-RECORD`, 'same')).rejects.toThrow(UsageError);
      await expect(decide(`${known}~offending:NO-SUCH-RECORD`, 'same')).rejects.toThrow(/offending:NO-SUCH-RECORD is not among the current records/);
      await expect(decide(`${known}~offending:NO-SUCH-RECORD`, 'different')).rejects.toThrow(new RegExp(`pair ${known.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}~offending:NO-SUCH-RECORD`));
      await expect(decide('attendance:X~employment:Y', 'same')).rejects.toThrow(/attendance:X and employment:Y are not among the current records/);
      await expect(decide(`${known}~offending:NO-SUCH-RECORD`, 'maybe')).rejects.toThrow(UsageError);
      await expect(decide('not-a-pair', 'same')).rejects.toThrow(UsageError);
      await expect(explainMatch(t.db.kysely, { source: 'attendance', recordId: 'NO-SUCH' }, { source: 'offending', recordId: 'NO-SUCH' })).rejects.toThrow(UsageError);
      const after = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.review_decision`.execute(t.db.kysely);
      expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    });

    it('refuses "different" on two records the match stage reads as one (identical fields, one person id)', async () => {
      const records = await t.db.transaction((s) => loadCurrentPersonRecords(s));
      // Two records of one profile (identical in every linkage field): the same linkage key.
      const byLinkageKey = new Map<number, string[]>();
      for (const r of records) {
        const linkageKey = profilesOf([r]).linkageKeys[0]!;
        byLinkageKey.set(linkageKey, [...(byLinkageKey.get(linkageKey) ?? []), `${r.source}:${r.record_id}`]);
      }
      const [x, y] = [...byLinkageKey.values()].find((keys) => keys.length > 1)!;
      await expect(decide(`${x}~${y}`, 'different')).rejects.toThrow(/identical in every linkage field/);
      const same = await decide(`${x}~${y}`, 'same');
      expect(same.forecast.join(' ')).toMatch(/already one person/);
    });

    it('explain-match recomputes a stored pair: its total is the stored weight and its comparisons add up to it', async () => {
      const runId = await latestRun();
      const sample = [...(await pairsOf(runId, `outcome = 'review'`)).slice(0, 3), ...(await pairsOf(runId, `outcome = 'linked'`)).slice(0, 3), ...(await pairsOf(runId, `outcome = 'not linked'`)).slice(0, 2)];
      expect(sample.length).toBeGreaterThan(4);
      for (const p of sample) {
        const [a, b] = refsOf(p);
        const e = await explainMatch(t.db.kysely, b, a);
        expect(e.pairId).toBe(formatPairId(a, b));
        expect(e.matchRun.runId).toBe(runId);
        expect(e.breakdown.weight).toBeCloseTo(p.weight, 9);
        expect(e.breakdown.probability).toBeCloseTo(p.probability, 9);
        expect(e.breakdown.priorWeight + e.breakdown.comparisons.reduce((s, c) => s + c.weight, 0)).toBeCloseTo(e.breakdown.weight, 9);
        // The stored contributions are rounded reals.
        e.breakdown.comparisons.forEach((c, k) => expect(Math.abs(c.weight - p.contributions[k]!)).toBeLessThan(1e-3));
        expect(e.stored).toMatchObject({ outcome: p.outcome });
        expect(e.blockingRules.length).toBeGreaterThan(0);
        expect(e.compared).toBeUndefined();
      }
      const e = await explainMatch(t.db.kysely, ...refsOf(sample[0]!), { showRecords: true });
      expect(e.compared?.a.forename).toBeTruthy();
    });
  });
}

describe('review commands as a user runs them', () => {
  it('explain-match and review list say to run match first when no match run has been made', async () => {
    const t = await testDatabase();
    try {
      const a = { source: 'attendance', recordId: 'A1' } as const;
      const b = { source: 'offending', recordId: 'O1' } as const;
      await expect(explainMatch(t.db.kysely, a, b)).rejects.toThrow(JobError);
      await expect(explainMatch(t.db.kysely, a, b)).rejects.toThrow(/no match run yet/);
      await expect(reviewQueue(t.db.kysely)).rejects.toMatchObject({ exitCode: 1, hint: expect.stringContaining('tfclaims match') });
    } finally {
      await t.drop();
    }
  });

  it.runIf(mainBackend() === 'server')('`review list --show-records` prints records on stdout only, never in the summary lines or the log', async () => {
    const t = await testDatabase('server');
    const logDir = await mkdtemp(path.join(os.tmpdir(), 'tfclaims-review-'));
    try {
      await ingestExtracts(await testRun(t.db, 'run'), { files: await discoverExtracts(SAMPLES), today: TODAY });
      await matchInTransaction(t.db);
      const printed: string[] = [];
      const result = await runReviewList({ db: t.dbArg, logDir, quiet: true, limit: 2, showRecords: true, print: (text) => printed.push(text) });
      const pairs = (result.json.pairs as { a: string; b: string }[]).flatMap((p) => [p.a, p.b]);
      const values = await personalValues(
        t,
        pairs.map((r) => ({ source: r.slice(0, r.indexOf(':')) as RecordRef['source'], recordId: r.slice(r.indexOf(':') + 1) })),
      );
      const stdout = printed.join('');
      for (const value of values) expect(holds(stdout, value)).toBe(true);
      const log = (await Promise.all((await readdir(logDir)).map((f) => readFile(path.join(logDir, f), 'utf8')))).join('\n');
      expect(log).toContain('"command":"review list"');
      for (const value of values) {
        expect(holds(result.lines.join('\n'), value)).toBe(false);
        expect(holds(log, value)).toBe(false);
      }
    } finally {
      await rm(logDir, { recursive: true, force: true });
      await t.drop();
    }
  });
});
