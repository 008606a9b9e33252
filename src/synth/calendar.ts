/**
 * Dates for the synthetic council, as whole days since 1970-01-01 (UTC) so arithmetic is exact
 * and no time zone can shift a date. Only synth uses these; the pipeline has its own date code.
 */

const MS_PER_DAY = 86_400_000;

// Synth formats millions of dates over a span of a century or so: memoised, as profiling showed.
const isoCache = new Map<number, string>();
const dayCache = new Map<string, number>();

/** Day number of an ISO date `YYYY-MM-DD`. */
export function dayOf(iso: string): number {
  let day = dayCache.get(iso);
  if (day === undefined) {
    day = Math.round(Date.parse(`${iso}T00:00:00Z`) / MS_PER_DAY);
    if (dayCache.size < 200_000) dayCache.set(iso, day);
  }
  return day;
}

/** ISO date `YYYY-MM-DD` of a day number. */
export function isoOf(day: number): string {
  let iso = isoCache.get(day);
  if (iso === undefined) {
    iso = new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
    if (isoCache.size < 200_000) isoCache.set(day, iso);
  }
  return iso;
}

/** `DD/MM/YYYY` (UK order) of a day number. */
export function ukOf(day: number): string {
  const iso = isoOf(day);
  return `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * `DD-MMM-YYYY` of an ISO-shaped string, converted textually so that a deliberately impossible
 * date (`2011-02-30`) stays impossible (`30-Feb-2011`) instead of being normalised by Date.
 * Anything not ISO-shaped is returned unchanged.
 */
export function isoToDayMonthName(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return iso;
  const month = MONTHS[Number(m[2]) - 1];
  return month ? `${m[3]}-${month}-${m[1]}` : iso;
}

/** The same calendar day `months` months later (clamped to the month's end, like 31 Jan + 1 = 28/29 Feb). */
export function addMonths(day: number, months: number): number {
  const d = new Date(day * MS_PER_DAY);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const target = new Date(Date.UTC(y, m, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  return Math.round(Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), Math.min(d.getUTCDate(), lastDay)) / MS_PER_DAY);
}

export function yearOf(day: number): number {
  return Number(isoOf(day).slice(0, 4));
}

/** Monday = 0 ... Sunday = 6. */
export function weekdayOf(day: number): number {
  return (new Date(day * MS_PER_DAY).getUTCDay() + 6) % 7;
}

/** Age in whole years on `day` of someone born on `dob`. */
export function ageOn(dob: number, day: number): number {
  const b = isoOf(dob);
  const d = isoOf(day);
  let age = Number(d.slice(0, 4)) - Number(b.slice(0, 4));
  if (d.slice(5) < b.slice(5)) age--;
  return age;
}

/** The most recent 31 August on or before `day`. */
export function lastAugust31(day: number): number {
  const y = yearOf(day);
  const thisYear = dayOf(`${y}-08-31`);
  return day >= thisYear ? thisYear : dayOf(`${y - 1}-08-31`);
}

/** School age on `day`: aged 5 to 15 on the most recent 31 August (programme-rules.md). */
export function isSchoolAge(dob: number, day: number): boolean {
  const age = ageOn(dob, lastAugust31(day));
  return age >= 5 && age <= 15;
}

/** One school term. */
export interface Term {
  id: string;
  start: number;
  end: number;
  /** Two sessions per school day, less training days. */
  sessionsPossible: number;
}

function firstWeekdayOnOrAfter(day: number): number {
  let d = day;
  while (weekdayOf(d) > 4) d++;
  return d;
}

function lastWeekdayOnOrBefore(day: number): number {
  let d = day;
  while (weekdayOf(d) > 4) d--;
  return d;
}

function term(id: string, startIso: string, endIso: string, halfTermWeek: boolean): Term {
  const start = firstWeekdayOnOrAfter(dayOf(startIso));
  const end = lastWeekdayOnOrBefore(dayOf(endIso));
  let weekdays = 0;
  for (let d = start; d <= end; d++) if (weekdayOf(d) < 5) weekdays++;
  // A half-term week and two training days come out of the sessions a pupil can attend.
  const schoolDays = weekdays - (halfTermWeek ? 5 : 0) - 2;
  return { id, start, end, sessionsPossible: 2 * schoolDays };
}

/** The three terms of the school year starting in September of `year` (an English term calendar). */
export function schoolYearTerms(year: number): Term[] {
  const next = year + 1;
  return [
    term(`autumn${year}`, `${year}-09-03`, `${year}-12-19`, true),
    term(`spring${next}`, `${next}-01-06`, `${next}-03-27`, true),
    term(`summer${next}`, `${next}-04-14`, `${next}-07-21`, true),
  ];
}

/**
 * The term calendar the extracts cover as of `asOf`: the six most recent terms that ended on or
 * before it (two school years), oldest first. The last three are the "outcome" terms a family
 * attached just before them is measured on; the first three are the terms before that attachment.
 */
export function termsEndingBy(asOf: number): Term[] {
  const all: Term[] = [];
  for (let y = yearOf(asOf) - 4; y <= yearOf(asOf); y++) all.push(...schoolYearTerms(y));
  const ended = all.filter((t) => t.end <= asOf);
  return ended.slice(-6);
}
