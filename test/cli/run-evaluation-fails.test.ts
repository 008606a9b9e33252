import { existsSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { mainBackend } from '../support/db.ts';
import { cli, cliDatabaseForFile } from './helpers.ts';

/**
 * `run` writes families.csv while the rules evaluate, starting it once the rules' staging is
 * built. When the evaluation fails before that point, the run must still end (with the error),
 * never wait for a file that was never started.
 */

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');

const file = cliDatabaseForFile();

describe(`run whose evaluation fails before its staging, on ${mainBackend()}`, () => {
  it('ends with the error, writes families.csv from the committed match, and drafts no claim', async () => {
    const { db: d, dir } = file;
    expect((await cli(['--db', d.dbArg, '--quiet', 'db', 'migrate'])).code).toBe(0);
    // The evaluation's first write is refused, as a fault on the server would refuse it.
    await d.withDb(async (db) => {
      await sql`CREATE FUNCTION public.refuse_evaluation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'evaluation refused for the test'; END $$`.execute(db.kysely);
      await sql`CREATE TRIGGER refuse BEFORE INSERT ON core.rules_evaluation FOR EACH ROW EXECUTE FUNCTION public.refuse_evaluation()`.execute(db.kysely);
    });
    const out = path.join(dir, 'out');
    const logs = path.join(dir, 'logs');
    const result = await cli(['--db', d.dbArg, '--log-dir', logs, '--quiet', 'run', '--extracts', SAMPLES, '--as-of', '2026-10-31', '--window', 'W', '--out', out]);
    expect(result.code).toBe(1);
    // The server's message stays in the log (a database error may quote data); its code is shown.
    expect(result.stderr).toMatch(/internal error \(P0001\)/);
    expect(existsSync(path.join(out, 'families.csv'))).toBe(true);
    expect(existsSync(path.join(out, 'claim-W.csv'))).toBe(false);
    const evaluations = await d.withDb(async (db) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.rules_evaluation`.execute(db.kysely)).rows[0]!.n);
    expect(evaluations).toBe(0);
  });
});
