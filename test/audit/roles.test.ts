import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractFromArgs, ingestExtracts } from '../../src/ingest/index.ts';
import { sqlStateOf } from '../../src/db/index.ts';
import { withRun } from '../../src/run/context.ts';
import { cli, ROOT } from '../cli/helpers.ts';
import { createEmptyServerDatabase, mainBackend, serverAdminUrl, testDatabase, type TestDatabase } from '../support/db.ts';
import { person, tempDir, writeExtract } from '../support/files.ts';

/**
 * `tfclaims db roles` on a real server, proved by logging in: a LOGIN user that is a member of
 * each role (created for this test with a unique name, dropped after; roles are server-wide)
 * tries what the role should and should not be able to do.
 */

const onServer = mainBackend() === 'server';

describe.skipIf(!onServer)('tfclaims db roles on the server', () => {
  let t: TestDatabase;
  let tmp: { dir: string; remove: () => Promise<void> };
  let logDir: string;
  const suffix = randomBytes(4).toString('hex');
  const login = { auditor: `tfc_t${suffix}_auditor`, finance: `tfc_t${suffix}_finance`, pipeline: `tfc_t${suffix}_pipeline` } as const;
  type Who = keyof typeof login | 'owner';
  const clients = new Map<Who, pg.Client>();

  /** Run SQL as one of the logins; returns rows, or the SQLSTATE it failed with. */
  async function as(who: Who, text: string): Promise<{ rows: Record<string, unknown>[] } | { code: string | undefined }> {
    try {
      const { rows } = await clients.get(who)!.query(text);
      return { rows };
    } catch (error) {
      return { code: sqlStateOf(error) };
    }
  }
  const denied = { code: '42501' };

  async function adminQuery(text: string): Promise<void> {
    const admin = new pg.Client({ connectionString: serverAdminUrl() });
    await admin.connect();
    try {
      await admin.query(text);
    } finally {
      await admin.end();
    }
  }

  beforeAll(async () => {
    tmp = await tempDir();
    logDir = path.join(tmp.dir, 'logs');
    t = await testDatabase('server');
    // Something in each schema: a run that loads the sample attendance extract.
    await withRun('ingest', {}, { db: t.dbArg, logDir, quiet: true }, async (ctx) => {
      await ingestExtracts(ctx, { files: [await extractFromArgs('attendance', path.join(ROOT, 'samples/extracts/attendance.csv'))], today: '2026-11-22', maxRejectFraction: 1 });
      return { summary: {}, exitCode: 0 };
    });
    const first = await cli(['--db', t.dbArg, '--log-dir', logDir, 'db', 'roles']);
    expect(first.code, first.stderr).toBe(0);
    for (const [key, user] of Object.entries(login)) await adminQuery(`CREATE ROLE ${user} LOGIN IN ROLE tfclaims_${key}`);
    for (const who of ['auditor', 'finance', 'pipeline', 'owner'] as const) {
      const url = new URL(t.url!);
      if (who !== 'owner') url.username = login[who];
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      clients.set(who, client);
    }
  });
  afterAll(async () => {
    for (const c of clients.values()) await c.end().catch(() => {});
    await t?.drop();
    for (const user of Object.values(login)) await adminQuery(`DROP ROLE IF EXISTS ${user}`).catch(() => {});
    await tmp?.remove();
  });

  it('creates three roles that cannot log in and have no special powers, and says how to grant them', async () => {
    const roles = await as('owner', `SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname LIKE 'tfclaims\\_%' ORDER BY 1`);
    expect(roles).toEqual({
      rows: ['tfclaims_auditor', 'tfclaims_finance', 'tfclaims_pipeline'].map((rolname) => ({ rolname, rolcanlogin: false, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false })),
    });
    const again = await cli(['--db', t.dbArg, '--log-dir', logDir, 'db', 'roles']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^roles: tfclaims_auditor \(already there\), tfclaims_finance \(already there\), tfclaims_pipeline \(already there\); grants set$/m);
    expect(again.stderr).toContain("CREATE ROLE jane_auditor LOGIN PASSWORD '...' IN ROLE tfclaims_auditor;");
    // Recorded and sealed like every run.
    expect(await as('owner', `SELECT count(*)::int AS n FROM audit.run_chain WHERE command = 'db roles'`)).toEqual({ rows: [{ n: 4 }] });
  });

  it('the auditor reads the audit trail and the views, and no personal data: raw.*, core people, reject values', async () => {
    for (const view of ['audit.run_chain', 'audit.run_chain_check', 'audit.run_io', 'audit.rejects_by_source_run', 'audit.reject_line', 'audit.family_timeline', 'audit.family_membership', 'audit.source_record', 'audit.run_status', 'audit.input_file']) {
      expect(await as('auditor', `SELECT count(*)::int AS n FROM ${view}`), view).toMatchObject({ rows: [{ n: expect.any(Number) }] });
    }
    expect(await as('auditor', 'SELECT bool_and(hash_ok AND linked AND matches_records) AS ok FROM audit.run_chain_check')).toEqual({ rows: [{ ok: true }] });
    expect(await as('auditor', `SELECT count(*)::int AS n FROM audit.run_io WHERE direction = 'input'`)).toEqual({ rows: [{ n: 1 }] });
    expect(await as('auditor', 'SELECT forename FROM raw.attendance LIMIT 1')).toEqual(denied);
    expect(await as('auditor', 'SELECT dob FROM core.person_detail LIMIT 1')).toEqual(denied);
    expect(await as('auditor', 'SELECT * FROM core.person_record LIMIT 1')).toEqual(denied);
    expect(await as('auditor', 'SELECT value FROM audit.reject LIMIT 1')).toEqual(denied);
    expect(await as('auditor', 'SELECT reason FROM audit.reject LIMIT 1')).toEqual(denied);
    expect(await as('auditor', 'SELECT line, column_name FROM audit.reject LIMIT 1')).toMatchObject({ rows: [{ line: expect.any(Number) }] });
    expect(await as('auditor', `INSERT INTO audit.run (command, operator, code_version) VALUES ('x', 'x', 'x')`)).toEqual(denied);
    expect(await as('auditor', 'UPDATE audit.run SET operator = operator')).toEqual(denied);
  });

  it('the auditor can run tfclaims audit check-chain with its read-only login', async () => {
    const url = new URL(t.url!);
    url.username = login.auditor;
    const result = await cli(['--db', url.toString(), '--log-dir', logDir, 'audit', 'check-chain']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^run chain intact: \d+ seals over \d+ runs/m);
  });

  it('finance reads the run chain and nothing else: no person details, no raw rows, no run arguments', async () => {
    expect(await as('finance', 'SELECT count(*)::int AS n FROM audit.run_chain')).toMatchObject({ rows: [{ n: expect.any(Number) }] });
    expect(await as('finance', 'SELECT dob FROM core.person_detail LIMIT 1')).toEqual(denied);
    expect(await as('finance', 'SELECT * FROM raw.attendance LIMIT 1')).toEqual(denied);
    expect(await as('finance', 'SELECT args FROM audit.run LIMIT 1')).toEqual(denied);
    expect(await as('finance', 'SELECT * FROM audit.family_timeline LIMIT 1')).toEqual(denied);
    expect(await as('finance', 'SELECT * FROM audit.reject_line LIMIT 1')).toEqual(denied);
    expect(await as('finance', `SELECT core.reserve_ids('core.person'::regclass, 1)`)).toEqual(denied);
    expect(await as('finance', `SELECT core.drop_indexes_for_load('core.link_pair'::regclass)`)).toEqual(denied);
  });

  it('the pipeline reads and writes raw and core, appends to audit, and cannot change the audit trail', async () => {
    expect(await as('pipeline', `INSERT INTO raw.evidence (file_id, line, record_id, case_ref, problem, outcome, evidence_date, attested_by) VALUES (1, 2, 'E1', 'EH-1', 'crime_asb', 'x', '2026-01-01', 'kw')`)).toEqual({ rows: [] });
    expect(await as('pipeline', 'SELECT count(*)::int AS n FROM raw.attendance')).toMatchObject({ rows: [{ n: expect.any(Number) }] });
    expect(await as('pipeline', 'DELETE FROM raw.evidence WHERE record_id = $$E1$$')).toEqual({ rows: [] });
    expect(await as('pipeline', `WITH r AS (INSERT INTO audit.run (command, operator, code_version) VALUES ('pipe', 'svc', 'x') RETURNING run_id)
                                 INSERT INTO core.person (created_run) SELECT run_id FROM r RETURNING person_id::int`)).toMatchObject({ rows: [{ person_id: expect.any(Number) }] });
    expect(await as('pipeline', 'SELECT nextval(pg_get_serial_sequence($$audit.input_file$$, $$file_id$$)) AS id')).toMatchObject({ rows: [{ id: expect.any(String) }] });
    // New ids in blocks, through the one function that moves the sequences forward; not setval itself.
    expect(await as('pipeline', `SELECT core.reserve_ids('core.person'::regclass, 100)::int AS first`)).toMatchObject({ rows: [{ first: expect.any(Number) }] });
    expect(await as('pipeline', `SELECT setval(pg_get_serial_sequence('core.person', 'person_id'), 1)`)).toEqual(denied);
    expect(await as('pipeline', `SELECT core.reserve_ids('audit.run'::regclass, 100)`)).toEqual(denied);
    // A first load's indexes after its rows, through the functions; not by dropping an index itself.
    expect(await as('pipeline', `SELECT core.drop_indexes_for_load('core.link_pair'::regclass) + core.restore_indexes('core.link_pair'::regclass) AS n`)).toMatchObject({ rows: [{ n: expect.any(Number) }] });
    expect(await as('pipeline', 'DROP INDEX core.person_record_person_idx')).toEqual(denied);
    expect(await as('pipeline', `SELECT core.drop_indexes_for_load('core.family'::regclass)`)).toEqual(denied);
    expect(await as('pipeline', 'UPDATE audit.run SET operator = operator')).toEqual(denied);
    expect(await as('pipeline', 'DELETE FROM audit.reject')).toEqual(denied);
    expect(await as('pipeline', 'TRUNCATE raw.attendance')).toEqual(denied);
    expect(await as('pipeline', 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).toEqual({ rows: [{ rolsuper: false }] });
  });

  it('nobody but the owner can UPDATE audit.run, and the owner is stopped by the append-only trigger', async () => {
    for (const who of ['auditor', 'finance', 'pipeline'] as const) expect(await as(who, 'UPDATE audit.run SET operator = operator'), who).toEqual(denied);
    expect(await as('owner', 'UPDATE audit.run SET operator = operator')).toEqual({ code: 'TF001' });
  });

  it('running it again takes away a grant made by hand (grants are set to the policy, not added to)', async () => {
    await as('owner', 'GRANT USAGE ON SCHEMA raw TO tfclaims_auditor; GRANT SELECT ON raw.attendance TO tfclaims_auditor');
    expect(await as('auditor', 'SELECT count(*)::int AS n FROM raw.attendance')).toMatchObject({ rows: [{ n: expect.any(Number) }] });
    const again = await cli(['--db', t.dbArg, '--log-dir', logDir, '--quiet', 'db', 'roles']);
    expect(again.code, again.stderr).toBe(0);
    expect(await as('auditor', 'SELECT count(*)::int AS n FROM raw.attendance')).toEqual(denied);
  });

  it('a database migrated after the roles exist lets the pipeline reserve ids and load first runs without running db roles again (migrations 0011, 0012)', async () => {
    const empty = await createEmptyServerDatabase();
    try {
      const migrated = await cli(['--db', empty.url, '--log-dir', logDir, '--quiet', 'db', 'migrate']);
      expect(migrated.code, migrated.stderr).toBe(0);
      const client = new pg.Client({ connectionString: empty.url });
      await client.connect();
      try {
        const { rows } = await client.query(`
          SELECT has_function_privilege('tfclaims_pipeline', 'core.reserve_ids(regclass, integer)', 'EXECUTE') AS pipeline,
                 has_function_privilege('tfclaims_auditor', 'core.reserve_ids(regclass, integer)', 'EXECUTE') AS auditor,
                 has_function_privilege('tfclaims_finance', 'core.reserve_ids(regclass, integer)', 'EXECUTE') AS finance,
                 has_function_privilege('tfclaims_pipeline', 'core.drop_indexes_for_load(regclass)', 'EXECUTE')
                   AND has_function_privilege('tfclaims_pipeline', 'core.restore_indexes(regclass)', 'EXECUTE') AS pipeline_loads,
                 has_function_privilege('tfclaims_auditor', 'core.drop_indexes_for_load(regclass)', 'EXECUTE')
                   OR has_function_privilege('tfclaims_finance', 'core.drop_indexes_for_load(regclass)', 'EXECUTE') AS others_load`);
        expect(rows[0]).toEqual({ pipeline: true, auditor: false, finance: false, pipeline_loads: true, others_load: false });
      } finally {
        await client.end();
      }
    } finally {
      await empty.drop();
    }
  });

  it('the pipeline login runs tfclaims itself: it migrates nothing it may not create, ingests and matches', async () => {
    const url = new URL(t.url!);
    url.username = login.pipeline;
    const extracts = path.join(logDir, 'pipeline-extracts');
    await mkdir(extracts, { recursive: true });
    await writeExtract(extracts, 'offending', [
      { ...person(71), record_id: 'O71', event_date: '2026-03-01', event_type: 'asb_incident' },
      { ...person(72), record_id: 'O72', event_date: '2026-03-02', event_type: 'asb_incident' },
    ]);
    const ingest = await cli(['--db', url.toString(), '--log-dir', logDir, '--quiet', 'ingest', 'offending', path.join(extracts, 'offending.csv')]);
    expect(ingest.code, ingest.stderr).toBe(0);
    const match = await cli(['--db', url.toString(), '--log-dir', logDir, '--quiet', 'match']);
    expect(match.code, match.stderr).toBe(0);
    expect(await as('owner', `SELECT count(*)::int AS n FROM core.person_record WHERE record_id IN ('O71', 'O72')`)).toEqual({ rows: [{ n: 2 }] });
  });
});

describe('tfclaims db roles on the embedded database', () => {
  it('explains that roles belong to a server and exits 2, touching nothing', async () => {
    const tmp = await tempDir();
    try {
      const result = await cli(['--db', `pglite:${path.join(tmp.dir, 'db')}`, '--log-dir', path.join(tmp.dir, 'logs'), 'db', 'roles']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^tfclaims: roles apply to a PostgreSQL server: the embedded database \(PGlite\)/m);
      expect(result.stderr).toMatch(/what to do: run it against the server/);
    } finally {
      await tmp.remove();
    }
  });
});
