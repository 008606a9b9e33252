import { sql, type RawBuilder } from 'kysely';
import { dayOf, isoOf, lastAnniversary, type AgeBands, type Day } from './dates.ts';
import type { IdentificationRule, ProgressRule } from './plan.ts';

/**
 * The rules' predicates as set-based SQL: each function returns ONE statement that evaluates one
 * rule of the plan for every family in scope at once and inserts a row per family into the
 * staging table `r_evidence` (see evaluate.ts for the staging tables: r_family, r_member,
 * r_offending, r_attendance, r_spell, r_episode, r_attestation, r_entry).
 *
 * Conventions (docs/rules.md):
 * - A window of N months ending E is `E - N months < date <= E`; a spell or episode is open in it
 *   when `start <= E` and (`end` is blank or `end > E - N months`); open on a day when
 *   `start <= day <= end` (blank end = open).
 * - Identification rules test D (`f.d`: attached_on for attached families, the as-of date T
 *   otherwise); every attached family gets a row, other families only when the rule passes.
 * - Progress rules test T for attached families (attached_on = A) that have the problem at entry.
 * - Thresholds are compared in exact decimal arithmetic (numeric), never rounded.
 * - Ages come from the family stage's core.person_detail dob, on the date being tested, compared
 *   as YYYYMMDD integers ({@link whoSql}).
 */

export type Who = 'any' | 'child' | 'adult' | 'young_person' | 'school_age';

/** Record-id list separator inside string_agg (never in a record id of a CSV cell we load). */
export const SEP = '\u001f';

export interface PredicateContext {
  /** The as-of date T, `YYYY-MM-DD`. */
  asOf: string;
  ages: AgeBands;
  identificationWindowMonths: number;
}

const int = (n: number) => sql.lit(Math.trunc(n));
const dec = (n: number) => sql`${String(n)}::numeric`;
const json = (v: unknown) => sql`${JSON.stringify(v)}::jsonb`;
const textArray = (a: readonly string[]) => sql`${`{${a.map((s) => `"${s.replace(/["\\]/g, '\\$&')}"`).join(',')}}`}::text[]`;

/**
 * A date the rules test ages on, as the integers the age tests compare: `ymd`, the date as
 * YYYYMMDD, and `schoolYmd`, the last school-age day (31 August) on or before it as YYYYMMDD.
 * The staging tables hold them beside the dates (r_family: d_ymd, d_school_ymd, a_ymd,
 * a_school_ymd; r_member: dob_ymd); the as-of date's are constants ({@link ageDateOf}).
 */
export interface AgeDate {
  ymd: RawBuilder<unknown>;
  schoolYmd: RawBuilder<unknown>;
}

