import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, sealHash } from '../../src/audit/canonical.ts';
import { verifyChain, describeProblem, type ChainReport } from '../../src/audit/chain.ts';
import { checkChain, readChainIn } from '../../src/audit/check.ts';
import { recordOutput } from '../../src/audit/outputs.ts';
import { recordRunStart } from '../../src/audit/seal.ts';
import type { Database, DbSession } from '../../src/db/index.ts';
import { JobError } from '../../src/errors.ts';
import { extractFromArgs, ingestExtracts } from '../../src/ingest/index.ts';
import { withRun, type CommonOptions } from '../../src/run/context.ts';
import { cli, cliDatabase, ROOT, type CliDatabase } from '../cli/helpers.ts';
import { availableBackends } from '../support/db.ts';
import { tempDir } from '../support/files.ts';

/**
 * The run chain on a real database: every run sealed at its start and end, `check-chain`
 * finding an untouched chain intact, and every kind of tampering (done as a superuser with the
 * append-only triggers disabled, the only way past them) found and named by run and field.
 */

const SAMPLES = path.join(ROOT, 'samples/extracts');
const REPORT = 'window,families\n2026-Q3,3\n';

/** Tamper inside a transaction, verify inside it (same snapshot), then roll back: the database is left as it was. */
async function tampered(db: Database, change: (s: DbSession) => Promise<void>): Promise<ChainReport> {
  let report: ChainReport | undefined;
  await db
    .transaction(async (s) => {
      await change(s);
      const facts = await readChainIn(s);
      report = verifyChain(facts.seals, facts.unsealed);
      throw new Error('roll back');
    })
    .catch((e: unknown) => {
      if ((e as Error).message !== 'roll back') throw e;
    });
  return report!;
}

/** The SQL a superuser runs to get past a table's append-only trigger. */
function bypass(table: string, statement: string): string {
  return `ALTER TABLE ${table} DISABLE TRIGGER append_only; ${statement}; ALTER TABLE ${table} ENABLE TRIGGER append_only;`;
}

