import { addMonths, ageOn, isSchoolAge } from './calendar.ts';
import type { EventMaker, LifeEvent } from './events.ts';
import type { Household } from './people.ts';
import type { DataProblem } from './scenarios.ts';

/**
 * Records of ordinary residents: most households never meet the programme. A household may show
 * at most one headline problem in its records (at any time in the period), so no household
 * outside the register is eligible at the reference date except those built to be
 * (scenarios.ts, buildEligibleUnattached). Ordinary records still look like the signals a
 * careless rule would count: one-off ASB incidents, a single adult caution, past benefit claims,
 * contacts and early help episodes, reception-age pupils.
 */

const OUT_OF_WORK = [['ESA', ''], ['JSA', ''], ['UC', 'searching'], ['UC', 'planning'], ['IS', ''], ['CA', ''], ['UC', '']] as const;

/** Which single problem (if any) an ordinary household shows. */
export function ordinarySignal(m: EventMaker, household: Household): DataProblem | null {
  const rng = m.rng;
  const hasChild = household.children.length > 0;
  const hasSchoolChild = household.children.some((c) => isSchoolAge(c.dob, m.asOf));
  const workingAge = household.adults.some((a) => ageOn(a.dob, m.asOf) < 60);
  const choice = rng.weighted([
    [null, 860],
    ['crime_asb', 40],
    ['education', hasSchoolChild ? 90 : 0],
    ['children_need_help', hasChild ? 40 : 0],
    ['worklessness', workingAge ? 90 : 0],
    ['domestic_abuse', 18],
  ] as const);
  return choice;
}

/**
 * The records of an ordinary household, showing `signal` (or nothing). With `quiet`, no
 * offending, care or benefit noise is added beyond the signal (for households built to a truth).
 */
