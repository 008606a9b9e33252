import { sql, type RawBuilder } from 'kysely';
import { dayOf, isoOf, wholeIsoWeeksEndingBy } from './dates.ts';
import type { Plan } from './plan.ts';
import { ageDateOf, SEP, whoSql } from './predicates.ts';

/**
 * The continuous-employment route as ONE set-based statement for every attached family, writing
 * one `r_evidence` row per family (phase `continuous_employment`, problem '').
 *
 * An adult member (18+ on T) who was on an out-of-work benefit at any time in the
 * `benefit_months_before_attachment` months up to A qualifies when, as of T:
 * - the last out-of-work benefit spell (the one ending latest; an open one is latest) has a type
 *   in `jsa_rule.benefit_types` (JSA): at least `qualifying_weeks` (26) of the `of_weeks` (30)
 *   whole ISO weeks ending on or before T qualify;
 * - otherwise: `consecutive_weeks` (13) consecutive qualifying whole ISO weeks ending on or
 *   before T, counting only employment that started after A (`employment_must_start_after_attachment`).
 * A week qualifies when the person is covered by an employment spell on every day of it and by
 * no out-of-work benefit spell on any day of it (dates.ts `qualifyingWeeks` is the same rule).
 */
export function continuousEmploymentSql(plan: Plan, asOf: string): RawBuilder<unknown> {
  const ce = plan.continuous_employment;
  const T = sql`${asOf}::date`;
  const jsa = ce.jsa_rule;
  const { lastSunday } = wholeIsoWeeksEndingBy(dayOf(asOf), 1);
  const jsaFirstMonday = jsa ? wholeIsoWeeksEndingBy(dayOf(asOf), jsa.of_weeks).firstMonday : dayOf(asOf);
  const lastSun = sql`${isoOf(lastSunday)}::date`;
  const jsaFrom = sql`${isoOf(jsaFirstMonday)}::date`;
  const jsaTypes = sql`${`{${(jsa?.benefit_types ?? []).map((t) => `"${t.toUpperCase()}"`).join(',')}}`}::text[]`;
  const runOk = ce.employment_must_start_after_attachment ? sql.raw('ok_new') : sql.raw('ok');
  const months = sql.lit(ce.benefit_months_before_attachment);
  const qualifies = jsa
    ? sql`CASE WHEN lb.benefit_type = ANY(${jsaTypes}) THEN coalesce(j.weeks_in_window, 0) >= ${sql.lit(jsa.qualifying_weeks)}
               ELSE coalesce(b.weeks, 0) >= ${sql.lit(ce.consecutive_weeks)} END`
    : sql`coalesce(b.weeks, 0) >= ${sql.lit(ce.consecutive_weeks)}`;
  const route = jsa ? sql`CASE WHEN lb.benefit_type = ANY(${jsaTypes}) THEN 'weeks_of_window' ELSE 'consecutive_weeks' END` : sql`'consecutive_weeks'`;
  return sql`
    INSERT INTO r_evidence (family_id, phase, problem, rule_index, rule, parameters, measured, threshold, result, source_records, attested_by, tested_on)
    WITH cand AS (
      SELECT f.family_id, m.person_id, f.attached_on AS a_on
      FROM r_family f JOIN r_member m ON m.family_id = f.family_id
      WHERE f.attached AND ${whoSql('adult', sql.raw('m.dob_ymd'), ageDateOf(asOf, plan.ages), plan.ages)}
        AND EXISTS (SELECT 1 FROM r_spell s WHERE s.person_id = m.person_id AND s.oow AND s.start_date <= f.attached_on
                    AND (s.end_date IS NULL OR s.end_date > (f.attached_on - ${months} * interval '1 month')::date))
    ), lb AS (
      SELECT DISTINCT ON (c.family_id, c.person_id) c.family_id, c.person_id, s.benefit_type, s.rec, s.start_date, s.end_date
      FROM cand c JOIN r_spell s ON s.person_id = c.person_id AND s.oow
      ORDER BY c.family_id, c.person_id, s.end_date DESC NULLS FIRST, s.start_date DESC, s.rec DESC
    ), sp AS (
      -- Each candidate's spells as multiranges of days: employment, employment started after A, out-of-work benefit.
      SELECT c.family_id, c.person_id,
             coalesce(range_agg(daterange(s.start_date, s.end_date, '[]')) FILTER (WHERE s.spell_type = 'employment'), '{}'::datemultirange) AS emp,
             coalesce(range_agg(daterange(s.start_date, s.end_date, '[]')) FILTER (WHERE s.spell_type = 'employment' AND s.start_date > c.a_on), '{}'::datemultirange) AS emp_new,
             coalesce(range_agg(daterange(s.start_date, s.end_date, '[]')) FILTER (WHERE s.oow), '{}'::datemultirange) AS oow
      FROM cand c JOIN r_spell s ON s.person_id = c.person_id
      GROUP BY c.family_id, c.person_id
    ), wk AS (
      -- Whole ISO weeks from the week of A (or the first of the JSA window) to the last whole week by T.
      SELECT c.family_id, c.person_id, g::date AS monday,
             (sp.emp @> daterange(g::date, g::date + 7) AND NOT sp.oow && daterange(g::date, g::date + 7)) AS ok,
             (sp.emp_new @> daterange(g::date, g::date + 7) AND NOT sp.oow && daterange(g::date, g::date + 7)) AS ok_new
      FROM cand c JOIN sp ON sp.family_id = c.family_id AND sp.person_id = c.person_id
      CROSS JOIN LATERAL generate_series(least(${jsaFrom}, date_trunc('week', c.a_on)::date)::timestamp, (${lastSun} - 6)::timestamp, interval '7 days') g
    ), runs AS (
      SELECT family_id, person_id, monday, monday - (7 * row_number() OVER (PARTITION BY family_id, person_id ORDER BY monday))::int AS grp
      FROM wk WHERE ${runOk}
    ), b AS (
      SELECT DISTINCT ON (family_id, person_id) family_id, person_id, count(*)::int AS weeks, max(monday) + 6 AS ends_on
      FROM runs GROUP BY family_id, person_id, grp
      ORDER BY family_id, person_id, count(*) DESC, max(monday) DESC
    ), j AS (
      SELECT family_id, person_id, count(*) FILTER (WHERE ok AND monday >= ${jsaFrom})::int AS weeks_in_window FROM wk GROUP BY family_id, person_id
    ), used AS (
      SELECT c.family_id, c.person_id, array_agg(s.rec ORDER BY s.rec) AS recs
      FROM cand c JOIN r_spell s ON s.person_id = c.person_id
      WHERE (s.oow AND (s.end_date IS NULL OR s.end_date > (c.a_on - ${months} * interval '1 month')::date))
         OR (s.spell_type = 'employment' AND (s.end_date IS NULL OR s.end_date >= least(${jsaFrom}, c.a_on)))
      GROUP BY c.family_id, c.person_id
    ), per AS (
      SELECT c.family_id, c.person_id, lb.benefit_type, lb.rec AS last_benefit_record, ${route} AS route,
             coalesce(j.weeks_in_window, 0) AS weeks_in_window, coalesce(b.weeks, 0) AS longest_run, b.ends_on AS run_ends_on,
             ${qualifies} AS qualifies, u.recs
      FROM cand c JOIN lb ON lb.family_id = c.family_id AND lb.person_id = c.person_id
      LEFT JOIN j ON j.family_id = c.family_id AND j.person_id = c.person_id
      LEFT JOIN b ON b.family_id = c.family_id AND b.person_id = c.person_id
      LEFT JOIN used u ON u.family_id = c.family_id AND u.person_id = c.person_id
    ), a AS (
      SELECT family_id, bool_or(qualifies) AS met,
             jsonb_agg(jsonb_build_object('person_id', person_id, 'last_out_of_work_benefit', benefit_type, 'last_benefit_record', last_benefit_record,
                                          'test', route, 'qualifying_weeks_in_window', weeks_in_window,
                                          'longest_consecutive_run', longest_run, 'run_ends_on', run_ends_on, 'qualifies', qualifies) ORDER BY person_id) AS adults,
             string_agg(array_to_string(recs, ${SEP}), ${SEP} ORDER BY person_id) AS recs
      FROM per GROUP BY family_id
    )
    SELECT f.family_id, 'continuous_employment', '', 0, 'continuous_employment', ${JSON.stringify(ce)}::jsonb,
      jsonb_build_object('adults', coalesce(a.adults, '[]'::jsonb), 'weeks_window_first_monday', ${jsaFrom}, 'last_whole_week_ends', ${lastSun}),
      ${JSON.stringify({
        weeks_of_window: jsa ? { benefit_types: jsa.benefit_types, at_least: jsa.qualifying_weeks, of_weeks: jsa.of_weeks } : null,
        consecutive_weeks: { at_least: ce.consecutive_weeks, employment_started_after_attachment: ce.employment_must_start_after_attachment },
      })}::jsonb,
      CASE WHEN a.family_id IS NULL THEN 'not_applicable' WHEN a.met THEN 'pass' ELSE 'fail' END,
      coalesce((SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(string_to_array(a.recs, ${SEP})) x), '{}'), NULL, ${T}
    FROM r_family f LEFT JOIN a ON a.family_id = f.family_id
    WHERE f.attached`;
}
