import { ageOn, lastAugust31, type Term } from './calendar.ts';
import type { Household, Person } from './people.ts';
import type { Rng } from './random.ts';

/**
 * What happened to people, before any system records it: school terms attended, offences and
 * incidents, benefit and job spells, social care episodes. Scenario code (scenarios.ts) and the
 * general population (population.ts) both speak this vocabulary; noise.ts and the writer turn it
 * into extract rows.
 */

export interface AttendanceEvent {
  kind: 'attendance';
  person: Person;
  term: Term;
  possible: number;
  authorised: number;
  unauthorised: number;
  fixedExclusions: number;
  permanentExclusion: boolean;
  alternativeProvision: boolean;
  schoolUrn: string;
}

export type OffendingType = 'proven_offence' | 'asb_incident' | 'asb_intervention' | 'domestic_abuse';

export interface OffendingEvent {
  kind: 'offending';
  person: Person;
  day: number;
  type: OffendingType;
  role: '' | 'victim' | 'perpetrator' | 'other';
  detail: string;
}

export interface SpellEvent {
  kind: 'employment';
  person: Person;
  spellType: 'benefit' | 'employment' | 'neet';
  benefitType: string;
  ucConditionality: string;
  start: number;
  end: number | null;
}

export type EpisodeType = 'contact' | 'referral' | 'early_help' | 'cin' | 'cp_plan' | 'lac';

export interface CareEvent {
  kind: 'social_care';
  person: Person;
  type: EpisodeType;
  start: number;
  end: number | null;
  caseRef: string;
  role: '' | 'child' | 'parent' | 'carer' | 'other';
}

export type LifeEvent = AttendanceEvent | OffendingEvent | SpellEvent | CareEvent;

const OFFENCES = [
  'Theft from a shop', 'Criminal damage', 'Possession of cannabis', 'Common assault', 'Handling stolen goods', 'Public order offence',
  'Burglary (dwelling)', 'Vehicle interference', 'Possession of a bladed article', 'Robbery of personal property',
];
const ASB_INCIDENTS = ['Noise nuisance', 'Rowdy behaviour', 'Neighbour dispute', 'Youths causing annoyance', 'Littering and drug paraphernalia', 'Street drinking'];
const ASB_INTERVENTIONS = ['Acceptable behaviour contract', 'Civil injunction', 'Criminal behaviour order', 'Community protection notice', 'Closure order'];
const DA_DETAILS = ['Domestic incident, verbal argument', 'Domestic assault', 'Breach of non-molestation order', 'Coercive and controlling behaviour'];

/** Event builders sharing one random stream and the council's reference date. */
export class EventMaker {
  readonly rng: Rng;
  readonly asOf: number;
  readonly terms: Term[];
  readonly #primaries: number;
  readonly #secondaries: number;

  constructor(rng: Rng, asOf: number, terms: Term[], population: number) {
    this.rng = rng;
    this.asOf = asOf;
    this.terms = terms;
    this.#primaries = Math.max(4, Math.round(population / 6000));
    this.#secondaries = Math.max(2, Math.round(population / 25000));
  }

  /** A day in [from, to] (inclusive); `from` when the range is empty. */
  day(from: number, to: number): number {
    return to < from ? from : this.rng.int(from, to);
  }

  offence(person: Person, day: number): OffendingEvent {
    return { kind: 'offending', person, day, type: 'proven_offence', role: '', detail: this.rng.pick(OFFENCES) };
  }

  asbIncident(person: Person, day: number): OffendingEvent {
    return { kind: 'offending', person, day, type: 'asb_incident', role: '', detail: this.rng.pick(ASB_INCIDENTS) };
  }

  asbIntervention(person: Person, day: number): OffendingEvent {
    return { kind: 'offending', person, day, type: 'asb_intervention', role: '', detail: this.rng.pick(ASB_INTERVENTIONS) };
  }

