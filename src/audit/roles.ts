import { sql } from 'kysely';
import type { CommandReport } from '../cli/output.ts';
import { resolveDatabaseTarget, SqlState, sqlStateOf, type DbSession } from '../db/index.ts';
import { JobError, UsageError } from '../errors.ts';
import { withRun, type CommonOptions } from '../run/context.ts';

/**
 * Least-privilege access (`tfclaims db roles`): three NOLOGIN roles that people and services are
 * made members of. The policy is data here (what each role may touch), turned into SQL by a pure
 * function, so a test can read it and the server can be checked against it.
 *
 * Roles belong to the whole server, grants to one database: the command creates the roles when
 * they are missing and then sets this database's grants to exactly the policy (revoking first,
 * so a grant made by hand does not linger). Run it on each tfclaims database, and again after an
 * upgrade whose migrations add tables or views.
 */

/** The roles, by purpose. */
export const ROLES = {
  /** Internal audit: reads the audit trail and the auditors' views; no raw.* or core.* personal data. */
  auditor: 'tfclaims_auditor',
  /** Finance: the claims only. Until the claims tables exist, nothing but the run chain. */
  finance: 'tfclaims_finance',
  /** The pipeline's service login: reads and writes raw and core, reads and appends to audit. */
  pipeline: 'tfclaims_pipeline',
} as const;
export type RoleKey = keyof typeof ROLES;

/** Schemas whose grants the policy sets (and first revokes). */
const SCHEMAS = ['raw', 'core', 'audit', 'tfclaims_meta'] as const;

/**
 * What the auditor may read. An allow-list, not "the audit schema": a table added later is not
 * readable until it is added here (a later table may hold personal data, as audit.reject's
 * values do). Views are read with their owner's rights, so the views expose no more than they show.
 */
export const AUDITOR_RELATIONS = [
  'audit.run',
  'audit.run_end',
  'audit.run_status',
  'audit.run_seal',
  'audit.input_file',
  'audit.current_file',
  'audit.file_supersession',
  'audit.output_file',
  'audit.run_chain',
  'audit.run_chain_check',
  'audit.run_unsealed',
  'audit.run_io',
  'audit.reject_line',
  'audit.rejects_by_source_run',
  'audit.source_record',
  'audit.family_membership',
  'audit.family_timeline',
  // Plans, as-of dates and evidence hashes of rules evaluations: sealed with each run, so
  // check-chain (run by the auditor) reads them. No personal data.
  'core.rules_evaluation',
  // check-chain reads the schema version before it reads anything else.
  'tfclaims_meta.migration',
] as const;

/** Columns the auditor may read where the whole table may not be (values and reasons quote personal data). */
export const AUDITOR_COLUMNS: Record<string, readonly string[]> = {
  'audit.reject': ['reject_id', 'file_id', 'run_id', 'source', 'line', 'column_name'],
};

/** What finance may read: to be extended with the claims views (claim lines, summaries) when they exist. */
export const FINANCE_RELATIONS = ['audit.run_chain'] as const;

/** Attributes every tfclaims role has: cannot log in, no superuser or other special powers. */
const ROLE_ATTRIBUTES = 'NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';

function schemasUsedBy(relations: readonly string[]): string[] {
  return [...new Set(relations.map((r) => r.split('.')[0]!))];
}

/**
 * The SQL that makes this database's grants for one role exactly the policy (the role must
 * exist). Pure: statements in the order to run them, in one transaction.
 */
export function grantStatements(role: RoleKey): string[] {
  const name = ROLES[role];
  const all = SCHEMAS.join(', ');
  const revoke = [
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${all} FROM ${name}`,
    `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${all} FROM ${name}`,
    `REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ${all} FROM ${name}`,
    `REVOKE ALL ON SCHEMA ${all} FROM ${name}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${all} REVOKE ALL ON TABLES FROM ${name}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${all} REVOKE ALL ON SEQUENCES FROM ${name}`,
  ];
  switch (role) {
    case 'pipeline':
      return [
        ...revoke,
        `GRANT USAGE ON SCHEMA ${all} TO ${name}`,
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, core TO ${name}`,
        // Appends only: the triggers refuse changes to the trail anyway, and this refuses them first.
        `GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA audit TO ${name}`,
        `GRANT SELECT ON tfclaims_meta.migration TO ${name}`,
        `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA raw, core, audit TO ${name}`,
        // New person and family ids in blocks: the function moves their sequences forward only.
        `GRANT EXECUTE ON FUNCTION core.reserve_ids(regclass, integer) TO ${name}`,
        // A first load builds four tables' indexes after their rows: the functions drop and
        // create again those tables' own indexes, in one transaction, and nothing else.
        `GRANT EXECUTE ON FUNCTION core.drop_indexes_for_load(regclass), core.restore_indexes(regclass) TO ${name}`,
        // Tables later migrations create (as the owner running this) get the same grants.
        `ALTER DEFAULT PRIVILEGES IN SCHEMA raw, core GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${name}`,
        `ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT SELECT, INSERT ON TABLES TO ${name}`,
        `ALTER DEFAULT PRIVILEGES IN SCHEMA raw, core, audit GRANT USAGE, SELECT ON SEQUENCES TO ${name}`,
      ];
    case 'auditor': {
      const columns = Object.entries(AUDITOR_COLUMNS).map(([table, cols]) => `GRANT SELECT (${cols.join(', ')}) ON ${table} TO ${name}`);
      const relations = [...AUDITOR_RELATIONS, ...Object.keys(AUDITOR_COLUMNS)];
      return [
        ...revoke,
        `GRANT USAGE ON SCHEMA ${schemasUsedBy(relations).join(', ')} TO ${name}`,
        `GRANT SELECT ON ${AUDITOR_RELATIONS.join(', ')} TO ${name}`,
        ...columns,
      ];
    }
    case 'finance':
      return [...revoke, `GRANT USAGE ON SCHEMA ${schemasUsedBy(FINANCE_RELATIONS).join(', ')} TO ${name}`, `GRANT SELECT ON ${FINANCE_RELATIONS.join(', ')} TO ${name}`];
  }
}

