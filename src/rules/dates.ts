/**
 * Date and week arithmetic of the programme rules, pure and exact: a date is a whole day number
 * (days since 1970-01-01, UTC), so no time zone or clock can move it. The SQL of the rules
 * (predicates.ts, whose age bands compare YYYYMMDD integers, and `core.age_on`,
 * `core.last_anniversary` and `core.age_on_last_anniversary` in migrations/0010_fast_ages.sql)
 * follows the same definitions; test/rules/boundaries.test.ts holds the SQL to them.
 */

const MS_PER_DAY = 86_400_000;

/** A calendar date as a day number (days since 1970-01-01). */
export type Day = number;

/** An inclusive span of days; `end` null = still open. */
export interface Spell {
  start: Day;
  end: Day | null;
}

/** Day number of `YYYY-MM-DD`; throws on anything else or an impossible date. */
export function dayOf(iso: string): Day {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) throw new RangeError(`not a YYYY-MM-DD date: ${iso}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) throw new RangeError(`impossible date: ${iso}`);
  return Math.round(ms / MS_PER_DAY);
}

/** `YYYY-MM-DD` of a day number. */
export function isoOf(day: Day): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

function ymd(day: Day): [number, number, number] {
  const d = new Date(day * MS_PER_DAY);
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
}

/**
 * The same calendar day `months` months later (negative: earlier), clamped to the end of a
 * shorter month: 31 August + 6 months = 28 (or 29) February. PostgreSQL's `date + interval`
 * does the same.
 */
export function addMonths(day: Day, months: number): Day {
  const [y, m, d] = ymd(day);
  const first = new Date(Date.UTC(y, m - 1 + months, 1));
  const lastDay = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  return Math.round(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), Math.min(d, lastDay)) / MS_PER_DAY);
}

/**
 * Age in whole years on `on` of someone born on `dob`: the birthday has come when the month and
 * day of `on` are at or past those of `dob` (someone born on 29 February is a year older on
 * 1 March in a common year).
 */
export function ageOn(dob: Day, on: Day): number {
  const [by, bm, bd] = ymd(dob);
  const [y, m, d] = ymd(on);
  return y - by - (m * 100 + d < bm * 100 + bd ? 1 : 0);
}

/** The most recent `month`/`dayOfMonth` (31 August by default) on or before `on`. */
export function lastAnniversary(on: Day, month = 8, dayOfMonth = 31): Day {
  const [y] = ymd(on);
  const thisYear = Math.round(Date.UTC(y, month - 1, dayOfMonth) / MS_PER_DAY);
  return on >= thisYear ? thisYear : Math.round(Date.UTC(y - 1, month - 1, dayOfMonth) / MS_PER_DAY);
}

export interface AgeBands {
  adult_from: number;
  young_person_from: number;
  young_person_to: number;
  school_age_from: number;
  school_age_to: number;
  /** `MM-DD` of the day school age is taken on (31 August: `08-31`). */
  school_age_date: string;
}

export const DEFAULT_AGES: AgeBands = {
  adult_from: 18,
  young_person_from: 16,
  young_person_to: 18,
  school_age_from: 5,
  school_age_to: 15,
  school_age_date: '08-31',
};

/**
 * School age on `on`: aged `school_age_from` to `school_age_to` (5 to 15) on the most recent
 * 31 August on or before `on`. A child who is 16 on 31 August is no longer school age from that day.
 */
export function isSchoolAge(dob: Day, on: Day, ages: AgeBands = DEFAULT_AGES): boolean {
  const [month, dayOfMonth] = ages.school_age_date.split('-').map(Number) as [number, number];
  const age = ageOn(dob, lastAnniversary(on, month, dayOfMonth));
  return age >= ages.school_age_from && age <= ages.school_age_to;
}

/** Child = under 18 on the date; adult = 18 or over; young person = 16 to 18. */
export function isChild(dob: Day, on: Day, ages: AgeBands = DEFAULT_AGES): boolean {
  return ageOn(dob, on) < ages.adult_from;
}
export function isAdult(dob: Day, on: Day, ages: AgeBands = DEFAULT_AGES): boolean {
  return ageOn(dob, on) >= ages.adult_from;
}
export function isYoungPerson(dob: Day, on: Day, ages: AgeBands = DEFAULT_AGES): boolean {
  const age = ageOn(dob, on);
  return age >= ages.young_person_from && age <= ages.young_person_to;
}

/**
 * The window of `months` months ending on `end`: the days after `end - months` up to and
 * including `end` (the 12 months ending D, the 6 months before T). Windows of consecutive
 * periods therefore never share a day.
 */
export function monthWindow(end: Day, months: number): { after: Day; end: Day } {
  return { after: addMonths(end, -months), end };
}

/** The `weeks` weeks ending on `end` (7 x weeks days, `end` included). */
export function weekWindow(end: Day, weeks: number): { after: Day; end: Day } {
  return { after: end - 7 * weeks, end };
}

/** Is `day` inside a window (after `after`, up to and including `end`)? */
export function inWindow(day: Day, w: { after: Day; end: Day }): boolean {
  return day > w.after && day <= w.end;
}

/** Is a spell open at any time in the window? */
export function spellTouches(s: Spell, w: { after: Day; end: Day }): boolean {
  return s.start <= w.end && (s.end === null || s.end > w.after);
}

/** Is a spell open on `day`? */
export function spellOpenOn(s: Spell, day: Day): boolean {
  return s.start <= day && (s.end === null || s.end >= day);
}

/** ISO weekday: Monday = 1 ... Sunday = 7. */
export function isoWeekday(day: Day): number {
  // 1970-01-01 was a Thursday (4).
  return ((((day + 3) % 7) + 7) % 7) + 1;
}

/** The Monday of the ISO week containing `day`. */
export function isoWeekStart(day: Day): Day {
  return day - (isoWeekday(day) - 1);
}

/**
 * The `weeks` most recent whole ISO weeks (Monday to Sunday) ending on or before `end`: when
 * `end` is a Sunday its week is the last; otherwise the week before the one containing `end`.
 * Returns the first Monday and the last Sunday.
 */
export function wholeIsoWeeksEndingBy(end: Day, weeks: number): { firstMonday: Day; lastSunday: Day } {
  const lastSunday = isoWeekday(end) === 7 ? end : isoWeekStart(end) - 1;
  return { firstMonday: lastSunday - 7 * weeks + 1, lastSunday };
}

/**
 * Whole ISO weeks from the week containing `from` to the last whole week ending on or before
 * `to`, each marked qualifying when every day of it is covered by an employment spell and no day
 * of it by an out-of-work benefit spell. Returned oldest first as [monday, qualifies].
 */
export function qualifyingWeeks(employment: readonly Spell[], outOfWork: readonly Spell[], from: Day, to: Day): [Day, boolean][] {
  const { lastSunday } = wholeIsoWeeksEndingBy(to, 1);
  const out: [Day, boolean][] = [];
  for (let monday = isoWeekStart(from); monday + 6 <= lastSunday; monday += 7) {
    let ok = true;
    for (let d = monday; d <= monday + 6 && ok; d++) {
      if (!employment.some((s) => spellOpenOn(s, d)) || outOfWork.some((s) => spellOpenOn(s, d))) ok = false;
    }
    out.push([monday, ok]);
  }
  return out;
}

/** How many of the `weeks` whole ISO weeks ending on or before `end` qualify. */
export function qualifyingWeeksInLast(employment: readonly Spell[], outOfWork: readonly Spell[], end: Day, weeks: number): number {
  const { firstMonday } = wholeIsoWeeksEndingBy(end, weeks);
  return qualifyingWeeks(employment, outOfWork, firstMonday, end).filter(([, ok]) => ok).length;
}

/** The longest run of consecutive qualifying weeks, and the Sunday it ends on (undefined when none). */
export function longestQualifyingRun(weeks: readonly [Day, boolean][]): { weeks: number; endsOn: Day | undefined } {
  let best = 0;
  let bestEnd: Day | undefined;
  let run = 0;
  for (const [monday, ok] of weeks) {
    run = ok ? run + 1 : 0;
    if (run > best) {
      best = run;
      bestEnd = monday + 6;
    }
  }
  return { weeks: best, endsOn: bestEnd };
}

/** The financial year (April to March) containing `day`, as `2026-27`. */
export function financialYearOf(day: Day): string {
  const [y, m] = ymd(day);
  const start = m >= 4 ? y : y - 1;
  return `${start}-${String((start + 1) % 100).padStart(2, '0')}`;
}

/** The first year of a financial year label (`2026-27` -> 2026). */
export function financialYearStart(label: string): number {
  return Number(label.slice(0, 4));
}
