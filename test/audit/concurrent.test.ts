import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkChain } from '../../src/audit/check.ts';
import { withRun } from '../../src/run/context.ts';
import { cli } from '../cli/helpers.ts';
import { mainBackend, testDatabase, type TestDatabase } from '../support/db.ts';
import { tempDir, writeExtract } from '../support/files.ts';

/**
 * Runs starting and ending at the same moment on a server each get their own place in the chain:
 * sealing is serialised by an advisory lock, so no two seals follow one seal and none is lost.
 */

describe.skipIf(mainBackend() !== 'server')('sealing runs that start and end at once, on the server', () => {
  let t: TestDatabase;
  let tmp: { dir: string; remove: () => Promise<void> };

  beforeAll(async () => {
    t = await testDatabase('server');
    tmp = await tempDir();
  });
  afterAll(async () => {
    await t?.drop();
    await tmp?.remove();
  });

  it('twelve runs in parallel (each on its own connections) and two ingest processes at once make one unbroken chain', async () => {
    const common = { db: t.dbArg, logDir: path.join(tmp.dir, 'logs'), quiet: true };
    const inProcess = Array.from({ length: 12 }, (_, i) =>
      withRun('parallel', { i }, common, async () => {
        // Ends spread over a few milliseconds, interleaving with the other runs' starts.
        await new Promise((r) => setTimeout(r, (i * 7) % 20));
        return { summary: { i }, exitCode: 0 };
      }),
    );
    // Two processes each loading an extract, at the same moment as the runs above.
    const files = await Promise.all(
      [1, 2].map((n) =>
        writeExtract(tmp.dir, 'evidence', [{ record_id: `EV${n}`, case_ref: `EH-${n}`, problem: 'health', outcome: 'achieved', evidence_date: '2026-01-01', attested_by: 'kw' }], { name: `evidence${n}.csv` }),
      ),
    );
    const processes = files.map((file) => cli(['--db', t.dbArg, '--log-dir', common.logDir, '--quiet', 'ingest', 'evidence', file]));
    const results = await Promise.all(inProcess);
    for (const p of await Promise.all(processes)) expect(p.code, p.stderr).toBe(0);
    expect(new Set(results.map((r) => r.runId)).size).toBe(12);

    const report = await checkChain(t.db);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ intact: true, seals: 28, runs: 14, runningOrInterrupted: 0 });
    const { rows } = await sql<{ run_id: number; kinds: string }>`
      SELECT run_id, string_agg(kind, ',' ORDER BY seq) AS kinds FROM audit.run_seal GROUP BY run_id`.execute(t.db.kysely);
    expect(rows).toHaveLength(14);
    for (const r of rows) expect(r.kinds).toBe('start,end');
  });
});
