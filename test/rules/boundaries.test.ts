import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateFamilies, loadPlan, parsePlan, type EvaluationSummary, type LoadedPlan } from '../../src/rules/index.ts';
import { ageOn, dayOf, isSchoolAge, lastAnniversary, addMonths, isoOf, isChild, isAdult, isYoungPerson, DEFAULT_AGES, type AgeBands } from '../../src/rules/dates.ts';
import { ageDateOf, schoolYmdSql, whoSql, ymdSql, type Who } from '../../src/rules/predicates.ts';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { testRun } from '../support/run.ts';
import { World } from './world.ts';

/**
 * Hand-built families, one per boundary of programme-rules.md, evaluated together (set-based)
 * as of T = 2026-10-30 (a Friday: the last whole ISO week ends Sunday 25 October; the 30 weeks
 * ending then start Monday 30 March; T - 6 months = 30 April; T - 26 weeks = 1 May;
 * T - 13 weeks = 31 July).
 */
const T = '2026-10-30';
const A = '2025-09-01';

interface Expect {
  problems?: string[];
  eligible?: boolean;
  due?: boolean;
  ssp?: boolean;
  ce?: boolean;
  claimable?: boolean;
  route?: string | null;
  results?: Record<string, string>;
}

interface Case {
  name: string;
  build(w: World): Promise<number>;
  expect: Expect;
}

let n = 0;
const ref = () => `EH-T${String(++n).padStart(4, '0')}`;

/** Attached family of the given people with keyworker problems. */
async function attached(w: World, people: number[], problems: string[], attachedOn = A) {
  const caseRef = ref();
  const family = await w.family(people, { caseRef, attachedOn, problems });
  return { family, caseRef };
}

const OLD = '1985-05-05'; // an adult throughout
const KID = '2014-05-05'; // school age at A and at T (11 on 31/08/2025, 12 on 31/08/2026)

/** Three poor terms before A: education identified at A. */
async function poorTermsBeforeA(w: World, child: number) {
  await w.term(child, '2024-09-03', '2024-12-19', 100, 12);
  await w.term(child, '2025-01-06', '2025-03-27', 100, 15);
  await w.term(child, '2025-04-14', '2025-07-21', 100, 11);
}

