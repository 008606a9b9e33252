import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditSample,
  auditVerify,
  claimFinalise,
  claimWithdraw,
  CLAIM_CSV_COLUMNS,
  drawSampleOf,
  sampleKey,
  sampleSize,
} from '../../src/claims/index.ts';
import { sqlStateOf } from '../../src/db/sqlstate.ts';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { claimableFamilies, draft, ledger, run, submit } from './helpers.ts';

/**
 * The claims workflow on hand-built families, on the server and on PGlite: drafts, the ledger,
 * the audit sample, verification, finalising and withdrawals (docs/claims.md).
 */

const T1 = '2026-10-31';
const T2 = '2027-01-31';
type Row = Record<string, string>;
const readCsv = async (file: string) => parse(await readFile(file), { columns: true }) as Row[];
const tmp = () => mkdtemp(path.join(os.tmpdir(), 'tfclaims-claims-'));

describe('sample drawing (pure)', () => {
  it('takes ceil(fraction x lines), at least one, and is reproducible from the seed whatever the order of lines', () => {
    expect(sampleSize(15, 0.1)).toBe(2);
    expect(sampleSize(30, 0.1)).toBe(3);
    expect(sampleSize(3, 0.1)).toBe(1);
    expect(sampleSize(5, 1)).toBe(5);
    const lines = Array.from({ length: 40 }, (_, i) => ({ caseRef: `EH-${1000 + i}`, familyId: i + 1 }));
    const a = drawSampleOf(lines, '42', 0.1).map((l) => l.caseRef);
    const b = drawSampleOf([...lines].reverse(), '42', 0.1).map((l) => l.caseRef);
    const c = drawSampleOf(lines, '43', 0.1).map((l) => l.caseRef);
    expect(a).toHaveLength(4);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(sampleKey('42', 'EH-1000')).toMatch(/^[0-9a-f]{64}$/);
  });
});

