import { sql, type RawBuilder } from 'kysely';
import type { DbSession } from '../db/index.ts';
import type { RunContext } from '../run/context.ts';
import { dayOf, financialYearOf } from './dates.ts';
import { continuousEmploymentSql } from './employment.ts';
import { paymentFor, problemCodes, type LoadedPlan } from './plan.ts';
import { attestedSql, identificationSql, progressSql, schoolYmdSql, ymdSql, type PredicateContext } from './predicates.ts';
import { tierHistorySql } from './tiers.ts';

/**
 * The rules stage: identification, significant and sustained progress, continuous employment and
 * tiers of support for every family, as of one date under one plan, inside the caller's
 * transaction. Set-based throughout: the current extracts and the families are staged once into
 * temporary tables (dropped at commit), then every rule of the plan is ONE statement over all
 * families (predicates.ts, employment.ts, tiers.ts), and the results are copied into the core
 * tables under a new evaluation_id (migrations/0005_rules.sql).
 */

export interface EvaluateOptions {
  /** The as-of date T (`YYYY-MM-DD`): the claim cut-off; also the reference date for families not attached. */
  asOf: string;
  plan: LoadedPlan;
  /**
   * Called once the staging tables are built, when the rest of the stage is many smaller
   * statements on one connection (and one core): `run` starts writing families.csv then.
   */
  afterStaging?: () => void;
}

/** What the evaluation did: counts and ids only (safe to print and log). */
export interface EvaluationSummary {
  evaluationId: number;
  asOf: string;
  planId: string;
  planVersion: string;
  planSha256: string;
  families: number;
  attachedFamilies: number;
  /** Register families attached after the as-of date: not evaluated. */
  attachedAfterAsOf: number;
  eligibleAttached: number;
  eligibleUnattached: number;
  progressDue: number;
  sspMet: number;
  ceMet: number;
  claimableByRules: number;
  byRoute: { continuous_employment: number; significant_sustained_progress: number };
  problemsAtEntry: Record<string, number>;
  keyworkerCodesNotInPlan: number;
  evidenceRows: number;
  tierChanges: number;
  evidenceSha256: string;
}

/** Lock held while evaluating, so two evaluations never interleave their staging. */
const RULES_LOCK = 7425114200;

