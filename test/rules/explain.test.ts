import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobError, UsageError } from '../../src/errors.ts';
import { buildFamilies } from '../../src/families/index.ts';
import { discoverExtracts, ingestExtracts } from '../../src/ingest/index.ts';
import { matchPeople } from '../../src/link/stage.ts';
import { explainFamily, factsOf, parseExplainTarget, runExplain } from '../../src/rules/explain.ts';
import {
  describeRule,
  evidenceKey,
  explanationJson,
  explanationText,
  headline,
  resultWord,
  type FamilyExplanation,
  type RuleRow,
} from '../../src/rules/explain-text.ts';
import { evaluateFamilies, loadPlan } from '../../src/rules/index.ts';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { testRun } from '../support/run.ts';
import { TODAY } from '../ingest/helpers.ts';

/**
 * `tfclaims explain` (issue 4, item 6). The formatting is tested on its own (no database); then
 * on the samples, evaluated as of 2026-10-31 through the match and families stages, a claimable
 * and a failing family picked from truth/claimable.csv by its `claimable` column: the verdict
 * matches the truth, every problem at entry and every core.rule_evidence row is shown with its
 * result and records, no member's name, date of birth or address appears without
 * --show-records, and --json holds the same verdict.
 */

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');
const AS_OF = '2026-10-31';
type Row = Record<string, string>;

/** Whether `text` holds `value` as a whole word (a forename "Ann" is not found inside "annual"). */
function holds(text: string, value: string): boolean {
  return new RegExp(`(^|[^\\p{L}\\p{N}])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}\\p{N}])`, 'iu').test(text);
}

// ------------------------------------------------------------------------------------------
// Formatting alone
// ------------------------------------------------------------------------------------------

function rule(partial: Partial<RuleRow> & Pick<RuleRow, 'phase' | 'problem' | 'ruleIndex' | 'rule'>): RuleRow {
  return { parameters: {}, measured: {}, threshold: {}, result: 'pass', sourceRecords: [], attestedBy: null, testedOn: '2026-10-31', ...partial };
}

