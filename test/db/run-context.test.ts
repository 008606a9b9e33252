import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { tempDir } from '../support/files.ts';
import { cliDatabase } from '../cli/helpers.ts';
import type { Database } from '../../src/db/index.ts';
import { InputRejectedError, JobError, UsageError } from '../../src/errors.ts';
import { codeVersion, withRun, type CommonOptions } from '../../src/run/context.ts';

/**
 * withRun: every command is one recorded run. audit.run is written (and committed) before the
 * work, audit.run_end after it with the outcome, and audit.run_status joins them, showing a run
 * with no end as "running or interrupted".
 */

interface RunStatus {
  run_id: number;
  command: string;
  args: unknown;
  operator: string;
  code_version: string;
  started_at: Date;
  finished_at: Date | null;
  status: string;
  exit_code: number | null;
  summary: unknown;
}

async function runStatus(db: Database, runId: number): Promise<RunStatus> {
  const { rows } = await sql<RunStatus>`SELECT * FROM audit.run_status WHERE run_id = ${runId}`.execute(db.kysely);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

async function runEnds(db: Database, runId: number): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit.run_end WHERE run_id = ${runId}`.execute(db.kysely);
  return rows[0]!.n;
}

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the run to throw');
    },
    (e: unknown) => e,
  );
}

describe.each(availableBackends())('withRun on %s', (backend) => {
  let t: TestDatabase | undefined;
  let tmp: { dir: string; remove: () => Promise<void> };
  let common: CommonOptions;
  /** Look at the database between runs (an embedded folder is opened only while no run has it). */
  let inspect: <T>(fn: (db: Database) => Promise<T>) => Promise<T>;

  beforeAll(async () => {
    tmp = await tempDir();
    const logDir = path.join(tmp.dir, 'logs');
    if (backend === 'server') {
      t = await testDatabase('server');
      common = { db: t.dbArg, logDir, quiet: true };
      inspect = (fn) => fn(t!.db);
    } else {
      const lite = await cliDatabase(path.join(tmp.dir, 'db'), 'pglite');
      common = { db: lite.dbArg, logDir, quiet: true };
      inspect = (fn) => lite.withDb(fn);
    }
  });
  afterAll(async () => {
    await t?.drop();
    await tmp?.remove();
  });

  it('records the run before its work and its end after, and run_status shows it succeeded', async () => {
    let seenInside: RunStatus | undefined;
    const result = await withRun('test-ok', { source: 'offending', n: 3 }, { ...common, operator: 'tester' }, async (ctx) => {
      expect(typeof ctx.runId).toBe('number');
      // The start is committed at once: visible (with no end) while the work goes on.
      seenInside = await (t ? runStatus(t.db, ctx.runId) : runStatus(ctx.db, ctx.runId));
      return { summary: { rowsLoaded: 3 }, exitCode: 0 };
    });
    expect(result).toMatchObject({ summary: { rowsLoaded: 3 }, exitCode: 0 });
    expect(existsSync(result.logFile)).toBe(true);
    expect(seenInside).toMatchObject({ run_id: result.runId, status: 'running or interrupted', finished_at: null, exit_code: null });

    const status = await inspect((db) => runStatus(db, result.runId));
    expect(status).toMatchObject({
      run_id: result.runId,
      command: 'test-ok',
      args: { source: 'offending', n: 3 },
      operator: 'tester',
      code_version: codeVersion(),
      status: 'succeeded',
      exit_code: 0,
      summary: { rowsLoaded: 3 },
    });
    expect(status.finished_at!.getTime()).toBeGreaterThanOrEqual(status.started_at.getTime());
    expect(codeVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('records a body that returns a non-zero exit code as failed with that code', async () => {
    const result = await withRun('test-rejected', {}, common, async () => ({ summary: { rowsRejected: 9 }, exitCode: 3 }));
    expect(result.exitCode).toBe(3);
    expect(await inspect((db) => runStatus(db, result.runId))).toMatchObject({ status: 'failed', exit_code: 3, summary: { rowsRejected: 9 } });
  });

  it('records a run that throws as failed, with the error exit code and message, and rethrows the error', async () => {
    const runIds: number[] = [];
    const cases = [
      { error: new JobError('the job could not finish'), code: 1 },
      { error: new UsageError('a bad option'), code: 2 },
      { error: new InputRejectedError('f.csv', 'f.csv is not a CSV file'), code: 3 },
    ];
    for (const c of cases) {
      const error = await thrown(
        withRun('test-throws', { case: c.code }, common, async (ctx) => {
          runIds.push(ctx.runId);
          throw c.error;
        }),
      );
      expect(error).toBe(c.error);
    }
    await inspect(async (db) => {
      for (const [i, c] of cases.entries()) {
        expect(await runStatus(db, runIds[i]!)).toMatchObject({
          command: 'test-throws',
          status: 'failed',
          exit_code: c.code,
          summary: { error: c.error.message },
        });
        expect(await runEnds(db, runIds[i]!)).toBe(1);
      }
    });
  });

  it('records an unexpected error as an internal error, keeping its message (which may quote data) out of the record and the log', async () => {
    let runId = 0;
    const secret = 'Zebediah Quillfeather 2011-06-13';
    const error = await thrown(
      withRun('test-internal', {}, common, async (ctx) => {
        runId = ctx.runId;
        throw new TypeError(`cannot read ${secret}`);
      }),
    );
    expect(error).toBeInstanceOf(TypeError);
    const status = await inspect((db) => runStatus(db, runId));
    expect(status).toMatchObject({ status: 'failed', exit_code: 1, summary: { error: 'internal error (see the log file)' } });
    expect(JSON.stringify(status)).not.toContain('Zebediah');

    const logs = await readFile(await lastLog(common.logDir!, 'test-internal'), 'utf8');
    const lines = logs.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = lines.find((l) => l.msg === 'run failed');
    expect(failed).toMatchObject({ level: 50, runId, command: 'test-internal', error: { type: 'TypeError' } });
    expect(logs).not.toContain('Zebediah');
  });

  it('shows a run with no recorded end as "running or interrupted"', async () => {
    // A run that was killed: its audit.run row was committed, its end never written.
    const status = await inspect(async (db) => {
      const run = await db.kysely
        .insertInto('audit.run')
        .values({ command: 'killed', args: '{}', operator: 'op', code_version: codeVersion() })
        .returning('run_id')
        .executeTakeFirstOrThrow();
      return runStatus(db, run.run_id);
    });
    expect(status).toMatchObject({ command: 'killed', status: 'running or interrupted', finished_at: null, exit_code: null, summary: null });
  });

  it('takes the operator from TFCLAIMS_OPERATOR when none is given', async () => {
    const saved = process.env.TFCLAIMS_OPERATOR;
    process.env.TFCLAIMS_OPERATOR = 'data-officer-7';
    try {
      const result = await withRun('test-operator', {}, common, async () => ({ summary: {}, exitCode: 0 }));
      expect(await inspect((db) => runStatus(db, result.runId))).toMatchObject({ operator: 'data-officer-7', status: 'succeeded' });
    } finally {
      if (saved === undefined) delete process.env.TFCLAIMS_OPERATOR;
      else process.env.TFCLAIMS_OPERATOR = saved;
    }
  });
});

/** The newest log file of a command in a log folder. */
async function lastLog(dir: string, command: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n.includes(`-${command}-`)).sort();
  expect(names.length).toBeGreaterThan(0);
  return path.join(dir, names.at(-1)!);
}
