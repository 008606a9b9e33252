import { createHash, randomInt } from 'node:crypto';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { stringify } from 'csv-stringify/sync';
import type { Schema } from '../db/index.ts';
import { JobError, UsageError } from '../errors.ts';
import { recordOutput } from '../audit/outputs.ts';
import type { RunContext } from '../run/context.ts';
import { spreadsheetSafe } from '../util/spreadsheet.ts';
import { checkWindow, evidencePackDirName, ownerOnlyDir, writeAtomically } from './files.ts';
import { claimLines, latestDraft, lockClaims, sampleForLines, submittedClaim, type ClaimRow, type StoredLine } from './store.ts';

/**
 * The internal audit sample (issue 5, item 3): a reproducible random sample of a draft's lines
 * and an evidence pack per sampled family for the auditor. See docs/claims.md.
 */

export const SAMPLE_METHOD = 'sha256-order-v1';
export const DEFAULT_FRACTION = 0.1;

/** The sort key of a line: lower-hex sha256 of the UTF-8 text `<seed>:<case_ref>`. */
export function sampleKey(seed: string | number | bigint, caseRef: string): string {
  return createHash('sha256').update(`${seed}:${caseRef}`, 'utf8').digest('hex');
}

/** How many lines a sample of `fraction` takes from `lines`: ceil(fraction x lines), at least 1. */
export function sampleSize(lines: number, fraction: number): number {
  if (lines === 0) return 0;
  // Rounded to 9 places first, so 0.1 x 30 is 3, not 4 (0.30000000000000004 x 10).
  return Math.min(lines, Math.max(1, Math.ceil(Math.round(fraction * lines * 1e9) / 1e9)));
}

/**
 * The sample (method sha256-order-v1): lines ordered by `sampleKey(seed, case_ref)` (hex strings,
 * byte order; family_id breaks a tie), the first `sampleSize` taken. Depends only on the seed,
 * the fraction and the set of case_refs, not on their order, so anyone can redraw it, in SQL too.
 */
export function drawSampleOf<L extends { caseRef: string; familyId: number }>(lines: readonly L[], seed: string | number | bigint, fraction: number): (L & { rank: number; sortKey: string })[] {
  const keyed = lines.map((l) => ({ ...l, sortKey: sampleKey(seed, l.caseRef) }));
  keyed.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : a.familyId - b.familyId));
  return keyed.slice(0, sampleSize(lines.length, fraction)).map((l, i) => ({ ...l, rank: i + 1 }));
}

export interface AuditSampleOptions {
  window: string;
  /** Whole number >= 0; without it a random seed is drawn (and recorded). */
  seed?: string;
  /** Share of lines (0 < F <= 1), default 0.1. */
  fraction?: number;
  /** Where to write the evidence packs: default the folder the draft was written to. */
  outDir?: string;
}

export interface AuditSampleSummary {
  window: string;
  sampleId: number;
  /** False: the sample already drawn for these lines was returned (same seed and fraction). */
  drawn: boolean;
  draftClaimId: number;
  seed: string;
  fraction: number;
  method: string;
  draftLines: number;
  sampleSize: number;
  /** Sampled lines in rank order (ids only). */
  sampled: { rank: number; caseRef: string; familyId: number }[];
  /** The owner-only folder with an evidence pack per sampled family (personal data). */
  packDir: string;
  packs: number;
}

function parseSeed(seed: string | undefined): string | undefined {
  if (seed === undefined) return undefined;
  if (!/^\d{1,18}$/.test(seed)) throw new UsageError(`--seed ${JSON.stringify(seed)} is not a whole number (0 to 18 digits)`);
  return String(BigInt(seed));
}

