import { sql, type Kysely } from 'kysely';
import type { CommandReport } from '../cli/output.ts';
import type { Schema } from '../db/index.ts';
import { JobError, UsageError } from '../errors.ts';
import { withRun, type CommonOptions } from '../run/context.ts';
import { ageOn, dayOf, isSchoolAge, type AgeBands } from './dates.ts';
import {
  explanationJson,
  explanationText,
  headline,
  type FamilyExplanation,
  type MemberInfo,
  type PersonFields,
  type RecordInfo,
  type RuleRow,
  type SourceFile,
} from './explain-text.ts';
import type { Plan } from './plan.ts';

/**
 * `tfclaims explain --case-ref REF | --family ID [--as-of DATE] [--show-records]` (issue 4,
 * item 6): why one family is or is not claimable, read from one rules evaluation (the latest,
 * or the latest for --as-of). Everything shown is what that evaluation stored (core.rule_evidence,
 * core.problem_at_entry, core.problem_result, core.family_verdict, core.tier_history) plus where
 * each record behind it sits in the extract files the evaluation read (audit.input_file, raw.*).
 * Reads only. The text and JSON are made by explain-text.ts (pure, no database).
 */

type Db = Kysely<Schema>;

/** Which family: by the programme register's case reference, or by family id. */
export interface ExplainTarget {
  caseRef?: string;
  familyId?: number;
}

export interface ExplainReadOptions {
  /** Use the latest evaluation as of this date (`YYYY-MM-DD`); default: the latest evaluation of all. */
  asOf?: string;
  /** Also read the source rows' person fields and free-text notes (personal data). */
  showRecords?: boolean;
}

const SOURCES = ['attendance', 'offending', 'employment', 'social_care', 'attachments', 'evidence'] as const;
type Source = (typeof SOURCES)[number];
const PERSON_SOURCES: ReadonlySet<string> = new Set(['attendance', 'offending', 'employment', 'social_care', 'attachments']);

/** Event columns read per source (codes, dates, counts: never person fields or free text). */
const FACT_COLUMNS: Readonly<Record<Source, string>> = {
  attendance:
    "to_char(term_start, 'YYYY-MM-DD') AS term_start, to_char(term_end, 'YYYY-MM-DD') AS term_end, school_urn, sessions_possible, sessions_authorised, " +
    'sessions_unauthorised, fixed_exclusions, permanent_exclusion, alternative_provision',
  offending: "to_char(event_date, 'YYYY-MM-DD') AS event_date, event_type, role",
  employment: "spell_type, benefit_type, uc_conditionality, to_char(start_date, 'YYYY-MM-DD') AS start_date, to_char(end_date, 'YYYY-MM-DD') AS end_date",
  social_care: "episode_type, to_char(start_date, 'YYYY-MM-DD') AS start_date, to_char(end_date, 'YYYY-MM-DD') AS end_date, case_ref, role",
  attachments: "case_ref, to_char(attached_on, 'YYYY-MM-DD') AS attached_on, member_role, problems",
  evidence: "case_ref, problem, outcome, to_char(evidence_date, 'YYYY-MM-DD') AS evidence_date, attested_by",
};
/** Free text per source: only with --show-records (it can name people). */
const NOTE_COLUMNS: Readonly<Partial<Record<Source, string[]>>> = {
  offending: ['detail'],
  attachments: ['lead_professional'],
  evidence: ['note'],
};
const PERSON_COLUMNS = "person_ref, forename, middle_names, surname, to_char(dob, 'YYYY-MM-DD') AS dob, sex, address, postcode, uprn";

type Row = Record<string, unknown>;
const s = (v: unknown): string => (v === null || v === undefined || v === '' ? '' : String(v));

