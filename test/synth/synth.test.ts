import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverExtracts, ingestExtracts } from '../../src/ingest/index.ts';
import { loadMapping } from '../../src/ingest/mapping.ts';
import { columnNames, SOURCES } from '../../src/ingest/sources.ts';
import { runSynth, type SynthSummary } from '../../src/synth/index.ts';
import { SCENARIOS } from '../../src/synth/scenarios.ts';
import { mainBackend, testDatabase, type TestDatabase } from '../support/db.ts';
import { tempDir } from '../support/files.ts';
import { testRun } from '../support/run.ts';

type Row = Record<string, string>;

async function csv(file: string): Promise<Row[]> {
  return parse(await readFile(file), { columns: true, bom: true }) as Row[];
}

async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of await readdir(dir, { recursive: true })) {
    const full = path.join(dir, name);
    if ((await stat(full)).isFile()) out.set(name, await readFile(full));
  }
  return out;
}

const OPTIONS = { families: 40, population: 2500, invalidRate: 0.01 } as const;

describe('tfclaims synth', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let dir: string;
  let summary: SynthSummary;

  beforeAll(async () => {
    tmp = await tempDir();
    dir = path.join(tmp.dir, 'a');
    summary = await runSynth({ outDir: dir, seed: 99, exportedSource: 'offending', ...OPTIONS });
  });
  afterAll(async () => {
    await tmp?.remove();
  });

  it('is byte-identical for a seed and differs for another seed', async () => {
    const again = path.join(tmp.dir, 'b');
    const other = path.join(tmp.dir, 'c');
    await runSynth({ outDir: again, seed: 99, exportedSource: 'offending', ...OPTIONS });
    await runSynth({ outDir: other, seed: 100, exportedSource: 'offending', ...OPTIONS });
    const a = await filesOf(dir);
    const b = await filesOf(again);
    const c = await filesOf(other);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name)!), name).toBe(true);
    expect(a.get('attendance.csv')!.equals(c.get('attendance.csv')!)).toBe(false);
  });

  it('writes the six extracts with canonical headers, and the exported source with a mapping that validates', async () => {
    for (const source of SOURCES) {
      const text = await readFile(path.join(dir, `${source}.csv`), 'utf8');
      const header = text.slice(0, text.indexOf('\n')).split(',');
      if (source === 'offending') {
        const { mapping } = await loadMapping(path.join(dir, 'offending.mapping.yaml'), 'offending');
        expect(header.map((h) => mapping.columns[h] ?? h).filter((h) => columnNames('offending').includes(h)).sort()).toEqual(
          [...columnNames('offending')].sort(),
        );
        expect(mapping.date_format).toBe('DD-MMM-YYYY');
      } else {
        expect(header).toEqual(columnNames(source));
      }
    }
    expect(summary.rows.attendance).toBeGreaterThan(summary.rows.offending!);
  });

  it('builds a whole population: most residents are in no attached family', async () => {
    const people = await csv(path.join(dir, 'truth', 'people.csv'));
    const members = await csv(path.join(dir, 'truth', 'families.csv'));
    expect(people.length).toBe(summary.residents);
    expect(summary.residents).toBeGreaterThanOrEqual(OPTIONS.population);
    expect(members.length / people.length).toBeLessThan(0.25);
    // Residents of one household share a truth household id; attached families are whole households.
    const householdOf = new Map(people.map((p) => [p.person_id!, p.household_id!]));
    const byCase = new Map<string, Set<string>>();
    for (const m of members) (byCase.get(m.case_ref!) ?? byCase.set(m.case_ref!, new Set()).get(m.case_ref!)!).add(householdOf.get(m.person_id!)!);
    for (const households of byCase.values()) expect(households.size).toBe(1);
  });

  it('names people as a real council does: no surname or forename held by much more than 2% of residents, and hundreds of each', async () => {
    const people = await csv(path.join(dir, 'truth', 'people.csv'));
    const counts = (field: string) => {
      const byValue = new Map<string, number>();
      for (const p of people) byValue.set(p[field]!, (byValue.get(p[field]!) ?? 0) + 1);
      return byValue;
    };
    for (const field of ['surname', 'forename']) {
      const byValue = counts(field);
      expect(Math.max(...byValue.values()) / people.length, field).toBeLessThan(0.035);
      expect(byValue.size, field).toBeGreaterThan(people.length > 2000 ? 300 : 100);
    }
  });

  it('writes no benefit or employment spell that starts after the as-of date (an extract cannot know of one)', async () => {
    const spells = await csv(path.join(dir, 'employment.csv'));
    const asOf = summary.asOf;
    const late = spells.filter((s) => /^\d{4}-\d\d-\d\d$/.test(s.start_date ?? '') && s.start_date! > asOf);
    expect(late).toEqual([]);
  });

  it('gives every attached family a truth, covering every scenario, consistent with the claim rules', async () => {
    const claimable = await csv(path.join(dir, 'truth', 'claimable.csv'));
    const families = await csv(path.join(dir, 'truth', 'families.csv'));
    expect(claimable).toHaveLength(OPTIONS.families);
    expect(new Set(claimable.map((c) => c.scenario))).toEqual(new Set(SCENARIOS.map((s) => s.name)));
    const membersByCase = new Map<string, number>();
    for (const f of families) membersByCase.set(f.case_ref!, (membersByCase.get(f.case_ref!) ?? 0) + 1);
    for (const c of claimable) {
      const problems = c.problems_at_entry!.split(';').filter(Boolean);
      expect(membersByCase.get(c.case_ref!), c.case_ref).toBeGreaterThanOrEqual(2);
      expect(c.eligible).toBe(String(problems.length >= 2));
      if (c.claimable === 'true') {
        expect(problems.length).toBeGreaterThanOrEqual(2);
        expect(c.route).toBe(c.ce_met === 'true' ? 'continuous_employment' : 'significant_sustained_progress');
      } else {
        expect(c.route).toBe('');
      }
      expect(c.problem_results!.split(';').map((r) => r.split(':')[0])).toEqual(problems);
    }
    const byScenario = (name: string) => claimable.filter((c) => c.scenario === name);
    for (const c of byScenario('one_problem_only')) expect([c.problems_at_entry, c.claimable]).toEqual(['worklessness', 'false']);
    for (const c of byScenario('ce_despite_reoffending')) expect([c.claimable, c.route]).toEqual(['true', 'continuous_employment']);
    for (const c of byScenario('asb_fall_exactly_60')) expect(c.problem_results).toContain('crime_asb:pass');
    for (const c of byScenario('child_leaves_school_age')) expect(c.problem_results).toContain('education:neutral');
    for (const c of byScenario('attached_too_recently')) expect(c.problem_results).not.toMatch(/:(pass|fail)/);
  });

  it('lays down the records each scenario promises (checked from the extracts, not from rules code)', async () => {
    const T = summary.asOf;
    const claimable = await csv(path.join(dir, 'truth', 'claimable.csv'));
    const families = await csv(path.join(dir, 'truth', 'families.csv'));
    const records = await csv(path.join(dir, 'truth', 'records.csv'));
    const personOf = new Map(records.map((r) => [`${r.source}|${r.record_id}`, r.person_id!]));
    const caseOf = new Map(families.map((f) => [f.person_id!, f.case_ref!]));
    const offending = await csv(path.join(dir, 'offending.csv'));
    const employment = await csv(path.join(dir, 'employment.csv'));
    const months = (iso: string, n: number) => {
      const d = new Date(`${iso}T00:00:00Z`);
      d.setUTCMonth(d.getUTCMonth() + n);
      return d.toISOString().slice(0, 10);
    };
    const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const fromExport = (d: string) => `${d.slice(7)}-${String(MONTHS.indexOf(d.slice(3, 6)) + 1).padStart(2, '0')}-${d.slice(0, 2)}`;
    const events = offending
      .map((r) => ({ case: caseOf.get(personOf.get(`offending|${r['Occurrence Ref']}`) ?? ''), date: fromExport(r['Occurrence Date']!), type: r.Category! }))
      .filter((e) => e.case);
    const spells = employment
      .map((r): Row & { person: string } => ({ ...r, person: personOf.get(`employment|${r.record_id}`) ?? '' }))
      .filter((s) => caseOf.has(s.person));
    for (const c of claimable) {
      const A = c.attached_on!;
      const mine = events.filter((e) => e.case === c.case_ref);
      const between = (from: string, to: string, type: string) => mine.filter((e) => e.type === type && e.date > from && e.date <= to).length;
      switch (c.scenario) {
        case 'asb_fall_exactly_60':
          expect(between(months(A, -6), A, 'ASB - Incident')).toBe(5);
          expect(between(months(T, -6), T, 'ASB - Incident')).toBe(2);
          break;
        case 'asb_fall_50':
          expect([between(months(A, -6), A, 'ASB - Incident'), between(months(T, -6), T, 'ASB - Incident')]).toEqual([4, 2]);
          break;
        case 'child_reoffends':
          expect(between(months(T, -6), T, 'Crime - Proven Outcome')).toBeGreaterThanOrEqual(1);
          break;
        case 'domestic_abuse_recurs':
          expect(between(months(T, -6), T, 'Domestic Abuse')).toBeGreaterThanOrEqual(1);
          expect(between(months(A, -12), A, 'Domestic Abuse')).toBeGreaterThanOrEqual(1);
          break;
        case 'attached_too_recently':
          expect(A > months(T, -6)).toBe(true);
          break;
        case 'ce_jsa_26_of_30': {
          const family = spells.filter((s) => caseOf.get(s.person) === c.case_ref);
          const jsa = family.find((s) => s.benefit_type === 'JSA')! as Row & { person: string; start_date: string; end_date: string };
          const job = family.find((s) => s.spell_type === 'employment' && s.person === jsa.person && s.start_date! > jsa.end_date!)!;
          expect(jsa.start_date! <= A && jsa.end_date! > A).toBe(true);
          const weeks = (Date.parse(T) - Date.parse(job.start_date!)) / (7 * 86_400_000);
          expect(weeks).toBeGreaterThanOrEqual(28);
          break;
        }
        case 'ce_jsa_short': {
          const family = spells.filter((s) => caseOf.get(s.person) === c.case_ref);
          const job = family.find((s) => s.spell_type === 'employment' && !s.end_date && s.start_date! > A)!;
          const weeks = (Date.parse(T) - Date.parse(job.start_date!)) / (7 * 86_400_000);
          expect(weeks).toBeLessThan(24);
          break;
        }
      }
    }
  });

  it('loads cleanly: ingest rejects exactly the rows truth/rejects.csv lists, and loads every other row', async () => {
    const t: TestDatabase = await testDatabase(mainBackend());
    try {
      const ctx = await testRun(t.db);
      const outDir = path.join(tmp.dir, 'out');
      const result = await ingestExtracts(ctx, { files: await discoverExtracts(dir), outDir, today: '2026-11-22' });
      const expected = await csv(path.join(dir, 'truth', 'rejects.csv'));
      const got = await csv(path.join(outDir, 'rejects.csv'));
      const key = (r: Row) => `${r.source}|${r.line}|${r.column}`;
      expect(got.map(key).sort()).toEqual(expected.map((r) => `${r.source}|${r.line}|${r.column}`).sort());
      expect(expected.length).toBe(summary.expectedRejects);
      expect(expected.length).toBeGreaterThan(0);
      expect(result.rowsRejected).toBe(summary.expectedRejects);

      // Every loaded row is a record the truth knows, and every record the truth knows was loaded.
      const records = await csv(path.join(dir, 'truth', 'records.csv'));
      for (const source of ['attendance', 'offending', 'employment', 'social_care', 'attachments'] as const) {
        const { rows } = await sql<{ record_id: string }>`SELECT record_id FROM ${sql.raw(`raw.${source}`)}`.execute(t.db.kysely);
        const truth = records.filter((r) => r.source === source).map((r) => r.record_id);
        expect(rows.map((r) => r.record_id).sort(), source).toEqual(truth.sort());
      }
    } finally {
      await t.drop();
    }
  });

  it('keeps the committed samples reproducible from the package script', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> };
    const args = pkg.scripts.samples!.split(' ');
    const flag = (name: string) => args[args.indexOf(name) + 1]!;
    const out = path.join(tmp.dir, 'samples');
    await runSynth({
      outDir: out,
      families: Number(flag('--families')),
      population: Number(flag('--population')),
      seed: Number(flag('--seed')),
      exportedSource: 'offending',
      invalidRate: Number(flag('--invalid-rate')),
    });
    const fresh = await filesOf(out);
    const committed = await filesOf('samples/extracts');
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [name, bytes] of fresh) expect(bytes.equals(committed.get(name)!), `samples/extracts/${name} is stale: run npm run samples`).toBe(true);
  });
});