export async function evaluateFamilies(session: DbSession, ctx: RunContext, opts: EvaluateOptions): Promise<EvaluationSummary> {
  const { plan, sha256 } = opts.plan;
  const asOf = opts.asOf;
  dayOf(asOf); // throws on a malformed date
  const log = ctx.logger.child({ stage: 'rules' });
  const k = session.kysely;
  const T = sql`${asOf}::date`;
  const codes = problemCodes(plan);
  const codesArr = sql`${`{${codes.join(',')}}`}::text[]`;
  const pc: PredicateContext = { asOf, ages: plan.ages, identificationWindowMonths: plan.identification_window_months };
  const steps: { step: string; ms: number }[] = [];
  const exec = async <R,>(q: RawBuilder<R>, step = 'sql') => {
    const started = performance.now();
    const result = await q.execute(k);
    steps.push({ step, ms: Math.round(performance.now() - started) });
    return result;
  };

  await exec(sql`SELECT pg_advisory_xact_lock(${RULES_LOCK})`, 'lock');
  ctx.progress.say(`rules: evaluating as of ${asOf} under ${plan.id} v${plan.version}`);

  // Re-evaluating in the same run with the same date and plan replaces the earlier evaluation.
  await exec(sql`DELETE FROM core.rules_evaluation WHERE run_id = ${ctx.runId} AND as_of = ${T} AND plan_sha256 = ${sha256}`, 'replace earlier evaluation');
  const ev = await sql<{ evaluation_id: number }>`
    INSERT INTO core.rules_evaluation (run_id, as_of, plan_id, plan_version, plan_sha256, plan)
    VALUES (${ctx.runId}, ${T}, ${plan.id}, ${plan.version}, ${sha256}, ${JSON.stringify(plan)}::jsonb)
    RETURNING evaluation_id::int AS evaluation_id`.execute(k);
  const evaluationId = ev.rows[0]!.evaluation_id;

  // --- staging: the current extracts joined to people and families, as known on T ----------
  const task = ctx.progress.start('rules', { total: 4, unit: 'steps' });
  // The dates ages are tested on, as the YYYYMMDD integers the age tests compare (whoSql).
  const aOf = sql.raw('reg.attached_on');
  const dOf = sql`coalesce(reg.attached_on, ${T})`;
  // Each staging statement with the name it is timed under in the log.
  const stage: [string, RawBuilder<unknown>][] = [
    ['drop leftovers', sql`DROP TABLE IF EXISTS r_family, r_member, r_offending, r_attendance, r_spell, r_episode, r_attestation, r_evidence, r_entry, r_problem`],
    ['r_family', sql`CREATE TEMP TABLE r_family ON COMMIT DROP AS
      WITH reg AS (
        SELECT a.case_ref, min(a.attached_on) AS attached_on, array_agg(DISTINCT 'attachments:' || a.record_id) AS recs
        FROM raw.attachments a JOIN audit.current_file c ON c.file_id = a.file_id GROUP BY a.case_ref
      ), kw AS (
        SELECT a.case_ref, array_agg(DISTINCT lower(btrim(p))) AS problems
        FROM raw.attachments a JOIN audit.current_file c ON c.file_id = a.file_id CROSS JOIN LATERAL unnest(a.problems) p
        WHERE btrim(p) <> '' GROUP BY a.case_ref
      )
      SELECT f.family_id, f.case_ref, (reg.attached_on IS NOT NULL) AS attached, reg.attached_on,
             coalesce(kw.problems, '{}') AS keyworker, coalesce(reg.recs, '{}') AS register_records,
             coalesce(reg.attached_on, ${T}) AS d,
             ${ymdSql(dOf)} AS d_ymd, ${schoolYmdSql(dOf, plan.ages)} AS d_school_ymd,
             ${ymdSql(aOf)} AS a_ymd, ${schoolYmdSql(aOf, plan.ages)} AS a_school_ymd
      FROM core.family f LEFT JOIN reg ON reg.case_ref = f.case_ref LEFT JOIN kw ON kw.case_ref = f.case_ref
      WHERE EXISTS (SELECT 1 FROM core.family_member m WHERE m.family_id = f.family_id AND m.left_run IS NULL)
        AND NOT coalesce(reg.attached_on > ${T}, false)`],
    ['r_member', sql`CREATE TEMP TABLE r_member ON COMMIT DROP AS
      SELECT m.family_id, m.person_id, ${ymdSql(sql.raw('d.dob'))} AS dob_ymd
      FROM core.family_member m JOIN r_family f ON f.family_id = m.family_id LEFT JOIN core.person_detail d ON d.person_id = m.person_id
      WHERE m.left_run IS NULL`],
    ['r_member index (person)', sql`CREATE INDEX ON r_member (person_id)`],
    ['r_member index (family)', sql`CREATE INDEX ON r_member (family_id)`],
    // r_offending carries each event's family (a person is in one current family) and the member's
    // date of birth: the five event rules over every family join it to r_family directly. Joined
    // through r_member, each of them hashed r_member's 600k rows again (0.2-0.3 s each at 1x).
    // (The spells and episodes were tried the same way and put back: carrying them cost their
    // staging more than their three rules gained; docs/run.md.)
    ['r_offending', sql`CREATE TEMP TABLE r_offending ON COMMIT DROP AS
      SELECT pr.person_id, m.family_id, m.dob_ymd, 'offending:' || o.record_id AS rec, o.event_date, o.event_type
      FROM raw.offending o JOIN audit.current_file c ON c.file_id = o.file_id
      JOIN core.person_record pr ON pr.source = 'offending' AND pr.record_id = o.record_id
      LEFT JOIN r_member m ON m.person_id = pr.person_id
      WHERE o.event_date <= ${T}`],
    // The record ids of a term are kept as they are (ids), not as record lists ('attendance:' ||
    // id, an array a row): the school rules write the lists of the few thousand families whose
    // evidence is kept (predicates.ts attendanceRecs), not of 1.27M terms at 1x.
    // A pupil's term is nearly always one record (16,859 of 1.27M terms at 1x have more).
    // array_agg(... ORDER BY) sorts inside every group (PostgreSQL 15), so the records are
    // gathered unordered and only arrays of two or more are sorted afterwards: 4.0 -> 3.4 s at 1x,
    // the same arrays.
    // from_latest: 1 for a pupil's latest term as of T, 2 for the one before, ... (the order the
    // school-record rule counts terms back in). The terms are grouped in that order, so the
    // ranking needs no sort of its own.
    ['r_attendance', sql`CREATE TEMP TABLE r_attendance ON COMMIT DROP AS
      SELECT person_id, term_start, term_end, possible, authorised, unauthorised, fixed, permanent, ap,
             CASE WHEN cardinality(ids) = 1 THEN ids ELSE ARRAY(SELECT id FROM unnest(ids) AS id ORDER BY 'attendance:' || id) END AS ids,
             row_number() OVER (PARTITION BY person_id ORDER BY term_end DESC, term_start DESC)::int AS from_latest
      FROM (
        SELECT pr.person_id, a.term_start, a.term_end, sum(a.sessions_possible)::int AS possible,
               sum(a.sessions_authorised)::int AS authorised, sum(a.sessions_unauthorised)::int AS unauthorised,
               sum(a.fixed_exclusions)::int AS fixed, bool_or(a.permanent_exclusion) AS permanent,
               bool_or(coalesce(a.alternative_provision, false)) AS ap,
               array_agg(a.record_id) AS ids
        FROM raw.attendance a JOIN audit.current_file c ON c.file_id = a.file_id
        JOIN core.person_record pr ON pr.source = 'attendance' AND pr.record_id = a.record_id
        WHERE a.term_end <= ${T}
        GROUP BY pr.person_id, a.term_start, a.term_end
        ORDER BY pr.person_id, a.term_end DESC, a.term_start DESC) terms`],
    ['r_spell', sql`CREATE TEMP TABLE r_spell ON COMMIT DROP AS
      SELECT pr.person_id, 'employment:' || e.record_id AS rec, lower(e.spell_type) AS spell_type, upper(e.benefit_type) AS benefit_type,
             lower(e.uc_conditionality) AS uc_conditionality, e.start_date, e.end_date,
             (lower(e.spell_type) = 'benefit' AND upper(e.benefit_type) = ANY(${`{${plan.out_of_work_benefits.benefit_types.map((b) => b.toUpperCase()).join(',')}}`}::text[])
               AND NOT (upper(e.benefit_type) = 'UC'
                        AND lower(coalesce(e.uc_conditionality, '')) = ANY(${`{${plan.out_of_work_benefits.uc_not_out_of_work_when.map((b) => b.toLowerCase()).join(',')}}`}::text[]))) AS oow
      FROM raw.employment e JOIN audit.current_file c ON c.file_id = e.file_id
      JOIN core.person_record pr ON pr.source = 'employment' AND pr.record_id = e.record_id
      WHERE e.start_date <= ${T}`],
    ['r_episode', sql`CREATE TEMP TABLE r_episode ON COMMIT DROP AS
      SELECT pr.person_id, 'social_care:' || s.record_id AS rec, lower(s.episode_type) AS episode_type, s.start_date, s.end_date,
             lower(s.role) AS role, coalesce(d.dob, s.dob) AS dob
      FROM raw.social_care s JOIN audit.current_file c ON c.file_id = s.file_id
      JOIN core.person_record pr ON pr.source = 'social_care' AND pr.record_id = s.record_id
      LEFT JOIN core.person_detail d ON d.person_id = pr.person_id
      WHERE s.start_date <= ${T}`],
    ['r_attestation', sql`CREATE TEMP TABLE r_attestation ON COMMIT DROP AS
      SELECT f.family_id, 'evidence:' || e.record_id AS rec, lower(btrim(e.problem)) AS problem, lower(btrim(e.outcome)) AS outcome,
             e.evidence_date, e.attested_by
      FROM raw.evidence e JOIN audit.current_file c ON c.file_id = e.file_id JOIN r_family f ON f.case_ref = e.case_ref AND f.attached`],
    ['r_evidence', sql`CREATE TEMP TABLE r_evidence (
        family_id bigint NOT NULL, phase text NOT NULL, problem text NOT NULL, rule_index integer NOT NULL, rule text NOT NULL,
        parameters jsonb NOT NULL, measured jsonb NOT NULL, threshold jsonb NOT NULL, result text NOT NULL,
        source_records text[] NOT NULL, attested_by text, tested_on date NOT NULL) ON COMMIT DROP`],
    ['r_entry', sql`CREATE TEMP TABLE r_entry (family_id bigint NOT NULL, problem text NOT NULL, from_data boolean NOT NULL, from_keyworker boolean NOT NULL,
        PRIMARY KEY (family_id, problem)) ON COMMIT DROP`],
    ['r_offending index', sql`CREATE INDEX ON r_offending (person_id)`],
    ['r_attendance index', sql`CREATE INDEX ON r_attendance (person_id)`],
    ['r_spell index', sql`CREATE INDEX ON r_spell (person_id)`],
    ['r_episode index', sql`CREATE INDEX ON r_episode (person_id)`],
    // Statistics of the columns the rules filter, join and group by: the record lists (arrays
    // of text) cost most of an ANALYZE and no plan looks at them.
    ['analyze', sql`ANALYZE r_family (family_id, case_ref, attached, attached_on, d, d_ymd, d_school_ymd, a_ymd, a_school_ymd), r_member, r_offending (person_id, family_id, dob_ymd, event_date, event_type),
      r_attendance (person_id, term_start, term_end, from_latest), r_spell (person_id, spell_type, benefit_type, uc_conditionality, start_date, end_date, oow),
      r_episode (person_id, episode_type, start_date, end_date, role, dob), r_attestation (family_id, problem, outcome, evidence_date)`],
  ];
  for (const [name, q] of stage) await exec(q, `staging ${name}`);
  task.tick(1);
  opts.afterStaging?.();

  // --- identification at D, then problems at entry (data and keyworker) ---------------------
  for (const [problem, def] of Object.entries(plan.problems)) {
    for (const [i, rule] of def.identification.entries()) await exec(identificationSql(problem, i, rule, pc), `identification ${problem}[${i}] ${rule.rule}`);
  }
  await exec(sql`
    INSERT INTO r_entry (family_id, problem, from_data, from_keyworker)
    SELECT family_id, problem, bool_or(from_data), bool_or(from_keyworker) FROM (
      SELECT family_id, problem, true AS from_data, false AS from_keyworker FROM r_evidence WHERE phase = 'identification' AND result = 'pass'
      UNION ALL
      SELECT f.family_id, p, false, true FROM r_family f CROSS JOIN LATERAL unnest(f.keyworker) p
      WHERE f.attached AND ${plan.keyworker_assessment} AND p = ANY(${codesArr})
    ) x GROUP BY family_id, problem`, 'problems at entry');
  await exec(sql`ANALYZE r_entry`, 'analyze');
  const kwOther = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM r_family f CROSS JOIN LATERAL unnest(f.keyworker) p WHERE f.attached AND NOT (p = ANY(${codesArr}))`.execute(k);
  task.tick(1);

  // --- progress at T for each problem at entry, the time gate, equivalent progress, CE --------
  for (const [problem, def] of Object.entries(plan.problems)) {
    for (const [i, rule] of def.progress.entries()) await exec(progressSql(problem, i, rule, pc), `progress ${problem}[${i}] ${rule.rule}`);
    if (def.equivalent_progress) await exec(attestedSql(problem, -2, 'equivalent_progress', { equivalent_progress: true }, pc), `equivalent_progress ${problem}`);
  }
  await exec(sql`
    INSERT INTO r_evidence (family_id, phase, problem, rule_index, rule, parameters, measured, threshold, result, source_records, attested_by, tested_on)
    SELECT f.family_id, 'progress', '', -1, 'progress_due', ${JSON.stringify({ progress_due_months: plan.progress_due_months })}::jsonb,
           jsonb_build_object('attached_on', f.attached_on, 'as_of', ${T}),
           jsonb_build_object('as_of_on_or_after', (f.attached_on + ${sql.lit(plan.progress_due_months)} * interval '1 month')::date),
           CASE WHEN ${T} >= (f.attached_on + ${sql.lit(plan.progress_due_months)} * interval '1 month')::date THEN 'pass' ELSE 'fail' END,
           f.register_records, NULL, ${T}
    FROM r_family f WHERE f.attached`, 'progress due');
  if (plan.continuous_employment.enabled) await exec(continuousEmploymentSql(plan, asOf), 'continuous_employment');
  await exec(sql`CREATE INDEX ON r_evidence (family_id, phase, rule_index)`, 'index');
  await exec(sql`ANALYZE r_evidence (family_id, phase, problem, rule_index, rule, result), r_entry`, 'analyze');
  task.tick(1);

  // --- results per problem and verdicts --------------------------------------------------------
  const problems = Object.entries(plan.problems);
  const flags = (pick: (p: (typeof problems)[number][1]) => boolean) => sql`${`{${problems.map(([, p]) => String(pick(p))).join(',')}}`}::boolean[]`;
  await exec(sql`
    CREATE TEMP TABLE r_problem ON COMMIT DROP AS
    WITH cfg AS (
      SELECT * FROM unnest(${codesArr}, ${flags((p) => p.required_for_progress)}, ${flags((p) => p.neutral_counts)})
        AS c(problem, required, neutral_counts)
    ), d AS (
      SELECT family_id, problem,
             CASE WHEN bool_or(result = 'fail') THEN 'fail'
                  WHEN bool_or(result = 'insufficient_data') THEN 'insufficient_data'
                  WHEN bool_and(result = 'not_applicable') THEN 'insufficient_data'
                  WHEN bool_or(result = 'neutral') THEN 'neutral'
                  ELSE 'pass' END AS data_result
      FROM r_evidence WHERE phase = 'progress' AND rule_index >= 0 GROUP BY family_id, problem
    )
    SELECT pe.family_id, pe.problem, cfg.required,
           CASE WHEN d.data_result = 'neutral' AND cfg.neutral_counts THEN 'pass' ELSE coalesce(d.data_result, 'insufficient_data') END AS data_result,
           eq.result AS eq_result, eq.attested_by AS eq_by
    FROM r_entry pe JOIN r_family f ON f.family_id = pe.family_id AND f.attached
    JOIN cfg ON cfg.problem = pe.problem
    LEFT JOIN d ON d.family_id = pe.family_id AND d.problem = pe.problem
    LEFT JOIN r_evidence eq ON eq.family_id = pe.family_id AND eq.problem = pe.problem AND eq.phase = 'progress' AND eq.rule_index = -2`, 'problem results');

  const payment = paymentFor(plan, dayOf(asOf));
  const fy = financialYearOf(dayOf(asOf));

  // Persist.
  await exec(sql`
    INSERT INTO core.rule_evidence (evaluation_id, family_id, case_ref, phase, problem, rule_index, rule, parameters, measured, threshold,
                                    result, source_records, attested_by, tested_on, as_of, plan_id, plan_sha256, run_id)
    SELECT ${evaluationId}, r.family_id, f.case_ref, r.phase, r.problem, r.rule_index, r.rule, r.parameters, r.measured, r.threshold,
           r.result, r.source_records, r.attested_by, r.tested_on, ${T}, ${plan.id}, ${sha256}, ${ctx.runId}
    FROM r_evidence r JOIN r_family f ON f.family_id = r.family_id
    WHERE f.attached OR r.family_id IN (SELECT family_id FROM r_entry GROUP BY family_id HAVING count(*) >= ${plan.min_problems})`, 'persist evidence');
  await exec(sql`
    INSERT INTO core.problem_at_entry (evaluation_id, family_id, case_ref, problem, identified_on, from_data, from_keyworker, run_id)
    SELECT ${evaluationId}, e.family_id, f.case_ref, e.problem, f.attached_on, e.from_data, e.from_keyworker, ${ctx.runId}
    FROM r_entry e JOIN r_family f ON f.family_id = e.family_id AND f.attached`, 'persist problems at entry');
  await exec(sql`
    INSERT INTO core.eligible_unattached (evaluation_id, family_id, as_of, problems, run_id)
    SELECT ${evaluationId}, e.family_id, ${T}, array_agg(e.problem ORDER BY array_position(${codesArr}, e.problem)), ${ctx.runId}
    FROM r_entry e JOIN r_family f ON f.family_id = e.family_id AND NOT f.attached
    GROUP BY e.family_id HAVING count(*) >= ${plan.min_problems}`, 'persist eligible unattached');
  await exec(sql`
    INSERT INTO core.problem_result (evaluation_id, family_id, problem, required, data_result, result, decided_by, attested_by, run_id)
    SELECT ${evaluationId}, family_id, problem, required, data_result,
           CASE WHEN data_result <> 'pass' AND eq_result = 'pass' THEN 'pass' ELSE data_result END,
           CASE WHEN data_result <> 'pass' AND eq_result = 'pass' THEN 'attestation' ELSE 'data' END,
           CASE WHEN data_result <> 'pass' AND eq_result = 'pass' THEN eq_by END,
           ${ctx.runId}
    FROM r_problem`, 'persist problem results');
  await exec(sql`
    INSERT INTO core.family_verdict (evaluation_id, family_id, case_ref, attached_on, as_of, problems_at_entry, eligible, progress_due, ssp_met, ce_met,
                                     claimable_by_rules, route, financial_year, payment_gbp, plan_id, plan_sha256, run_id)
    WITH pr AS (
      SELECT family_id, count(*)::int AS n,
             array_agg(problem ORDER BY array_position(${codesArr}, problem)) AS problems,
             count(*) FILTER (WHERE required)::int AS required_n,
             coalesce(bool_and(result = 'pass') FILTER (WHERE required), false) AS required_pass
      FROM core.problem_result WHERE evaluation_id = ${evaluationId} GROUP BY family_id
    ), v AS (
      SELECT f.family_id, f.case_ref, f.attached_on, coalesce(pr.problems, '{}') AS problems,
             coalesce(pr.n, 0) >= ${plan.min_problems} AS eligible,
             g.result = 'pass' AS due,
             (g.result = 'pass' AND coalesce(pr.required_n, 0) > 0 AND coalesce(pr.required_pass, false)) AS ssp,
             coalesce(ce.result = 'pass', false) AS ce
      FROM r_family f
      JOIN r_evidence g ON g.family_id = f.family_id AND g.phase = 'progress' AND g.rule_index = -1
      LEFT JOIN pr ON pr.family_id = f.family_id
      LEFT JOIN r_evidence ce ON ce.family_id = f.family_id AND ce.phase = 'continuous_employment'
      WHERE f.attached
    )
    SELECT ${evaluationId}, family_id, case_ref, attached_on, ${T}, problems, eligible, due, ssp, ce,
           eligible AND (ssp OR ce),
           CASE WHEN NOT (eligible AND (ssp OR ce)) THEN NULL WHEN ce THEN 'continuous_employment' ELSE 'significant_sustained_progress' END,
           ${fy}, ${payment ? payment.resultsPaymentGbp : null}::numeric, ${plan.id}, ${sha256}, ${ctx.runId}
    FROM v`, 'persist family verdicts');
  await exec(tierHistorySql(evaluationId, ctx.runId, asOf, plan.ages.adult_from), 'persist tier history');
  task.tick(1);
  task.done();

  // --- the fingerprint of everything written, and the counts ----------------------------------
  const hash = await exec(sql<{ h: string }>`
    SELECT encode(sha256(convert_to(coalesce(string_agg(line, E'\n' ORDER BY line COLLATE "C"), ''), 'UTF8')), 'hex') AS h FROM (
      SELECT concat_ws('|', 'evidence', family_id, phase, problem, rule_index, rule, parameters::text, measured::text, threshold::text, result,
                       array_to_string(source_records, ','), attested_by, tested_on) AS line
      FROM core.rule_evidence WHERE evaluation_id = ${evaluationId}
      UNION ALL SELECT concat_ws('|', 'entry', family_id, problem, identified_on, from_data, from_keyworker) FROM core.problem_at_entry WHERE evaluation_id = ${evaluationId}
      UNION ALL SELECT concat_ws('|', 'unattached', family_id, array_to_string(problems, ';')) FROM core.eligible_unattached WHERE evaluation_id = ${evaluationId}
      UNION ALL SELECT concat_ws('|', 'result', family_id, problem, required, data_result, result, decided_by, attested_by) FROM core.problem_result WHERE evaluation_id = ${evaluationId}
      UNION ALL SELECT concat_ws('|', 'verdict', family_id, case_ref, attached_on, array_to_string(problems_at_entry, ';'), eligible, progress_due, ssp_met, ce_met,
                                 claimable_by_rules, route, financial_year, payment_gbp) FROM core.family_verdict WHERE evaluation_id = ${evaluationId}
      UNION ALL SELECT concat_ws('|', 'tier', person_id, family_id, from_date, to_date, tier, previous_tier, change, array_to_string(source_records, ','))
      FROM core.tier_history WHERE evaluation_id = ${evaluationId}
    ) lines`, 'evidence hash');
  const counts = await exec(sql<{
    families: number;
    attached: number;
    after: number;
    eligible: number;
    unattached: number;
    due: number;
    ssp: number;
    ce: number;
    claimable: number;
    by_ce: number;
    by_ssp: number;
    evidence: number;
    tiers: number;
  }>`
    SELECT (SELECT count(*)::int FROM r_family) AS families,
           (SELECT count(*)::int FROM r_family WHERE attached) AS attached,
           (SELECT count(DISTINCT a.case_ref)::int FROM raw.attachments a JOIN audit.current_file c ON c.file_id = a.file_id
              WHERE a.attached_on > ${T}) AS after,
           count(*) FILTER (WHERE eligible)::int AS eligible,
           (SELECT count(*)::int FROM core.eligible_unattached WHERE evaluation_id = ${evaluationId}) AS unattached,
           count(*) FILTER (WHERE progress_due)::int AS due,
           count(*) FILTER (WHERE ssp_met)::int AS ssp,
           count(*) FILTER (WHERE ce_met)::int AS ce,
           count(*) FILTER (WHERE claimable_by_rules)::int AS claimable,
           count(*) FILTER (WHERE route = 'continuous_employment')::int AS by_ce,
           count(*) FILTER (WHERE route = 'significant_sustained_progress')::int AS by_ssp,
           (SELECT count(*)::int FROM core.rule_evidence WHERE evaluation_id = ${evaluationId}) AS evidence,
           (SELECT count(*)::int FROM core.tier_history WHERE evaluation_id = ${evaluationId}) AS tiers
    FROM core.family_verdict WHERE evaluation_id = ${evaluationId}`, 'counts');
  const byProblem = await exec(sql<{ problem: string; n: number }>`
    SELECT problem, count(*)::int AS n FROM core.problem_at_entry WHERE evaluation_id = ${evaluationId} GROUP BY problem`, 'counts by problem');
  const c = counts.rows[0]!;
  const problemsAtEntry: Record<string, number> = {};
  for (const code of codes) problemsAtEntry[code] = byProblem.rows.find((r) => r.problem === code)?.n ?? 0;
  const summary: EvaluationSummary = {
    evaluationId,
    asOf,
    planId: plan.id,
    planVersion: plan.version,
    planSha256: sha256,
    families: c.families,
    attachedFamilies: c.attached,
    attachedAfterAsOf: c.after,
    eligibleAttached: c.eligible,
    eligibleUnattached: c.unattached,
    progressDue: c.due,
    sspMet: c.ssp,
    ceMet: c.ce,
    claimableByRules: c.claimable,
    byRoute: { continuous_employment: c.by_ce, significant_sustained_progress: c.by_ssp },
    problemsAtEntry,
    keyworkerCodesNotInPlan: kwOther.rows[0]!.n,
    evidenceRows: c.evidence,
    tierChanges: c.tiers,
    evidenceSha256: hash.rows[0]!.h,
  };
  await exec(sql`UPDATE core.rules_evaluation SET summary = ${JSON.stringify(summary)}::jsonb, evidence_sha256 = ${summary.evidenceSha256}
                 WHERE evaluation_id = ${evaluationId}`, 'summary');
  log.debug({ steps }, 'rules steps');
  log.info({ ...summary, slowestSteps: [...steps].sort((a, b) => b.ms - a.ms).slice(0, 8) }, 'families evaluated');
  return summary;
}