/** What a source row says, in codes, dates and counts. */
export function factsOf(source: string, r: Row): string {
  switch (source) {
    case 'attendance': {
      const possible = Number(r.sessions_possible);
      const auth = Number(r.sessions_authorised);
      const unauth = Number(r.sessions_unauthorised);
      return (
        `term ${s(r.term_start)} to ${s(r.term_end)}: ${auth + unauth} of ${possible} sessions absent (${auth} authorised, ${unauth} unauthorised), ` +
        `${s(r.fixed_exclusions) || 0} fixed exclusions${r.permanent_exclusion ? ', permanent exclusion' : ''}${r.alternative_provision ? ', alternative provision' : ''}` +
        `${r.school_urn ? `, school URN ${s(r.school_urn)}` : ''}`
      );
    }
    case 'offending':
      return `${s(r.event_date)} ${s(r.event_type)}${r.role ? ` (role ${s(r.role)})` : ''}`;
    case 'employment': {
      const what = s(r.spell_type).toLowerCase() === 'benefit' ? `benefit ${s(r.benefit_type)}${r.uc_conditionality ? ` (conditionality ${s(r.uc_conditionality)})` : ''}` : s(r.spell_type);
      return `${what} spell ${s(r.start_date)} to ${s(r.end_date) || 'open'}`;
    }
    case 'social_care':
      return `${s(r.episode_type)} episode ${s(r.start_date)} to ${s(r.end_date) || 'open'}${r.role ? `, role ${s(r.role)}` : ''}${r.case_ref ? `, social care case ${s(r.case_ref)}` : ''}`;
    case 'attachments':
      return (
        `register: case ${s(r.case_ref)} attached on ${s(r.attached_on)}${r.member_role ? `, member role ${s(r.member_role)}` : ''}` +
        `, keyworker's problems ${Array.isArray(r.problems) && r.problems.length > 0 ? (r.problems as string[]).join(';') : 'none'}`
      );
    case 'evidence':
      return `attestation for ${s(r.problem)}: ${s(r.outcome)} on ${s(r.evidence_date)}, attested by ${s(r.attested_by)} (case ${s(r.case_ref)})`;
    default:
      return '';
  }
}

/** Resolve the family. Throws UsageError naming the case reference or id when there is none. */
async function findFamily(k: Db, target: ExplainTarget): Promise<{ familyId: number; caseRef: string | null; createdRun: number }> {
  const { rows } =
    target.caseRef !== undefined
      ? await sql<{ family_id: number; case_ref: string | null; created_run: number }>`
          SELECT family_id, case_ref, created_run FROM core.family WHERE case_ref = ${target.caseRef}`.execute(k)
      : await sql<{ family_id: number; case_ref: string | null; created_run: number }>`
          SELECT family_id, case_ref, created_run FROM core.family WHERE family_id = ${target.familyId ?? -1}`.execute(k);
  const row = rows[0];
  if (!row) {
    throw target.caseRef !== undefined
      ? new UsageError(`no family has case_ref ${target.caseRef}`, {
          hint: 'give the case reference as in attachments.csv (e.g. EH-100007); families are formed by `tfclaims match` (or `tfclaims run`), and families.csv lists them',
        })
      : new UsageError(`no family has family_id ${target.familyId}`, { hint: 'family ids are in families.csv (written by `tfclaims match --out DIR` and `tfclaims run`)' });
  }
  return { familyId: Number(row.family_id), caseRef: row.case_ref, createdRun: Number(row.created_run) };
}

/** The evaluation to explain from. Throws JobError saying to run `tfclaims evaluate` when there is none. */
async function findEvaluation(k: Db, asOf: string | undefined) {
  const { rows } = await sql<{
    evaluation_id: number;
    run_id: number;
    as_of: string;
    plan_id: string;
    plan_version: string;
    plan_sha256: string;
    plan: Plan;
    evidence_sha256: string | null;
    evaluated_at: string;
  }>`
    SELECT evaluation_id, run_id, to_char(as_of, 'YYYY-MM-DD') AS as_of, plan_id, plan_version, plan_sha256, plan, evidence_sha256,
           to_char(evaluated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') AS evaluated_at
    FROM core.rules_evaluation
    WHERE ${asOf === undefined ? sql`true` : sql`as_of = ${asOf}::date`}
    ORDER BY evaluation_id DESC LIMIT 1`.execute(k);
  const row = rows[0];
  if (!row) {
    throw new JobError(asOf === undefined ? 'no rules evaluation yet: there is nothing to explain' : `no rules evaluation as of ${asOf}: there is nothing to explain for that date`, {
      hint: `run \`tfclaims evaluate --as-of ${asOf ?? 'DATE'}\` first (or \`tfclaims run\`, which evaluates), then retry`,
    });
  }
  return row;
}

