import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mainBackend, testDatabase, type TestDatabase } from '../support/db.ts';
import { claimableFamilies, submit } from './helpers.ts';

/** The claims views of sql/claims_views.sql (applied verbatim by migration 0007). */

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('claims views', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await testDatabase(mainBackend());
    await claimableFamilies(t.db, [{ caseRef: 'EH-V001' }, { caseRef: 'EH-V002' }]);
    await submit(t.db, 'V1', '2026-10-31', await mkdtemp(path.join(os.tmpdir(), 'tfclaims-views-')));
  });
  afterAll(async () => t?.drop());

  it('migration 0007 holds sql/claims_views.sql verbatim', async () => {
    const views = await readFile(path.join(ROOT, 'sql/claims_views.sql'), 'utf8');
    const migration = await readFile(path.join(ROOT, 'migrations/0007_claims.sql'), 'utf8');
    expect(migration).toContain(views);
  });

  it('trace a claim line to problems at entry, rules and source records', async () => {
    const ledger = await sql<{ case_ref: string; withdrawn: boolean }>`SELECT case_ref, withdrawn FROM audit.claim_ledger ORDER BY case_ref`.execute(t.db.kysely);
    expect(ledger.rows).toEqual([
      { case_ref: 'EH-V001', withdrawn: false },
      { case_ref: 'EH-V002', withdrawn: false },
    ]);
    const trace = await sql<{ problem: string; rule: string; result: string; source: string | null; record_id: string | null; line: number | null }>`
      SELECT problem, rule, result, source, record_id, line FROM audit.claim_line_trace
      WHERE status = 'submitted' AND case_ref = 'EH-V001' ORDER BY phase, problem, rule_index, source_ref`.execute(t.db.kysely);
    const attested = trace.rows.filter((r) => r.rule === 'attested');
    expect(attested).toHaveLength(1);
    expect(attested[0]).toMatchObject({ problem: 'health', result: 'pass', source: 'evidence' });
    expect(attested[0]!.line).toBeGreaterThan(1);
    expect(trace.rows.some((r) => r.problem === 'domestic_abuse' && r.result === 'pass')).toBe(true);
    const status = await sql<{ result: string; verified_by: string }>`SELECT result, verified_by FROM audit.claim_audit_status WHERE window_id = 'V1'`.execute(t.db.kysely);
    expect(status.rows.every((r) => r.result === 'pass' && r.verified_by === 'Test Auditor')).toBe(true);
    const claims = await sql<{ status: string; latest_draft: boolean }>`SELECT status, latest_draft FROM audit.claims WHERE window_id = 'V1' ORDER BY claim_id`.execute(t.db.kysely);
    expect(claims.rows).toEqual([
      { status: 'draft', latest_draft: true },
      { status: 'submitted', latest_draft: false },
    ]);
  });
});
