import { sql, type Kysely } from 'kysely';
import type { DbSession, Schema } from '../db/index.ts';
import { JobError } from '../errors.ts';
import { claimCsv, type ClaimCsvLine } from './files.ts';

/**
 * Reading and locking the claims tables (migrations/0007_claims.sql). The tables are not in the
 * typed schema, so queries are plain SQL.
 */

/** Every claims command (draft, sample, verify, finalise, withdraw) holds this lock for its transaction. */
export const CLAIMS_LOCK = 7425114300;

export async function lockClaims(session: DbSession): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${CLAIMS_LOCK})`.execute(session.kysely);
}

export interface ClaimRow {
  claimId: number;
  windowId: string;
  status: 'draft' | 'submitted';
  asOf: string;
  financialYear: string;
  evaluationId: number;
  planId: string;
  planVersion: string;
  planSha256: string;
  draftId: number | null;
  sampleId: number | null;
  lines: number;
  totalGbp: string;
  linesSha256: string;
  outDir: string;
  runId: number;
  createdAt: string;
}

const claimColumns = sql`claim_id::int AS "claimId", window_id AS "windowId", status, to_char(as_of, 'YYYY-MM-DD') AS "asOf",
  financial_year AS "financialYear", evaluation_id::int AS "evaluationId", plan_id AS "planId", plan_version AS "planVersion",
  plan_sha256 AS "planSha256", draft_id::int AS "draftId", sample_id::int AS "sampleId", lines, total_gbp::text AS "totalGbp",
  lines_sha256 AS "linesSha256", out_dir AS "outDir", run_id::int AS "runId",
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "createdAt"`;

export async function submittedClaim(k: Kysely<Schema>, window: string): Promise<ClaimRow | undefined> {
  const r = await sql<ClaimRow>`SELECT ${claimColumns} FROM core.claim WHERE window_id = ${window} AND status = 'submitted'`.execute(k);
  return r.rows[0];
}

/** The draft in force for a window: its newest. */
export async function latestDraft(k: Kysely<Schema>, window: string): Promise<ClaimRow | undefined> {
  const r = await sql<ClaimRow>`
    SELECT ${claimColumns} FROM core.claim WHERE window_id = ${window} AND status = 'draft' ORDER BY claim_id DESC LIMIT 1`.execute(k);
  return r.rows[0];
}

export interface StoredLine extends ClaimCsvLine {
  lineNo: number;
}

export async function claimLines(k: Kysely<Schema>, claimId: number): Promise<StoredLine[]> {
  const r = await sql<{
    line_no: number;
    family_id: number;
    case_ref: string;
    route: string;
    attached_on: string;
    outcome_date: string;
    problems_at_entry: string[];
    amount_gbp: string;
  }>`
    SELECT line_no, family_id::int AS family_id, case_ref, route, to_char(attached_on, 'YYYY-MM-DD') AS attached_on,
           to_char(outcome_date, 'YYYY-MM-DD') AS outcome_date, problems_at_entry, amount_gbp::text AS amount_gbp
    FROM core.claim_line WHERE claim_id = ${claimId} ORDER BY line_no`.execute(k);
  return r.rows.map((l) => ({
    lineNo: l.line_no,
    familyId: l.family_id,
    caseRef: l.case_ref,
    route: l.route,
    attachedOn: l.attached_on,
    outcomeDate: l.outcome_date,
    problemsAtEntry: l.problems_at_entry,
    amountGbp: l.amount_gbp,
  }));
}

/** Insert a claim and its lines (line numbers 1..n in the order given); returns the claim id. */
export async function insertClaim(
  k: Kysely<Schema>,
  c: Omit<ClaimRow, 'claimId' | 'createdAt' | 'lines' | 'totalGbp' | 'linesSha256'> & { lines: readonly ClaimCsvLine[]; totalGbp: string; linesSha256: string },
): Promise<number> {
  const ins = await sql<{ claim_id: number }>`
    INSERT INTO core.claim (window_id, status, as_of, financial_year, evaluation_id, plan_id, plan_version, plan_sha256,
                            draft_id, sample_id, lines, total_gbp, lines_sha256, out_dir, run_id)
    VALUES (${c.windowId}, ${c.status}, ${c.asOf}::date, ${c.financialYear}, ${c.evaluationId}, ${c.planId}, ${c.planVersion}, ${c.planSha256},
            ${c.draftId}, ${c.sampleId}, ${c.lines.length}, ${c.totalGbp}::numeric, ${c.linesSha256}, ${c.outDir}, ${c.runId})
    RETURNING claim_id::int AS claim_id`.execute(k);
  const claimId = ins.rows[0]!.claim_id;
  if (c.lines.length > 0) {
    const L = c.lines;
    await sql`
      INSERT INTO core.claim_line (claim_id, status, line_no, family_id, case_ref, route, attached_on, outcome_date, problems_at_entry, amount_gbp)
      SELECT ${claimId}, ${c.status}, n, f, r, ro, a::date, o::date, string_to_array(p, ';'), amt::numeric
      FROM unnest(${L.map((_, i) => i + 1)}::int[], ${L.map((l) => l.familyId)}::bigint[], ${L.map((l) => l.caseRef)}::text[],
                  ${L.map((l) => l.route)}::text[], ${L.map((l) => l.attachedOn)}::text[], ${L.map((l) => l.outcomeDate)}::text[],
                  ${L.map((l) => l.problemsAtEntry.join(';'))}::text[], ${L.map((l) => l.amountGbp)}::text[]) AS t(n, f, r, ro, a, o, p, amt)`.execute(k);
  }
  return claimId;
}

/** The CSV text and its sha256 for a set of lines. */
export async function csvAndHash(window: string, lines: readonly ClaimCsvLine[]): Promise<{ csv: string; sha256: string }> {
  const { createHash } = await import('node:crypto');
  const csv = claimCsv(window, lines);
  return { csv, sha256: createHash('sha256').update(csv).digest('hex') };
}

export interface SampleRow {
  sampleId: number;
  claimId: number;
  windowId: string;
  linesSha256: string;
  seed: string;
  fraction: number;
  method: string;
  draftLines: number;
  sampleSize: number;
  runId: number;
  drawnAt: string;
}

/** The newest sample of a window drawn over these lines (a re-draft with identical lines keeps its sample). */
export async function sampleForLines(k: Kysely<Schema>, window: string, linesSha256: string): Promise<SampleRow | undefined> {
  const r = await sql<SampleRow>`
    SELECT sample_id::int AS "sampleId", claim_id::int AS "claimId", window_id AS "windowId", lines_sha256 AS "linesSha256",
           seed::text AS seed, fraction::float8 AS fraction, method, draft_lines AS "draftLines", sample_size AS "sampleSize",
           run_id::int AS "runId", to_char(drawn_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "drawnAt"
    FROM core.audit_sample WHERE window_id = ${window} AND lines_sha256 = ${linesSha256}
    ORDER BY sample_id DESC LIMIT 1`.execute(k);
  return r.rows[0];
}

export async function anySample(k: Kysely<Schema>, window: string): Promise<boolean> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM core.audit_sample WHERE window_id = ${window}`.execute(k);
  return r.rows[0]!.n > 0;
}