/**
 * Read why a family is or is not claimable from one rules evaluation (the latest, or the latest
 * as of `opts.asOf`). Throws UsageError for an unknown family, JobError when no evaluation exists.
 */
export async function explainFamily(k: Db, target: ExplainTarget, opts: ExplainReadOptions = {}): Promise<FamilyExplanation> {
  const ev = await findEvaluation(k, opts.asOf);
  const family = await findFamily(k, target);
  const evalId = ev.evaluation_id;
  const evalRun = Number(ev.run_id);
  const fid = family.familyId;
  const plan = ev.plan;
  const showRecords = opts.showRecords ?? false;

  const verdictRow = (
    await sql<{
      attached_on: string;
      problems_at_entry: string[];
      eligible: boolean;
      progress_due: boolean;
      ssp_met: boolean;
      ce_met: boolean;
      claimable_by_rules: boolean;
      route: string | null;
      financial_year: string;
      payment_gbp: string | null;
    }>`
      SELECT to_char(attached_on, 'YYYY-MM-DD') AS attached_on, problems_at_entry, eligible, progress_due, ssp_met, ce_met, claimable_by_rules, route,
             financial_year, payment_gbp::text AS payment_gbp
      FROM core.family_verdict WHERE evaluation_id = ${evalId} AND family_id = ${fid}`.execute(k)
  ).rows[0];

  const ruleRows = (
    await sql<{
      phase: RuleRow['phase'];
      problem: string;
      rule_index: number;
      rule: string;
      parameters: Row;
      measured: Row;
      threshold: Row;
      result: string;
      source_records: string[];
      attested_by: string | null;
      tested_on: string;
    }>`
      SELECT phase, problem, rule_index, rule, parameters, measured, threshold, result, source_records, attested_by, to_char(tested_on, 'YYYY-MM-DD') AS tested_on
      FROM core.rule_evidence WHERE evaluation_id = ${evalId} AND family_id = ${fid}
      ORDER BY CASE phase WHEN 'identification' THEN 0 WHEN 'progress' THEN 1 ELSE 2 END, problem, rule_index`.execute(k)
  ).rows;
  const rules: RuleRow[] = ruleRows.map((r) => ({
    phase: r.phase,
    problem: r.problem,
    ruleIndex: Number(r.rule_index),
    rule: r.rule,
    parameters: r.parameters,
    measured: r.measured,
    threshold: r.threshold,
    result: r.result,
    sourceRecords: r.source_records,
    attestedBy: r.attested_by,
    testedOn: r.tested_on,
  }));

  const entry = (
    await sql<{ problem: string; identified_on: string; from_data: boolean; from_keyworker: boolean }>`
      SELECT problem, to_char(identified_on, 'YYYY-MM-DD') AS identified_on, from_data, from_keyworker
      FROM core.problem_at_entry WHERE evaluation_id = ${evalId} AND family_id = ${fid}`.execute(k)
  ).rows;
  const results = (
    await sql<{ problem: string; required: boolean; data_result: string; result: string; decided_by: string; attested_by: string | null }>`
      SELECT problem, required, data_result, result, decided_by, attested_by
      FROM core.problem_result WHERE evaluation_id = ${evalId} AND family_id = ${fid}`.execute(k)
  ).rows;
  const unattached = (
    await sql<{ problems: string[] }>`SELECT problems FROM core.eligible_unattached WHERE evaluation_id = ${evalId} AND family_id = ${fid}`.execute(k)
  ).rows[0];
  const tiers = (
    await sql<{ person_id: number; from_date: string; to_date: string | null; tier: number; previous_tier: number; change: string; source_records: string[] }>`
      SELECT person_id, to_char(from_date, 'YYYY-MM-DD') AS from_date, to_char(to_date, 'YYYY-MM-DD') AS to_date, tier, previous_tier, change, source_records
      FROM core.tier_history WHERE evaluation_id = ${evalId} AND family_id = ${fid}
      ORDER BY person_id, from_date`.execute(k)
  ).rows;

  // The extract files the evaluation read: loaded by its run or earlier, not yet superseded then.
  const files = (
    await sql<{ file_id: number; source: Source; file_name: string; sha256: string; run_id: number }>`
      SELECT f.file_id, f.source, f.file_name, f.sha256, f.run_id FROM audit.input_file f
      WHERE f.run_id <= ${evalRun}
        AND NOT EXISTS (SELECT 1 FROM audit.file_supersession x WHERE x.file_id = f.file_id AND x.run_id <= ${evalRun})
      ORDER BY f.source, f.file_id`.execute(k)
  ).rows.map((f) => ({ fileId: Number(f.file_id), source: f.source, fileName: f.file_name, sha256: f.sha256, loadedByRun: Number(f.run_id) }) satisfies SourceFile);

  // Register rows of the family in those files: the attachment date when the family has no verdict, and the keyworker's records.
  const attachmentFiles = files.filter((f) => f.source === 'attachments').map((f) => f.fileId);
  const register =
    family.caseRef === null || attachmentFiles.length === 0
      ? []
      : (
          await sql<{ record_id: string; attached_on: string }>`
            SELECT record_id, to_char(attached_on, 'YYYY-MM-DD') AS attached_on FROM raw.attachments
            WHERE file_id = ANY(${attachmentFiles}::bigint[]) AND case_ref = ${family.caseRef} ORDER BY attached_on, record_id`.execute(k)
        ).rows;
  const attachedOn = verdictRow?.attached_on ?? register[0]?.attached_on ?? null;

  // The records behind every rule and tier change.
  const refs = new Set<string>([...rules.flatMap((r) => r.sourceRecords), ...tiers.flatMap((t) => t.source_records)]);
  if (!verdictRow) for (const r of register) refs.add(`attachments:${r.record_id}`);
  const records = await loadRecords(k, [...refs], files, showRecords);

  // Members when the evaluation was made, and changes since.
  const memberRows = (
    await sql<{ person_id: number; basis: string; joined_on: string | null; current: boolean; at_eval: boolean }>`
      SELECT DISTINCT ON (person_id) person_id, basis, to_char(joined_on, 'YYYY-MM-DD') AS joined_on, (left_run IS NULL) AS current,
             (joined_run <= ${evalRun} AND (left_run IS NULL OR left_run > ${evalRun})) AS at_eval
      FROM core.family_member WHERE family_id = ${fid}
      ORDER BY person_id, (joined_run <= ${evalRun} AND (left_run IS NULL OR left_run > ${evalRun})) DESC, joined_run DESC`.execute(k)
  ).rows;
  const atEval = memberRows.filter((m) => m.at_eval);
  const ids = atEval.map((m) => Number(m.person_id));
  const dobs = new Map(
    (await sql<{ person_id: number; dob: string }>`SELECT person_id, to_char(dob, 'YYYY-MM-DD') AS dob FROM core.person_detail WHERE person_id = ANY(${ids}::bigint[])`.execute(k)).rows.map(
      (r) => [Number(r.person_id), r.dob],
    ),
  );
  const counts = (
    await sql<{ person_id: number; source: string; n: number }>`
      SELECT person_id, source, count(*)::int AS n FROM core.person_record WHERE person_id = ANY(${ids}::bigint[]) GROUP BY person_id, source ORDER BY source`.execute(k)
  ).rows;
  const roleOf = new Map<number, string>();
  for (const r of Object.values(records)) {
    if (r.source === 'attachments' && r.personId !== null && r.role) roleOf.set(r.personId, r.role);
    delete r.role;
  }
  const ages: AgeBands = plan.ages;
  const dates = attachedOn && (verdictRow || rules.some((r) => r.phase === 'progress'))
    ? [
        { date: attachedOn, label: 'attached on' },
        { date: ev.as_of, label: 'as of' },
      ]
    : [{ date: ev.as_of, label: 'as of' }];
  const members: MemberInfo[] = atEval.map((m) => {
    const pid = Number(m.person_id);
    const dob = dobs.get(pid);
    return {
      personId: pid,
      basis: m.basis,
      joinedOn: m.joined_on,
      registerRole: roleOf.get(pid) ?? null,
      ages:
        dob === undefined
          ? []
          : dates.map(({ date, label }) => {
              const age = ageOn(dayOf(dob), dayOf(date));
              return {
                date,
                label,
                age,
                band: age >= ages.adult_from ? ('adult' as const) : ('child' as const),
                youngPerson: age >= ages.young_person_from && age <= ages.young_person_to,
                schoolAge: isSchoolAge(dayOf(dob), dayOf(date), ages),
              };
            }),
      records: Object.fromEntries(counts.filter((c) => Number(c.person_id) === pid).map((c) => [c.source, Number(c.n)])),
    };
  });
  const membershipSince = {
    joined: memberRows.filter((m) => m.current && !m.at_eval).map((m) => Number(m.person_id)),
    left: atEval.filter((m) => !m.current).map((m) => Number(m.person_id)),
  };

  const status: FamilyExplanation['status'] = verdictRow ? 'attached' : unattached ? 'eligible_unattached' : 'not_evaluated';
  let reason: string | null = null;
  if (status === 'not_evaluated') {
    if (family.createdRun > evalRun) reason = `the family was formed after this evaluation (by run #${family.createdRun}): run \`tfclaims evaluate --as-of ${ev.as_of}\` again`;
    else if (attachedOn !== null && attachedOn > ev.as_of) reason = `attached on ${attachedOn}, after the as-of date ${ev.as_of}, so not evaluated: explain it with an evaluation as of ${attachedOn} or later`;
    else if (family.caseRef !== null && attachedOn === null) reason = `case ${family.caseRef} was not in the register the evaluation read`;
    else if (atEval.length === 0) reason = 'the family had no members when this evaluation was made';
    else reason = `not in the programme register, and fewer than ${plan.min_problems} problems identified from data on ${ev.as_of} (evidence is kept only for attached families and eligible ones)`;
  } else if (status === 'eligible_unattached') {
    reason = 'not in the programme register: only identification is evaluated, so it cannot be claimed until it is attached';
  }

  const order = await planOrder(ev.plan_id, ev.plan_sha256);
  const problems = Object.entries(plan.problems)
    .map(([code, p]) => ({ code, description: p.description ?? '', required: p.required_for_progress ?? true, dataRules: p.identification.length }))
    .sort((a, b) => (order.indexOf(a.code) + 1 || 999) - (order.indexOf(b.code) + 1 || 999) || a.code.localeCompare(b.code));
  return {
    family: { familyId: fid, caseRef: family.caseRef, attachedOn },
    evaluation: {
      evaluationId: Number(evalId),
      runId: evalRun,
      asOf: ev.as_of,
      evaluatedAt: ev.evaluated_at,
      planId: ev.plan_id,
      planVersion: ev.plan_version,
      planSha256: ev.plan_sha256,
      evidenceSha256: ev.evidence_sha256,
    },
    plan: {
      minProblems: plan.min_problems,
      progressDueMonths: plan.progress_due_months,
      identificationWindowMonths: plan.identification_window_months,
      keyworkerAssessment: plan.keyworker_assessment,
      continuousEmploymentEnabled: plan.continuous_employment.enabled,
      adultFrom: ages.adult_from,
      problems,
    },
    status,
    reason,
    members,
    membershipSince,
    problemsAtEntry: entry
      .map((p) => ({ problem: p.problem, identifiedOn: p.identified_on, fromData: p.from_data, fromKeyworker: p.from_keyworker }))
      .sort((a, b) => problems.findIndex((p) => p.code === a.problem) - problems.findIndex((p) => p.code === b.problem)),
    problemsFromData: unattached?.problems ?? [],
    rules,
    problemResults: results.map((r) => ({
      problem: r.problem,
      required: r.required,
      dataResult: r.data_result,
      result: r.result,
      decidedBy: r.decided_by,
      attestedBy: r.attested_by,
    })),
    verdict: verdictRow
      ? {
          problemsAtEntry: verdictRow.problems_at_entry,
          eligible: verdictRow.eligible,
          progressDue: verdictRow.progress_due,
          sspMet: verdictRow.ssp_met,
          ceMet: verdictRow.ce_met,
          claimableByRules: verdictRow.claimable_by_rules,
          route: verdictRow.route,
          financialYear: verdictRow.financial_year,
          paymentGbp: verdictRow.payment_gbp,
        }
      : null,
    tiers: tiers.map((t) => ({
      personId: Number(t.person_id),
      fromDate: t.from_date,
      toDate: t.to_date,
      tier: Number(t.tier),
      previousTier: Number(t.previous_tier),
      change: t.change,
      sourceRecords: t.source_records,
    })),
    records,
    files: files.filter((f) => Object.values(records).some((r) => r.fileId === f.fileId)),
    showRecords,
  };
}

