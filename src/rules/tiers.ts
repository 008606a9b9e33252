import { sql, type RawBuilder } from 'kysely';

/**
 * Tiers of support (Families Matter strategy): Tier 2 = early_help, Tier 3 = cin, Tier 4 =
 * cp_plan or lac. A child's tier on a day is the highest tier of their episodes open that day
 * (0 when none). One row per change: `opened` (from 0), `step_up`, `step_down`, `closed` (to 0).
 *
 * "Child" follows social_care.csv: episodes whose role is `child`, or blank role when the person
 * was under 18 (adult_from) at the episode's start. Episodes starting after T are ignored and an
 * episode ending after T is open on T.
 */

export const EPISODE_TIER: Readonly<Record<string, number>> = { early_help: 2, cin: 3, cp_plan: 4, lac: 4 };

export interface TierEpisode {
  tier: number;
  start: number;
  /** Last day; null = open. */
  end: number | null;
}

export interface TierChange {
  from: number;
  to: number | null;
  tier: number;
  previous: number;
  change: 'opened' | 'step_up' | 'step_down' | 'closed';
}

/** The same timeline in plain code (for tests and explanations). */
export function tierTimeline(episodes: readonly TierEpisode[]): TierChange[] {
  const points = [...new Set(episodes.flatMap((e) => (e.end === null ? [e.start] : [e.start, e.end + 1])))].sort((a, b) => a - b);
  const levels = points.map((at) => ({
    at,
    tier: Math.max(0, ...episodes.filter((e) => e.start <= at && (e.end === null || e.end >= at)).map((e) => e.tier)),
  }));
  const changes: TierChange[] = [];
  let previous = 0;
  for (const { at, tier } of levels) {
    if (tier === previous) continue;
    const change = previous === 0 ? 'opened' : tier === 0 ? 'closed' : tier > previous ? 'step_up' : 'step_down';
    const last = changes.at(-1);
    if (last) last.to = at - 1;
    changes.push({ from: at, to: null, tier, previous, change });
    previous = tier;
  }
  return changes;
}

/** One statement writing every child's tier history into core.tier_history. */
export function tierHistorySql(evaluationId: number, runId: number, asOf: string, adultFrom: number): RawBuilder<unknown> {
  const T = sql`${asOf}::date`;
  return sql`
    INSERT INTO core.tier_history (evaluation_id, person_id, family_id, from_date, to_date, tier, previous_tier, change, source_records, run_id)
    WITH ep AS (
      SELECT e.person_id, e.rec, e.start_date AS s, CASE WHEN e.end_date >= ${T} THEN NULL ELSE e.end_date END AS e,
             CASE e.episode_type WHEN 'early_help' THEN 2 WHEN 'cin' THEN 3 WHEN 'cp_plan' THEN 4 WHEN 'lac' THEN 4 END AS tier
      FROM r_episode e
      WHERE e.episode_type IN ('early_help', 'cin', 'cp_plan', 'lac')
        AND (e.role = 'child' OR (coalesce(e.role, '') = '' AND core.age_on(e.dob, e.start_date) < ${sql.lit(adultFrom)}))
    ), pts AS (
      SELECT person_id, s AS at FROM ep UNION SELECT person_id, e + 1 FROM ep WHERE e IS NOT NULL
    ), lvl AS (
      SELECT p.person_id, p.at, coalesce(max(ep.tier), 0) AS tier,
             coalesce(array_agg(ep.rec ORDER BY ep.rec) FILTER (WHERE ep.rec IS NOT NULL), '{}') AS recs
      FROM pts p LEFT JOIN ep ON ep.person_id = p.person_id AND ep.s <= p.at AND (ep.e IS NULL OR ep.e >= p.at)
      GROUP BY p.person_id, p.at
    ), chg AS (
      SELECT lvl.*, coalesce(lag(tier) OVER (PARTITION BY person_id ORDER BY at), 0) AS prev FROM lvl
    ), seg AS (
      SELECT chg.*, lead(at) OVER (PARTITION BY person_id ORDER BY at) AS next_at FROM chg WHERE tier <> prev
    )
    SELECT ${evaluationId}::bigint, seg.person_id, m.family_id, seg.at, seg.next_at - 1, seg.tier, seg.prev,
           CASE WHEN seg.prev = 0 THEN 'opened' WHEN seg.tier = 0 THEN 'closed' WHEN seg.tier > seg.prev THEN 'step_up' ELSE 'step_down' END,
           seg.recs, ${runId}::bigint
    FROM seg LEFT JOIN core.current_family_member m ON m.person_id = seg.person_id`;
}
