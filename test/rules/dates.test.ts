import { describe, expect, it } from 'vitest';
import {
  addMonths,
  ageOn,
  dayOf,
  financialYearOf,
  inWindow,
  isAdult,
  isChild,
  isSchoolAge,
  isYoungPerson,
  isoOf,
  isoWeekStart,
  isoWeekday,
  lastAnniversary,
  longestQualifyingRun,
  monthWindow,
  qualifyingWeeks,
  qualifyingWeeksInLast,
  spellOpenOn,
  spellTouches,
  weekWindow,
  wholeIsoWeeksEndingBy,
} from '../../src/rules/dates.ts';
import { tierTimeline } from '../../src/rules/tiers.ts';

const d = dayOf;
const s = (x: number) => isoOf(x);

describe('dates', () => {
  it('parses only real YYYY-MM-DD dates', () => {
    expect(s(d('2026-10-31'))).toBe('2026-10-31');
    expect(() => d('2026-02-30')).toThrow(/impossible/);
    expect(() => d('31/10/2026')).toThrow(/YYYY-MM-DD/);
  });

  it('adds months clamping to the end of shorter months', () => {
    expect(s(addMonths(d('2025-08-31'), 6))).toBe('2026-02-28');
    expect(s(addMonths(d('2023-08-31'), 6))).toBe('2024-02-29');
    expect(s(addMonths(d('2026-10-31'), -6))).toBe('2026-04-30');
    expect(s(addMonths(d('2026-04-30'), 6))).toBe('2026-10-30');
    expect(s(addMonths(d('2026-01-15'), -12))).toBe('2025-01-15');
  });

  it('takes ages on the date, birthdays on 29 February reached on 1 March in common years', () => {
    expect(ageOn(d('2010-08-31'), d('2026-08-30'))).toBe(15);
    expect(ageOn(d('2010-08-31'), d('2026-08-31'))).toBe(16);
    expect(ageOn(d('2012-02-29'), d('2030-02-28'))).toBe(17);
    expect(ageOn(d('2012-02-29'), d('2030-03-01'))).toBe(18);
    expect(isChild(d('2008-10-31'), d('2026-10-30'))).toBe(true);
    expect(isAdult(d('2008-10-31'), d('2026-10-31'))).toBe(true);
    expect(isYoungPerson(d('2010-10-31'), d('2026-10-31'))).toBe(true);
    expect(isYoungPerson(d('2007-10-30'), d('2026-10-31'))).toBe(false);
  });

  it('school age: aged 5 to 15 on the most recent 31 August on or before the date', () => {
    expect(s(lastAnniversary(d('2026-08-30')))).toBe('2025-08-31');
    expect(s(lastAnniversary(d('2026-08-31')))).toBe('2026-08-31');
    // A child who is 16 on 31 August 2026 is no longer school age from that day.
    expect(isSchoolAge(d('2010-08-31'), d('2026-08-30'))).toBe(true);
    expect(isSchoolAge(d('2010-08-31'), d('2026-08-31'))).toBe(false);
    // Born a day later: still 15 on that 31 August, school age for another year.
    expect(isSchoolAge(d('2010-09-01'), d('2026-10-31'))).toBe(true);
    // Starting school: 5 on the 31 August.
    expect(isSchoolAge(d('2021-08-31'), d('2026-09-01'))).toBe(true);
    expect(isSchoolAge(d('2021-09-01'), d('2026-09-01'))).toBe(false);
  });

  it('windows: the N months ending a date exclude its first day and include the last', () => {
    const w = monthWindow(d('2026-10-31'), 6);
    expect(s(w.after)).toBe('2026-04-30');
    expect(inWindow(d('2026-04-30'), w)).toBe(false);
    expect(inWindow(d('2026-05-01'), w)).toBe(true);
    expect(inWindow(d('2026-10-31'), w)).toBe(true);
    expect(inWindow(d('2026-11-01'), w)).toBe(false);
    const weeks = weekWindow(d('2026-10-30'), 26);
    expect(s(weeks.after)).toBe('2026-05-01');
    expect(spellTouches({ start: d('2024-01-01'), end: d('2026-05-01') }, weeks)).toBe(false);
    expect(spellTouches({ start: d('2024-01-01'), end: d('2026-05-02') }, weeks)).toBe(true);
    expect(spellTouches({ start: d('2026-10-30'), end: null }, weeks)).toBe(true);
    expect(spellOpenOn({ start: d('2026-01-01'), end: d('2026-01-01') }, d('2026-01-01'))).toBe(true);
  });

  it('ISO weeks: Monday to Sunday; the whole weeks ending on or before a date', () => {
    expect(isoWeekday(d('2026-10-26'))).toBe(1);
    expect(isoWeekday(d('2026-11-01'))).toBe(7);
    expect(s(isoWeekStart(d('2026-11-01')))).toBe('2026-10-26');
    const fri = wholeIsoWeeksEndingBy(d('2026-10-30'), 30);
    expect([s(fri.firstMonday), s(fri.lastSunday)]).toEqual(['2026-03-30', '2026-10-25']);
    const sun = wholeIsoWeeksEndingBy(d('2026-11-01'), 1);
    expect([s(sun.firstMonday), s(sun.lastSunday)]).toEqual(['2026-10-26', '2026-11-01']);
  });

  it('counts weeks employed every day and on no out-of-work benefit any day: 26 against 25 of 30', () => {
    const T = d('2026-10-30');
    const jsa = (end: string) => [{ start: d('2025-01-01'), end: d(end) }];
    expect(qualifyingWeeksInLast([{ start: d('2026-04-27'), end: null }], jsa('2026-04-26'), T, 30)).toBe(26);
    expect(qualifyingWeeksInLast([{ start: d('2026-05-04'), end: null }], jsa('2026-05-03'), T, 30)).toBe(25);
    // A job starting on a Wednesday: its first week is not whole.
    expect(qualifyingWeeksInLast([{ start: d('2026-04-29'), end: null }], jsa('2026-04-28'), T, 30)).toBe(25);
    // A single day of benefit spoils its week.
    expect(qualifyingWeeksInLast([{ start: d('2026-04-27'), end: null }], [...jsa('2026-04-26'), { start: d('2026-06-03'), end: d('2026-06-03') }], T, 30)).toBe(25);
    // Two back-to-back jobs cover the week between them.
    const jobs = [
      { start: d('2026-04-27'), end: d('2026-06-03') },
      { start: d('2026-06-04'), end: null },
    ];
    expect(qualifyingWeeksInLast(jobs, jsa('2026-04-26'), T, 30)).toBe(26);
  });

  it('finds the longest run of consecutive qualifying weeks: 13 against 12', () => {
    const T = d('2026-10-30');
    const esa = [{ start: d('2025-01-01'), end: d('2026-07-26') }];
    const thirteen = longestQualifyingRun(qualifyingWeeks([{ start: d('2026-07-27'), end: null }], esa, d('2025-09-01'), T));
    expect(thirteen.weeks).toBe(13);
    expect(s(thirteen.endsOn!)).toBe('2026-10-25');
    expect(longestQualifyingRun(qualifyingWeeks([{ start: d('2026-07-28'), end: null }], esa, d('2025-09-01'), T)).weeks).toBe(12);
    expect(longestQualifyingRun([]).weeks).toBe(0);
  });

  it('financial years run April to March', () => {
    expect(financialYearOf(d('2026-03-31'))).toBe('2025-26');
    expect(financialYearOf(d('2026-04-01'))).toBe('2026-27');
    expect(financialYearOf(d('1999-12-31'))).toBe('1999-00');
  });

  it('tiers: highest open tier by day, with step-ups, step-downs and closure', () => {
    const t = tierTimeline([
      { tier: 3, start: d('2025-03-01'), end: d('2025-12-31') },
      { tier: 2, start: d('2026-01-01'), end: d('2026-06-30') },
      { tier: 4, start: d('2026-03-01'), end: d('2026-04-15') },
    ]);
    expect(t.map((c) => [s(c.from), c.to === null ? null : s(c.to), c.tier, c.change])).toEqual([
      ['2025-03-01', '2025-12-31', 3, 'opened'],
      ['2026-01-01', '2026-02-28', 2, 'step_down'],
      ['2026-03-01', '2026-04-15', 4, 'step_up'],
      ['2026-04-16', '2026-06-30', 2, 'step_down'],
      ['2026-07-01', null, 0, 'closed'],
    ]);
  });
});