  /** A police-recorded domestic abuse incident: a victim and, when they live in the household, the perpetrator and children present. */
  domesticAbuse(household: Household, day: number): OffendingEvent[] {
    const rng = this.rng;
    const adults = household.adults.filter((a) => ageOn(a.dob, day) >= 16);
    const victim = adults.find((a) => a.sex === 'F') ?? adults[0] ?? household.adults[0]!;
    const detail = rng.pick(DA_DETAILS);
    const events: OffendingEvent[] = [{ kind: 'offending', person: victim, day, type: 'domestic_abuse', role: 'victim', detail }];
    const perpetrator = adults.find((a) => a !== victim && a.sex === 'M');
    if (perpetrator && rng.chance(0.6)) events.push({ kind: 'offending', person: perpetrator, day, type: 'domestic_abuse', role: 'perpetrator', detail });
    const child = household.children.find((c) => ageOn(c.dob, day) >= 0);
    if (child && rng.chance(0.25)) events.push({ kind: 'offending', person: child, day, type: 'domestic_abuse', role: 'other', detail });
    return events;
  }

  spell(person: Person, spellType: SpellEvent['spellType'], start: number, end: number | null, benefitType = '', ucConditionality = ''): SpellEvent {
    // An extract cannot know of a spell that starts after it was taken: a start drawn past the as-of date is the as-of date.
    return { kind: 'employment', person, spellType, benefitType, ucConditionality, start: Math.min(start, this.asOf), end: end !== null && end > this.asOf ? null : end };
  }

  episode(person: Person, type: EpisodeType, start: number, end: number | null, caseRef: string, role: CareEvent['role']): CareEvent {
    return { kind: 'social_care', person, type, start, end: end !== null && end > this.asOf ? null : end, caseRef, role };
  }

  /** The school a child attends in a term: siblings share a primary, and move to a secondary at 11. */
  schoolUrn(household: Household, child: Person, term: Term): string {
    const age = ageOn(child.dob, lastAugust31(term.start));
    return age <= 10
      ? String(100_001 + ((household.index * 31) % this.#primaries))
      : String(137_001 + ((household.index * 17) % this.#secondaries));
  }

  /** Is the child on a school roll in this term (reception to year 11)? */
  onRoll(child: Person, term: Term): boolean {
    const age = ageOn(child.dob, lastAugust31(term.start));
    return age >= 4 && age <= 15;
  }

  /**
   * One term's attendance with an absence rate in [minRate, maxRate). Sessions possible vary a
   * little by pupil (joining mid-term, part-time timetables).
   */
  attendance(
    household: Household,
    child: Person,
    term: Term,
    minRate: number,
    maxRate: number,
    extra: Partial<Pick<AttendanceEvent, 'fixedExclusions' | 'permanentExclusion' | 'alternativeProvision' | 'possible'>> = {},
  ): AttendanceEvent {
    const rng = this.rng;
    const possible = extra.possible ?? (rng.chance(0.05) ? term.sessionsPossible - 2 * rng.int(1, 20) : term.sessionsPossible);
    const rate = minRate + (maxRate - minRate) * rng.next();
    let absent = Math.floor(possible * rate);
    // Keep the rate strictly inside the band it was drawn from (no accidental 10.0%).
    while (absent > 0 && absent / possible >= maxRate) absent--;
    while (absent / possible < minRate) absent++;
    const authorised = Math.round(absent * (0.4 + 0.5 * rng.next()));
    return {
      kind: 'attendance',
      person: child,
      term,
      possible,
      authorised,
      unauthorised: absent - authorised,
      fixedExclusions: extra.fixedExclusions ?? 0,
      permanentExclusion: extra.permanentExclusion ?? false,
      alternativeProvision: extra.alternativeProvision ?? false,
      schoolUrn: this.schoolUrn(household, child, term),
    };
  }

  /** Good attendance (under 8.5% absence, most pupils far less) for every term the child is on roll, except `skip`. */
  goodAttendance(household: Household, child: Person, skip: ReadonlySet<string> = new Set()): AttendanceEvent[] {
    const rng = this.rng;
    const rows: AttendanceEvent[] = [];
    // A few pupils join the borough's schools part-way through the two years.
    const joinFrom = rng.chance(0.04) ? rng.int(1, this.terms.length - 1) : 0;
    this.terms.forEach((term, i) => {
      if (i < joinFrom || skip.has(term.id) || !this.onRoll(child, term)) return;
      const u = rng.next();
      rows.push(this.attendance(household, child, term, 0, 0.01 + 0.075 * u * u));
    });
    return rows;
  }
}
