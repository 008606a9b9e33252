import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, pgConnectionConfig, SESSION_OPTIONS } from '../../src/db/pg.ts';
import { openPglite } from '../../src/db/pglite.ts';
import { copyTextRows } from '../../src/db/copy-out.ts';
import { cli, ROOT } from '../cli/helpers.ts';
import { createEmptyServerDatabase, serverAdminUrl } from '../support/db.ts';

describe('connection start-up options', () => {
  it('keeps the operator own options (PGOPTIONS, then the URL) and puts the date style last', () => {
    expect(pgConnectionConfig('postgres://u@h:5432/db', {})).toEqual({ connectionString: 'postgres://u@h:5432/db', options: SESSION_OPTIONS });
    expect(pgConnectionConfig('postgres://u@h:5432/db', { PGOPTIONS: '-c statement_timeout=0' }).options).toBe(`-c statement_timeout=0 ${SESSION_OPTIONS}`);
    // pg would let options= in the URL replace ours: they move from the URL into the options.
    const withUrlOptions = pgConnectionConfig('postgres://u:p%40ss@h:5432/db?options=-c%20search_path%3Dx&sslmode=disable', { PGOPTIONS: '' });
    expect(withUrlOptions.options).toBe(`-c search_path=x ${SESSION_OPTIONS}`);
    expect(new URL(withUrlOptions.connectionString).searchParams.get('options')).toBeNull();
    expect(new URL(withUrlOptions.connectionString).searchParams.get('sslmode')).toBe('disable');
    expect(new URL(withUrlOptions.connectionString).password).toBe('p%40ss');
  });

  it('sets the same date style on the embedded database', async () => {
    const db = await openPglite({ memory: true });
    try {
      const { rows } = await sql<{ shown: string; d: string }>`SELECT current_setting('DateStyle') AS shown, DATE '2026-10-31' AS d`.execute(db.kysely);
      expect(rows[0]).toEqual({ shown: 'ISO, YMD', d: '2026-10-31' });
    } finally {
      await db.close();
    }
  });
});

/**
 * A council's server may default to another DateStyle (`SQL, DMY` prints 31/10/2026). The stages
 * read dates as text, so every connection asks for ISO at start-up: a database set to DMY must
 * give the same dates, and the whole month the same claim.
 */
describe.skipIf(serverAdminUrl() === undefined)('a database whose default DateStyle is SQL, DMY', () => {
  let empty: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    empty = await createEmptyServerDatabase();
    const admin = new pg.Client({ connectionString: empty.url });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${new URL(empty.url).pathname.slice(1)} SET DateStyle = 'SQL, DMY'`);
    } finally {
      await admin.end();
    }
  });
  afterAll(async () => empty?.drop());

  it('is read in ISO dates on every connection tfclaims opens, by query and by COPY', async () => {
    // A plain connection sees the database's own style: the setting is in force.
    const plain = new pg.Client({ connectionString: empty.url, options: '' });
    await plain.connect();
    try {
      const { rows } = await plain.query(`SELECT DATE '2026-10-31'::text AS d`);
      expect(rows[0].d).toBe('31/10/2026');
    } finally {
      await plain.end();
    }
    const db = openPostgres(empty.url);
    try {
      const { rows } = await sql<{ d: string; shown: string }>`SELECT DATE '2026-10-31' AS d, current_setting('DateStyle') AS shown`.execute(db.kysely);
      expect(rows[0]).toEqual({ d: '2026-10-31', shown: 'ISO, YMD' });
      const copied = await db.session(async (s) => {
        const out: (string | null)[][] = [];
        for await (const batch of copyTextRows(s.copyTo(`SELECT DATE '2026-10-31', min(d) FROM (VALUES (DATE '2027-01-02')) v(d)`))) out.push(...batch);
        return out;
      });
      expect(copied).toEqual([['2026-10-31', '2027-01-02']]);
    } finally {
      await db.close();
    }
  });

  it('runs the month to the same claim as the truth (ingest, profiles on two threads, families, rules, claim)', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'tfclaims-dmy-'));
    const samples = path.join(ROOT, 'samples', 'extracts');
    const r = await cli(['--db', empty.url, '--log-dir', path.join(out, 'logs'), '--quiet', 'run', '--extracts', samples, '--as-of', '2026-10-31', '--window', '2026-Q3', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    type Row = Record<string, string>;
    const truth = (parse(await readFile(path.join(samples, 'truth/claimable.csv')), { columns: true }) as Row[]).filter((t) => t.claimable === 'true');
    const lines = parse(await readFile(path.join(out, 'claim-2026-Q3.csv')), { columns: true }) as Row[];
    const key = (x: Row) => `${x.case_ref}|${x.route}|${x.attached_on}|${x.problems_at_entry}`;
    expect(lines.map(key).sort()).toEqual(truth.map(key).sort());
    expect(truth.length).toBeGreaterThan(5);
  });
});