/** `tfclaims audit sample`: draw (or return) the sample of the window's draft and write the evidence packs. */
export async function auditSample(ctx: RunContext, opts: AuditSampleOptions): Promise<AuditSampleSummary> {
  const window = checkWindow(opts.window);
  const seedArg = parseSeed(opts.seed);
  const fractionArg = opts.fraction;
  if (fractionArg !== undefined && !(fractionArg > 0 && fractionArg <= 1)) throw new UsageError('--fraction must be more than 0 and at most 1, e.g. 0.1');

  const drawn = await ctx.db.transaction(async (session) => {
    const k = session.kysely;
    await lockClaims(session);
    const submitted = await submittedClaim(k, window);
    if (submitted) throw new JobError(`window ${window} was already submitted (claim ${submitted.claimId}): its audit is closed`);
    const draft = await latestDraft(k, window);
    if (!draft) throw new JobError(`window ${window} has no claim draft to sample`, { hint: `run tfclaims claim draft --window ${window} --as-of DATE --out DIR first` });
    if (draft.lines === 0) throw new JobError(`the draft of window ${window} (claim ${draft.claimId}) has no lines: there is nothing to sample or claim`);
    const lines = await claimLines(k, draft.claimId);
    const existing = await sampleForLines(k, window, draft.linesSha256);
    if (existing) {
      const sameSeed = seedArg === undefined || seedArg === existing.seed;
      const sameFraction = fractionArg === undefined || Math.abs(fractionArg - existing.fraction) < 1e-12;
      if (!sameSeed || !sameFraction) {
        throw new JobError(
          `an audit sample (${existing.sampleId}: seed ${existing.seed}, fraction ${existing.fraction}) was drawn for these draft lines on ${existing.drawnAt}; it stands`,
          { hint: 'a sample cannot be redrawn with another seed or fraction for the same lines (that would let anyone pick it); run without --seed/--fraction to rewrite its evidence packs' },
        );
      }
      const rows = await sql<{ rank: number; case_ref: string; family_id: number }>`
        SELECT rank, case_ref, family_id::int AS family_id FROM core.audit_sample_line WHERE sample_id = ${existing.sampleId} ORDER BY rank`.execute(k);
      return { draft, lines, sampleId: existing.sampleId, seed: existing.seed, fraction: existing.fraction, new: false, sampled: rows.rows.map((r) => ({ rank: r.rank, caseRef: r.case_ref, familyId: r.family_id })) };
    }
    const seed = seedArg ?? String(randomInt(0, 2 ** 31 - 1));
    const fraction = fractionArg ?? DEFAULT_FRACTION;
    const chosen = drawSampleOf(lines, seed, fraction);
    const ins = await sql<{ sample_id: number }>`
      INSERT INTO core.audit_sample (claim_id, window_id, lines_sha256, seed, fraction, method, draft_lines, sample_size, run_id)
      VALUES (${draft.claimId}, ${window}, ${draft.linesSha256}, ${seed}::bigint, ${fraction}, ${SAMPLE_METHOD}, ${lines.length}, ${chosen.length}, ${ctx.runId})
      RETURNING sample_id::int AS sample_id`.execute(k);
    const sampleId = ins.rows[0]!.sample_id;
    await sql`
      INSERT INTO core.audit_sample_line (sample_id, rank, family_id, case_ref, sort_key)
      SELECT ${sampleId}, r, f, c, s FROM unnest(${chosen.map((c) => c.rank)}::int[], ${chosen.map((c) => c.familyId)}::bigint[],
                                                 ${chosen.map((c) => c.caseRef)}::text[], ${chosen.map((c) => c.sortKey)}::text[]) AS t(r, f, c, s)`.execute(k);
    return { draft, lines, sampleId, seed, fraction, new: true, sampled: chosen.map((c) => ({ rank: c.rank, caseRef: c.caseRef, familyId: c.familyId })) };
  });

  const packDir = path.join(path.resolve(opts.outDir ?? drawn.draft.outDir), evidencePackDirName(window));
  const written = await writeEvidencePacks(ctx, drawn.draft, drawn.lines, drawn.sampleId, drawn.seed, drawn.sampled, packDir);
  ctx.logger.info({ stage: 'claims', window, sampleId: drawn.sampleId, seed: drawn.seed, sampleSize: drawn.sampled.length, drawn: drawn.new }, 'audit sample');
  return {
    window,
    sampleId: drawn.sampleId,
    drawn: drawn.new,
    draftClaimId: drawn.draft.claimId,
    seed: drawn.seed,
    fraction: drawn.fraction,
    method: SAMPLE_METHOD,
    draftLines: drawn.lines.length,
    sampleSize: drawn.sampled.length,
    sampled: drawn.sampled,
    packDir,
    packs: written,
  };
}

const SOURCES = ['attendance', 'offending', 'employment', 'social_care', 'attachments', 'evidence'] as const;
type Source = (typeof SOURCES)[number];