/** Create a role if it is missing. Another process creating it at the same moment is not an error. */
function createRoleStatement(role: RoleKey): string {
  const name = ROLES[role];
  return `DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${name}') THEN
    CREATE ROLE ${name} ${ROLE_ATTRIBUTES};
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$`;
}

/** What `db roles` did to one role. */
export interface RoleOutcome {
  role: string;
  created: boolean;
  /** The role existed with a power it must not have (login, superuser...): reset. */
  attributesReset: boolean;
}

async function applyRole(s: DbSession, role: RoleKey): Promise<RoleOutcome> {
  const name = ROLES[role];
  const k = s.kysely;
  const before = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ${name}`.execute(k);
  await s.exec(createRoleStatement(role));
  const attrs = await sql<{ bad: boolean }>`
    SELECT (rolcanlogin OR rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls) AS bad
    FROM pg_roles WHERE rolname = ${name}`.execute(k);
  const reset = attrs.rows[0]?.bad === true;
  if (reset) await s.exec(`ALTER ROLE ${name} ${ROLE_ATTRIBUTES}`);
  for (const statement of grantStatements(role)) await s.exec(statement);
  return { role: name, created: before.rows[0]!.n === 0, attributesReset: reset };
}

/** The lines `db roles` prints after setting the grants: what each role is for and how to use it. */
export function rolesGuide(): string[] {
  return [
    `  ${ROLES.auditor}: reads the audit trail and the auditors' views (audit.run_io, audit.family_timeline, audit.run_chain_check...); rejects without their values; no raw.* or core.* personal data`,
    `  ${ROLES.finance}: the run chain (audit.run_chain) only; extended with the claims views when the claims stage arrives`,
    `  ${ROLES.pipeline}: reads and writes raw and core, reads and appends to audit (never updates it); no superuser`,
    'The roles cannot log in. Make a person or service a member, e.g. (as a server administrator):',
    `  CREATE ROLE jane_auditor LOGIN PASSWORD '...' IN ROLE ${ROLES.auditor};`,
    `  GRANT ${ROLES.pipeline} TO etl_service;`,
    'Roles are server-wide, grants belong to this database: run `tfclaims db roles` on every tfclaims database, and again after each upgrade.',
  ];
}

/**
 * `tfclaims db roles`: create the three roles if missing and set this database's grants to the
 * policy, in one transaction, recorded (and sealed) as a run. A server only: the embedded
 * database has one user, the process that opens it, so it has no access to divide (exit 2).
 */
export async function runDbRoles(opts: CommonOptions): Promise<CommandReport> {
  const target = resolveDatabaseTarget(opts.db);
  if (target.kind !== 'postgres') {
    throw new UsageError('roles apply to a PostgreSQL server: the embedded database (PGlite) is opened by one process as its only user, so there is no access to divide', {
      hint: 'run it against the server, as the login that owns the tfclaims tables: tfclaims --db postgres://OWNER@HOST/DB db roles',
    });
  }
  const result = await withRun('db roles', {}, opts, async (ctx) => {
    try {
      const roles = await ctx.db.transaction(async (s) => {
        const out: RoleOutcome[] = [];
        for (const role of Object.keys(ROLES) as RoleKey[]) out.push(await applyRole(s, role));
        return out;
      });
      return { summary: { roles }, exitCode: 0 };
    } catch (error) {
      if (sqlStateOf(error) === SqlState.insufficientPrivilege) {
        throw new JobError(`cannot set up the roles: ${(error as Error).message}`, {
          cause: error,
          hint: 'run it as the login that owns the tfclaims tables (it ran the migrations), with CREATEROLE, or as a superuser',
        });
      }
      throw error;
    }
  });
  const roles = result.summary.roles;
  return {
    exitCode: 0,
    lines: [
      `roles: ${roles.map((r) => `${r.role} (${r.created ? 'created' : 'already there'}${r.attributesReset ? ', login and other powers removed' : ''})`).join(', ')}; grants set`,
      ...rolesGuide(),
      `run ${result.runId}; log: ${result.logFile}`,
    ],
    json: { runId: result.runId, roles, auditorRelations: AUDITOR_RELATIONS, auditorColumns: AUDITOR_COLUMNS, financeRelations: FINANCE_RELATIONS },
  };
}