/** SQL: a date expression as the integer YYYYMMDD (NULL stays NULL). */
export function ymdSql(date: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(date_part('year', ${date}) * 10000 + date_part('month', ${date}) * 100 + date_part('day', ${date}))::integer`;
}

/**
 * SQL: YYYYMMDD of the last `MM-DD` (ages.school_age_date) on or before a date expression: the
 * day school age is taken on (core.last_anniversary).
 */
export function schoolYmdSql(date: RawBuilder<unknown>, ages: AgeBands): RawBuilder<unknown> {
  const [month, day] = ages.school_age_date.split('-').map(Number) as [number, number];
  const md = int(month * 100 + day);
  return sql`((date_part('year', ${date})::integer - CASE WHEN date_part('month', ${date}) * 100 + date_part('day', ${date}) < ${md} THEN 1 ELSE 0 END) * 10000 + ${md})`;
}

/** The age-test integers of a `YYYY-MM-DD` date (the as-of date T), as SQL constants, by dates.ts's own helpers. */
export function ageDateOf(iso: string, ages: AgeBands): AgeDate {
  const [month, day] = ages.school_age_date.split('-').map(Number) as [number, number];
  const asYmd = (d: Day) => int(Number(isoOf(d).replaceAll('-', '')));
  const on = dayOf(iso);
  return { ymd: asYmd(on), schoolYmd: asYmd(lastAnniversary(on, month, day)) };
}

/**
 * SQL condition: the person born on `dobYmd` (YYYYMMDD) is in the `who` band on `on`. The age in
 * whole years is the difference of the YYYYMMDD integers div 10000 (a birthday counts on its
 * month and day: core.age_on, dates.ts ageOn), so `age >= N` is `difference >= N * 10000`: two
 * integer comparisons a row where working out the age took seven date_part calls (0.9 s for the
 * 600k members of the 1x bench in the school-record rule). A blank dob is in no band.
 */
export function whoSql(who: Who, dobYmd: RawBuilder<unknown>, on: AgeDate, ages: AgeBands): RawBuilder<unknown> {
  const band = (date: RawBuilder<unknown>, from: number | null, to: number | null) => {
    const diff = sql`(${date} - ${dobYmd})`;
    if (from === null) return sql`${diff} < ${int(to! * 10000)}`;
    if (to === null) return sql`${diff} >= ${int(from * 10000)}`;
    return sql`(${diff} >= ${int(from * 10000)} AND ${diff} < ${int((to + 1) * 10000)})`;
  };
  switch (who) {
    case 'any':
      return sql`true`;
    case 'child':
      return band(on.ymd, null, ages.adult_from);
    case 'adult':
      return band(on.ymd, ages.adult_from, null);
    case 'young_person':
      return band(on.ymd, ages.young_person_from, ages.young_person_to);
    case 'school_age':
      return band(on.schoolYmd, ages.school_age_from, ages.school_age_to);
  }
}

/**
 * SQL: the record list of a school term of r_attendance (`alias.ids`, in order) as one string,
 * `attendance:ID` joined by {@link SEP}: what array_to_string of the records would give.
 */
function attendanceRecs(alias: string): RawBuilder<unknown> {
  const ids = sql.raw(`${alias}.ids`);
  return sql`('attendance:' || array_to_string(${ids}, ${SEP}::text || 'attendance:'))`;
}

const dobYmdCol = sql.raw('m.dob_ymd');
const dCol = sql.raw('f.d');
const aCol = sql.raw('f.attached_on');
const dAge: AgeDate = { ymd: sql.raw('f.d_ymd'), schoolYmd: sql.raw('f.d_school_ymd') };
const aAge: AgeDate = { ymd: sql.raw('f.a_ymd'), schoolYmd: sql.raw('f.a_school_ymd') };

function monthsBefore(end: RawBuilder<unknown>, months: number): RawBuilder<unknown> {
  return sql`(${end} - ${int(months)} * interval '1 month')::date`;
}

const EVIDENCE_COLUMNS = sql.raw(
  'INSERT INTO r_evidence (family_id, phase, problem, rule_index, rule, parameters, measured, threshold, result, source_records, attested_by, tested_on)',
);

/** Spell kind condition on `s`. */
function spellKind(kind: 'out_of_work_benefit' | 'neet'): RawBuilder<unknown> {
  return kind === 'out_of_work_benefit' ? sql`s.oow` : sql`s.spell_type = 'neet'`;
}

function absentCol(absence: 'overall' | 'unauthorised', alias: string): RawBuilder<unknown> {
  return absence === 'overall' ? sql.raw(`(${alias}.authorised + ${alias}.unauthorised)`) : sql.raw(`${alias}.unauthorised`);
}

// ------------------------------------------------------------------------------------------
// Identification (at D)
// ------------------------------------------------------------------------------------------

export function identificationSql(problem: string, index: number, rule: IdentificationRule, c: PredicateContext): RawBuilder<unknown> {
  const head = sql`${problem}::text, ${int(index)}, ${rule.rule}::text, ${json(rule)}`;
  switch (rule.rule) {
    case 'events_at_least': {
      const w = rule.window_months ?? c.identificationWindowMonths;
      const measure = rule.per === 'person' ? sql.raw('coalesce(a.best, 0)') : sql.raw('coalesce(a.n, 0)');
      const passes = sql`${measure} >= ${int(rule.at_least)}`;
      return sql`${EVIDENCE_COLUMNS}
        WITH ev AS (
          SELECT f.family_id, o.person_id, o.rec, count(*) OVER (PARTITION BY f.family_id, o.person_id) AS pn
          FROM r_family f JOIN r_offending o ON o.family_id = f.family_id
          WHERE o.event_type = ANY(${textArray(rule.event_types)})
            AND o.event_date <= f.d AND o.event_date > ${monthsBefore(dCol, w)}
            AND ${whoSql(rule.who, sql.raw('o.dob_ymd'), dAge, c.ages)}
        ), a AS (
          SELECT family_id, count(*)::int AS n, max(pn)::int AS best, array_agg(rec ORDER BY rec) AS recs,
                 jsonb_agg(DISTINCT jsonb_build_object('person_id', person_id, 'events', pn)) AS persons
          FROM ev GROUP BY family_id
        )
        SELECT f.family_id, 'identification', ${head},
          jsonb_build_object('events', coalesce(a.n, 0), 'most_by_one_person', coalesce(a.best, 0), 'by_person', coalesce(a.persons, '[]'::jsonb),
                             'window_after', ${monthsBefore(dCol, w)}, 'window_end', f.d),
          ${json({ per: rule.per, at_least: rule.at_least })},
          CASE WHEN ${passes} THEN 'pass' ELSE 'fail' END, coalesce(a.recs, '{}'), NULL, f.d
        FROM r_family f LEFT JOIN a ON a.family_id = f.family_id
        WHERE f.attached OR ${passes}`;
    }
    case 'school_record': {
      const absent = absentCol(rule.absence, 't');
      const hitAbsence =
        rule.absence_rate_at_least === null ? sql`false` : sql`(ch.possible > 0 AND ch.absent::numeric >= ${dec(rule.absence_rate_at_least)} * ch.possible)`;
      const hitFixed = rule.fixed_exclusions_at_least === null ? sql`false` : sql`ch.fixed >= ${int(rule.fixed_exclusions_at_least)}`;
      const hitPerm = rule.permanent_exclusion ? sql`ch.permanent` : sql`false`;
      const hitAp = rule.alternative_provision ? sql`ch.ap` : sql`false`;
      return sql`${EVIDENCE_COLUMNS}
        WITH kids AS (
          SELECT f.family_id, m.person_id, f.d FROM r_family f JOIN r_member m ON m.family_id = f.family_id
          WHERE ${whoSql('school_age', dobYmdCol, dAge, c.ages)}
        ), latest AS MATERIALIZED (
          -- Read whole (a CTE): joined by the index instead, a probe for each of 200k children
          -- at 1x (the planner cannot see how many children there are).
          SELECT * FROM r_attendance WHERE from_latest <= ${int(rule.terms)}
        ), t AS (
          -- Each child's last terms up to D. r_attendance holds the terms ending by T, ranked from
          -- the latest (from_latest), so where D is T they are the first ranks; where D is earlier
          -- (attached families) they are read by person. Ranking every term of every child here
          -- instead sorted 1.1M rows at 1x. A person has one row a term, so there are no ties.
          SELECT k.family_id, k.person_id, a.term_start, a.term_end, a.possible, a.authorised, a.unauthorised, a.fixed, a.permanent, a.ap, a.ids
          FROM kids k JOIN latest a ON a.person_id = k.person_id
          WHERE k.d = ${c.asOf}::date
          UNION ALL
          SELECT k.family_id, k.person_id, a.term_start, a.term_end, a.possible, a.authorised, a.unauthorised, a.fixed, a.permanent, a.ap, a.ids
          FROM kids k CROSS JOIN LATERAL (
            SELECT a.* FROM r_attendance a WHERE a.person_id = k.person_id AND a.term_end <= k.d
            ORDER BY a.term_end DESC, a.term_start DESC LIMIT ${int(rule.terms)}) a
          WHERE k.d <> ${c.asOf}::date
        ), ch0 AS (
          SELECT t.family_id, t.person_id, count(*)::int AS terms, sum(t.possible)::int AS possible, sum(${absent})::int AS absent,
                 sum(t.fixed)::int AS fixed, bool_or(t.permanent) AS permanent, bool_or(t.ap) AS ap,
                 min(t.term_start) AS first_term_start, max(t.term_end) AS last_term_end
          FROM t GROUP BY t.family_id, t.person_id
        ), ch AS (
          SELECT ch.*, (${hitAbsence} OR ${hitFixed} OR ${hitPerm} OR ${hitAp}) AS hit FROM ch0 AS ch
        ), keep AS (
          -- Only attached families and families where the rule passes are written: details for those only.
          SELECT ch.family_id, bool_or(ch.hit) AS hit FROM ch GROUP BY ch.family_id
          HAVING bool_or(ch.hit) OR bool_or(EXISTS (SELECT 1 FROM r_family f WHERE f.family_id = ch.family_id AND f.attached))
        ), recs AS (
          SELECT t.family_id, t.person_id, string_agg(${attendanceRecs('t')}, ${SEP} ORDER BY t.term_start) AS recs
          FROM t JOIN keep USING (family_id) GROUP BY t.family_id, t.person_id
        ), a AS (
          SELECT ch.family_id, bool_or(ch.hit) AS hit,
                 jsonb_agg(jsonb_build_object('person_id', ch.person_id, 'terms', ch.terms, 'first_term_start', ch.first_term_start, 'last_term_end', ch.last_term_end,
                   'sessions_possible', ch.possible, 'sessions_absent', ch.absent,
                   'absence_rate', CASE WHEN ch.possible > 0 THEN round(ch.absent::numeric / ch.possible, 4) END,
                   'fixed_exclusions', ch.fixed, 'permanent_exclusion', ch.permanent, 'alternative_provision', ch.ap, 'identified', ch.hit) ORDER BY ch.person_id) AS children,
                 string_agg(r.recs, ${SEP} ORDER BY ch.person_id) FILTER (WHERE ch.hit) AS hit_recs,
                 string_agg(r.recs, ${SEP} ORDER BY ch.person_id) AS all_recs
          FROM ch JOIN keep USING (family_id) JOIN recs r ON r.family_id = ch.family_id AND r.person_id = ch.person_id
          GROUP BY ch.family_id
        )
        SELECT f.family_id, 'identification', ${head},
          jsonb_build_object('children', coalesce(a.children, '[]'::jsonb)),
          ${json({
            terms: rule.terms,
            absence: rule.absence,
            absence_rate_at_least: rule.absence_rate_at_least,
            fixed_exclusions_at_least: rule.fixed_exclusions_at_least,
            permanent_exclusion: rule.permanent_exclusion,
            alternative_provision: rule.alternative_provision,
          })},
          CASE WHEN coalesce(a.hit, false) THEN 'pass' ELSE 'fail' END,
          coalesce(string_to_array(coalesce(a.hit_recs, a.all_recs), ${SEP}), '{}'), NULL, f.d
        FROM r_family f LEFT JOIN a ON a.family_id = f.family_id
        WHERE f.attached OR coalesce(a.hit, false)`;
    }
    case 'episode_open_in_window': {
      const w = rule.window_months ?? c.identificationWindowMonths;
      return sql`${EVIDENCE_COLUMNS}
        WITH ep AS (
          SELECT f.family_id, e.person_id, e.rec
          FROM r_family f JOIN r_member m ON m.family_id = f.family_id
          JOIN r_episode e ON e.person_id = m.person_id
          WHERE e.episode_type = ANY(${textArray(rule.episode_types)})
            AND e.start_date <= f.d AND (e.end_date IS NULL OR e.end_date > ${monthsBefore(dCol, w)})
            AND ${whoSql(rule.who, dobYmdCol, dAge, c.ages)}
        ), a AS (
          SELECT family_id, count(*)::int AS n, array_agg(DISTINCT person_id ORDER BY person_id) AS persons, array_agg(rec ORDER BY rec) AS recs
          FROM ep GROUP BY family_id
        )
        SELECT f.family_id, 'identification', ${head},
          jsonb_build_object('episodes', coalesce(a.n, 0), 'persons', to_jsonb(coalesce(a.persons, '{}')), 'window_after', ${monthsBefore(dCol, w)}, 'window_end', f.d),
          ${json({ at_least: 1 })},
          CASE WHEN a.n > 0 THEN 'pass' ELSE 'fail' END, coalesce(a.recs, '{}'), NULL, f.d
        FROM r_family f LEFT JOIN a ON a.family_id = f.family_id
        WHERE f.attached OR a.n > 0`;
    }
    case 'spell_on_date': {
      return sql`${EVIDENCE_COLUMNS}
        WITH sp AS (
          SELECT f.family_id, s.person_id, s.rec
          FROM r_family f JOIN r_member m ON m.family_id = f.family_id
          JOIN r_spell s ON s.person_id = m.person_id
          WHERE ${spellKind(rule.spell)} AND s.start_date <= f.d AND (s.end_date IS NULL OR s.end_date >= f.d)
            AND ${whoSql(rule.who, dobYmdCol, dAge, c.ages)}
        ), a AS (
          SELECT family_id, count(*)::int AS n, array_agg(DISTINCT person_id ORDER BY person_id) AS persons, array_agg(rec ORDER BY rec) AS recs
          FROM sp GROUP BY family_id
        )
        SELECT f.family_id, 'identification', ${head},
          jsonb_build_object('spells_open', coalesce(a.n, 0), 'persons', to_jsonb(coalesce(a.persons, '{}')), 'on', f.d),
          ${json({ at_least: 1 })},
          CASE WHEN a.n > 0 THEN 'pass' ELSE 'fail' END, coalesce(a.recs, '{}'), NULL, f.d
        FROM r_family f LEFT JOIN a ON a.family_id = f.family_id
        WHERE f.attached OR a.n > 0`;
    }
  }
}

// ------------------------------------------------------------------------------------------
// Progress (as of T, for attached families with the problem at entry)
// ------------------------------------------------------------------------------------------

/** Attached families with `problem` at entry, as `f`. */
function withProblem(problem: string): RawBuilder<unknown> {
  return sql`r_family f JOIN r_entry pe ON pe.family_id = f.family_id AND pe.problem = ${problem}::text AND f.attached`;
}

/** The attested-evidence rule (also used for equivalent progress, at rule_index -2). */
export function attestedSql(problem: string, index: number, ruleName: string, params: unknown, c: PredicateContext): RawBuilder<unknown> {
  const T = sql`${c.asOf}::date`;
  return sql`${EVIDENCE_COLUMNS}
    WITH att AS (
      SELECT a.*, row_number() OVER (PARTITION BY a.family_id
                                     ORDER BY a.evidence_date DESC, (a.outcome = 'not_achieved') DESC, a.rec DESC) AS rk
      FROM ${withProblem(problem)} JOIN r_attestation a ON a.family_id = f.family_id AND a.problem = ${problem}::text
      WHERE a.evidence_date > f.attached_on AND a.evidence_date <= ${T}
    ), ignored AS (
      SELECT a.family_id, count(*) FILTER (WHERE a.evidence_date > ${T})::int AS after_t,
             count(*) FILTER (WHERE a.evidence_date <= f.attached_on)::int AS on_or_before_a
      FROM ${withProblem(problem)} JOIN r_attestation a ON a.family_id = f.family_id AND a.problem = ${problem}::text
      GROUP BY a.family_id
    ), considered AS (
      SELECT family_id, count(*)::int AS n, array_agg(rec ORDER BY evidence_date, rec) AS recs FROM att GROUP BY family_id
    )
    SELECT f.family_id, 'progress', ${problem}::text, ${int(index)}, ${ruleName}::text, ${json(params)},
      jsonb_build_object('latest_outcome', l.outcome, 'latest_evidence_date', l.evidence_date, 'latest_record', l.rec,
                         'attestations_considered', coalesce(cn.n, 0),
                         'ignored_after_as_of', coalesce(i.after_t, 0), 'ignored_on_or_before_attachment', coalesce(i.on_or_before_a, 0),
                         'window_after', f.attached_on, 'window_end', ${T}),
      ${json({ latest_outcome: 'achieved' })},
      CASE WHEN l.outcome = 'achieved' THEN 'pass' ELSE 'fail' END,
      coalesce(cn.recs, '{}'), l.attested_by, ${T}
    FROM ${withProblem(problem)}
    LEFT JOIN att l ON l.family_id = f.family_id AND l.rk = 1
    LEFT JOIN ignored i ON i.family_id = f.family_id
    LEFT JOIN considered cn ON cn.family_id = f.family_id`;
}

export function progressSql(problem: string, index: number, rule: ProgressRule, c: PredicateContext): RawBuilder<unknown> {
  const T = sql`${c.asOf}::date`;
  const head = sql`${problem}::text, ${int(index)}, ${rule.rule}::text, ${json(rule)}`;
  switch (rule.rule) {
    case 'no_events':
      return sql`${EVIDENCE_COLUMNS}
        WITH ev AS (
          SELECT f.family_id, o.person_id, o.rec
          FROM ${withProblem(problem)} JOIN r_member m ON m.family_id = f.family_id
          JOIN r_offending o ON o.person_id = m.person_id
          WHERE o.event_type = ANY(${textArray(rule.event_types)})
            AND o.event_date <= ${T} AND o.event_date > ${monthsBefore(T, rule.window_months)}
            AND ${whoSql(rule.who, dobYmdCol, ageDateOf(c.asOf, c.ages), c.ages)}
        ), a AS (
          SELECT family_id, count(*)::int AS n, array_agg(DISTINCT person_id ORDER BY person_id) AS persons, array_agg(rec ORDER BY rec) AS recs
          FROM ev GROUP BY family_id
        )
        SELECT f.family_id, 'progress', ${head},
          jsonb_build_object('events', coalesce(a.n, 0), 'persons', to_jsonb(coalesce(a.persons, '{}')),
                             'window_after', ${monthsBefore(T, rule.window_months)}, 'window_end', ${T}),
          ${json({ at_most: 0 })},
          CASE WHEN coalesce(a.n, 0) = 0 THEN 'pass' ELSE 'fail' END, coalesce(a.recs, '{}'), NULL, ${T}
        FROM ${withProblem(problem)} LEFT JOIN a ON a.family_id = f.family_id`;
    case 'event_fall': {
      const allowed = dec(1 - rule.min_fall);
      return sql`${EVIDENCE_COLUMNS}
        WITH ev AS (
          SELECT f.family_id, o.rec,
                 (o.event_date <= ${T} AND o.event_date > ${monthsBefore(T, rule.window_months)} AND ${whoSql(rule.who, dobYmdCol, ageDateOf(c.asOf, c.ages), c.ages)}) AS is_after,
                 (o.event_date <= f.attached_on AND o.event_date > ${monthsBefore(aCol, rule.baseline_months)}
                   AND ${whoSql(rule.who, dobYmdCol, aAge, c.ages)}) AS is_before
          FROM ${withProblem(problem)} JOIN r_member m ON m.family_id = f.family_id
          JOIN r_offending o ON o.person_id = m.person_id
          WHERE o.event_type = ANY(${textArray(rule.event_types)})
        ), a AS (
          SELECT family_id, count(*) FILTER (WHERE is_after)::int AS after_n, count(*) FILTER (WHERE is_before)::int AS before_n,
                 array_agg(rec ORDER BY rec) FILTER (WHERE is_after OR is_before) AS recs
          FROM ev GROUP BY family_id
        )
        SELECT f.family_id, 'progress', ${head},
          jsonb_build_object('events_in_window', coalesce(a.after_n, 0), 'baseline_events', coalesce(a.before_n, 0),
                             'allowed', (1 - ${dec(rule.min_fall)}) * coalesce(a.before_n, 0),
                             'window_after', ${monthsBefore(T, rule.window_months)}, 'window_end', ${T},
                             'baseline_after', ${monthsBefore(aCol, rule.baseline_months)}, 'baseline_end', f.attached_on),
          jsonb_build_object('min_fall', ${dec(rule.min_fall)}, 'at_most_share_of_baseline', ${allowed}),
          CASE WHEN coalesce(a.after_n, 0)::numeric <= ${allowed} * coalesce(a.before_n, 0) THEN 'pass' ELSE 'fail' END,
          coalesce(a.recs, '{}'), NULL, ${T}
        FROM ${withProblem(problem)} LEFT JOIN a ON a.family_id = f.family_id`;
    }
    case 'school_terms': {
      const n = rule.consecutive_terms;
      const absent = absentCol(rule.absence, 'a');
      const rateOk = sql`(a.possible > 0 AND ${absent}::numeric < ${dec(rule.absence_rate_below)} * a.possible)`;
      const windowRate =
        rule.absence_measured === 'per_term' ? sql`w.all_ok` : sql`(w.sp > 0 AND w.sa::numeric < ${dec(rule.absence_rate_below)} * w.sp)`;
      const windowFixed = rule.fixed_exclusions_below === null ? sql`true` : sql`w.sf < ${int(rule.fixed_exclusions_below)}`;
      const windowPerm = rule.no_permanent_exclusion ? sql`NOT w.anyperm` : sql`true`;
      const considered = rule.which_terms === 'any' ? sql`w.k = ${int(n)}` : sql`(w.k = ${int(n)} AND w.from_latest = ${int(n)})`;
      return sql`${EVIDENCE_COLUMNS}
        WITH kids AS (
          SELECT f.family_id, m.person_id, f.attached_on AS a_on, ${whoSql('school_age', dobYmdCol, ageDateOf(c.asOf, c.ages), c.ages)} AS at_t
          FROM ${withProblem(problem)} JOIN r_member m ON m.family_id = f.family_id
          WHERE ${whoSql('school_age', dobYmdCol, aAge, c.ages)}
        ), t AS (
          SELECT k.family_id, k.person_id, a.term_start, a.term_end, a.possible, ${absent} AS absent, a.fixed, a.permanent, ${attendanceRecs('a')} AS recs, ${rateOk} AS rate_ok
          FROM kids k JOIN r_attendance a ON a.person_id = k.person_id AND a.term_start >= k.a_on AND a.term_end <= ${T}
          WHERE k.at_t
        ), w AS (
          SELECT t.*,
                 count(*) OVER fr AS k, bool_and(rate_ok) OVER fr AS all_ok,
                 sum(possible) OVER fr AS sp, sum(absent) OVER fr AS sa, sum(fixed) OVER fr AS sf, bool_or(permanent) OVER fr AS anyperm,
                 string_agg(recs, ${SEP}) OVER fr AS wrecs,
                 jsonb_agg(jsonb_build_object('term_start', term_start, 'term_end', term_end, 'sessions_possible', possible, 'sessions_absent', absent,
                           'absence_rate', CASE WHEN possible > 0 THEN round(absent::numeric / possible, 4) END,
                           'fixed_exclusions', fixed, 'permanent_exclusion', permanent)) OVER fr AS wterms,
                 row_number() OVER (PARTITION BY family_id, person_id ORDER BY term_start DESC, term_end DESC) AS from_latest
          FROM t
          WINDOW fr AS (PARTITION BY family_id, person_id ORDER BY term_start, term_end ROWS BETWEEN CURRENT ROW AND ${int(n - 1)} FOLLOWING)
        ), wp AS (
          SELECT w.*, (${considered}) AS considered, (${considered} AND ${windowRate} AND ${windowFixed} AND ${windowPerm}) AS wpass FROM w
        ), ch AS (
          SELECT family_id, person_id, count(*)::int AS terms_since_a, coalesce(bool_or(wpass), false) AS passed, bool_or(considered) AS has_window,
                 (array_agg(wterms ORDER BY wpass DESC, term_start DESC) FILTER (WHERE considered))[1] AS chosen_terms,
                 (array_agg(wrecs ORDER BY wpass DESC, term_start DESC) FILTER (WHERE considered))[1] AS chosen_recs,
                 string_agg(recs, ${SEP} ORDER BY term_start) AS all_recs
          FROM wp GROUP BY family_id, person_id
        ), pc AS (
          SELECT k.family_id, k.person_id, coalesce(ch.terms_since_a, 0) AS terms_since_a, ch.chosen_terms, coalesce(ch.chosen_recs, ch.all_recs) AS recs,
                 CASE WHEN NOT k.at_t THEN 'neutral' WHEN ch.passed THEN 'pass' WHEN coalesce(ch.has_window, false) THEN 'fail' ELSE 'insufficient_data' END AS r
          FROM kids k LEFT JOIN ch ON ch.family_id = k.family_id AND ch.person_id = k.person_id
        ), a AS (
          SELECT family_id,
                 CASE WHEN bool_or(r = 'fail') THEN 'fail' WHEN bool_or(r = 'insufficient_data') THEN 'insufficient_data'
                      WHEN bool_or(r = 'pass') THEN 'pass' ELSE 'neutral' END AS result,
                 jsonb_agg(jsonb_build_object('person_id', person_id, 'result', r, 'terms_since_attachment', terms_since_a, 'terms', chosen_terms) ORDER BY person_id) AS children,
                 string_agg(recs, ${SEP} ORDER BY person_id) AS recs
          FROM pc GROUP BY family_id
        )
        SELECT f.family_id, 'progress', ${head},
          jsonb_build_object('children', coalesce(a.children, '[]'::jsonb), 'terms_after', f.attached_on, 'terms_end_by', ${T}),
          ${json({
            consecutive_terms: n,
            absence: rule.absence,
            absence_rate_below: rule.absence_rate_below,
            absence_measured: rule.absence_measured,
            fixed_exclusions_below: rule.fixed_exclusions_below,
            no_permanent_exclusion: rule.no_permanent_exclusion,
          })},
          coalesce(a.result, 'not_applicable'), coalesce(string_to_array(a.recs, ${SEP}), '{}'), NULL, ${T}
        FROM ${withProblem(problem)} LEFT JOIN a ON a.family_id = f.family_id`;
    }
    case 'no_episodes':
      return sql`${EVIDENCE_COLUMNS}
        WITH ep AS (
          SELECT f.family_id, e.person_id, e.rec
          FROM ${withProblem(problem)} JOIN r_member m ON m.family_id = f.family_id
          JOIN r_episode e ON e.person_id = m.person_id
          WHERE e.episode_type = ANY(${textArray(rule.episode_types)})
            AND e.start_date <= ${T} AND (e.end_date IS NULL OR e.end_date > ${monthsBefore(T, rule.window_months)})
            AND ${whoSql(rule.who, dobYmdCol, ageDateOf(c.asOf, c.ages), c.ages)}
        ), a AS (
          SELECT family_id, count(*)::int AS n, array_agg(DISTINCT person_id ORDER BY person_id) AS persons, array_agg(rec ORDER BY rec) AS recs
          FROM ep GROUP BY family_id
        )
        SELECT f.family_id, 'progress', ${head},
          jsonb_build_object('episodes_open_or_started', coalesce(a.n, 0), 'persons', to_jsonb(coalesce(a.persons, '{}')),
                             'window_after', ${monthsBefore(T, rule.window_months)}, 'window_end', ${T}),
          ${json({ at_most: 0 })},
          CASE WHEN coalesce(a.n, 0) = 0 THEN 'pass' ELSE 'fail' END, coalesce(a.recs, '{}'), NULL, ${T}
        FROM ${withProblem(problem)} LEFT JOIN a ON a.family_id = f.family_id`;
    case 'spell_free': {
      const windowAfter = sql`(${T} - ${int(7 * rule.window_weeks)})`;
      return sql`${EVIDENCE_COLUMNS}
        WITH cohort AS (
          SELECT f.family_id, m.person_id, array_agg(s.rec ORDER BY s.rec) AS recs
          FROM ${withProblem(problem)} JOIN r_member m ON m.family_id = f.family_id
          JOIN r_spell s ON s.person_id = m.person_id
          WHERE ${spellKind(rule.spell)} AND s.start_date <= f.attached_on AND (s.end_date IS NULL OR s.end_date >= f.attached_on)
            AND ${whoSql(rule.who, dobYmdCol, aAge, c.ages)}
          GROUP BY f.family_id, m.person_id
        ), later AS (
          SELECT c.family_id, c.person_id, array_agg(s.rec ORDER BY s.rec) AS recs
          FROM cohort c JOIN r_spell s ON s.person_id = c.person_id
          WHERE ${spellKind(rule.spell)} AND s.start_date <= ${T} AND (s.end_date IS NULL OR s.end_date > ${windowAfter})
          GROUP BY c.family_id, c.person_id
        ), a AS (
          SELECT c.family_id, count(*)::int AS cohort, count(l.person_id)::int AS still,
                 jsonb_agg(jsonb_build_object('person_id', c.person_id, 'spells_at_attachment', to_jsonb(c.recs),
                                              'spells_in_window', to_jsonb(coalesce(l.recs, '{}'))) ORDER BY c.person_id) AS persons,
                 string_agg(array_to_string(c.recs || coalesce(l.recs, '{}'), ${SEP}), ${SEP} ORDER BY c.person_id) AS recs
          FROM cohort c LEFT JOIN later l ON l.family_id = c.family_id AND l.person_id = c.person_id
          GROUP BY c.family_id
        )
        SELECT f.family_id, 'progress', ${head},
          jsonb_build_object('on_spell_at_attachment', coalesce(a.cohort, 0), 'with_spell_in_window', coalesce(a.still, 0),
                             'persons', coalesce(a.persons, '[]'::jsonb), 'window_after', ${windowAfter}, 'window_end', ${T}),
          ${json({ with_spell_in_window_at_most: 0 })},
          CASE WHEN coalesce(a.cohort, 0) = 0 THEN 'not_applicable' WHEN a.still > 0 THEN 'fail' ELSE 'pass' END,
          coalesce((SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(string_to_array(a.recs, ${SEP})) x), '{}'), NULL, ${T}
        FROM ${withProblem(problem)} LEFT JOIN a ON a.family_id = f.family_id`;
    }
    case 'attested':
      return attestedSql(problem, index, 'attested', rule, c);
  }
}
