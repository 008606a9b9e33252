import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, NODE, cli, cliDatabase, type CliDatabase } from '../cli/helpers.ts';
import { availableBackends, testDatabase } from '../support/db.ts';
import { claimableFamilies, draft, ledger, run } from './helpers.ts';
import { auditSample, auditVerify } from '../../src/claims/index.ts';

/**
 * The claims commands as a user runs them (node bin/tfclaims in child processes): two finalises
 * at the same moment, a process killed while writing the claim, a database from a newer
 * tfclaims, and the whole workflow on the embedded database.
 */

const T1 = '2026-10-31';
const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `tfclaims-claims-${p}-`));
const hasServer = availableBackends().includes('server');

async function sampleAndPassAll(c: CliDatabase, window: string): Promise<void> {
  await c.withDb(async (db) => {
    const s = await auditSample(await run(db), { window, seed: '11', fraction: 1 });
    for (const x of s.sampled) await auditVerify(await run(db), { window, caseRef: x.caseRef, result: 'pass', by: 'Auditor' });
  });
}

describe.skipIf(!hasServer)('claims CLI on the server', () => {
  let c: CliDatabase;
  let out: string;
  const home = os.tmpdir();

  beforeAll(async () => {
    out = await tmp('out');
    c = await cliDatabase(await tmp('db'), 'server');
    await c.withDb((db) => claimableFamilies(db, [{ caseRef: 'EH-C001' }, { caseRef: 'EH-C002' }, { caseRef: 'EH-C003' }]));
  });
  afterAll(async () => c?.drop());

  it('a process killed while writing the claim leaves the previous claim file whole and no partial one; the next run completes', async () => {
    const ok = await cli(['--db', c.dbArg, '--quiet', 'claim', 'draft', '--window', 'K1', '--as-of', T1, '--out', out]);
    expect(ok.code, ok.stderr).toBe(0);
    const before = await readFile(path.join(out, 'claim-K1.csv'), 'utf8');
    const claimsBefore = await c.withDb(async (db) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.claim`.execute(db.kysely)).rows[0]!.n);

    // Second draft, paused half way through writing the claim CSV (test-only hook), then killed.
    const marker = path.join(await tmp('marker'), 'paused');
    const child = spawn(NODE, [BIN, '--db', c.dbArg, '--quiet', 'claim', 'draft', '--window', 'K1', '--as-of', T1, '--out', out], {
      cwd: home,
      env: { ...process.env, TFCLAIMS_TEST_PAUSE_CLAIM_WRITE: marker },
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (let i = 0; i < 600 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(marker)).toBe(true);
    expect((await readdir(out)).some((n) => n.startsWith('.claim-K1.csv.tmp-'))).toBe(true); // the half-written temporary
    child.kill('SIGKILL');
    await exited;

    expect(await readFile(path.join(out, 'claim-K1.csv'), 'utf8')).toBe(before);
    await c.withDb(async (db) => {
      // The killed draft's transaction never committed; its run is visible as never finished.
      await new Promise((r) => setTimeout(r, 200));
      const n = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.claim`.execute(db.kysely)).rows[0]!.n;
      expect(n).toBe(claimsBefore);
      const unfinished = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM audit.run r WHERE r.command = 'claim draft' AND NOT EXISTS (SELECT 1 FROM audit.run_end e WHERE e.run_id = r.run_id)`.execute(db.kysely);
      expect(unfinished.rows[0]!.n).toBe(1);
    });

    const again = await cli(['--db', c.dbArg, '--quiet', 'claim', 'draft', '--window', 'K1', '--as-of', T1, '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(path.join(out, 'claim-K1.csv'), 'utf8')).toBe(before);
    expect((await readdir(out)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('two finalises of one window at the same moment: exactly one wins', async () => {
    const d = await cli(['--db', c.dbArg, '--quiet', 'claim', 'draft', '--window', 'C1', '--as-of', T1, '--out', out]);
    expect(d.code, d.stderr).toBe(0);
    await sampleAndPassAll(c, 'C1');
    const results = await Promise.all([1, 2].map(() => cli(['--db', c.dbArg, '--quiet', 'claim', 'finalise', '--window', 'C1'])));
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(results.find((r) => r.code === 1)!.stderr).toMatch(/already submitted/);
    const l = await c.withDb((db) => ledger(db));
    expect(l.map((x) => x.case_ref)).toEqual(['EH-C001', 'EH-C002', 'EH-C003']);
    expect(new Set(l.map((x) => x.window_id))).toEqual(new Set(['C1']));
  });

  it('two windows holding the same families, finalised at the same moment: exactly one claims them', async () => {
    const fresh = await cliDatabase(await tmp('db2'), 'server');
    try {
      await fresh.withDb((db) => claimableFamilies(db, [{ caseRef: 'EH-D001' }, { caseRef: 'EH-D002' }]));
      for (const w of ['D-A', 'D-B']) {
        await fresh.withDb((db) => draft(db, w, T1, out));
        await sampleAndPassAll(fresh, w);
      }
      const results = await Promise.all(['D-A', 'D-B'].map((w) => cli(['--db', fresh.dbArg, '--quiet', 'claim', 'finalise', '--window', w])));
      expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
      expect(results.find((r) => r.code === 1)!.stderr).toMatch(/submitted since in another claim|ledger refused/);
      const l = await fresh.withDb((db) => ledger(db));
      expect(l.map((x) => x.case_ref)).toEqual(['EH-D001', 'EH-D002']);
      expect(new Set(l.map((x) => x.window_id)).size).toBe(1);
    } finally {
      await fresh.drop();
    }
  });

  it('finalise refusals say exactly what is missing', async () => {
    const none = await cli(['--db', c.dbArg, '--quiet', 'claim', 'finalise', '--window', 'NOPE']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/window NOPE has no claim draft/);
    await c.withDb((db) => draft(db, 'R1', T1, out));
    const nos = await cli(['--db', c.dbArg, '--quiet', 'claim', 'finalise', '--window', 'R1']);
    expect(nos.stderr).toMatch(/no audit sample has been drawn for window R1/);
    const bad = await cli(['--db', c.dbArg, '--quiet', 'claim', 'draft', '--window', '../x', '--as-of', T1, '--out', out]);
    expect(bad.code).toBe(2);
  });

  it('a database migrated by a newer tfclaims is refused with a clear message', async () => {
    const t = await testDatabase('server');
    try {
      await sql`INSERT INTO tfclaims_meta.migration (version, name, sha256) VALUES (9999, 'future', repeat('0', 64))`.execute(t.db.kysely);
      const r = await cli(['--db', t.dbArg, '--quiet', 'claim', 'draft', '--window', 'N1', '--as-of', T1, '--out', out]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/migrated by a newer tfclaims/);
      expect(existsSync(path.join(out, 'claim-N1.csv'))).toBe(false);
    } finally {
      await t.drop();
    }
  });
});

describe('claims CLI on the embedded database (PGlite)', () => {
  it('draft, sample, verify and finalise', async () => {
    const dir = await tmp('pglite');
    const out = await tmp('pglite-out');
    const c = await cliDatabase(path.join(dir, 'db'), 'pglite');
    await c.withDb((db) => claimableFamilies(db, [{ caseRef: 'EH-P001' }, { caseRef: '+44-EH' }]));
    const tf = (...args: string[]) => cli(['--db', c.dbArg, '--quiet', ...args]);
    expect((await tf('claim', 'draft', '--window', 'P1', '--as-of', T1, '--out', out)).code).toBe(0);
    const s = await tf('--json', 'audit', 'sample', '--window', 'P1', '--seed', '5', '--fraction', '1');
    expect(s.code, s.stderr).toBe(0);
    const sampled = (JSON.parse(s.stdout) as { sampled: { caseRef: string }[] }).sampled.map((x) => x.caseRef);
    expect(sampled.sort()).toEqual(['+44-EH', 'EH-P001']);
    await c.withDb(async (db) => {
      for (const x of sampled) await auditVerify(await run(db), { window: 'P1', caseRef: x, result: 'pass', by: 'Auditor' });
    });
    const fin = await tf('claim', 'finalise', '--window', 'P1');
    expect(fin.code, fin.stderr).toBe(0);
    const csv = await readFile(path.join(out, 'claim-P1.csv'), 'utf8');
    expect(csv).toContain("'+44-EH");
    expect(JSON.parse(await readFile(path.join(out, 'claim-P1-summary.json'), 'utf8'))).toMatchObject({ status: 'submitted', lines: 2 });
    const l = await c.withDb((db) => ledger(db));
    expect(l.map((x) => x.case_ref).sort()).toEqual(['+44-EH', 'EH-P001']);
  });
});