function fixture(overrides: Partial<FamilyExplanation> = {}): FamilyExplanation {
  const rules: RuleRow[] = [
    rule({
      phase: 'identification',
      problem: 'worklessness',
      ruleIndex: 0,
      rule: 'spell_on_date',
      parameters: { rule: 'spell_on_date', spell: 'out_of_work_benefit', who: 'adult' },
      measured: { on: '2025-04-13', persons: [4], spells_open: 1 },
      threshold: { at_least: 1 },
      sourceRecords: ['employment:DWP1'],
      testedOn: '2025-04-13',
    }),
    rule({
      phase: 'identification',
      problem: 'crime_asb',
      ruleIndex: 1,
      rule: 'events_at_least',
      parameters: { rule: 'events_at_least', event_types: ['asb_intervention'], who: 'any', per: 'person', at_least: 1 },
      measured: { events: 1, by_person: [{ events: 1, person_id: 4 }], window_end: '2025-04-13', window_after: '2024-04-13', most_by_one_person: 1 },
      threshold: { per: 'person', at_least: 1 },
      sourceRecords: ['offending:OCC1'],
      testedOn: '2025-04-13',
    }),
    rule({
      phase: 'progress',
      problem: '',
      ruleIndex: -1,
      rule: 'progress_due',
      parameters: { progress_due_months: 6 },
      measured: { as_of: '2026-10-31', attached_on: '2025-04-13' },
      threshold: { as_of_on_or_after: '2025-10-13' },
      sourceRecords: ['attachments:EHM1'],
    }),
    rule({
      phase: 'progress',
      problem: 'crime_asb',
      ruleIndex: 0,
      rule: 'no_events',
      parameters: { rule: 'no_events', event_types: ['proven_offence', 'asb_intervention'], who: 'any', window_months: 6 },
      measured: { events: 1, persons: [4], window_end: '2026-10-31', window_after: '2026-04-30' },
      threshold: { at_most: 0 },
      result: 'fail',
      sourceRecords: ['offending:OCC2'],
    }),
    rule({
      phase: 'progress',
      problem: 'worklessness',
      ruleIndex: 0,
      rule: 'spell_free',
      parameters: { rule: 'spell_free', spell: 'out_of_work_benefit', who: 'adult', window_weeks: 26 },
      measured: {
        persons: [{ person_id: 4, spells_in_window: [], spells_at_attachment: ['employment:DWP1'] }],
        window_end: '2026-10-31',
        window_after: '2026-05-02',
        with_spell_in_window: 0,
        on_spell_at_attachment: 1,
      },
      threshold: { with_spell_in_window_at_most: 0 },
      sourceRecords: ['employment:DWP1'],
    }),
    rule({
      phase: 'continuous_employment',
      problem: '',
      ruleIndex: 0,
      rule: 'continuous_employment',
      parameters: { enabled: true, benefit_months_before_attachment: 6 },
      measured: {
        adults: [
          { test: 'consecutive_weeks', person_id: 4, qualifies: true, run_ends_on: '2026-10-25', last_benefit_record: 'employment:DWP1', longest_consecutive_run: 30, last_out_of_work_benefit: 'UC', qualifying_weeks_in_window: 30 },
        ],
        last_whole_week_ends: '2026-10-25',
        weeks_window_first_monday: '2026-03-30',
      },
      threshold: { weeks_of_window: { at_least: 26, of_weeks: 30, benefit_types: ['JSA'] }, consecutive_weeks: { at_least: 13, employment_started_after_attachment: true } },
      sourceRecords: ['employment:DWP1', 'employment:DWP2'],
    }),
  ];
  const rec = (ref: string, fileName: string, line: number, facts: string, personId: number | null = 4) => {
    const [source, recordId] = ref.split(':') as [string, string];
    return { ref, source, recordId, fileId: 1, fileName, line, personId, facts };
  };
  return {
    family: { familyId: 2, caseRef: 'EH-1', attachedOn: '2025-04-13' },
    evaluation: { evaluationId: 7, runId: 3, asOf: '2026-10-31', evaluatedAt: '2026-11-01 09:00 UTC', planId: 'phase2-london-core', planVersion: '1', planSha256: 'a'.repeat(64), evidenceSha256: 'b'.repeat(64) },
    plan: {
      minProblems: 2,
      progressDueMonths: 6,
      identificationWindowMonths: 12,
      keyworkerAssessment: true,
      continuousEmploymentEnabled: true,
      adultFrom: 18,
      problems: [
        { code: 'crime_asb', description: 'Crime and anti-social behaviour', required: true, dataRules: 4 },
        { code: 'worklessness', description: 'Adults out of work', required: true, dataRules: 2 },
        { code: 'health', description: 'Health', required: true, dataRules: 0 },
      ],
    },
    status: 'attached',
    reason: null,
    members: [
      {
        personId: 4,
        basis: 'register',
        joinedOn: '2025-04-13',
        registerRole: 'adult',
        ages: [
          { date: '2025-04-13', label: 'attached on', age: 38, band: 'adult', youngPerson: false, schoolAge: false },
          { date: '2026-10-31', label: 'as of', age: 40, band: 'adult', youngPerson: false, schoolAge: false },
        ],
        records: { employment: 2, offending: 2 },
      },
    ],
    membershipSince: { joined: [], left: [] },
    problemsAtEntry: [
      { problem: 'crime_asb', identifiedOn: '2025-04-13', fromData: true, fromKeyworker: true },
      { problem: 'worklessness', identifiedOn: '2025-04-13', fromData: true, fromKeyworker: false },
    ],
    problemsFromData: [],
    rules,
    problemResults: [
      { problem: 'crime_asb', required: true, dataResult: 'fail', result: 'fail', decidedBy: 'data', attestedBy: null },
      { problem: 'worklessness', required: true, dataResult: 'pass', result: 'pass', decidedBy: 'data', attestedBy: null },
    ],
    verdict: {
      problemsAtEntry: ['crime_asb', 'worklessness'],
      eligible: true,
      progressDue: true,
      sspMet: false,
      ceMet: true,
      claimableByRules: true,
      route: 'continuous_employment',
      financialYear: '2026-27',
      paymentGbp: '800.00',
    },
    tiers: [{ personId: 9, fromDate: '2025-01-01', toDate: null, tier: 3, previousTier: 0, change: 'opened', sourceRecords: ['social_care:SC1'] }],
    records: {
      'employment:DWP1': rec('employment:DWP1', 'employment.csv', 94, 'benefit UC spell 2024-10-22 to 2026-02-12'),
      'employment:DWP2': rec('employment:DWP2', 'employment.csv', 73, 'employment spell 2026-03-26 to open'),
      'offending:OCC1': rec('offending:OCC1', 'offending.csv', 41, '2024-08-22 asb_intervention'),
      'offending:OCC2': rec('offending:OCC2', 'offending.csv', 83, '2026-06-26 proven_offence'),
      'attachments:EHM1': {
        ...rec('attachments:EHM1', 'attachments.csv', 5, 'register: case EH-1 attached on 2025-04-13'),
        personal: { person_ref: 'P9', forename: 'Zebedee', middle_names: null, surname: 'Quockerwodger', dob: '1986-02-03', sex: 'M', address: '1 Nowhere Lane', postcode: 'ZZ9 9ZZ', uprn: null },
      },
      'social_care:SC1': rec('social_care:SC1', 'social_care.csv', 2, 'cin episode 2025-01-01 to open', 9),
    },
    files: [{ fileId: 1, source: 'employment', fileName: 'employment.csv', sha256: 'c'.repeat(64), loadedByRun: 1 }],
    showRecords: false,
    ...overrides,
  };
}