describe.each(availableBackends())('run chain on %s', (backend) => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let d: CliDatabase;
  let common: CommonOptions;
  const runs: Record<'ingest' | 'report' | 'failed' | 'interrupted', number> = { ingest: 0, report: 0, failed: 0, interrupted: 0 };
  let outputFile = '';

  beforeAll(async () => {
    tmp = await tempDir();
    d = await cliDatabase(path.join(tmp.dir, 'db'), backend);
    common = { db: d.dbArg, logDir: path.join(tmp.dir, 'logs'), quiet: true, operator: 'chain-test' };

    // 1. A run that loads two files (with rejects).
    const ingested = await withRun('ingest', { files: ['attendance', 'employment'] }, common, async (ctx) => {
      const files = [await extractFromArgs('attendance', path.join(SAMPLES, 'attendance.csv')), await extractFromArgs('employment', path.join(SAMPLES, 'employment.csv'))];
      const summary = await ingestExtracts(ctx, { files, today: '2026-11-22', maxRejectFraction: 1 });
      return { summary: { files: summary.files.length }, exitCode: 0 };
    });
    runs.ingest = ingested.runId;
    // 2. A run that writes a file and registers it.
    outputFile = path.join(tmp.dir, 'report.csv');
    const reported = await withRun('report', { window: '2026-Q3' }, common, async (ctx) => {
      await writeFile(outputFile, REPORT);
      const out = await recordOutput(ctx, outputFile, { kind: 'report' });
      return { summary: { sha256: out.sha256 }, exitCode: 0 };
    });
    runs.report = reported.runId;
    // 3. A run that fails.
    await withRun('failing', {}, common, async (ctx) => {
      runs.failed = ctx.runId;
      throw new JobError('it could not finish');
    }).catch(() => {});
    // 4. A run killed midway: sealed at its start, never ended.
    runs.interrupted = await d.withDb(async (db) => (await recordRunStart(db, { command: 'killed', args: '{}', operator: 'op', codeVersion: 'test' })).runId);
  });
  afterAll(async () => {
    await d?.drop();
    await tmp?.remove();
  });

  it('seals every run at its start and its end, in one unbroken chain that check-chain finds intact', async () => {
    await d.withDb(async (db) => {
      const report = await checkChain(db);
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ intact: true, seals: 7, runs: 4, runsBeforeChain: 0, runningOrInterrupted: 1 });
      const { rows } = await sql<{ seq: number; run_id: number; kind: string }>`SELECT seq, run_id, kind FROM audit.run_seal ORDER BY seq`.execute(db.kysely);
      expect(rows).toEqual([
        { seq: 1, run_id: runs.ingest, kind: 'start' },
        { seq: 2, run_id: runs.ingest, kind: 'end' },
        { seq: 3, run_id: runs.report, kind: 'start' },
        { seq: 4, run_id: runs.report, kind: 'end' },
        { seq: 5, run_id: runs.failed, kind: 'start' },
        { seq: 6, run_id: runs.failed, kind: 'end' },
        { seq: 7, run_id: runs.interrupted, kind: 'start' },
      ]);
    });
  });

  it('seals what the run was, loaded and wrote: command, arguments, operator, times, status, input and output hashes, rejects', async () => {
    await d.withDb(async (db) => {
      const { rows } = await sql<{ content: string }>`SELECT content FROM audit.run_seal WHERE run_id = ${runs.ingest} AND kind = 'end'`.execute(db.kysely);
      const sealed = JSON.parse(rows[0]!.content) as Record<string, any>;
      expect(sealed).toMatchObject({ v: 1, seq: 2, kind: 'end', run: { run_id: runs.ingest, command: 'ingest', args: { files: ['attendance', 'employment'] }, operator: 'chain-test' } });
      expect(sealed.run.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(sealed.end).toMatchObject({ status: 'succeeded', exit_code: 0, summary: { files: 2 } });
      const files = await sql<{ file_id: number; sha256: string; rows_rejected: number }>`
        SELECT file_id, sha256, rows_rejected FROM audit.input_file WHERE run_id = ${runs.ingest} ORDER BY file_id`.execute(db.kysely);
      expect(sealed.inputs.map((f: any) => [f.file_id, f.sha256, f.rows_rejected])).toEqual(files.rows.map((f) => [f.file_id, f.sha256, f.rows_rejected]));
      expect(sealed.inputs[0].rejects.rows).toBeGreaterThan(0);
      // Reject values may be personal data and the seal is readable by auditors: never in it.
      const values = await sql<{ value: string }>`SELECT value FROM audit.reject WHERE value IS NOT NULL AND length(value) > 3`.execute(db.kysely);
      expect(values.rows.length).toBeGreaterThan(0);
      for (const v of values.rows) expect(rows[0]!.content).not.toContain(JSON.stringify(v.value));

      const out = await sql<{ content: string }>`SELECT content FROM audit.run_seal WHERE run_id = ${runs.report} AND kind = 'end'`.execute(db.kysely);
      const outputs = (JSON.parse(out.rows[0]!.content) as { outputs: unknown[] }).outputs;
      expect(outputs).toEqual([
        expect.objectContaining({ kind: 'report', path: outputFile, size_bytes: REPORT.length, sha256: createHash('sha256').update(REPORT).digest('hex') }),
      ]);
    });
  });

  it('lets an auditor recompute every seal in SQL alone (audit.run_chain_check) and with sha256 of prev_hash || content', async () => {
    await d.withDb(async (db) => {
      const { rows } = await sql<{ seq: number; hash_ok: boolean; linked: boolean; matches_records: boolean }>`
        SELECT seq, hash_ok, linked, matches_records FROM audit.run_chain_check ORDER BY seq`.execute(db.kysely);
      expect(rows).toHaveLength(7);
      for (const r of rows) expect(r).toEqual({ seq: r.seq, hash_ok: true, linked: true, matches_records: true });
      const seals = await sql<{ prev_hash: string; content: string; hash: string }>`SELECT prev_hash, content, hash FROM audit.run_seal ORDER BY seq`.execute(db.kysely);
      for (const s of seals.rows) expect(sealHash(s.prev_hash, s.content)).toBe(s.hash);
      const unsealed = await sql`SELECT * FROM audit.run_unsealed`.execute(db.kysely);
      expect(unsealed.rows).toEqual([]);
    });
  });

  it('names the run and the field when a run record is edited (its arguments, its operator)', async () => {
    await d.withDb(async (db) => {
      let report = await tampered(db, (s) => s.exec(bypass('audit.run', `UPDATE audit.run SET args = '{"window":"2026-Q4"}' WHERE run_id = ${runs.report}`)));
      expect(report.intact).toBe(false);
      expect(report.problems[0]).toMatchObject({ kind: 'content', runId: runs.report, seq: 3, sealKind: 'start' });
      expect(describeProblem(report.problems[0]!)).toBe(`run ${runs.report} (seal 3, start): run.args.window differs: sealed "2026-Q3", now "2026-Q4"`);
      // The end seal repeats the run record, so it differs too.
      expect(report.problems.map((p) => ('seq' in p ? p.seq : 0))).toEqual([3, 4]);

      report = await tampered(db, (s) => s.exec(bypass('audit.run', `UPDATE audit.run SET operator = 'someone else' WHERE run_id = ${runs.ingest}`)));
      expect(describeProblem(report.problems[0]!)).toBe(`run ${runs.ingest} (seal 1, start): run.operator differs: sealed "chain-test", now "someone else"`);
    });
  });

  it('names the run when a loaded file\'s hash, a reject, an output file\'s hash or a run\'s outcome is edited', async () => {
    await d.withDb(async (db) => {
      const file = await sql<{ file_id: number; sha256: string }>`SELECT file_id, sha256 FROM audit.input_file WHERE run_id = ${runs.ingest} ORDER BY file_id LIMIT 1`.execute(db.kysely);
      const f = file.rows[0]!;
      let report = await tampered(db, (s) => s.exec(bypass('audit.input_file', `UPDATE audit.input_file SET sha256 = '${'e'.repeat(64)}' WHERE file_id = ${f.file_id}`)));
      expect(report.problems).toHaveLength(1);
      expect(describeProblem(report.problems[0]!)).toBe(`run ${runs.ingest} (seal 2, end): inputs[0].sha256 differs: sealed "${f.sha256}", now "${'e'.repeat(64)}"`);

      report = await tampered(db, (s) => s.exec(bypass('audit.reject', `DELETE FROM audit.reject WHERE reject_id = (SELECT min(reject_id) FROM audit.reject)`)));
      expect(report.problems[0]).toMatchObject({ kind: 'content', runId: runs.ingest, seq: 2 });
      expect((report.problems[0] as { differences: { path: string }[] }).differences.map((x) => x.path.replace(/\[\d\]/, '[i]'))).toEqual(['inputs[i].rejects.rows', 'inputs[i].rejects.sha256']);

      report = await tampered(db, (s) => s.exec(bypass('audit.output_file', `UPDATE audit.output_file SET sha256 = '${'0'.repeat(64)}'`)));
      expect(describeProblem(report.problems[0]!)).toMatch(new RegExp(`^run ${runs.report} \\(seal 4, end\\): outputs\\[0\\]\\.sha256 differs`));

      report = await tampered(db, (s) => s.exec(bypass('audit.run_end', `UPDATE audit.run_end SET status = 'succeeded', exit_code = 0 WHERE run_id = ${runs.failed}`)));
      expect(describeProblem(report.problems[0]!)).toBe(`run ${runs.failed} (seal 6, end): end.exit_code differs: sealed 1, now 0 (and 1 more: end.status)`);
    });
  });

  it('catches seals edited, rewritten with a fresh hash, deleted, and runs recorded outside tfclaims', async () => {
    await d.withDb(async (db) => {
      // The seal's text edited: its hash no longer matches.
      let report = await tampered(db, (s) => s.exec(bypass('audit.run_seal', `UPDATE audit.run_seal SET content = replace(content, '2026-Q3', '2026-Q4') WHERE seq = 3`)));
      expect(report.problems.map((p) => p.kind)).toEqual(['hash', 'content']);
      expect(describeProblem(report.problems[0]!)).toBe(`seal 3 (run ${runs.report}, start) was edited: its hash is not sha256(prev_hash || content)`);

      // A record and its seal rewritten consistently, hash recomputed: the next seal's link breaks.
      report = await tampered(db, async (s) => {
        await s.exec(bypass('audit.run', `UPDATE audit.run SET args = '{"window":"2026-Q4"}' WHERE run_id = ${runs.report}`));
        const { rows } = await sql<{ content: unknown; prev_hash: string }>`
          SELECT audit.seal_content(run_id, kind, seq, 1) AS content, prev_hash FROM audit.run_seal WHERE seq = 3`.execute(s.kysely);
        const content = canonicalJson(rows[0]!.content);
        await s.exec(bypass('audit.run_seal', `UPDATE audit.run_seal SET content = '${content.replace(/'/g, "''")}', hash = '${sealHash(rows[0]!.prev_hash, content)}' WHERE seq = 3`));
      });
      expect(report.problems[0]).toMatchObject({ kind: 'link', seq: 4, runId: runs.report });

      // A seal deleted from the middle.
      report = await tampered(db, (s) => s.exec(bypass('audit.run_seal', 'DELETE FROM audit.run_seal WHERE seq = 4')));
      expect(describeProblem(report.problems[0]!)).toBe(`seal 5 (run ${runs.failed}) follows seal 3: seal 4 is missing (deleted from audit.run_seal)`);
      expect(report.problems.at(-1)).toEqual({ kind: 'unsealed', runId: runs.report, problem: 'ended with no end seal' });

      // A run inserted by hand (no seal).
      report = await tampered(db, (s) => s.exec(`INSERT INTO audit.run (command, operator, code_version) VALUES ('forged', 'x', 'x')`));
      expect(report.problems).toEqual([{ kind: 'unsealed', runId: expect.any(Number), problem: 'no start seal' }]);

      // A run record deleted (its seals stay): the seal names the missing run.
      report = await tampered(db, async (s) => {
        await s.exec(`ALTER TABLE audit.run_seal DROP CONSTRAINT run_seal_run_id_fkey`);
        await s.exec(bypass('audit.run', `DELETE FROM audit.run WHERE run_id = ${runs.interrupted}`));
      });
      expect(report.problems).toEqual([{ kind: 'run-missing', seq: 7, runId: runs.interrupted, sealKind: 'start' }]);
    });
  });

  it('refuses to add an output to a run that has ended (it is sealed)', async () => {
    await d.withDb(async (db) => {
      const error = await recordOutput({ runId: runs.report, db }, outputFile, { kind: 'late' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JobError);
      expect((error as Error).message).toBe(`run ${runs.report} has ended and is sealed: report.csv cannot be added to its outputs`);
    });
  });

  it('tfclaims audit check-chain: exit 0 and the head when intact; exit 1 naming the run and field when a record was edited; --expect-hash catches a cut', async () => {
    const args = ['--db', d.dbArg, '--log-dir', common.logDir!];
    const ok = await cli([...args, '--json', 'audit', 'check-chain']);
    expect(ok.code, ok.stderr).toBe(0);
    const summary = JSON.parse(ok.stdout) as { intact: boolean; seals: number; head: { seq: number; hash: string } };
    expect(summary).toMatchObject({ intact: true, seals: 7, head: { seq: 7 } });
    expect(ok.stderr).toMatch(/^run chain intact: 7 seals over 4 runs \(1 running or interrupted\)$/m);
    expect(ok.stderr).toContain(`head: seal 7 ${summary.head.hash}`);
    // check-chain reads only: it records no run and adds no seal.
    expect(await d.withDb(async (db) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit.run_seal`.execute(db.kysely)).rows[0]!.n)).toBe(7);

    const original = await d.withDb(async (db) => {
      const { rows } = await sql<{ sha256: string; file_id: number }>`SELECT sha256, file_id FROM audit.input_file WHERE run_id = ${runs.ingest} ORDER BY file_id DESC LIMIT 1`.execute(db.kysely);
      await db.session((s) => s.exec(bypass('audit.input_file', `UPDATE audit.input_file SET sha256 = '${'f'.repeat(64)}' WHERE file_id = ${rows[0]!.file_id}`)));
      return rows[0]!;
    });
    try {
      const broken = await cli([...args, 'audit', 'check-chain']);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(new RegExp(`^run chain BROKEN: run ${runs.ingest} \\(seal 2, end\\): inputs\\[1\\]\\.sha256 differs: sealed "${original.sha256}", now "f{64}"$`, 'm'));
      expect(broken.stderr).toMatch(/what to do: /);
    } finally {
      await d.withDb((db) => db.session((s) => s.exec(bypass('audit.input_file', `UPDATE audit.input_file SET sha256 = '${original.sha256}' WHERE file_id = ${original.file_id}`))));
    }
    expect((await cli([...args, 'audit', 'check-chain', '--expect-hash', summary.head.hash])).code).toBe(0);

    // The newest seal cut off: the chain left is consistent, but the head recorded earlier is gone.
    await d.withDb((db) => db.session((s) => s.exec(bypass('audit.run_seal', 'DELETE FROM audit.run_seal WHERE seq = 7'))));
    const cut = await cli([...args, 'audit', 'check-chain', '--expect-hash', summary.head.hash]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/^run chain BROKEN: run \d+ is not in the chain: no start seal/m);
    expect(cut.stderr).toContain(`also: no seal has hash ${summary.head.hash}`);
    expect((await cli([...args, 'audit', 'check-chain', '--expect-hash', 'xyz'])).code).toBe(2);
  });
});
