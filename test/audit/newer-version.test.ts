import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/db/index.ts';
import { cli, cliDatabase, ROOT, type CliDatabase } from '../cli/helpers.ts';
import { availableBackends } from '../support/db.ts';
import { tempDir } from '../support/files.ts';

/**
 * A claim run against a database that a newer tfclaims has migrated refuses before it does
 * anything, naming both schema versions and saying to upgrade (issue 5, item 6). The refusal is
 * migrate()'s (src/db/migrate.ts, every command migrates first); check-chain, which does not
 * migrate, makes the same check itself.
 */

describe.each(availableBackends())('a database migrated by a newer tfclaims, on %s', (backend) => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let d: CliDatabase;
  let latest = 0;
  let args: string[];

  beforeAll(async () => {
    tmp = await tempDir();
    d = await cliDatabase(path.join(tmp.dir, 'db'), backend);
    latest = (await loadMigrations()).at(-1)!.version;
    args = ['--db', d.dbArg, '--log-dir', path.join(tmp.dir, 'logs')];
    await d.withDb((db) => db.kysely.insertInto('tfclaims_meta.migration').values({ version: latest + 1, name: 'from_the_future', sha256: 'f'.repeat(64) }).execute());
  });
  afterAll(async () => {
    await d?.drop();
    await tmp?.remove();
  });

  const refusal = (stderr: string) => {
    expect(stderr).toMatch(new RegExp(`^tfclaims: this database was migrated by a newer tfclaims \\(schema version ${latest + 1}; this program knows up to ${latest}\\)$`, 'm'));
    expect(stderr).toMatch(/^ {2}what to do: .*upgrade/m);
  };

  it('tfclaims run (the monthly claim run) refuses with exit 1, writing no run and no claim file', async () => {
    const out = path.join(tmp.dir, 'out');
    const result = await cli([...args, 'run', '--extracts', path.join(ROOT, 'samples/extracts'), '--as-of', '2026-10-31', '--window', '2026-Q3', '--out', out]);
    expect(result.code).toBe(1);
    refusal(result.stderr);
    const written = existsSync(out) ? await readdir(out) : [];
    expect(written.filter((f) => f.startsWith('claim-'))).toEqual([]);
    expect(await d.withDb(async (db) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit.run`.execute(db.kysely)).rows[0]!.n)).toBe(0);
  });

  it('tfclaims claim draft refuses the same way', async () => {
    const result = await cli([...args, 'claim', 'draft', '--window', '2026-Q3', '--as-of', '2026-10-31', '--out', path.join(tmp.dir, 'claim')]);
    expect(result.code).toBe(1);
    refusal(result.stderr);
  });

  it('tfclaims audit check-chain refuses the same way (it checks the version itself: it does not migrate)', async () => {
    const result = await cli([...args, 'audit', 'check-chain']);
    expect(result.code).toBe(1);
    refusal(result.stderr);
  });
});