/** Raw rows (every column: personal data) of the files in force, by `source:record_id`. */
async function sourceRows(k: Kysely<Schema>, refs: Iterable<string>): Promise<Map<string, unknown>> {
  const bySource = new Map<Source, Set<string>>();
  for (const ref of refs) {
    const i = ref.indexOf(':');
    const source = ref.slice(0, i) as Source;
    if (!SOURCES.includes(source)) continue;
    if (!bySource.has(source)) bySource.set(source, new Set());
    bySource.get(source)!.add(ref.slice(i + 1));
  }
  const out = new Map<string, unknown>();
  for (const [source, ids] of bySource) {
    const table = sql.table(`raw.${source}`);
    const r = await sql<{ record_id: string; row: Record<string, unknown>; file_name: string; file_sha256: string }>`
      SELECT t.record_id, to_jsonb(t) - 'file_id' AS row, f.file_name, f.sha256 AS file_sha256
      FROM ${table} t JOIN audit.current_file f ON f.file_id = t.file_id
      WHERE t.record_id = ANY(${[...ids]}::text[])
      ORDER BY t.record_id, t.line`.execute(k);
    for (const row of r.rows) out.set(`${source}:${row.record_id}`, { file: row.file_name, file_sha256: row.file_sha256, ...row.row });
  }
  return out;
}

/**
 * One JSON file per sampled family in an owner-only folder (0700, files 0600) whose name says it
 * holds personal data, plus `sample.csv` (rank, case_ref, family_id, route, amount, pack file).
 * Each pack: the claim line, the verdict, the members (with their register rows: names, dates
 * of birth, addresses), the problems at entry and where each came from, every rule's measured
 * value against its threshold with the source records behind it, and those source rows in full.
 */
