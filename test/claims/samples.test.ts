import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverExtracts, ingestExtracts } from '../../src/ingest/index.ts';
import { matchAndGroup } from '../../src/link/command.ts';
import { claimFinalise, draftClaim } from '../../src/claims/index.ts';
import { mainBackend, testDatabase, type TestDatabase } from '../support/db.ts';
import { testRun } from '../support/run.ts';
import { TODAY } from '../ingest/helpers.ts';
import { runPipeline } from '../../src/run/pipeline.ts';
import { defaultPlan, draft, ledger, run, submit } from './helpers.ts';

/**
 * End to end on the synthetic council (samples/extracts): ingest, match people and families,
 * draft window 2026-Q3 as of 2026-10-31. The claim lines must be exactly the truth's claimable
 * families with their routes (claimable.csv) at GBP 800 (2026-27); a second window as of a later
 * date never claims a family of the first.
 */

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');
type Row = Record<string, string>;

describe('claims on the synthetic council', () => {
  let t: TestDatabase;
  let out: string;
  let truth: Row[];

  beforeAll(async () => {
    t = await testDatabase(mainBackend());
    out = await mkdtemp(path.join(os.tmpdir(), 'tfclaims-claims-samples-'));
    const ctx = await testRun(t.db, 'run');
    await ingestExtracts(ctx, { files: await discoverExtracts(SAMPLES), today: TODAY });
    await matchAndGroup(ctx);
    truth = parse(await readFile(path.join(SAMPLES, 'truth/claimable.csv')), { columns: true }) as Row[];
  });
  afterAll(async () => t?.drop());

  it('drafts exactly the truth: families, routes, amounts', async () => {
    const s = await draftClaim(await run(t.db, 'claim draft'), { window: '2026-Q3', asOf: '2026-10-31', plan: await defaultPlan(), outDir: out });
    const rows = parse(await readFile(path.join(out, 'claim-2026-Q3.csv')), { columns: true }) as Row[];
    const want = truth
      .filter((r) => r.claimable === 'true')
      .map((r) => ({ case_ref: r.case_ref, route: r.route, attached_on: r.attached_on, problems_at_entry: r.problems_at_entry, amount_gbp: '800.00' }))
      .sort((a, b) => a.case_ref!.localeCompare(b.case_ref!));
    const got = rows
      .map((r) => ({ case_ref: r.case_ref, route: r.route, attached_on: r.attached_on, problems_at_entry: r.problems_at_entry, amount_gbp: r.amount_gbp }))
      .sort((a, b) => a.case_ref!.localeCompare(b.case_ref!));
    expect(got).toEqual(want);
    expect(want.length).toBeGreaterThan(5);
    expect(new Set(rows.map((r) => r.family_id)).size).toBe(rows.length);
    expect(s.lines).toBe(want.length);
    expect(s.totalGbp).toBe(`${want.length * 800}.00`);
    expect(s.byRoute.continuous_employment.families).toBe(want.filter((w) => w.route === 'continuous_employment').length);
  });

  it('two consecutive windows never claim a family twice', async () => {
    // Submit 2026-Q3 with a 10% sample (all passing), then draft and submit 2026-Q4 as of three months later.
    const q3 = await submit(t.db, '2026-Q3', '2026-10-31', out, { fraction: 0.1, seed: '2026' });
    const d4 = await draft(t.db, '2026-Q4', '2027-01-31', out);
    expect(d4.alreadyClaimed).toBeGreaterThan(0); // Q3 families still claimable by the rules, left out
    const q4 = await submit(t.db, '2026-Q4', '2027-01-31', out, { fraction: 0.1, seed: '2027' });
    const q3Rows = parse(await readFile(path.join(out, 'claim-2026-Q3.csv')), { columns: true }) as Row[];
    const q4Rows = parse(await readFile(path.join(out, 'claim-2026-Q4.csv')), { columns: true }) as Row[];
    expect(q3Rows).toHaveLength(q3.lines);
    const q3Families = new Set(q3Rows.map((r) => r.family_id));
    for (const r of q4Rows) expect(q3Families.has(r.family_id!)).toBe(false);
    const l = await ledger(t.db);
    expect(l).toHaveLength(q3.lines + q4.lines);
    expect(new Set(l.map((x) => x.family_id)).size).toBe(l.length);
    expect(new Set(l.map((x) => x.case_ref)).size).toBe(l.length);
    await expect(claimFinalise(await run(t.db), { window: '2026-Q4' })).rejects.toThrow(/already submitted/);
  });

  it('running the month again for a submitted window leaves the claim as it was and says so', async () => {
    if (t.kind !== 'postgres') return; // runPipeline opens the database itself: a server URL
    const before = await ledger(t.db);
    expect(before.some((l) => l.window_id === '2026-Q3')).toBe(true);
    const again = await mkdtemp(path.join(os.tmpdir(), 'tfclaims-claims-rerun-'));
    const report = await runPipeline({ extracts: SAMPLES, asOf: '2026-10-31', window: '2026-Q3', out: again, db: t.dbArg, quiet: true, logDir: again, today: TODAY });
    expect(report.exitCode).toBe(0);
    expect((report.json as { stages: { stage: string; status: string }[] }).stages).toEqual([
      { stage: 'claim', status: expect.stringMatching(/^window 2026-Q3 was already submitted \(claim \d+\); nothing drafted$/) },
    ]);
    expect(existsSync(path.join(again, 'claim-2026-Q3.csv'))).toBe(false);
    expect(await ledger(t.db)).toEqual(before);
  });
});