/**
 * The order of the plan's problems as written (the stored plan is jsonb, which keeps no key
 * order): a built-in plan with the same hash gives it; otherwise problems are listed by code.
 */
async function planOrder(planId: string, sha256: string): Promise<string[]> {
  const { BUILTIN_PLANS, loadPlan } = await import('./plan.ts');
  if (!(BUILTIN_PLANS as readonly string[]).includes(planId)) return [];
  try {
    const builtin = await loadPlan(planId);
    return builtin.sha256 === sha256 ? Object.keys(builtin.plan.problems) : [];
  } catch {
    return [];
  }
}

/** The rows behind `refs` in the files the evaluation read, with their file, line, person now and facts. */
async function loadRecords(k: Db, refs: readonly string[], files: readonly SourceFile[], showRecords: boolean): Promise<Record<string, RecordInfo & { role?: string }>> {
  const out: Record<string, RecordInfo & { role?: string }> = {};
  const bySource = new Map<string, string[]>();
  for (const ref of [...refs].sort()) {
    const at = ref.indexOf(':');
    const source = ref.slice(0, at);
    bySource.set(source, [...(bySource.get(source) ?? []), ref.slice(at + 1)]);
    out[ref] = { ref, source, recordId: ref.slice(at + 1), fileId: null, fileName: null, line: null, personId: null, facts: '' };
  }
  for (const source of SOURCES) {
    const ids = bySource.get(source);
    if (!ids) continue;
    const fileIds = files.filter((f) => f.source === source).map((f) => f.fileId);
    const cols = [FACT_COLUMNS[source], ...(showRecords && PERSON_SOURCES.has(source) ? [PERSON_COLUMNS] : []), ...(showRecords ? (NOTE_COLUMNS[source] ?? []) : [])].join(', ');
    // `source` and the column lists are constants of this module, never user text.
    const { rows } = await sql<Row & { record_id: string; file_id: number; line: number }>`
      SELECT DISTINCT ON (record_id) record_id, file_id, line, ${sql.raw(cols)}
      FROM ${sql.table(`raw.${source}`)}
      WHERE file_id = ANY(${fileIds}::bigint[]) AND record_id = ANY(${ids}::text[])
      ORDER BY record_id, file_id DESC, line`.execute(k);
    const fileName = new Map(files.map((f) => [f.fileId, f.fileName]));
    for (const row of rows) {
      const rec = out[`${source}:${row.record_id}`]!;
      rec.fileId = Number(row.file_id);
      rec.fileName = fileName.get(Number(row.file_id)) ?? null;
      rec.line = Number(row.line);
      rec.facts = factsOf(source, row);
      if (source === 'attachments' && row.member_role) rec.role = String(row.member_role);
      if (showRecords && PERSON_SOURCES.has(source)) {
        rec.personal = Object.fromEntries(
          ['person_ref', 'forename', 'middle_names', 'surname', 'dob', 'sex', 'address', 'postcode', 'uprn'].map((c) => [c, (row[c] as string | null) ?? null]),
        ) as unknown as PersonFields;
      }
      if (showRecords) {
        const notes = Object.fromEntries((NOTE_COLUMNS[source] ?? []).filter((c) => row[c]).map((c) => [c, String(row[c])]));
        if (Object.keys(notes).length > 0) rec.notes = notes;
      }
    }
    const persons = await sql<{ record_id: string; person_id: number }>`
      SELECT record_id, person_id FROM core.person_record WHERE source = ${source} AND record_id = ANY(${ids}::text[])`.execute(k);
    for (const p of persons.rows) out[`${source}:${p.record_id}`]!.personId = Number(p.person_id);
  }
  // `role` only finds members' register roles; explainFamily removes it.
  return out;
}