describe('explain formatting (no database)', () => {
  it('says the verdict, both routes, every problem at entry and every rule with its result and records', () => {
    const e = fixture();
    const text = explanationText(e).join('\n');
    expect(headline(e)).toBe('CLAIMABLE under the rules by continuous employment: GBP 800.00 (financial year 2026-27)');
    expect(text).toContain('VERDICT: CLAIMABLE under the rules by continuous employment');
    expect(text).toContain('route 1, significant and sustained progress: NOT MET: crime_asb failed');
    expect(text).toContain('route 2, continuous employment: MET (person 4)');
    expect(text).toMatch(/crime_asb \(Crime and anti-social behaviour\): from data \(identification\/crime_asb\/1\) and the keyworker's assessment/);
    expect(text).toMatch(/worklessness \(Adults out of work\): from data \(identification\/worklessness\/0\)\n/);
    for (const r of e.rules) {
      expect(text).toContain(`[${evidenceKey(r)}] ${r.rule}: ${resultWord(r.result)}`);
      for (const ref of r.sourceRecords) expect(text).toContain(ref);
    }
    expect(text).toContain('offending:OCC2  offending.csv line 83: 2026-06-26 proven_offence, person 4');
    expect(text).toContain('2025-01-01 to now: Tier 3 (child in need) (opened) [social_care:SC1]');
    expect(text).toContain('person 4: on 2025-04-13 (attached on) adult aged 38; on 2026-10-31 (as of) adult aged 40');
    expect(text).toContain('health: no data rule in the plan (keyworker assessment only)');
  });

  it('prints person fields only with showRecords', () => {
    const hidden = explanationText(fixture()).join('\n');
    for (const v of ['Zebedee', 'Quockerwodger', '1986-02-03', '1 Nowhere Lane', 'ZZ9 9ZZ']) expect(holds(hidden, v)).toBe(false);
    expect(hidden).toContain('No personal data below');
    const shown = explanationText(fixture({ showRecords: true })).join('\n');
    expect(shown).toContain('PERSONAL DATA below');
    for (const v of ['Zebedee', 'Quockerwodger', '1986-02-03', '1 Nowhere Lane', 'ZZ9 9ZZ']) expect(holds(shown, v)).toBe(true);
  });

  it('says why a family is not claimable', () => {
    const failing = fixture({
      verdict: { ...fixture().verdict!, ceMet: false, claimableByRules: false, route: null, paymentGbp: '800.00' },
      rules: fixture().rules.map((r) => (r.phase === 'continuous_employment' ? { ...r, result: 'fail' } : r)),
    });
    expect(headline(failing)).toBe(
      'NOT CLAIMABLE under the rules: significant and sustained progress not met (crime_asb failed); continuous employment not met (no adult has enough qualifying weeks)',
    );
    const ineligible = fixture({ verdict: { ...fixture().verdict!, problemsAtEntry: ['worklessness'], eligible: false, claimableByRules: false, route: null } });
    expect(headline(ineligible)).toMatch(/^NOT CLAIMABLE under the rules: only 1 problem at entry \(the plan needs 2\)/);
    const early = fixture({ verdict: { ...fixture().verdict!, progressDue: false, ceMet: false, claimableByRules: false, route: null } });
    expect(headline(early)).toContain('the as-of date is less than 6 months after attachment');
  });

  it('describes each kind of rule in words, from its stored values', () => {
    const [spell, events, gate, noEvents, spellFree, ce] = fixture().rules as [RuleRow, RuleRow, RuleRow, RuleRow, RuleRow, RuleRow];
    expect(describeRule(spell).asks).toBe('an adult (18 or over) with an out-of-work benefit spell open on 2025-04-13');
    expect(describeRule(events).asks).toBe('any member with at least 1 asb_intervention event in the window 2024-04-14 to 2025-04-13');
    expect(describeRule(events).measured).toBe('most by one person: 1 (needs at least 1); 1 event in all');
    expect(describeRule(gate).measured).toBe('as of 2026-10-31; needs 2025-10-13 or later');
    expect(describeRule(noEvents).measured).toBe('1 event, by person 4 (must be at most 0)');
    expect(describeRule(spellFree).asks).toBe('every adult with an out-of-work benefit open at attachment has none in the 26 weeks 2026-05-03 to 2026-10-31');
    expect(describeRule(ce).detail).toEqual([
      'person 4: last out-of-work benefit UC (employment:DWP1), longest run 30 consecutive weeks ending 2026-10-25 (needs 13): qualifies',
    ]);
    const fall = rule({
      phase: 'progress',
      problem: 'crime_asb',
      ruleIndex: 1,
      rule: 'event_fall',
      parameters: { event_types: ['asb_incident'], min_fall: 0.6 },
      measured: { allowed: 2, window_end: '2026-10-31', baseline_end: '2025-04-07', window_after: '2026-04-30', baseline_after: '2024-10-07', baseline_events: 5, events_in_window: 2 },
      threshold: { min_fall: 0.6, at_most_share_of_baseline: 0.4 },
    });
    expect(describeRule(fall).asks).toContain('at most 40% of those in the baseline 2024-10-08 to 2025-04-07 before attachment (a 60% fall');
    expect(describeRule(fall).measured).toBe('2 in the window against a baseline of 5: at most 2 allowed');
    const school = rule({
      phase: 'progress',
      problem: 'education',
      ruleIndex: 0,
      rule: 'school_terms',
      measured: {
        children: [
          { person_id: 9, result: 'fail', terms_since_attachment: 3, terms: [{ term_start: '2025-09-01', term_end: '2025-12-19', absence_rate: 0.125, sessions_absent: 20, sessions_possible: 160, fixed_exclusions: 0, permanent_exclusion: false }] },
        ],
        terms_after: '2025-08-04',
        terms_end_by: '2026-10-31',
      },
      threshold: { consecutive_terms: 3, absence: 'overall', absence_rate_below: 0.1, absence_measured: 'per_term', fixed_exclusions_below: 3, no_permanent_exclusion: true },
      result: 'fail',
    });
    expect(describeRule(school).detail).toContain('  term 2025-09-01 to 2025-12-19: absence 12.5% (20 of 160 sessions), 0 fixed exclusions');
    const attested = rule({
      phase: 'progress',
      problem: 'health',
      ruleIndex: 0,
      rule: 'attested',
      measured: { latest_outcome: 'not_achieved', latest_evidence_date: '2026-09-01', latest_record: 'evidence:E2', attestations_considered: 2, ignored_after_as_of: 1, window_after: '2025-04-13', window_end: '2026-10-31' },
      result: 'fail',
      attestedBy: 'A. Keyworker',
    });
    expect(describeRule(attested).measured).toBe('2 attestations considered; latest: not_achieved on 2026-09-01 (evidence:E2), attested by A. Keyworker');
    expect(describeRule(attested).detail).toEqual(['1 row dated after the as-of date ignored']);
  });

  it('gives one JSON object with the same verdict', () => {
    const json = JSON.parse(JSON.stringify(explanationJson(fixture()))) as { verdict: { claimableByRules: boolean; route: string }; headline: string; rules: { key: string }[] };
    expect(json.verdict.claimableByRules).toBe(true);
    expect(json.verdict.route).toBe('continuous_employment');
    expect(json.headline).toBe(headline(fixture()));
    expect(json.rules.map((r) => r.key)).toContain('progress/-/-1');
    expect(JSON.stringify(explanationJson(fixture()))).not.toContain('Quockerwodger');
  });

  it('reads a source row as codes and dates of events', () => {
    expect(factsOf('offending', { event_date: '2026-06-26', event_type: 'proven_offence', role: null })).toBe('2026-06-26 proven_offence');
    expect(factsOf('employment', { spell_type: 'benefit', benefit_type: 'JSA', uc_conditionality: null, start_date: '2025-01-01', end_date: null })).toBe(
      'benefit JSA spell 2025-01-01 to open',
    );
  });

  it('needs exactly one of --case-ref and --family, and a whole-number family id', () => {
    expect(() => parseExplainTarget({})).toThrow(UsageError);
    expect(() => parseExplainTarget({ caseRef: 'EH-1', family: '2' })).toThrow(UsageError);
    expect(() => parseExplainTarget({ family: '2x' })).toThrow(/--family 2x is not a family id/);
    expect(parseExplainTarget({ family: '12' })).toEqual({ familyId: 12 });
    expect(parseExplainTarget({ caseRef: ' EH-1 ' })).toEqual({ caseRef: 'EH-1' });
  });
});

// ------------------------------------------------------------------------------------------
// On the samples
// ------------------------------------------------------------------------------------------

const truth = parse(await readFile(path.join(SAMPLES, 'truth', 'claimable.csv')), { columns: true }) as Row[];
const claimable = truth.find((r) => r.claimable === 'true')!;
const failing = truth.find((r) => r.claimable === 'false' && r.eligible === 'true')!;

/** Every name, date of birth and address in any source row of the family's members (personal values that must not be printed). */
async function personalValuesOf(t: TestDatabase, familyId: number): Promise<string[]> {
  const values: string[] = [];
  for (const source of ['attendance', 'offending', 'employment', 'social_care', 'attachments']) {
    const { rows } = await sql<{ forename: string; middle_names: string | null; surname: string; dob: string; address: string | null; postcode: string | null }>`
      SELECT r.forename, r.middle_names, r.surname, to_char(r.dob, 'YYYY-MM-DD') AS dob, r.address, r.postcode
      FROM ${sql.table(`raw.${source}`)} r
      JOIN core.person_record pr ON pr.source = ${source} AND pr.record_id = r.record_id
      JOIN core.current_family_member m ON m.person_id = pr.person_id
      WHERE m.family_id = ${familyId}`.execute(t.db.kysely);
    for (const r of rows) values.push(...[r.forename, r.middle_names, r.surname, r.dob, r.address, r.postcode].filter((v): v is string => !!v && v.trim().length >= 3));
  }
  return [...new Set(values)];
}

async function evidenceRows(t: TestDatabase, familyId: number, evaluationId: number) {
  return (
    await sql<{ phase: RuleRow['phase']; problem: string; rule_index: number; rule: string; result: string; source_records: string[] }>`
      SELECT phase, problem, rule_index, rule, result, source_records FROM core.rule_evidence
      WHERE evaluation_id = ${evaluationId} AND family_id = ${familyId}`.execute(t.db.kysely)
  ).rows;
}

for (const backend of availableBackends()) {
  describe(`explain on the samples as of ${AS_OF} (${backend})`, () => {
    let t: TestDatabase;
    let evaluationId: number;

    beforeAll(async () => {
      t = await testDatabase(backend);
      const ctx = await testRun(t.db, 'run');
      await ingestExtracts(ctx, { files: await discoverExtracts(SAMPLES), today: TODAY });
      await t.db.transaction(async (s) => {
        await matchPeople(s, ctx);
        await buildFamilies(s, ctx);
      });
      const run = await testRun(t.db, 'evaluate');
      evaluationId = (await t.db.transaction(async (s) => evaluateFamilies(s, run, { asOf: AS_OF, plan: await loadPlan('phase2-london-core') }))).evaluationId;
    });
    afterAll(async () => t?.drop());

    for (const [label, row] of [
      ['a claimable family', claimable],
      ['a failing family', failing],
    ] as const) {
      it(`explains ${label} (${row.case_ref}, ${row.scenario}) as the truth has it, with every rule row and no personal data`, async () => {
        const e = await explainFamily(t.db.kysely, { caseRef: row.case_ref! }, { asOf: AS_OF });
        const text = explanationText(e).join('\n');
        expect(e.evaluation.evaluationId).toBe(evaluationId);
        expect(e.status).toBe('attached');

        // The verdict, as the truth has it.
        const wantClaimable = row.claimable === 'true';
        expect(e.verdict?.claimableByRules).toBe(wantClaimable);
        expect(text).toContain(wantClaimable ? 'VERDICT: CLAIMABLE under the rules by ' : 'VERDICT: NOT CLAIMABLE under the rules');
        const routeWords: Record<string, string> = { significant_sustained_progress: 'significant and sustained progress', continuous_employment: 'continuous employment' };
        if (wantClaimable) expect(text).toContain(`VERDICT: CLAIMABLE under the rules by ${routeWords[row.route!]}: GBP 800.00`);
        expect(text).toContain(`route 1, significant and sustained progress: ${row.ssp_met === 'true' ? 'MET' : 'NOT MET'}`);
        expect(text).toContain(`route 2, continuous employment: ${row.ce_met === 'true' ? 'MET' : 'NOT MET'}`);

        // Every problem at entry, under "Problems at entry".
        const entrySection = text.slice(text.indexOf('Problems at entry'), text.indexOf('Identification on'));
        for (const problem of row.problems_at_entry!.split(';')) expect(entrySection).toMatch(new RegExp(`^  ${problem} \\(.*\\): from `, 'm'));

        // Every evidence row, with its result and every record behind it (and where that record is).
        const rows = await evidenceRows(t, e.family.familyId, evaluationId);
        expect(rows.length).toBeGreaterThan(5);
        for (const r of rows) {
          expect(text).toContain(`[${evidenceKey({ phase: r.phase, problem: r.problem, ruleIndex: r.rule_index })}] ${r.rule}: ${resultWord(r.result)}`);
          for (const ref of r.source_records) expect(text).toMatch(new RegExp(`${ref}  \\S+\\.csv line \\d+: `));
        }
        expect(e.rules).toHaveLength(rows.length);

        // No name, date of birth or address of any member, in the text or the JSON, without --show-records.
        const personal = await personalValuesOf(t, e.family.familyId);
        expect(personal.length).toBeGreaterThan(3);
        const json = JSON.stringify(explanationJson(e));
        for (const value of personal) {
          expect(holds(text, value), value).toBe(false);
          expect(holds(json, value), value).toBe(false);
        }
        // With it, the records' person fields are there.
        const shown = explanationText(await explainFamily(t.db.kysely, { caseRef: row.case_ref! }, { asOf: AS_OF, showRecords: true })).join('\n');
        expect(shown).toContain('PERSONAL DATA below');
        expect(personal.filter((v) => holds(shown, v)).length).toBeGreaterThan(0);

        // --json: one object with the same verdict.
        const parsed = JSON.parse(json) as { verdict: { claimableByRules: boolean; route: string | null }; family: { caseRef: string } };
        expect(parsed.family.caseRef).toBe(row.case_ref);
        expect(parsed.verdict.claimableByRules).toBe(wantClaimable);
        expect(parsed.verdict.route ?? '').toBe(row.route);
      });
    }

    it('explains a family by id the same way as by case_ref', async () => {
      const byRef = await explainFamily(t.db.kysely, { caseRef: claimable.case_ref! });
      const byId = await explainFamily(t.db.kysely, { familyId: byRef.family.familyId });
      expect(explanationText(byId)).toEqual(explanationText(byRef));
    });

    it('explains an eligible family that is not in the register', async () => {
      const { rows } = await sql<{ family_id: number }>`SELECT family_id FROM core.eligible_unattached WHERE evaluation_id = ${evaluationId} ORDER BY family_id LIMIT 1`.execute(
        t.db.kysely,
      );
      const e = await explainFamily(t.db.kysely, { familyId: Number(rows[0]!.family_id) }, { asOf: AS_OF });
      expect(e.status).toBe('eligible_unattached');
      expect(headline(e)).toMatch(/^NOT CLAIMABLE: not in the programme register/);
      const text = explanationText(e).join('\n');
      for (const r of await evidenceRows(t, e.family.familyId, evaluationId)) expect(text).toContain(`[${evidenceKey({ phase: r.phase, problem: r.problem, ruleIndex: r.rule_index })}]`);
    });

    it('refuses an unknown case_ref or family id, naming it; says to evaluate first when there is no evaluation for the date', async () => {
      await expect(explainFamily(t.db.kysely, { caseRef: 'EH-NOPE' })).rejects.toThrow(UsageError);
      await expect(explainFamily(t.db.kysely, { caseRef: 'EH-NOPE' })).rejects.toThrow(/case_ref EH-NOPE/);
      await expect(explainFamily(t.db.kysely, { familyId: 99999 })).rejects.toThrow(/family_id 99999/);
      await expect(explainFamily(t.db.kysely, { caseRef: claimable.case_ref! }, { asOf: '2026-01-01' })).rejects.toThrow(JobError);
      await expect(explainFamily(t.db.kysely, { caseRef: claimable.case_ref! }, { asOf: '2026-01-01' })).rejects.toMatchObject({
        hint: expect.stringContaining('tfclaims evaluate --as-of 2026-01-01'),
      });
    });

    it('uses the latest evaluation, or the latest for --as-of', async () => {
      const run = await testRun(t.db, 'evaluate');
      const later = await t.db.transaction(async (s) => evaluateFamilies(s, run, { asOf: '2026-06-30', plan: await loadPlan('phase2-london-core') }));
      expect((await explainFamily(t.db.kysely, { caseRef: claimable.case_ref! })).evaluation).toMatchObject({ evaluationId: later.evaluationId, asOf: '2026-06-30' });
      expect((await explainFamily(t.db.kysely, { caseRef: claimable.case_ref! }, { asOf: AS_OF })).evaluation.evaluationId).toBe(evaluationId);
    });

    it.runIf(backend === 'server')('`tfclaims explain` prints on stdout; --show-records never reaches the summary lines or the log; --json holds the verdict', async () => {
      const logDir = await mkdtemp(path.join(os.tmpdir(), 'tfclaims-explain-'));
      try {
        const printed: string[] = [];
        const result = await runExplain({ db: t.dbArg, logDir, quiet: true, caseRef: failing.case_ref!, asOf: AS_OF, showRecords: true, print: (s) => printed.push(s) });
        expect(result.exitCode).toBe(0);
        const stdout = printed.join('');
        expect(stdout).toContain(`case ${failing.case_ref}`);
        const familyId = (result.json.family as { familyId: number }).familyId;
        const personal = await personalValuesOf(t, familyId);
        expect(personal.filter((v) => holds(stdout, v)).length).toBeGreaterThan(0);
        const log = (await Promise.all((await readdir(logDir)).map((f) => readFile(path.join(logDir, f), 'utf8')))).join('\n');
        expect(log).toContain('"command":"explain"');
        for (const value of personal) {
          expect(holds(result.lines.join('\n'), value), value).toBe(false);
          expect(holds(log, value), value).toBe(false);
        }

        const quiet: string[] = [];
        const asJson = await runExplain({ db: t.dbArg, logDir, quiet: true, json: true, caseRef: claimable.case_ref!, asOf: AS_OF, print: (s) => quiet.push(s) });
        expect(quiet).toEqual([]);
        const parsed = JSON.parse(JSON.stringify(asJson.json)) as { verdict: { claimableByRules: boolean; route: string } };
        expect(parsed.verdict).toMatchObject({ claimableByRules: true, route: claimable.route });

        await expect(runExplain({ db: t.dbArg, logDir, quiet: true, caseRef: 'EH-NOPE' })).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('EH-NOPE') });
      } finally {
        await rm(logDir, { recursive: true, force: true });
      }
    });
  });
}