for (const backend of availableBackends()) {
  describe(`claims workflow (${backend})`, () => {
    let t: TestDatabase;
    let out: string;
    let fam: Map<string, number>;

    beforeAll(async () => {
      t = await testDatabase(backend);
      out = await tmp();
      fam = await claimableFamilies(t.db, [
        { caseRef: 'EH-A001' },
        { caseRef: 'EH-A002' },
        { caseRef: '=1+2' }, // formula injection
        { caseRef: '@SUM(A1:A9)' },
        // attached too late for T1 (not 6 months), claimable at T2
        { caseRef: 'EH-B001', attachedOn: '2026-06-01', achievedOn: '2026-12-01' },
      ]);
    });
    afterAll(async () => t?.drop());

    it('drafts the claimable families with the exact columns, spreadsheet-safe, and replaces a draft deterministically', async () => {
      const s1 = await draft(t.db, '2026-Q3', T1, out);
      const csv1 = await readFile(path.join(out, 'claim-2026-Q3.csv'), 'utf8');
      expect(csv1.split('\n')[0]).toBe(CLAIM_CSV_COLUMNS.join(','));
      const rows = await readCsv(path.join(out, 'claim-2026-Q3.csv'));
      expect(rows.map((r) => r.case_ref).sort()).toEqual(["'=1+2", "'@SUM(A1:A9)", 'EH-A001', 'EH-A002']);
      for (const r of rows) {
        expect(r).toMatchObject({ window: '2026-Q3', route: 'significant_sustained_progress', attached_on: '2026-01-15', outcome_date: T1, problems_at_entry: 'domestic_abuse;health', amount_gbp: '800.00' });
        expect(/^[=+\-@\t\r]/.test(r.case_ref!)).toBe(false);
      }
      expect(Number(rows.find((r) => r.case_ref === "'=1+2")!.family_id)).toBe(fam.get('=1+2'));
      const summary = JSON.parse(await readFile(path.join(out, 'claim-2026-Q3-summary.json'), 'utf8')) as Record<string, unknown>;
      expect(summary).toMatchObject({
        window: '2026-Q3',
        status: 'draft',
        lines: 4,
        total_amount_gbp: '3200.00',
        run_id: s1.runId,
        evaluation_id: s1.evaluationId,
        plan: { id: 'phase2-london-core', sha256: s1.plan.sha256 },
        by_route: { continuous_employment: { families: 0, amount_gbp: '0.00' }, significant_sustained_progress: { families: 4, amount_gbp: '3200.00' } },
      });
      expect((summary.by_problem as Record<string, number>).health).toBe(4);
      // No personal data: the only person-level values are ids and codes.
      expect(csv1).not.toMatch(/1985-05-05/);

      const s2 = await draft(t.db, '2026-Q3', T1, out);
      expect(s2.claimId).toBeGreaterThan(s1.claimId);
      expect(await readFile(path.join(out, 'claim-2026-Q3.csv'), 'utf8')).toBe(csv1);
      expect(s2.linesSha256).toBe(s1.linesSha256);
      // No temporary files left behind.
      expect((await readdir(out)).filter((n) => n.startsWith('.'))).toEqual([]);
    });

    it('draws a reproducible sample, refuses another seed for the same lines, and writes owner-only evidence packs', async () => {
      const first = await auditSample(await run(t.db), { window: '2026-Q3', seed: '7', fraction: 0.5 });
      expect(first.sampleSize).toBe(2);
      expect(first.sampled.map((s) => s.caseRef)).toEqual(
        drawSampleOf([...fam.entries()].filter(([c]) => c !== 'EH-B001').map(([caseRef, familyId]) => ({ caseRef, familyId })), '7', 0.5).map((s) => s.caseRef),
      );
      // The same sample again (it stands for these lines); another seed is refused.
      const again = await auditSample(await run(t.db), { window: '2026-Q3' });
      expect(again.sampleId).toBe(first.sampleId);
      expect(again.drawn).toBe(false);
      await expect(auditSample(await run(t.db), { window: '2026-Q3', seed: '8' })).rejects.toThrow(/it stands/);
      // Redrawn in SQL alone, as docs/claims.md shows auditors.
      const inSql = await sql<{ case_ref: string }>`
        SELECT l.case_ref FROM core.audit_sample s JOIN core.claim_line l ON l.claim_id = s.claim_id
        WHERE s.sample_id = ${first.sampleId}
        ORDER BY encode(sha256(convert_to(s.seed::text || ':' || l.case_ref, 'UTF8')), 'hex') COLLATE "C", l.family_id
        LIMIT ${first.sampleSize}`.execute(t.db.kysely);
      expect(inSql.rows.map((r) => r.case_ref)).toEqual(first.sampled.map((s) => s.caseRef));
      // Evidence packs: owner-only folder and files, one per sampled family, with the rules and source rows.
      expect(path.basename(first.packDir)).toBe('audit-2026-Q3-PERSONAL');
      expect((await stat(first.packDir)).mode & 0o777).toBe(0o700);
      const files = (await readdir(first.packDir)).sort();
      expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(2);
      for (const f of files) expect((await stat(path.join(first.packDir, f))).mode & 0o777).toBe(0o600);
      const pack = JSON.parse(await readFile(path.join(first.packDir, files.find((f) => f.endsWith('.json'))!), 'utf8')) as {
        rules: { rule: string; measured: unknown; threshold: unknown; result: string }[];
        members: unknown[];
        source_records: Record<string, Record<string, unknown> | null>;
        problems_at_entry: unknown[];
      };
      expect(pack.members).toHaveLength(1);
      expect(pack.problems_at_entry).toHaveLength(2);
      expect(pack.rules.some((r) => r.rule === 'attested' && r.result === 'pass')).toBe(true);
      const records = Object.values(pack.source_records);
      expect(records.some((r) => r?.outcome === 'achieved')).toBe(true);
      expect(records.some((r) => r?.dob === '1985-05-05')).toBe(true);
    });

    it('finalise refuses, naming the unverified lines, and a failed line blocks when over 5%', async () => {
      const sample = (await auditSample(await run(t.db), { window: '2026-Q3' })).sampled.map((s) => s.caseRef);
      await expect(claimFinalise(await run(t.db), { window: '2026-Q3' })).rejects.toThrow(new RegExp(`2 of 2 sampled lines are not verified yet: ${sample.map(escape).join(', ')}`));
      await expect(auditVerify(await run(t.db), { window: '2026-Q3', caseRef: 'EH-NOPE', result: 'pass', by: 'X' })).rejects.toThrow(/not in the audit sample/);
      // A spreadsheet-safe case_ref as it reads in the CSV is accepted.
      const typed = (c: string) => (/^[=+\-@]/.test(c) ? `'${c}` : c);
      await auditVerify(await run(t.db), { window: '2026-Q3', caseRef: typed(sample[0]!), result: 'fail', by: 'Auditor One', note: 'no evidence on file' });
      await expect(claimFinalise(await run(t.db), { window: '2026-Q3' })).rejects.toThrow(/1 of 2 sampled lines are not verified yet/);
      await auditVerify(await run(t.db), { window: '2026-Q3', caseRef: typed(sample[1]!), result: 'pass', by: 'Auditor One' });
      await expect(claimFinalise(await run(t.db), { window: '2026-Q3' })).rejects.toThrow(/1 of 2 sampled lines failed \(50\.0%, more than 5%\): the whole claim is blocked/);
      expect(await ledger(t.db)).toEqual([]);
      // Re-verified: the latest check counts.
      await auditVerify(await run(t.db), { window: '2026-Q3', caseRef: typed(sample[0]!), result: 'pass', by: 'Auditor Two', note: 'found it' });
      const s = await claimFinalise(await run(t.db), { window: '2026-Q3' });
      expect(s.status).toBe('submitted');
      expect(s.lines).toBe(4);
      const summary = JSON.parse(await readFile(path.join(out, 'claim-2026-Q3-summary.json'), 'utf8')) as Record<string, unknown>;
      expect(summary).toMatchObject({ status: 'submitted', lines: 4, claim_id: s.claimId });
      expect((await ledger(t.db)).map((l) => l.case_ref).sort()).toEqual(['=1+2', '@SUM(A1:A9)', 'EH-A001', 'EH-A002']);
    });

    it('a submitted window never changes: draft, sample, verify and finalise again are refused', async () => {
      const csv = await readFile(path.join(out, 'claim-2026-Q3.csv'), 'utf8');
      await expect(draft(t.db, '2026-Q3', T1, out)).rejects.toThrow(/a submitted claim never changes/);
      await expect(claimFinalise(await run(t.db), { window: '2026-Q3' })).rejects.toThrow(/already submitted/);
      await expect(auditSample(await run(t.db), { window: '2026-Q3' })).rejects.toThrow(/already submitted/);
      await expect(auditVerify(await run(t.db), { window: '2026-Q3', caseRef: 'EH-A001', result: 'fail', by: 'X' })).rejects.toThrow(/already submitted/);
      expect(await readFile(path.join(out, 'claim-2026-Q3.csv'), 'utf8')).toBe(csv);
    });

    it('the database refuses edits of claims and a second claim of a family', async () => {
      const k = t.db.kysely;
      for (const q of [
        sql`UPDATE core.claim_line SET amount_gbp = 1600 WHERE status = 'submitted'`,
        sql`DELETE FROM core.claim_line WHERE status = 'submitted'`,
        sql`UPDATE core.claim SET status = 'draft' WHERE status = 'submitted'`,
        sql`DELETE FROM core.audit_verification`,
        sql`UPDATE core.audit_sample SET seed = 1`,
      ]) {
        await expect(q.execute(k)).rejects.toThrow(/append-only/);
      }
      // Even written by hand, a second submitted claim of a claimed family breaks the ledger's unique index.
      const c = await sql<{ claim_id: number; evaluation_id: number; draft_id: number; sample_id: number; run_id: number }>`
        SELECT claim_id::int AS claim_id, evaluation_id::int AS evaluation_id, draft_id::int AS draft_id, sample_id::int AS sample_id, run_id::int AS run_id
        FROM core.claim WHERE status = 'submitted'`.execute(k);
      const x = c.rows[0]!;
      const err = await t.db
        .transaction(async (s) => {
          const ins = await sql<{ id: number }>`
            INSERT INTO core.claim (window_id, status, as_of, financial_year, evaluation_id, plan_id, plan_version, plan_sha256, draft_id, sample_id, lines, total_gbp, lines_sha256, out_dir, run_id)
            VALUES ('2099-Q1', 'submitted', '2026-10-31', '2026-27', ${x.evaluation_id}, 'p', '1', repeat('a', 64), ${x.draft_id}, ${x.sample_id}, 1, 800, repeat('b', 64), '/tmp', ${x.run_id})
            RETURNING claim_id::int AS id`.execute(s.kysely);
          await sql`INSERT INTO core.claim_line (claim_id, status, line_no, family_id, case_ref, route, attached_on, outcome_date, problems_at_entry, amount_gbp)
                    VALUES (${ins.rows[0]!.id}, 'submitted', 1, ${fam.get('EH-A001')!}, 'OTHER-REF', 'continuous_employment', '2026-01-15', '2026-10-31', '{}', 800)`.execute(s.kysely);
        })
        .catch((e: unknown) => e);
      expect(sqlStateOf(err)).toBe('23505');
      // By case_ref too (a different family id under a claimed case_ref).
      const err2 = await t.db
        .transaction(async (s) => {
          const ins = await sql<{ id: number }>`
            INSERT INTO core.claim (window_id, status, as_of, financial_year, evaluation_id, plan_id, plan_version, plan_sha256, draft_id, sample_id, lines, total_gbp, lines_sha256, out_dir, run_id)
            VALUES ('2099-Q2', 'submitted', '2026-10-31', '2026-27', ${x.evaluation_id}, 'p', '1', repeat('a', 64), ${x.draft_id}, ${x.sample_id}, 1, 800, repeat('b', 64), '/tmp', ${x.run_id})
            RETURNING claim_id::int AS id`.execute(s.kysely);
          await sql`INSERT INTO core.claim_line (claim_id, status, line_no, family_id, case_ref, route, attached_on, outcome_date, problems_at_entry, amount_gbp)
                    VALUES (${ins.rows[0]!.id}, 'submitted', 1, ${fam.get('EH-B001')!}, 'EH-A002', 'continuous_employment', '2026-01-15', '2026-10-31', '{}', 800)`.execute(s.kysely);
        })
        .catch((e: unknown) => e);
      expect(sqlStateOf(err2)).toBe('23505');
      // A line cannot claim to be submitted in a draft claim (the status is the claim's).
      const d = await sql<{ claim_id: number }>`SELECT max(claim_id)::int AS claim_id FROM core.claim WHERE status = 'draft'`.execute(k);
      const err3 = await sql`INSERT INTO core.claim_line (claim_id, status, line_no, family_id, case_ref, route, attached_on, outcome_date, problems_at_entry, amount_gbp)
                             VALUES (${d.rows[0]!.claim_id}, 'submitted', 99, ${fam.get('EH-B001')!}, 'EH-Z', 'continuous_employment', '2026-01-15', '2026-10-31', '{}', 800)`
        .execute(k)
        .catch((e: unknown) => e);
      expect(sqlStateOf(err3)).toBe('23503');
    });

    it('a later window claims only families never claimed before', async () => {
      const s = await draft(t.db, '2026-Q4', T2, out);
      const rows = await readCsv(path.join(out, 'claim-2026-Q4.csv'));
      expect(rows.map((r) => r.case_ref)).toEqual(['EH-B001']);
      expect(s.claimableByRules).toBe(5);
      expect(s.alreadyClaimed).toBe(4);
      await submit(t.db, '2026-Q4', T2, out);
      const l = await ledger(t.db);
      expect(l).toHaveLength(5);
      expect(new Set(l.map((x) => x.family_id)).size).toBe(5);
      // A third window has nothing left to claim.
      const s3 = await draft(t.db, '2027-Q1', '2027-04-30', out);
      expect(s3.lines).toBe(0);
      expect(s3.alreadyClaimed).toBe(5);
      await expect(auditSample(await run(t.db), { window: '2027-Q1' })).rejects.toThrow(/no lines/);
    });

    it('withdrawing a submitted line is a new record with a reason; the family stays claimed', async () => {
      const w = await claimWithdraw(await run(t.db), { window: '2026-Q3', caseRef: "'=1+2", reason: 'duplicate of another council claim', by: 'Finance Officer' });
      expect(w.caseRef).toBe('=1+2');
      await expect(claimWithdraw(await run(t.db), { window: '2026-Q3', caseRef: '=1+2', reason: 'again', by: 'F' })).rejects.toThrow(/already withdrawn/);
      await expect(claimWithdraw(await run(t.db), { window: '2027-Q1', caseRef: 'EH-A001', reason: 'x', by: 'F' })).rejects.toThrow(/no submitted claim/);
      const row = (await sql<{ withdrawn: boolean }>`SELECT withdrawn FROM core.claimed_family WHERE case_ref = '=1+2'`.execute(t.db.kysely)).rows;
      expect(row).toEqual([{ withdrawn: true }]);
      await expect(sql`DELETE FROM core.claim_withdrawal`.execute(t.db.kysely)).rejects.toThrow(/append-only/);
      const again = await draft(t.db, '2027-Q2', '2027-06-30', out);
      expect(again.lines).toBe(0);
    });
  });
}