/** Each sampled line with its latest verification (none: result null). */
export interface SampledLineStatus {
  rank: number;
  familyId: number;
  caseRef: string;
  result: 'pass' | 'fail' | null;
  verifiedBy: string | null;
  verifications: number;
}

export async function sampleStatus(k: Kysely<Schema>, sampleId: number): Promise<SampledLineStatus[]> {
  const r = await sql<SampledLineStatus>`
    SELECT s.rank, s.family_id::int AS "familyId", s.case_ref AS "caseRef", v.result, v.verified_by AS "verifiedBy",
           (SELECT count(*)::int FROM core.audit_verification x WHERE x.sample_id = s.sample_id AND x.case_ref = s.case_ref) AS verifications
    FROM core.audit_sample_line s
    LEFT JOIN LATERAL (
      SELECT result, verified_by FROM core.audit_verification x
      WHERE x.sample_id = s.sample_id AND x.case_ref = s.case_ref ORDER BY x.verification_id DESC LIMIT 1
    ) v ON true
    WHERE s.sample_id = ${sampleId}
    ORDER BY s.rank`.execute(k);
  return r.rows;
}

/** The draft in force and the sample that stands for it; refuses (JobError) when either is missing. */
export async function draftAndSample(k: Kysely<Schema>, window: string, action: string): Promise<{ draft: ClaimRow; sample: SampleRow }> {
  const draft = await latestDraft(k, window);
  if (!draft) {
    throw new JobError(`cannot ${action}: window ${window} has no claim draft`, { hint: `run tfclaims claim draft --window ${window} --as-of DATE --out DIR first` });
  }
  const sample = await sampleForLines(k, window, draft.linesSha256);
  if (!sample) {
    const changed = await anySample(k, window);
    throw new JobError(
      changed
        ? `cannot ${action}: the draft of window ${window} (claim ${draft.claimId}) has changed since its audit sample was drawn, so that sample no longer stands`
        : `cannot ${action}: no audit sample has been drawn for window ${window}`,
      { hint: `draw one: tfclaims audit sample --window ${window} [--seed N] [--fraction F]` },
    );
  }
  return { draft, sample };
}

/** A sampled case_ref as typed (a spreadsheet-safe `'=X` from the CSV is accepted as `=X`). */
export async function resolveSampledCaseRef(k: Kysely<Schema>, sampleId: number, caseRef: string): Promise<{ caseRef: string; familyId: number } | undefined> {
  const candidates = caseRef.startsWith("'") ? [caseRef, caseRef.slice(1)] : [caseRef];
  const r = await sql<{ case_ref: string; family_id: number }>`
    SELECT case_ref, family_id::int AS family_id FROM core.audit_sample_line
    WHERE sample_id = ${sampleId} AND case_ref = ANY(${candidates}::text[])
    ORDER BY (case_ref = ${caseRef}) DESC LIMIT 1`.execute(k);
  const row = r.rows[0];
  return row ? { caseRef: row.case_ref, familyId: row.family_id } : undefined;
}
