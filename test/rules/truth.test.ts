import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, DbSession } from '../../src/db/index.ts';
import { matchPeople } from '../../src/link/stage.ts';
import type { RunContext } from '../../src/run/context.ts';
import { discoverExtracts, ingestExtracts } from '../../src/ingest/index.ts';
import { evaluateFamilies, loadPlan, type EvaluationSummary } from '../../src/rules/index.ts';
import { mainBackend, testDatabase, type TestDatabase } from '../support/db.ts';
import { testRun } from '../support/run.ts';
import { TODAY } from '../ingest/helpers.ts';

/**
 * The synthetic council's truth (samples/extracts/truth/claimable.csv): every attached family's
 * problems at entry, per-problem results, eligibility, both routes, claimability and route as of
 * 2026-10-31 must come out of the rules engine.
 *
 * First with people and families built from the truth files (records.csv, people.csv,
 * families.csv): perfect linkage, so this tests the rules in isolation; every household not in
 * the register is one family, so eligible_unattached.csv is checked too. Then, when the
 * families stage is there, with the match and families stages' people and families.
 */

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');
const AS_OF = '2026-10-31';

type Row = Record<string, string>;
const readCsv = async (name: string) => parse(await readFile(path.join(SAMPLES, 'truth', name)), { columns: true }) as Row[];

/** Fill core.person, person_record, person_detail, family and family_member from the truth files. */
async function familiesFromTruth(db: Database, runId: number): Promise<{ familyOfCase: Map<string, number>; familyOfHousehold: Map<string, number> }> {
  const [records, people, families] = await Promise.all([readCsv('records.csv'), readCsv('people.csv'), readCsv('families.csv')]);
  const k = db.kysely;
  const personIds = new Map<string, number>();
  for (const p of people) {
    const r = await sql<{ id: number }>`INSERT INTO core.person (created_run) VALUES (${runId}) RETURNING person_id::int AS id`.execute(k);
    personIds.set(p.person_id!, r.rows[0]!.id);
  }
  await sql`INSERT INTO core.person_detail (person_id, dob, sex, run_id)
            SELECT id, dob::date, sex, ${runId} FROM unnest(${people.map((p) => personIds.get(p.person_id!)!)}::bigint[], ${people.map((p) => p.dob!)}::text[],
                                                            ${people.map((p) => p.sex || null)}::text[]) AS t(id, dob, sex)`.execute(k);
  await sql`INSERT INTO core.person_record (source, record_id, person_id, run_id)
            SELECT s, r, p, ${runId} FROM unnest(${records.map((r) => r.source!)}::text[], ${records.map((r) => r.record_id!)}::text[],
                                                 ${records.map((r) => personIds.get(r.person_id!)!)}::bigint[]) AS t(s, r, p)`.execute(k);
  const familyOfCase = new Map<string, number>();
  const placed = new Set<string>();
  const addFamily = async (caseRef: string | null, members: string[], basis: string) => {
    const f = await sql<{ id: number }>`INSERT INTO core.family (case_ref, created_run) VALUES (${caseRef}, ${runId}) RETURNING family_id::int AS id`.execute(k);
    const id = f.rows[0]!.id;
    await sql`INSERT INTO core.family_member (family_id, person_id, basis, joined_run)
              SELECT ${id}, p, ${basis}, ${runId} FROM unnest(${members.map((m) => personIds.get(m)!)}::bigint[]) AS p`.execute(k);
    for (const m of members) placed.add(m);
    return id;
  };
  const byCase = new Map<string, string[]>();
  for (const f of families) byCase.set(f.case_ref!, [...(byCase.get(f.case_ref!) ?? []), f.person_id!]);
  for (const [caseRef, members] of byCase) familyOfCase.set(caseRef, await addFamily(caseRef, members, 'register'));
  const byHousehold = new Map<string, string[]>();
  for (const p of people) if (!placed.has(p.person_id!)) byHousehold.set(p.household_id!, [...(byHousehold.get(p.household_id!) ?? []), p.person_id!]);
  const familyOfHousehold = new Map<string, number>();
  for (const [household, members] of byHousehold) familyOfHousehold.set(household, await addFamily(null, members, 'residence'));
  return { familyOfCase, familyOfHousehold };
}