export function ordinaryRecords(m: EventMaker, household: Household, signal: DataProblem | null, quiet = false): LifeEvent[] {
  const rng = m.rng;
  const T = m.asOf;
  const start = addMonths(T, -36);
  const events: LifeEvent[] = [];
  const anyDay = () => m.day(start, T - 5);

  // School: every pupil on roll, reception to year 11.
  const schoolChildren = household.children.filter((c) => m.terms.some((t) => m.onRoll(c, t)));
  const absentChild = signal === 'education' ? rng.pick(schoolChildren.filter((c) => isSchoolAge(c.dob, m.asOf)).concat(schoolChildren).slice(0, 1)) : undefined;
  for (const child of household.children) {
    if (child !== absentChild) {
      events.push(...m.goodAttendance(household, child));
      continue;
    }
    const from = rng.int(0, 3);
    const byExclusion = rng.chance(0.1);
    m.terms.forEach((term, i) => {
      if (!m.onRoll(child, term)) return;
      if (i >= from && i < from + 3) {
        events.push(byExclusion ? m.attendance(household, child, term, 0.02, 0.08, { fixedExclusions: 1 + (i === from ? 1 : 0) }) : m.attendance(household, child, term, 0.1, 0.4));
      } else {
        events.push(m.attendance(household, child, term, 0.01, 0.09));
      }
    });
  }

  const adults = household.adults;
  const everyone = [...adults, ...household.children.filter((c) => ageOn(c.dob, T) >= 12)];

  // Offending: at most two ASB incidents and one adult caution in the whole period (no signal).
  if (!quiet && rng.chance(0.08)) {
    const incidents = rng.weighted([[0, 3], [1, 5], [2, 2]] as const);
    for (let i = 0; i < incidents; i++) events.push(m.asbIncident(rng.pick(everyone), anyDay()));
    const grown = adults.filter((a) => ageOn(a.dob, start) >= 18);
    if (grown.length > 0 && (incidents === 0 || rng.chance(0.3))) events.push(m.offence(rng.pick(grown), anyDay()));
  }
  if (signal === 'crime_asb') {
    const youths = household.children.filter((c) => ageOn(c.dob, T) >= 12);
    const kind = rng.weighted([['child', youths.length > 0 ? 4 : 0], ['adult', 3], ['incidents', 3], ['intervention', 2]] as const);
    const day = anyDay();
    if (kind === 'child') events.push(m.offence(rng.pick(youths), Math.max(day, addMonths(T, -12))));
    else if (kind === 'adult') {
      const who = rng.pick(adults);
      events.push(m.offence(who, day), m.offence(who, Math.min(day + rng.int(20, 200), T - 3)), ...(rng.chance(0.3) ? [m.offence(who, anyDay())] : []));
    } else if (kind === 'incidents') {
      const n = rng.int(3, 6);
      for (let i = 0; i < n; i++) events.push(m.asbIncident(rng.pick(everyone), Math.min(day + rng.int(0, 160), T - 3)));
    } else events.push(m.asbIntervention(rng.pick(everyone), day));
  }
  if (signal === 'domestic_abuse') {
    const n = rng.weighted([[1, 6], [2, 3], [3, 1]] as const);
    for (let i = 0; i < n; i++) events.push(...m.domesticAbuse(household, anyDay()));
  }

  // Work and benefits (DWP, HMRC and council NEET tracking).
  const dataStart = addMonths(T, -40);
  for (const adult of adults) {
    const age = ageOn(adult.dob, T);
    if (age >= 67) {
      if (rng.chance(0.15)) events.push(m.spell(adult, 'benefit', dataStart - rng.int(0, 3000), null, rng.pick(['SP', 'PC', 'AA'])));
      continue;
    }
    if (rng.chance(0.38)) {
      const began = rng.chance(0.7) ? dataStart - rng.int(0, 3000) : m.day(dataStart, T - 30);
      const ended = rng.chance(0.15) ? m.day(began + 60, T - 10) : null;
      events.push(m.spell(adult, 'employment', began, ended));
      if (ended !== null && rng.chance(0.6)) events.push(m.spell(adult, 'employment', m.day(ended + 1, ended + 120), null));
      if (rng.chance(0.08)) events.push(m.spell(adult, 'benefit', began + rng.int(0, 200), null, 'UC', 'working'));
    }
    if (!quiet && rng.chance(0.06)) events.push(m.spell(adult, 'benefit', dataStart - rng.int(0, 2000), null, rng.pick(['PIP', 'DLA', 'HB', 'CTR'])));
    // Past out-of-work claims that ended well before the reference date: not a problem now.
    if (!quiet && signal !== 'worklessness' && rng.chance(0.04)) {
      const [benefit, cond] = rng.pick(OUT_OF_WORK);
      const began = m.day(dataStart, T - 400);
      events.push(m.spell(adult, 'benefit', began, m.day(began + 30, T - 60), benefit, cond));
    }
  }
  const parent = household.children.length > 0 ? adults[0] : undefined;
  if (parent && rng.chance(0.35)) events.push(m.spell(parent, 'benefit', dataStart - rng.int(0, 2000), null, 'CB'));
  if (signal === 'worklessness') {
    const young = household.children.filter((c) => ageOn(c.dob, T) === 16 || ageOn(c.dob, T) === 17);
    if (young.length > 0 && rng.chance(0.3)) events.push(m.spell(young[0]!, 'neet', m.day(T - 300, T - 20), null));
    else {
      const adult = adults.find((a) => ageOn(a.dob, T) < 60) ?? adults[0]!;
      const [benefit, cond] = rng.pick(OUT_OF_WORK);
      const began = m.day(dataStart, T - 30);
      // Out of work at some point: mostly still, sometimes it ended (then no problem at T).
      events.push(m.spell(adult, 'benefit', began, rng.chance(0.8) ? null : m.day(began + 30, T - 5), benefit, cond));
    }
  }

  // Children's social care: contacts and referrals that go no further, early help, and the signal.
  if (household.children.length > 0) {
    const caseRef = `SCF${String(household.index * 37).padStart(7, '0')}`;
    if (!quiet && rng.chance(0.2)) {
      const child = rng.pick(household.children);
      const contact = anyDay();
      events.push(m.episode(child, 'contact', contact, contact, caseRef, ''));
      if (rng.chance(0.4)) {
        events.push(m.episode(child, 'referral', contact + 1, contact + rng.int(5, 30), caseRef, ''));
        if (rng.chance(0.5)) {
          const ehStart = contact + rng.int(20, 40);
          events.push(m.episode(child, 'early_help', ehStart, ehStart + rng.int(60, 240), caseRef, 'child'));
          if (adults[0] && rng.chance(0.5)) events.push(m.episode(adults[0], 'early_help', ehStart, ehStart + rng.int(60, 240), caseRef, 'parent'));
        }
      }
    }
    if (signal === 'children_need_help') {
      const child = rng.pick(household.children);
      const type = rng.weighted([['cin', 7], ['cp_plan', 2], ['lac', 1]] as const);
      const began = Math.max(anyDay(), child.dob + 15);
      events.push(m.episode(child, 'referral', began - 10, began - 1, caseRef, ''));
      events.push(m.episode(child, type, began, rng.chance(0.4) ? null : began + rng.int(60, 500), caseRef, rng.chance(0.5) ? 'child' : ''));
      if (adults[0] && rng.chance(0.5)) events.push(m.episode(adults[0], type, began, null, caseRef, 'parent'));
    }
  }
  return events;
}