describe('failed sample lines drop out; more than 5% failing blocks', () => {
  let t: TestDatabase;
  let out: string;
  beforeAll(async () => {
    t = await testDatabase(availableBackends()[0]);
    out = await tmp();
    await claimableFamilies(t.db, Array.from({ length: 21 }, (_, i) => ({ caseRef: `EH-F${String(i).padStart(3, '0')}` })));
  });
  afterAll(async () => t?.drop());

  it('1 failure of 21 (4.8%) drops that line; 2 of 21 (9.5%) block', async () => {
    await draft(t.db, 'W1', T1, out);
    const sample = await auditSample(await run(t.db), { window: 'W1', seed: '3', fraction: 1 });
    expect(sample.sampleSize).toBe(21);
    const [a, b] = sample.sampled.map((s) => s.caseRef);
    for (const s of sample.sampled) await auditVerify(await run(t.db), { window: 'W1', caseRef: s.caseRef, result: s.caseRef === a || s.caseRef === b ? 'fail' : 'pass', by: 'A' });
    await expect(claimFinalise(await run(t.db), { window: 'W1' })).rejects.toThrow(/2 of 21 sampled lines failed \(9\.5%/);
    await auditVerify(await run(t.db), { window: 'W1', caseRef: b!, result: 'pass', by: 'B', note: 're-checked' });
    const s = await claimFinalise(await run(t.db), { window: 'W1' });
    expect(s.lines).toBe(20);
    expect(s.totalGbp).toBe('16000.00');
    expect(s.submission?.failedDropped).toEqual([a]);
    const rows = await readCsv(path.join(out, 'claim-W1.csv'));
    expect(rows.map((r) => r.case_ref)).not.toContain(a);
    expect(rows).toHaveLength(20);
    // The failed line's family was not claimed: a later window may claim it.
    const next = await draft(t.db, 'W2', T2, out);
    expect(next.lines).toBe(1);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