async function writeEvidencePacks(
  ctx: RunContext,
  draft: ClaimRow,
  lines: readonly StoredLine[],
  sampleId: number,
  seed: string,
  sampled: readonly { rank: number; caseRef: string; familyId: number }[],
  packDir: string,
): Promise<number> {
  await ownerOnlyDir(packDir);
  const k = ctx.db.kysely;
  const byFamily = new Map(lines.map((l) => [l.familyId, l]));
  const ids = sampled.map((s) => s.familyId);
  const ev = draft.evaluationId;
  const [verdicts, entries, results, evidence, members] = await Promise.all([
    sql<{ family_id: number; v: Record<string, unknown> }>`
      SELECT family_id::int AS family_id, to_jsonb(v) AS v FROM core.family_verdict v WHERE evaluation_id = ${ev} AND family_id = ANY(${ids}::bigint[])`.execute(k),
    sql<{ family_id: number; e: Record<string, unknown> }>`
      SELECT family_id::int AS family_id, jsonb_build_object('problem', problem, 'identified_on', identified_on, 'from_data', from_data, 'from_keyworker', from_keyworker) AS e
      FROM core.problem_at_entry WHERE evaluation_id = ${ev} AND family_id = ANY(${ids}::bigint[]) ORDER BY family_id, problem`.execute(k),
    sql<{ family_id: number; r: Record<string, unknown> }>`
      SELECT family_id::int AS family_id, jsonb_build_object('problem', problem, 'required', required, 'data_result', data_result, 'result', result,
                                                             'decided_by', decided_by, 'attested_by', attested_by) AS r
      FROM core.problem_result WHERE evaluation_id = ${ev} AND family_id = ANY(${ids}::bigint[]) ORDER BY family_id, problem`.execute(k),
    sql<{ family_id: number; source_records: string[]; e: Record<string, unknown> }>`
      SELECT family_id::int AS family_id, source_records,
             jsonb_build_object('phase', phase, 'problem', problem, 'rule_index', rule_index, 'rule', rule, 'parameters', parameters,
                                'measured', measured, 'threshold', threshold, 'result', result, 'tested_on', tested_on,
                                'attested_by', attested_by, 'source_records', to_jsonb(source_records)) AS e
      FROM core.rule_evidence WHERE evaluation_id = ${ev} AND family_id = ANY(${ids}::bigint[])
      ORDER BY family_id, phase, problem, rule_index`.execute(k),
    sql<{ family_id: number; person_id: number; basis: string; joined_on: string | null; dob: string | null; sex: string | null; records: string[] }>`
      SELECT m.family_id::int AS family_id, m.person_id::int AS person_id, m.basis, to_char(m.joined_on, 'YYYY-MM-DD') AS joined_on,
             to_char(d.dob, 'YYYY-MM-DD') AS dob, d.sex,
             coalesce((SELECT array_agg(pr.source || ':' || pr.record_id ORDER BY pr.source, pr.record_id) FROM core.person_record pr WHERE pr.person_id = m.person_id), '{}') AS records
      FROM core.current_family_member m LEFT JOIN core.person_detail d ON d.person_id = m.person_id
      WHERE m.family_id = ANY(${ids}::bigint[]) ORDER BY m.family_id, m.person_id`.execute(k),
  ]);
  // Register and evidence rows of each sampled case, plus every record a rule used.
  const caseRows = await sql<{ case_ref: string; ref: string }>`
    SELECT a.case_ref, 'attachments:' || a.record_id AS ref FROM raw.attachments a JOIN audit.current_file c ON c.file_id = a.file_id
    WHERE a.case_ref = ANY(${sampled.map((s) => s.caseRef)}::text[])
    UNION ALL
    SELECT e.case_ref, 'evidence:' || e.record_id FROM raw.evidence e JOIN audit.current_file c ON c.file_id = e.file_id
    WHERE e.case_ref = ANY(${sampled.map((s) => s.caseRef)}::text[])`.execute(k);
  const refs = new Set<string>();
  for (const e of evidence.rows) for (const r of e.source_records) refs.add(r);
  for (const c of caseRows.rows) refs.add(c.ref);
  const rows = await sourceRows(k, refs);

  const group = <T extends { family_id: number }>(xs: T[]) => {
    const m = new Map<number, T[]>();
    for (const x of xs) m.set(x.family_id, [...(m.get(x.family_id) ?? []), x]);
    return m;
  };
  const gEntries = group(entries.rows);
  const gResults = group(results.rows);
  const gEvidence = group(evidence.rows);
  const gMembers = group(members.rows);
  const index: string[][] = [];
  for (const s of sampled) {
    const line = byFamily.get(s.familyId)!;
    const famEvidence = gEvidence.get(s.familyId) ?? [];
    const famRefs = new Set<string>();
    for (const e of famEvidence) for (const r of e.source_records) famRefs.add(r);
    for (const c of caseRows.rows) if (c.case_ref === s.caseRef) famRefs.add(c.ref);
    const pack = {
      notice: 'PERSONAL DATA: internal audit evidence pack. Keep owner-only; do not email or copy outside the audit folder.',
      window: draft.windowId,
      draft_claim_id: draft.claimId,
      audit_sample: { sample_id: sampleId, seed, method: SAMPLE_METHOD, rank: s.rank, sort_key: sampleKey(seed, s.caseRef) },
      claim_line: {
        line_no: line.lineNo,
        family_id: line.familyId,
        case_ref: line.caseRef,
        route: line.route,
        attached_on: line.attachedOn,
        outcome_date: line.outcomeDate,
        problems_at_entry: line.problemsAtEntry,
        amount_gbp: line.amountGbp,
      },
      evaluation: { evaluation_id: ev, as_of: draft.asOf, plan_id: draft.planId, plan_version: draft.planVersion, plan_sha256: draft.planSha256 },
      verdict: verdicts.rows.find((v) => v.family_id === s.familyId)?.v ?? null,
      members: (gMembers.get(s.familyId) ?? []).map((m) => ({ person_id: m.person_id, basis: m.basis, joined_on: m.joined_on, dob: m.dob, sex: m.sex, records: m.records })),
      problems_at_entry: (gEntries.get(s.familyId) ?? []).map((e) => e.e),
      problem_results: (gResults.get(s.familyId) ?? []).map((r) => r.r),
      rules: famEvidence.map((e) => e.e),
      source_records: Object.fromEntries([...famRefs].sort().map((r) => [r, rows.get(r) ?? null])),
    };
    const file = `${String(s.rank).padStart(3, '0')}-family-${s.familyId}.json`;
    await writeAtomically(path.join(packDir, file), `${JSON.stringify(pack, null, 2)}\n`, 0o600);
    index.push([String(s.rank), spreadsheetSafe(s.caseRef), String(s.familyId), line.route, line.amountGbp, file]);
  }
  const indexFile = path.join(packDir, 'sample.csv');
  await writeAtomically(indexFile, stringify(index, { header: true, columns: ['rank', 'case_ref', 'family_id', 'route', 'amount_gbp', 'evidence_pack'], record_delimiter: '\n' }), 0o600);
  await recordOutput(ctx, indexFile, { kind: 'audit_sample' });
  return sampled.length;
}

/** Lines a person reads about a sample (ids and counts only; the packs hold the personal data). */
export function describeSample(s: AuditSampleSummary): string[] {
  return [
    `audit sample ${s.sampleId} of window ${s.window} (draft claim ${s.draftClaimId}): ${s.sampleSize} of ${s.draftLines} lines, ` +
      `seed ${s.seed}, fraction ${s.fraction}, ${s.method}${s.drawn ? '' : ' (drawn earlier: the same sample)'}`,
    `  sampled case_refs: ${s.sampled.map((x) => x.caseRef).join(', ')}`,
    `  evidence packs (PERSONAL DATA, owner-only): ${s.packDir}`,
    `  next: tfclaims audit verify --window ${s.window} --case-ref REF --result pass|fail --by NAME [--note TEXT] for each, then tfclaims claim finalise --window ${s.window}`,
  ];
}