const CASES: Case[] = [
  // --- the time gate -----------------------------------------------------------------------
  {
    name: 'exactly 6 months after attachment: due',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family, caseRef } = await attached(w, [a], ['domestic_abuse', 'health'], '2026-04-30');
      await w.evidence(caseRef, 'health', 'achieved', '2026-10-01');
      return family;
    },
    expect: { problems: ['domestic_abuse', 'health'], eligible: true, due: true, ssp: true, claimable: true, route: 'significant_sustained_progress' },
  },
  {
    name: 'one day short of 6 months: not due',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family, caseRef } = await attached(w, [a], ['domestic_abuse', 'health'], '2026-05-01');
      await w.evidence(caseRef, 'health', 'achieved', '2026-10-01');
      return family;
    },
    expect: { eligible: true, due: false, ssp: false, claimable: false, route: null, results: { domestic_abuse: 'pass', health: 'pass' } },
  },
  // --- crime and ASB --------------------------------------------------------------------------
  {
    name: 'ASB falls exactly 60% (5 -> 2): pass',
    build: async (w) => {
      const [a, b] = [await w.person(OLD), await w.person('2008-01-01')];
      const { family } = await attached(w, [a, b], ['health']);
      await w.events(a, ['2025-03-02', '2025-04-10', '2025-05-10'], 'asb_incident');
      await w.events(b, ['2025-06-10', '2025-09-01'], 'asb_incident'); // on A: in the baseline
      await w.events(b, ['2026-05-01', '2026-10-30'], 'asb_incident'); // first day of the window, and T itself
      await w.event(a, '2026-04-30', 'asb_incident'); // T - 6 months: outside the window
      return family;
    },
    expect: { problems: ['crime_asb', 'health'], results: { crime_asb: 'pass' } },
  },
  {
    name: 'ASB falls 40% (5 -> 3): fail',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['health']);
      await w.events(a, ['2025-03-02', '2025-04-10', '2025-05-10', '2025-06-10', '2025-08-10'], 'asb_incident');
      await w.events(a, ['2026-05-10', '2026-06-10', '2026-07-10'], 'asb_incident');
      return family;
    },
    expect: { problems: ['crime_asb', 'health'], results: { crime_asb: 'fail' } },
  },
  {
    name: 'ASB baseline 0 and one incident after: fail',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['crime_asb', 'health']);
      await w.event(a, '2026-07-10', 'asb_incident');
      return family;
    },
    expect: { results: { crime_asb: 'fail' } },
  },
  {
    name: 'ASB baseline 0 and none after: pass',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['crime_asb', 'health']);
      return family;
    },
    expect: { results: { crime_asb: 'pass' } },
  },
  {
    name: 'a problem reappearing in another member: a second child offends',
    build: async (w) => {
      const [a, c1, c2] = [await w.person(OLD), await w.person('2009-02-02'), await w.person('2011-03-03')];
      const { family } = await attached(w, [a, c1, c2], ['health']);
      await w.event(c1, '2025-05-05', 'proven_offence'); // identifies crime_asb at A
      await w.event(c2, '2026-08-01', 'proven_offence');
      return family;
    },
    expect: { problems: ['crime_asb', 'health'], results: { crime_asb: 'fail' } },
  },
  {
    name: 'an adult with one offence is not crime_asb; an ASB intervention before A is, and none after passes',
    build: async (w) => {
      const [a, b] = [await w.person(OLD), await w.person('1990-01-01')];
      const { family } = await attached(w, [a, b], ['health']);
      await w.event(a, '2025-05-05', 'proven_offence');
      await w.event(b, '2025-02-05', 'asb_intervention');
      await w.event(a, '2026-02-05', 'proven_offence'); // after A, before the window
      return family;
    },
    expect: { problems: ['crime_asb', 'health'], results: { crime_asb: 'pass' } },
  },
  // --- education ---------------------------------------------------------------------------
  {
    name: 'three good terms, the last ending on T: pass',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person(KID)];
      const { family } = await attached(w, [a, c], ['health']);
      await poorTermsBeforeA(w, c);
      await w.term(c, '2025-09-03', '2026-01-30', 100, 9);
      await w.term(c, '2026-02-02', '2026-06-12', 100, 3, { fixed: 2 });
      await w.term(c, '2026-06-15', T, 100, 0);
      return family;
    },
    expect: { problems: ['education', 'health'], results: { education: 'pass' } },
  },
  {
    name: 'the third term ends the day after T: insufficient data',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person(KID)];
      const { family } = await attached(w, [a, c], ['health']);
      await poorTermsBeforeA(w, c);
      await w.term(c, '2025-09-03', '2026-01-30', 100, 2);
      await w.term(c, '2026-02-02', '2026-06-12', 100, 3);
      await w.term(c, '2026-06-15', '2026-10-31', 100, 0);
      return family;
    },
    expect: { problems: ['education', 'health'], ssp: false, results: { education: 'insufficient_data' } },
  },
  {
    name: 'absence exactly 10% in one term: fail',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person(KID)];
      const { family } = await attached(w, [a, c], ['health']);
      await poorTermsBeforeA(w, c);
      await w.term(c, '2025-09-03', '2025-12-19', 100, 2);
      await w.term(c, '2026-01-05', '2026-03-27', 100, 10);
      await w.term(c, '2026-04-13', '2026-07-21', 100, 3);
      return family;
    },
    expect: { results: { education: 'fail' } },
  },
  {
    name: 'three fixed exclusions in total across the terms: fail (a later good run does not exist)',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person(KID)];
      const { family } = await attached(w, [a, c], ['health']);
      await w.term(c, '2025-04-14', '2025-07-21', 100, 0, { fixed: 3 }); // identifies at A
      await w.term(c, '2025-09-03', '2025-12-19', 100, 2, { fixed: 1 });
      await w.term(c, '2026-01-05', '2026-03-27', 100, 2, { fixed: 1 });
      await w.term(c, '2026-04-13', '2026-07-21', 100, 3, { fixed: 1 });
      return family;
    },
    expect: { problems: ['education', 'health'], results: { education: 'fail' } },
  },
  {
    name: 'a child turning 16 (16 on the 31 August before T): neutral, not passed',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person('2010-08-31')];
      const { family } = await attached(w, [a, c], ['health']);
      await poorTermsBeforeA(w, c);
      await w.term(c, '2025-09-03', '2025-12-19', 100, 2);
      return family;
    },
    expect: { problems: ['education', 'health'], ssp: false, results: { education: 'neutral' } },
  },
  {
    name: 'a term in two records (a change of school), the later id loaded first: one term, its records in id order',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person(KID)];
      const { family } = await attached(w, [a, c], ['health']);
      await w.term(c, '2024-09-03', '2024-12-19', 60, 9, { recordId: 'SPLIT-Z' });
      await w.term(c, '2024-09-03', '2024-12-19', 40, 6, { recordId: 'SPLIT-M' });
      await w.term(c, '2024-09-03', '2024-12-19', 0, 0, { recordId: 'SPLIT-A' });
      await w.term(c, '2025-01-06', '2025-03-27', 100, 15);
      await w.term(c, '2025-04-14', '2025-07-21', 100, 11);
      return family;
    },
    expect: { problems: ['education', 'health'] },
  },
  {
    name: 'a child still 15 on that 31 August is measured: poor attendance fails',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person('2010-09-01')];
      const { family } = await attached(w, [a, c], ['health']);
      await poorTermsBeforeA(w, c);
      await w.term(c, '2025-09-03', '2025-12-19', 100, 20);
      await w.term(c, '2026-01-05', '2026-03-27', 100, 20);
      await w.term(c, '2026-04-13', '2026-07-21', 100, 20);
      return family;
    },
    expect: { problems: ['education', 'health'], results: { education: 'fail' } },
  },
  // --- children who need help ----------------------------------------------------------------
  {
    name: 'CIN closed on T - 6 months, stepped down to early help: pass',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person(KID)];
      const { family } = await attached(w, [a, c], ['health']);
      await w.episode(c, 'cin', '2025-03-01', '2026-04-30');
      await w.episode(c, 'early_help', '2026-05-01', '2026-06-30');
      await w.episode(a, 'cin', '2025-03-01', null, 'parent'); // a parent's row is not a child's episode
      return family;
    },
    expect: { problems: ['children_need_help', 'health'], results: { children_need_help: 'pass' } },
  },
  {
    name: 'CIN closed the day after T - 6 months: fail',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person(KID)];
      const { family } = await attached(w, [a, c], ['health']);
      await w.episode(c, 'cin', '2025-03-01', '2026-05-01');
      return family;
    },
    expect: { problems: ['children_need_help', 'health'], results: { children_need_help: 'fail' } },
  },
  {
    name: 're-referral: a child protection plan started in the window: fail',
    build: async (w) => {
      const [a, c] = [await w.person(OLD), await w.person(KID)];
      const { family } = await attached(w, [a, c], ['health']);
      await w.episode(c, 'lac', '2025-01-01', '2025-10-01');
      await w.episode(c, 'cp_plan', '2026-09-01', null);
      return family;
    },
    expect: { problems: ['children_need_help', 'health'], results: { children_need_help: 'fail' } },
  },
  // --- worklessness --------------------------------------------------------------------------
  {
    name: 'ESA ended on T - 26 weeks: pass',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['health']);
      await w.spell(a, 'benefit', '2024-01-01', '2026-05-01', 'ESA');
      return family;
    },
    expect: { problems: ['worklessness', 'health'], results: { worklessness: 'pass' }, ce: false },
  },
  {
    name: 'ESA ended the day after T - 26 weeks: fail',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['health']);
      await w.spell(a, 'benefit', '2024-01-01', '2026-05-02', 'ESA');
      return family;
    },
    expect: { problems: ['worklessness', 'health'], results: { worklessness: 'fail' } },
  },
  {
    name: 'UC with working conditionality is not out of work; UC with blank conditionality is',
    build: async (w) => {
      const [a, b] = [await w.person(OLD), await w.person('1992-02-02')];
      const { family } = await attached(w, [a, b], ['health', 'domestic_abuse']);
      await w.spell(a, 'benefit', '2024-01-01', null, 'UC', 'working');
      await w.spell(a, 'employment', '2024-01-01', null);
      await w.spell(b, 'benefit', '2026-06-01', null, 'UC', null); // after A: never a problem at entry
      return family;
    },
    expect: { problems: ['domestic_abuse', 'health'], ce: false },
  },
  {
    name: 'NEET young person whose spell ended on T - 13 weeks: pass (no adult on benefit: that rule does not apply)',
    build: async (w) => {
      const [a, y] = [await w.person(OLD), await w.person('2008-06-01')]; // 17 at A
      const { family } = await attached(w, [a, y], ['health']);
      await w.spell(y, 'neet', '2025-03-01', '2026-07-31');
      return family;
    },
    expect: { problems: ['worklessness', 'health'], results: { worklessness: 'pass' } },
  },
  {
    name: 'NEET spell ends the day after T - 13 weeks: fail',
    build: async (w) => {
      const [a, y] = [await w.person(OLD), await w.person('2008-06-01')];
      const { family } = await attached(w, [a, y], ['health']);
      await w.spell(y, 'neet', '2025-03-01', '2026-08-01');
      return family;
    },
    expect: { problems: ['worklessness', 'health'], results: { worklessness: 'fail' } },
  },
  // --- continuous employment -------------------------------------------------------------------
  {
    name: 'JSA then 26 of the 30 weeks employed: continuous employment',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.spell(a, 'benefit', '2025-01-01', '2026-04-26', 'JSA');
      await w.spell(a, 'employment', '2026-04-27', null);
      return family;
    },
    expect: { problems: ['worklessness', 'domestic_abuse', 'health'], ce: true, claimable: true, route: 'continuous_employment' },
  },
  {
    name: 'JSA then 25 of the 30 weeks employed: not continuous employment',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.spell(a, 'benefit', '2025-01-01', '2026-05-03', 'JSA');
      await w.spell(a, 'employment', '2026-05-04', null);
      return family;
    },
    expect: { ce: false, claimable: false, route: null, results: { worklessness: 'fail' } },
  },
  {
    name: 'JSA then a job starting on a Wednesday: the part week does not count (25 weeks)',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.spell(a, 'benefit', '2025-01-01', '2026-04-28', 'JSA');
      await w.spell(a, 'employment', '2026-04-29', null);
      return family;
    },
    expect: { ce: false },
  },
  {
    name: 'ESA then exactly 13 consecutive whole weeks in a job started after A: continuous employment',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.spell(a, 'benefit', '2025-01-01', '2026-07-26', 'ESA');
      await w.spell(a, 'employment', '2026-07-27', null);
      return family;
    },
    expect: { ce: true, route: 'continuous_employment', results: { worklessness: 'fail' } },
  },
  {
    name: 'ESA then 12 whole weeks: not continuous employment',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.spell(a, 'benefit', '2025-01-01', '2026-07-27', 'ESA');
      await w.spell(a, 'employment', '2026-07-28', null);
      return family;
    },
    expect: { ce: false },
  },
  {
    name: 'a job that started before attachment does not count for the 13 weeks (worklessness still passes)',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family, caseRef } = await attached(w, [a], ['health']);
      await w.spell(a, 'benefit', '2024-01-01', '2026-01-31', 'IS');
      await w.spell(a, 'employment', '2025-06-01', null);
      await w.evidence(caseRef, 'health', 'achieved', '2026-09-01');
      return family;
    },
    expect: { ce: false, ssp: true, claimable: true, route: 'significant_sustained_progress', results: { worklessness: 'pass', health: 'pass' } },
  },
  // --- domestic abuse and attested evidence -----------------------------------------------------
  {
    name: 'domestic abuse recurs with another member: fail',
    build: async (w) => {
      const [a, b] = [await w.person(OLD), await w.person('1980-01-01')];
      const { family } = await attached(w, [a, b], ['health']);
      await w.event(a, '2025-06-01', 'domestic_abuse');
      await w.event(b, '2026-09-15', 'domestic_abuse');
      return family;
    },
    expect: { problems: ['domestic_abuse', 'health'], results: { domestic_abuse: 'fail' } },
  },
  {
    name: 'health: the latest attestation on or before T wins (not_achieved then achieved): pass',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family, caseRef } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.evidence(caseRef, 'health', 'not_achieved', '2026-02-01');
      await w.evidence(caseRef, 'health', 'achieved', '2026-08-01');
      return family;
    },
    expect: { results: { health: 'pass' }, ssp: true },
  },
  {
    name: 'health: a later not_achieved wins: fail',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family, caseRef } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.evidence(caseRef, 'health', 'achieved', '2026-03-01');
      await w.evidence(caseRef, 'health', 'not_achieved', '2026-07-01');
      return family;
    },
    expect: { results: { health: 'fail' }, ssp: false },
  },
  {
    name: 'health: an attestation dated after T is ignored: fail',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family, caseRef } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.evidence(caseRef, 'health', 'achieved', '2026-10-31');
      return family;
    },
    expect: { results: { health: 'fail' } },
  },
  {
    name: 'health: an attestation on the attachment day is not after A: fail',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family, caseRef } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.evidence(caseRef, 'health', 'achieved', A);
      return family;
    },
    expect: { results: { health: 'fail' } },
  },
  {
    name: 'attested domestic abuse does not stand in for failing data by default (health attested on T counts)',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family, caseRef } = await attached(w, [a], ['health']);
      await w.event(a, '2025-06-01', 'domestic_abuse');
      await w.event(a, '2026-06-01', 'domestic_abuse');
      await w.evidence(caseRef, 'domestic_abuse', 'achieved', '2026-09-01', 'B. Okafor, Keyworker');
      await w.evidence(caseRef, 'health', 'achieved', T);
      return family;
    },
    expect: { problems: ['domestic_abuse', 'health'], results: { domestic_abuse: 'fail', health: 'pass' }, ssp: false },
  },
  // --- identification --------------------------------------------------------------------------
  {
    name: 'a family with one problem only: not eligible, never claimable',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family, caseRef } = await attached(w, [a], ['health']);
      await w.evidence(caseRef, 'health', 'achieved', '2026-09-01');
      return family;
    },
    expect: { problems: ['health'], eligible: false, ssp: true, claimable: false, route: null },
  },
  {
    name: 'problems at entry are frozen: data after A adds none',
    build: async (w) => {
      const a = await w.person(OLD);
      const { family } = await attached(w, [a], ['health', 'domestic_abuse']);
      await w.events(a, ['2026-01-05', '2026-02-05', '2026-03-05'], 'asb_incident');
      await w.spell(a, 'benefit', '2025-09-02', null, 'ESA');
      return family;
    },
    expect: { problems: ['domestic_abuse', 'health'] },
  },
];

