import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { dayOf } from '../../src/rules/dates.ts';
import { BUILTIN_PLANS, PLANS_DIR, canonicalJson, loadPlan, parsePlan, paymentFor } from '../../src/rules/plan.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tfclaims-plan-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const write = async (name: string, text: string) => {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
};

async function configError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(ConfigError);
  return (e as Error).message;
}

describe('outcomes plans', () => {
  it.each(BUILTIN_PLANS)('ships %s, which loads and validates', async (id) => {
    const p = await loadPlan(id);
    expect(p.plan.id).toBe(id);
    expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(p.source).toBe(`builtin:${id}`);
  });

  it('the default plan states programme-rules.md', async () => {
    const { plan } = await loadPlan();
    expect(plan.id).toBe('phase2-london-core');
    expect(Object.keys(plan.problems)).toEqual(['crime_asb', 'education', 'children_need_help', 'worklessness', 'domestic_abuse', 'health']);
    expect(plan.min_problems).toBe(2);
    expect(plan.continuous_employment).toMatchObject({ enabled: true, consecutive_weeks: 13, jsa_rule: { qualifying_weeks: 26, of_weeks: 30 } });
    expect(Object.values(plan.problems).every((p) => !p.equivalent_progress && !p.neutral_counts)).toBe(true);
    expect(paymentFor(plan, dayOf('2026-10-31'))).toMatchObject({ financialYear: '2026-27', resultsPaymentGbp: '800.00' });
  });

  it('supporting-families-2022 has 10 outcomes, eligibility 3 and no continuous-employment route', async () => {
    const { plan } = await loadPlan('supporting-families-2022');
    expect(Object.keys(plan.problems)).toHaveLength(10);
    expect(plan.min_problems).toBe(3);
    expect(plan.continuous_employment.enabled).toBe(false);
  });

  it('phase1-2012 pays by financial year', async () => {
    const { plan } = await loadPlan('phase1-2012');
    expect(paymentFor(plan, dayOf('2013-03-31'))?.resultsPaymentGbp).toBe('800.00');
    expect(paymentFor(plan, dayOf('2013-04-01'))?.resultsPaymentGbp).toBe('1600.00');
    expect(paymentFor(plan, dayOf('2020-01-01'))?.resultsPaymentGbp).toBe('2400.00');
    expect(paymentFor(plan, dayOf('2012-03-31'))).toBeUndefined();
  });

  it('hashes the meaning, not the layout: JSON, comments, key order and written-out defaults give the same hash', async () => {
    const yamlFile = path.join(PLANS_DIR, 'phase2-london-core.yaml');
    const original = await loadPlan(yamlFile);
    const doc = YAML.parse(await readFile(yamlFile, 'utf8')) as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(doc).reverse());
    const json = await loadPlan(await write('plan.json', JSON.stringify(reordered, null, 2)));
    expect(json.sha256).toBe(original.sha256);
    const explicit = await loadPlan(await write('explicit.yaml', YAML.stringify(original.plan)));
    expect(explicit.sha256).toBe(original.sha256);
    const changed = structuredClone(original.plan) as Record<string, any>;
    changed.problems.crime_asb.progress[1].min_fall = 0.5;
    expect(parsePlan(changed, 'changed').sha256).not.toBe(original.sha256);
    expect(canonicalJson({ b: 1, a: [2, { d: 1, c: null }] })).toBe('{"a":[2,{"c":null,"d":1}],"b":1}');
  });

  it('names the path and what was expected when a value is wrong', async () => {
    const doc = YAML.parse(await readFile(path.join(PLANS_DIR, 'phase2-london-core.yaml'), 'utf8'));
    doc.problems.education.progress[0].absence_rate_below = 'ten percent';
    doc.problems.crime_asb.identification[0].window_months = 'twelve';
    doc.problems.health.progress[0].rule = 'vibes';
    doc.problems.domestic_abuse.windw_months = 6;
    doc.payments[0].results_payment_gbp = 800.005;
    doc.min_problems = 9;
    const file = await write('bad.yaml', YAML.stringify(doc));
    const message = await configError(loadPlan(file));
    expect(message).toContain(file);
    expect(message).toMatch(/plan\.problems\.education\.progress\[0\]\.absence_rate_below: .*expected number/);
    expect(message).toMatch(/plan\.problems\.crime_asb\.identification\[0\]\.window_months: .*expected number/);
    expect(message).toMatch(/plan\.problems\.health\.progress\[0\]\.rule: /);
    expect(message).toMatch(/plan\.problems\.domestic_abuse: .*windw_months/);
    expect(message).toMatch(/plan\.payments\[0\]\.results_payment_gbp: expected pounds with at most 2 decimal places/);
  });

  it('checks relations between values', async () => {
    const { plan } = await loadPlan();
    const doc = structuredClone(plan) as Record<string, any>;
    doc.min_problems = 7;
    doc.problems.health.equivalent_progress = true;
    doc.payments.push({ from_financial_year: '2014-15', results_payment_gbp: 1 });
    const message = await configError(Promise.resolve().then(() => parsePlan(doc, 'x.yaml')));
    expect(message).toContain('plan.min_problems: is 7 but the plan has only 6 problems');
    expect(message).toContain('plan.problems.health.equivalent_progress');
    expect(message).toContain('plan.payments[1].from_financial_year: must be later than the entry before it');
  });

  it('reports a missing file, bad YAML and a missing section as configuration errors', async () => {
    expect(await configError(loadPlan(path.join(dir, 'nope.yaml')))).toMatch(/cannot read outcomes plan .*nope\.yaml: ENOENT/);
    expect(await configError(loadPlan(await write('broken.yaml', 'id: [unclosed\n')))).toMatch(/not valid YAML or JSON/);
    expect(await configError(loadPlan(await write('empty.yaml', 'id: x\nversion: 1\nmin_problems: 1\n')))).toMatch(/plan\.problems: /);
  });
});