export interface ExplainCommandOptions extends CommonOptions {
  caseRef?: string;
  /** `--family ID` as typed. */
  family?: string;
  asOf?: string;
  showRecords?: boolean;
  /** Where the explanation goes (default: stdout). Personal data must never go to stderr or a log. */
  print?: (text: string) => void;
}

/** Check --case-ref / --family: exactly one, and a family id is a whole number. */
export function parseExplainTarget(opts: { caseRef?: string; family?: string }): ExplainTarget {
  if ((opts.caseRef === undefined) === (opts.family === undefined)) {
    throw new UsageError('explain needs exactly one of --case-ref REF or --family ID', { hint: 'e.g. tfclaims explain --case-ref EH-100007' });
  }
  if (opts.caseRef !== undefined) {
    const caseRef = opts.caseRef.trim();
    if (caseRef === '') throw new UsageError('--case-ref is empty', { hint: 'e.g. --case-ref EH-100007' });
    return { caseRef };
  }
  if (!/^\d{1,15}$/.test(opts.family!.trim()) || Number(opts.family) < 1) {
    throw new UsageError(`--family ${opts.family} is not a family id`, { hint: 'a family id is a whole number, as in families.csv' });
  }
  return { familyId: Number(opts.family) };
}

/** `tfclaims explain`: the explanation on stdout (or one JSON object with --json), recorded as a run. */
export async function runExplain(opts: ExplainCommandOptions): Promise<CommandReport> {
  const target = parseExplainTarget(opts);
  let asOf: string | undefined;
  if (opts.asOf !== undefined) {
    const { parseAsOf } = await import('../run/pipeline.ts');
    asOf = parseAsOf(opts.asOf);
  }
  const showRecords = opts.showRecords ?? false;
  let e: FamilyExplanation | undefined;
  const outcome = await withRun('explain', { ...target, asOf: asOf ?? null, showRecords }, opts, async (ctx) => {
    e = await explainFamily(ctx.db.kysely, target, { ...(asOf === undefined ? {} : { asOf }), showRecords });
    // Ids and codes only: this summary is stored with the run and logged.
    return {
      summary: {
        familyId: e.family.familyId,
        caseRef: e.family.caseRef,
        evaluationId: e.evaluation.evaluationId,
        status: e.status,
        claimableByRules: e.verdict?.claimableByRules ?? false,
        route: e.verdict?.route ?? null,
      },
      exitCode: 0,
    };
  });
  const x = e!;
  if (!opts.json) (opts.print ?? ((text: string) => void process.stdout.write(text)))(`${explanationText(x).join('\n')}\n`);
  return {
    exitCode: outcome.exitCode,
    lines: [
      `explain: family ${x.family.familyId}${x.family.caseRef ? ` (case ${x.family.caseRef})` : ''}, evaluation #${x.evaluation.evaluationId} as of ${x.evaluation.asOf}: ${headline(x)}`,
      `run #${outcome.runId}; log: ${outcome.logFile}`,
    ],
    json: { runId: outcome.runId, ...explanationJson(x) },
  };
}