for (const backend of availableBackends()) {
  describe(`rules boundaries on ${backend}`, () => {
    let t: TestDatabase;
    let plan: LoadedPlan;
    let summary: EvaluationSummary;
    const familyOf = new Map<string, number>();
    const unattached: Record<string, number> = {};
    let tierChild = 0;

    beforeAll(async () => {
      n = 0;
      t = await testDatabase(backend);
      plan = await loadPlan('phase2-london-core');
      const ctx = await testRun(t.db, 'families');
      const w = await new World(t.db, ctx.runId).setup();
      for (const c of CASES) familyOf.set(c.name, await c.build(w));
      // Not in the register: two data problems at T (eligible), and one only (not).
      const [u1, u2] = [await w.person(OLD), await w.person('1999-09-09')];
      unattached.two = await w.family([u1, u2]);
      await w.spell(u1, 'benefit', '2026-01-01', null, 'ESA');
      await w.event(u2, '2026-03-01', 'domestic_abuse');
      const u3 = await w.person(OLD);
      unattached.one = await w.family([u3]);
      await w.event(u3, '2026-03-01', 'domestic_abuse');
      // Not in the register, tested at T (each eligible on other problems, so its evidence is
      // kept): a child whose last three terms by T were poor (an older good term, and a poor one
      // ending after T, do not count), and a child whose poor terms were followed by three good ones.
      const poorLately = await w.person(KID);
      unattached.poorLately = await w.family([poorLately]);
      await w.event(poorLately, '2026-03-01', 'domestic_abuse');
      await w.term(poorLately, '2024-09-03', '2024-12-19', 100, 1, { recordId: 'LATE-1' });
      await w.term(poorLately, '2025-01-06', '2025-03-27', 100, 12, { recordId: 'LATE-2' });
      await w.term(poorLately, '2025-04-14', '2025-07-21', 100, 15, { recordId: 'LATE-3' });
      await w.term(poorLately, '2025-09-03', '2026-07-21', 100, 11, { recordId: 'LATE-4' });
      await w.term(poorLately, '2026-09-02', '2026-12-18', 100, 40, { recordId: 'LATE-5' });
      const recovered = await w.person(KID);
      const recoveredParent = await w.person(OLD);
      unattached.recovered = await w.family([recovered, recoveredParent]);
      await w.event(recovered, '2026-03-01', 'domestic_abuse');
      await w.spell(recoveredParent, 'benefit', '2026-01-01', null, 'ESA');
      await poorTermsBeforeA(w, recovered);
      await w.term(recovered, '2025-09-03', '2025-12-19', 100, 2);
      await w.term(recovered, '2026-01-05', '2026-03-27', 100, 2);
      await w.term(recovered, '2026-04-13', '2026-07-21', 100, 2);
      // Tiers: CIN, stepped down to early help, then up to a child protection plan.
      tierChild = await w.person(KID);
      await w.family([tierChild]);
      await w.episode(tierChild, 'cin', '2025-03-01', '2025-12-31');
      await w.episode(tierChild, 'early_help', '2026-01-01', '2026-06-30');
      await w.episode(tierChild, 'cp_plan', '2026-03-01', '2026-04-15');
      await w.episode(tierChild, 'referral', '2026-02-01', '2026-02-20');
      const run = await testRun(t.db, 'evaluate');
      summary = await t.db.transaction((s) => evaluateFamilies(s, run, { asOf: T, plan }));
    });
    afterAll(async () => t?.drop());

    const verdict = async (familyId: number, evaluationId = summary.evaluationId) => {
      const v = await sql<{
        problems_at_entry: string[];
        eligible: boolean;
        progress_due: boolean;
        ssp_met: boolean;
        ce_met: boolean;
        claimable_by_rules: boolean;
        route: string | null;
      }>`SELECT * FROM core.family_verdict WHERE evaluation_id = ${evaluationId} AND family_id = ${familyId}`.execute(t.db.kysely);
      const r = await sql<{ problem: string; result: string }>`
        SELECT problem, result FROM core.problem_result WHERE evaluation_id = ${evaluationId} AND family_id = ${familyId}`.execute(t.db.kysely);
      return { ...v.rows[0]!, results: Object.fromEntries(r.rows.map((x) => [x.problem, x.result])) };
    };

    it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const v = await verdict(familyOf.get(c.name)!);
      const e = c.expect;
      if (e.problems) expect(v.problems_at_entry).toEqual(e.problems);
      if (e.eligible !== undefined) expect(v.eligible).toBe(e.eligible);
      if (e.due !== undefined) expect(v.progress_due).toBe(e.due);
      if (e.ssp !== undefined) expect(v.ssp_met).toBe(e.ssp);
      if (e.ce !== undefined) expect(v.ce_met).toBe(e.ce);
      if (e.claimable !== undefined) expect(v.claimable_by_rules).toBe(e.claimable);
      if (e.route !== undefined) expect(v.route).toBe(e.route);
      for (const [problem, result] of Object.entries(e.results ?? {})) expect({ problem, result: v.results[problem] }).toEqual({ problem, result });
    });

    it('records the evidence: parameters, measured values, thresholds and source records', async () => {
      const fam = familyOf.get('ASB falls exactly 60% (5 -> 2): pass')!;
      const rows = await sql<{ rule: string; measured: Record<string, unknown>; threshold: Record<string, unknown>; source_records: string[]; result: string; plan_sha256: string }>`
        SELECT rule, measured, threshold, source_records, result, plan_sha256 FROM core.rule_evidence
        WHERE evaluation_id = ${summary.evaluationId} AND family_id = ${fam} AND phase = 'progress' AND rule = 'event_fall'`.execute(t.db.kysely);
      const r = rows.rows[0]!;
      expect(r.measured).toMatchObject({ events_in_window: 2, baseline_events: 5 });
      expect(Number(r.measured.allowed)).toBe(2);
      expect(r.source_records).toHaveLength(7);
      expect(r.source_records.every((s) => s.startsWith('offending:'))).toBe(true);
      expect(r.plan_sha256).toBe(plan.sha256);
      // The identification rule that found crime_asb names the 3+ incidents.
      const ident = await sql<{ rule_index: number; result: string }>`
        SELECT rule_index, result FROM core.rule_evidence WHERE evaluation_id = ${summary.evaluationId} AND family_id = ${fam}
          AND phase = 'identification' AND problem = 'crime_asb' ORDER BY rule_index`.execute(t.db.kysely);
      expect(ident.rows.map((x) => x.result)).toEqual(['fail', 'fail', 'fail', 'pass']);
      // An attestation after T is counted as ignored.
      const h = await sql<{ measured: Record<string, unknown> }>`
        SELECT measured FROM core.rule_evidence WHERE evaluation_id = ${summary.evaluationId}
          AND family_id = ${familyOf.get('health: an attestation dated after T is ignored: fail')!} AND problem = 'health' AND phase = 'progress'`.execute(t.db.kysely);
      expect(h.rows[0]!.measured).toMatchObject({ latest_outcome: null, ignored_after_as_of: 1 });
      // Continuous employment: the JSA test with 26 weeks.
      const ce = await sql<{ measured: { adults: { test: string; qualifying_weeks_in_window: number }[] } }>`
        SELECT measured FROM core.rule_evidence WHERE evaluation_id = ${summary.evaluationId}
          AND family_id = ${familyOf.get('JSA then 26 of the 30 weeks employed: continuous employment')!} AND phase = 'continuous_employment'`.execute(t.db.kysely);
      expect(ce.rows[0]!.measured.adults[0]).toMatchObject({ test: 'weeks_of_window', qualifying_weeks_in_window: 26 });
    });

    it('counts a term given in several records once, with its records in id order whatever order they were loaded in', async () => {
      const fam = familyOf.get('a term in two records (a change of school), the later id loaded first: one term, its records in id order')!;
      const { rows } = await sql<{ measured: { children: { terms: number; sessions_possible: number; sessions_absent: number }[] }; source_records: string[] }>`
        SELECT measured, source_records FROM core.rule_evidence WHERE evaluation_id = ${summary.evaluationId} AND family_id = ${fam}
          AND phase = 'identification' AND problem = 'education'`.execute(t.db.kysely);
      expect(rows[0]!.measured.children[0]).toMatchObject({ terms: 3, sessions_possible: 300, sessions_absent: 41 });
      expect(rows[0]!.source_records.slice(0, 3)).toEqual(['attendance:SPLIT-A', 'attendance:SPLIT-M', 'attendance:SPLIT-Z']);
    });

    it("identifies education in a family not in the register from each child's last terms by T", async () => {
      const evidence = async (familyId: number) =>
        (
          await sql<{ result: string; measured: { children: Record<string, unknown>[] }; source_records: string[]; tested_on: string }>`
            SELECT result, measured, source_records, to_char(tested_on, 'YYYY-MM-DD') AS tested_on FROM core.rule_evidence
            WHERE evaluation_id = ${summary.evaluationId} AND family_id = ${familyId} AND phase = 'identification' AND problem = 'education'`.execute(t.db.kysely)
        ).rows;
      const [poor] = await evidence(unattached.poorLately!);
      expect(poor).toMatchObject({ result: 'pass', tested_on: T, source_records: ['attendance:LATE-2', 'attendance:LATE-3', 'attendance:LATE-4'] });
      expect(poor!.measured.children).toEqual([
        expect.objectContaining({ terms: 3, first_term_start: '2025-01-06', last_term_end: '2026-07-21', sessions_possible: 300, sessions_absent: 38, identified: true }),
      ]);
      // The rule fails and the family is not attached: no row, as for every other family like it.
      expect(await evidence(unattached.recovered!)).toEqual([]);
      const problems = await sql<{ family_id: number; problems: string[] }>`
        SELECT family_id::int AS family_id, problems FROM core.eligible_unattached
        WHERE evaluation_id = ${summary.evaluationId} AND family_id IN (${unattached.poorLately!}, ${unattached.recovered!}) ORDER BY family_id`.execute(t.db.kysely);
      expect(problems.rows).toEqual([
        { family_id: unattached.poorLately, problems: expect.arrayContaining(['education', 'domestic_abuse']) },
        { family_id: unattached.recovered, problems: ['worklessness', 'domestic_abuse'] },
      ]);
    });

    it('lists eligible families not in the register with their problems', async () => {
      const rows = await sql<{ family_id: number; problems: string[] }>`
        SELECT family_id::int AS family_id, problems FROM core.eligible_unattached WHERE evaluation_id = ${summary.evaluationId}`.execute(t.db.kysely);
      expect(rows.rows.find((r) => r.family_id === unattached.two)).toEqual({ family_id: unattached.two, problems: ['worklessness', 'domestic_abuse'] });
      expect(rows.rows.map((r) => r.family_id).sort((a, b) => a - b)).toEqual([unattached.two!, unattached.poorLately!, unattached.recovered!].sort((a, b) => a - b));
      expect(summary.eligibleUnattached).toBe(3);
    });

    it("records every child's tier with step-ups and step-downs", async () => {
      const rows = await sql<{ from_date: string; to_date: string | null; tier: number; change: string }>`
        SELECT to_char(from_date, 'YYYY-MM-DD') AS from_date, to_char(to_date, 'YYYY-MM-DD') AS to_date, tier, change
        FROM core.tier_history WHERE evaluation_id = ${summary.evaluationId} AND person_id = ${tierChild} ORDER BY from_date`.execute(t.db.kysely);
      expect(rows.rows).toEqual([
        { from_date: '2025-03-01', to_date: '2025-12-31', tier: 3, change: 'opened' },
        { from_date: '2026-01-01', to_date: '2026-02-28', tier: 2, change: 'step_down' },
        { from_date: '2026-03-01', to_date: '2026-04-15', tier: 4, change: 'step_up' },
        { from_date: '2026-04-16', to_date: '2026-06-30', tier: 2, change: 'step_down' },
        { from_date: '2026-07-01', to_date: null, tier: 0, change: 'closed' },
      ]);
    });

    it('reproduces the same evidence on a re-run, and replaces an evaluation repeated in one run', async () => {
      const run = await testRun(t.db, 'evaluate');
      const again = await t.db.transaction((s) => evaluateFamilies(s, run, { asOf: T, plan }));
      expect(again.evidenceSha256).toBe(summary.evidenceSha256);
      expect(again.evaluationId).not.toBe(summary.evaluationId);
      const third = await t.db.transaction((s) => evaluateFamilies(s, run, { asOf: T, plan }));
      expect(third.evidenceSha256).toBe(summary.evidenceSha256);
      const count = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.rules_evaluation WHERE run_id = ${run.runId}`.execute(t.db.kysely);
      expect(count.rows[0]!.n).toBe(1);
      // The replaced evaluation's rows went with it, in every table; the one kept has its own.
      const left = await sql<{ tbl: string; replaced: number; kept: number }>`
        SELECT tbl, count(*) FILTER (WHERE evaluation_id = ${again.evaluationId})::int AS replaced, count(*) FILTER (WHERE evaluation_id = ${third.evaluationId})::int AS kept
        FROM (SELECT 'rule_evidence' AS tbl, evaluation_id FROM core.rule_evidence UNION ALL SELECT 'problem_at_entry', evaluation_id FROM core.problem_at_entry
              UNION ALL SELECT 'problem_result', evaluation_id FROM core.problem_result UNION ALL SELECT 'family_verdict', evaluation_id FROM core.family_verdict
              UNION ALL SELECT 'eligible_unattached', evaluation_id FROM core.eligible_unattached UNION ALL SELECT 'tier_history', evaluation_id FROM core.tier_history) x
        GROUP BY tbl ORDER BY tbl`.execute(t.db.kysely);
      expect(left.rows.map((r) => r.tbl)).toEqual(['eligible_unattached', 'family_verdict', 'problem_at_entry', 'problem_result', 'rule_evidence', 'tier_history']);
      for (const r of left.rows) {
        expect(r.replaced, r.tbl).toBe(0);
        if (r.tbl !== 'eligible_unattached') expect(r.kept, r.tbl).toBeGreaterThan(0);
      }
    });

    it('follows the plan: equivalent progress and neutral_counts switched on', async () => {
      const doc = structuredClone(plan.plan) as Record<string, any>;
      doc.version = '1-test';
      doc.problems.domestic_abuse.equivalent_progress = true;
      doc.problems.education.neutral_counts = true;
      const custom = parsePlan(doc, 'test plan');
      expect(custom.sha256).not.toBe(plan.sha256);
      const run = await testRun(t.db, 'evaluate');
      const s = await t.db.transaction((x) => evaluateFamilies(x, run, { asOf: T, plan: custom }));
      const attested = await verdict(familyOf.get('attested domestic abuse does not stand in for failing data by default (health attested on T counts)')!, s.evaluationId);
      expect(attested.results).toMatchObject({ domestic_abuse: 'pass', health: 'pass' });
      expect(attested.ssp_met).toBe(true);
      const by = await sql<{ decided_by: string; attested_by: string }>`
        SELECT decided_by, attested_by FROM core.problem_result WHERE evaluation_id = ${s.evaluationId}
          AND family_id = ${familyOf.get('attested domestic abuse does not stand in for failing data by default (health attested on T counts)')!} AND problem = 'domestic_abuse'`.execute(t.db.kysely);
      expect(by.rows[0]).toEqual({ decided_by: 'attestation', attested_by: 'B. Okafor, Keyworker' });
      const neutral = await verdict(familyOf.get('a child turning 16 (16 on the 31 August before T): neutral, not passed')!, s.evaluationId);
      expect(neutral.results.education).toBe('pass');
    });

    it('agrees with the pure date helpers on ages, school age and month arithmetic', async () => {
      const dobs = ['2010-08-31', '2010-09-01', '2012-02-29', '2000-03-01', '2008-12-31', '2021-08-31', '2021-09-01', '2020-02-29'];
      const dates = ['2024-02-28', '2024-02-29', '2025-02-28', '2025-03-01', '2026-08-30', '2026-08-31', '2026-09-01', '2025-08-31', '2026-10-31'];
      const rows = await sql<{ dob: string; on: string; age: number; school: boolean; school_in_one: boolean; last31aug: string; minus6: string; plus6: string }>`
        SELECT d.dob, o.dt AS on, core.age_on(d.dob::date, o.dt::date) AS age,
               core.age_on(d.dob::date, core.last_anniversary(o.dt::date, 8, 31)) BETWEEN 5 AND 15 AS school,
               core.age_on_last_anniversary(d.dob::date, o.dt::date, 8, 31) BETWEEN 5 AND 15 AS school_in_one,
               to_char(core.last_anniversary(o.dt::date, 8, 31), 'YYYY-MM-DD') AS last31aug,
               to_char((o.dt::date - 6 * interval '1 month')::date, 'YYYY-MM-DD') AS minus6,
               to_char((o.dt::date + 6 * interval '1 month')::date, 'YYYY-MM-DD') AS plus6
        FROM unnest(${`{${dobs.join(',')}}`}::text[]) AS d(dob), unnest(${`{${dates.join(',')}}`}::text[]) AS o(dt)`.execute(t.db.kysely);
      for (const r of rows.rows) {
        expect({ ...r }).toEqual({
          dob: r.dob,
          on: r.on,
          age: ageOn(dayOf(r.dob), dayOf(r.on)),
          school: isSchoolAge(dayOf(r.dob), dayOf(r.on)),
          school_in_one: isSchoolAge(dayOf(r.dob), dayOf(r.on)),
          last31aug: isoOf(lastAnniversary(dayOf(r.on))),
          minus6: isoOf(addMonths(dayOf(r.on), -6)),
          plus6: isoOf(addMonths(dayOf(r.on), 6)),
        });
      }
      expect(isoOf(lastAnniversary(dayOf('2026-08-31')))).toBe('2026-08-31');
    });

    it('tests age bands on YYYYMMDD integers exactly as the pure date helpers do, on columns and on constants', async () => {
      const dobs = ['2010-08-31', '2010-09-01', '2012-02-29', '2000-03-01', '2008-12-31', '2021-08-31', '2021-09-01', '2020-02-29', '2008-10-30', '2008-10-31', '2010-03-31', '2011-04-01'];
      const dates = ['2024-02-28', '2024-02-29', '2025-02-28', '2025-03-01', '2026-08-30', '2026-08-31', '2026-09-01', '2025-08-31', '2026-10-30', '2026-10-31', '2026-03-31', '2026-04-01'];
      // The default bands, and a plan taking school age on 31 March with other ages.
      const bands: AgeBands[] = [
        DEFAULT_AGES,
        { adult_from: 16, young_person_from: 13, young_person_to: 17, school_age_from: 4, school_age_to: 16, school_age_date: '03-31' },
      ];
      const whos: Who[] = ['child', 'adult', 'young_person', 'school_age'];
      const pure = (who: Who, dob: string, on: string, ages: AgeBands) =>
        who === 'child' ? isChild(dayOf(dob), dayOf(on), ages)
        : who === 'adult' ? isAdult(dayOf(dob), dayOf(on), ages)
        : who === 'young_person' ? isYoungPerson(dayOf(dob), dayOf(on), ages)
        : isSchoolAge(dayOf(dob), dayOf(on), ages);
      let checked = 0;
      for (const ages of bands) {
        const on = { ymd: sql.raw('o.on_ymd'), schoolYmd: sql.raw('o.on_school_ymd') };
        const rows = await sql<Record<string, string | boolean | null>>`
          SELECT d.dob, o.on, ${sql.join(whos.map((w) => sql`${whoSql(w, sql.raw('d.dob_ymd'), on, ages)} AS ${sql.ref(w)}`))}
          FROM (SELECT dob, ${ymdSql(sql.raw('dob::date'))} AS dob_ymd FROM unnest(${`{${dobs.join(',')}}`}::text[]) AS x(dob)) d,
               (SELECT dt AS on, ${ymdSql(sql.raw('dt::date'))} AS on_ymd, ${schoolYmdSql(sql.raw('dt::date'), ages)} AS on_school_ymd
                FROM unnest(${`{${dates.join(',')}}`}::text[]) AS y(dt)) o`.execute(t.db.kysely);
        expect(rows.rows).toHaveLength(dobs.length * dates.length);
        for (const r of rows.rows) {
          for (const w of whos) {
            expect({ who: w, dob: r.dob, on: r.on, in: r[w] }).toEqual({ who: w, dob: r.dob, on: r.on, in: pure(w, r.dob as string, r.on as string, ages) });
            checked++;
          }
        }
        // The as-of date's integers are constants worked out in TypeScript: the same answers.
        for (const on2 of dates) {
          const c = await sql<Record<string, boolean>>`
            SELECT ${sql.join(whos.map((w) => sql`${whoSql(w, sql.raw('d.dob_ymd'), ageDateOf(on2, ages), ages)} AS ${sql.ref(w)}`))}, d.dob
            FROM (SELECT dob, ${ymdSql(sql.raw('dob::date'))} AS dob_ymd FROM unnest(${`{${dobs.join(',')}}`}::text[]) AS x(dob)) d`.execute(t.db.kysely);
          for (const r of c.rows) for (const w of whos) expect({ who: w, dob: r.dob, on: on2, in: r[w] }).toEqual({ who: w, dob: r.dob, on: on2, in: pure(w, r.dob as unknown as string, on2, ages) });
        }
        // A blank date of birth is in no band.
        const blank = await sql<Record<string, boolean | null>>`
          SELECT ${sql.join(whos.map((w) => sql`coalesce(${whoSql(w, sql`NULL::integer`, ageDateOf('2026-10-31', ages), ages)}, false) AS ${sql.ref(w)}`))}`.execute(t.db.kysely);
        expect(blank.rows[0]).toEqual({ child: false, adult: false, young_person: false, school_age: false });
      }
      expect(checked).toBe(2 * 4 * dobs.length * dates.length);
    });
  });
}