/** Every attached family's verdict, in the shape of claimable.csv, next to the truth. */
async function verdictsAgainstTruth(db: Database, evaluationId: number, truth: Row[]) {
  const verdicts = await sql<{
    case_ref: string;
    problems_at_entry: string[];
    eligible: boolean;
    progress_due: boolean;
    ssp_met: boolean;
    ce_met: boolean;
    claimable_by_rules: boolean;
    route: string | null;
    results: string | null;
  }>`SELECT v.*, (SELECT string_agg(problem || ':' || result, ';' ORDER BY array_position(v.problems_at_entry, problem))
                  FROM core.problem_result r WHERE r.evaluation_id = v.evaluation_id AND r.family_id = v.family_id) AS results
     FROM core.family_verdict v WHERE evaluation_id = ${evaluationId}`.execute(db.kysely);
  const byCase = new Map(verdicts.rows.map((v) => [v.case_ref, v]));
  const got = truth.map((f) => {
    const v = byCase.get(f.case_ref!);
    if (!v) return { case_ref: f.case_ref, scenario: f.scenario, missing: true };
    // Truth marks every problem `not_due` when T is under 6 months after A; the engine keeps
    // the rule results and records the time gate (progress_due) separately.
    const results = v.progress_due ? (v.results ?? '') : v.problems_at_entry.map((p) => `${p}:not_due`).join(';');
    return {
      case_ref: f.case_ref,
      scenario: f.scenario,
      problems_at_entry: v.problems_at_entry.join(';'),
      problem_results: results,
      eligible: String(v.eligible),
      ssp_met: String(v.ssp_met),
      ce_met: String(v.ce_met),
      claimable: String(v.claimable_by_rules),
      route: v.route ?? '',
    };
  });
  const want = truth.map((f) => ({
    case_ref: f.case_ref,
    scenario: f.scenario,
    problems_at_entry: f.problems_at_entry,
    problem_results: f.problem_results,
    eligible: f.eligible,
    ssp_met: f.ssp_met,
    ce_met: f.ce_met,
    claimable: f.claimable,
    route: f.route,
  }));
  return { got, want };
}

describe('rules against the synthetic council truth (perfect linkage)', () => {
  let t: TestDatabase;
  let summary: EvaluationSummary;
  let familyOfCase: Map<string, number>;
  let familyOfHousehold: Map<string, number>;
  let truth: Row[];

  beforeAll(async () => {
    t = await testDatabase(mainBackend());
    const ctx = await testRun(t.db, 'run');
    await ingestExtracts(ctx, { files: await discoverExtracts(SAMPLES), today: TODAY });
    ({ familyOfCase, familyOfHousehold } = await familiesFromTruth(t.db, ctx.runId));
    truth = await readCsv('claimable.csv');
    const run = await testRun(t.db, 'evaluate');
    summary = await t.db.transaction(async (s) => evaluateFamilies(s, run, { asOf: AS_OF, plan: await loadPlan('phase2-london-core') }));
  });
  afterAll(async () => t?.drop());

  it('evaluates every attached family', () => {
    expect(summary.attachedFamilies).toBe(truth.length);
    expect(summary.families).toBe(familyOfCase.size + familyOfHousehold.size);
  });

  it("matches every attached family's problems, results, eligibility, routes and claimability", async () => {
    const { got, want } = await verdictsAgainstTruth(t.db, summary.evaluationId, truth);
    expect(got).toEqual(want);
  });

  it('finds exactly the eligible families that are not in the register, with their problems', async () => {
    const want = new Map<number, string>();
    for (const r of await readCsv('eligible_unattached.csv')) want.set(familyOfHousehold.get(r.household_id!)!, r.problems!);
    const rows = await sql<{ family_id: number; problems: string[] }>`
      SELECT family_id::int AS family_id, problems FROM core.eligible_unattached WHERE evaluation_id = ${summary.evaluationId}`.execute(t.db.kysely);
    const got = new Map(rows.rows.map((r) => [r.family_id, r.problems.join(';')]));
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
  });

  it('evaluates the other shipped plans on the same council', async () => {
    for (const id of ['phase1-2012', 'supporting-families-2022']) {
      const run = await testRun(t.db, 'evaluate');
      const s = await t.db.transaction(async (x) => evaluateFamilies(x, run, { asOf: AS_OF, plan: await loadPlan(id) }));
      expect(s.attachedFamilies).toBe(truth.length);
      expect(s.planId).toBe(id);
      if (id === 'supporting-families-2022') expect(s.ceMet).toBe(0);
    }
  });
});

// With the match and families stages (when the families stage is there): the whole pipeline's
// people and families, so linkage and grouping errors would show here too.
const familiesStage = (await import('../../src/families/index.ts').catch(() => undefined)) as
  | { buildFamilies?: (session: DbSession, ctx: RunContext) => Promise<unknown> }
  | undefined;

describe.skipIf(typeof familiesStage?.buildFamilies !== 'function')('rules against the synthetic council truth (match and families stages)', () => {
  it("matches every attached family's verdict and route", async () => {
    const t = await testDatabase(mainBackend());
    try {
      const ctx = await testRun(t.db, 'run');
      await ingestExtracts(ctx, { files: await discoverExtracts(SAMPLES), today: TODAY });
      await t.db.transaction((s) => matchPeople(s, ctx));
      await t.db.transaction((s) => familiesStage!.buildFamilies!(s, ctx));
      const run = await testRun(t.db, 'evaluate');
      const summary = await t.db.transaction(async (s) => evaluateFamilies(s, run, { asOf: AS_OF, plan: await loadPlan('phase2-london-core') }));
      const { got, want } = await verdictsAgainstTruth(t.db, summary.evaluationId, await readCsv('claimable.csv'));
      expect(got).toEqual(want);
    } finally {
      await t.drop();
    }
  });
});
