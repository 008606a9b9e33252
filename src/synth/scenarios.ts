import { addMonths, ageOn, dayOf, isSchoolAge, lastAugust31, yearOf } from './calendar.ts';
import type { EventMaker, LifeEvent } from './events.ts';
import { members, type Household, type Person, type PopulationMaker } from './people.ts';

/**
 * Attached families built to a known outcome. Each scenario decides the family's headline
 * problems at entry and, problem by problem, whether the data will show significant and
 * sustained progress by the as-of date T, then lays down exactly the records that make it so,
 * keeping every date well clear of a rule's window edges (at least two weeks), so the truth
 * never depends on how a boundary is read. The one deliberate boundary is a count: an ASB fall
 * of exactly 60% (and an absence rate of exactly 10%), which the rules define.
 *
 * Nothing here calls the pipeline's rules code: truth is what the scenario was built to be.
 */

export type Problem = 'crime_asb' | 'education' | 'children_need_help' | 'worklessness' | 'domestic_abuse' | 'health';
export const PROBLEMS: readonly Problem[] = ['crime_asb', 'education', 'children_need_help', 'worklessness', 'domestic_abuse', 'health'];

/** A problem's result under the default plan as of T. `not_due`: T is under 6 months after attachment. */
export type ProblemResult = 'pass' | 'fail' | 'neutral' | 'not_due';

export interface EvidenceRow {
  problem: Problem;
  outcome: 'achieved' | 'not_achieved';
  day: number;
  attestedBy: string;
  note: string;
}

export interface AttachedFamily {
  caseRef: string;
  scenario: string;
  household: Household;
  attachedOn: number;
  /** Problems identified at entry (data and keyworker), the truth. */
  problems: Map<Problem, ProblemResult>;
  /** What the keyworker wrote in the register's problems column. */
  keyworkerProblems: Problem[];
  continuousEmployment: boolean;
  events: LifeEvent[];
  evidence: EvidenceRow[];
  leadProfessional: string;
}

export interface FamilyTruth {
  eligible: boolean;
  sspMet: boolean;
  ceMet: boolean;
  claimable: boolean;
  route: '' | 'continuous_employment' | 'significant_sustained_progress';
}

/** Claimability by construction: what each scenario built, combined by the claim rules' plain definition. */
export function familyTruth(f: AttachedFamily, asOf: number): FamilyTruth {
  const eligible = f.problems.size >= 2;
  const due = asOf >= addMonths(f.attachedOn, 6);
  const sspMet = due && [...f.problems.values()].every((r) => r === 'pass');
  const ceMet = f.continuousEmployment;
  const claimable = eligible && (sspMet || ceMet);
  return { eligible, sspMet, ceMet, claimable, route: !claimable ? '' : ceMet ? 'continuous_employment' : 'significant_sustained_progress' };
}

const WEEK = 7;
const MARGIN = 14;

const OUT_OF_WORK: readonly (readonly [[string, string], number])[] = [
  [['ESA', ''], 28],
  [['UC', 'searching'], 22],
  [['UC', ''], 8],
  [['UC', 'planning'], 5],
  [['UC', 'preparing'], 4],
  [['UC', 'no_requirements'], 6],
  [['JSA', ''], 12],
  [['IS', ''], 9],
  [['CA', ''], 4],
  [['IB', ''], 1],
  [['SDA', ''], 1],
];

const TEAMS = ['Early Help North', 'Early Help South', 'Family Support Hub', 'Youth Offending Service', 'Troubled Families Team'];
const WORKER_INITIALS = 'ABCDEFGHJKLMNPRSTW';
const WORKER_SURNAMES = ['Mensah', 'Patel', 'Okafor', 'Kowalska', 'Bennett', 'Reid', 'Hussain', 'Campbell', 'Fletcher', 'Nguyen'];

type CrimeEntry = 'child_offence' | 'intervention' | 'adult_offences' | 'asb_incidents';

/** Builds one attached family's records for a scenario. */
class FamilyBuilder {
  readonly f: AttachedFamily;
  readonly m: EventMaker;
  readonly asOf: number;

  constructor(m: EventMaker, f: AttachedFamily) {
    this.m = m;
    this.f = f;
    this.asOf = m.asOf;
  }

  get A(): number {
    return this.f.attachedOn;
  }

  get rng() {
    return this.m.rng;
  }

  adults(): Person[] {
    return this.f.household.adults;
  }

  /** A day in the 6 months before T (clear of both edges). */
  inLastSixMonths(): number {
    return this.m.day(addMonths(this.asOf, -6) + MARGIN, this.asOf - MARGIN);
  }

  /** A day after attachment but before the 6 months before T, or undefined when there is no such gap. */
  betweenAandLastSix(): number | undefined {
    const from = this.A + MARGIN;
    const to = addMonths(this.asOf, -6) - MARGIN;
    return to >= from ? this.m.day(from, to) : undefined;
  }

  inSixMonthsBeforeA(): number {
    return this.m.day(addMonths(this.A, -6) + MARGIN, this.A - MARGIN);
  }

  inYearBeforeA(): number {
    return this.m.day(addMonths(this.A, -12) + MARGIN, this.A - MARGIN);
  }

  push(...events: LifeEvent[]): void {
    this.f.events.push(...events);
  }

  set(problem: Problem, result: ProblemResult): void {
    this.f.problems.set(problem, this.A > addMonths(this.asOf, -6) ? 'not_due' : result);
  }

  // --- crime and anti-social behaviour -----------------------------------------------------

  crime(outcome: 'pass' | 'reoffend' | 'intervention_after' | 'asb_not_fallen' | 'baseline_zero' | 'asb_exactly_60', entry?: CrimeEntry): void {
    const rng = this.rng;
    const hh = this.f.household;
    const olderChildren = hh.children.filter((c) => ageOn(c.dob, this.A) >= 11);
    let kind: CrimeEntry =
      entry ??
      (outcome === 'asb_not_fallen' || outcome === 'asb_exactly_60'
        ? 'asb_incidents'
        : rng.weighted([
            ['child_offence', 40],
            ['intervention', 20],
            ['adult_offences', 15],
            ['asb_incidents', outcome === 'baseline_zero' ? 0 : 25],
          ] as const));
    if (kind === 'child_offence' && olderChildren.length === 0) kind = 'adult_offences';
    const offender = kind === 'child_offence' ? rng.pick(olderChildren) : rng.pick(this.adults());
    let baseline: number;
    switch (kind) {
      case 'child_offence':
        this.push(this.m.offence(offender, this.inYearBeforeA()));
        baseline = outcome === 'baseline_zero' ? 0 : rng.int(0, 2);
        break;
      case 'intervention':
        this.push(this.m.asbIntervention(offender, this.inYearBeforeA()));
        baseline = outcome === 'baseline_zero' ? 0 : rng.int(0, 2);
        break;
      case 'adult_offences': {
        const first = this.inYearBeforeA();
        this.push(this.m.offence(offender, first), this.m.offence(offender, this.m.day(first, this.A - MARGIN)));
        baseline = outcome === 'baseline_zero' ? 0 : rng.int(0, 2);
        break;
      }
      case 'asb_incidents':
        baseline = outcome === 'asb_exactly_60' ? 5 : outcome === 'asb_not_fallen' ? 4 : rng.int(3, 7);
        break;
    }
    const everyone = members(hh).filter((p) => ageOn(p.dob, this.A) >= 10);
    for (let i = 0; i < baseline; i++) this.push(this.m.asbIncident(rng.pick(everyone), this.inSixMonthsBeforeA()));

    // Incidents in the 6 months before T, against the allowance of 40% of the baseline.
    let after: number;
    switch (outcome) {
      case 'asb_exactly_60':
        after = 2; // 2 of 5 = exactly 40%: a fall of exactly 60% passes
        break;
      case 'asb_not_fallen':
        after = 2; // 2 of 4 = 50%: not enough of a fall
        break;
      case 'baseline_zero':
        after = 1; // a baseline of 0 requires 0
        break;
      default:
        after = rng.int(0, Math.floor((2 * baseline) / 5));
    }
    for (let i = 0; i < after; i++) this.push(this.m.asbIncident(rng.pick(everyone), this.inLastSixMonths()));

    // Some families slip soon after attachment and then settle: outside the 6 months, so it passes.
    const gap = this.betweenAandLastSix();
    if (gap !== undefined && rng.chance(0.25)) {
      this.push(rng.chance(0.5) ? this.m.offence(offender, gap) : this.m.asbIncident(rng.pick(everyone), gap));
    }
    if (outcome === 'reoffend') this.push(this.m.offence(offender, this.inLastSixMonths()));
    if (outcome === 'intervention_after') this.push(this.m.asbIntervention(rng.pick(everyone), this.inLastSixMonths()));
    this.set('crime_asb', outcome === 'pass' || outcome === 'asb_exactly_60' ? 'pass' : 'fail');
  }

  // --- education --------------------------------------------------------------------------

  /** Children school age both at attachment and at T (they are the ones measured). */
  measuredChildren(): Person[] {
    return this.f.household.children.filter((c) => isSchoolAge(c.dob, this.A) && isSchoolAge(c.dob, this.asOf));
  }

  education(outcome: 'pass' | 'poor_attendance' | 'exactly_ten_percent' | 'excluded' | 'neutral'): void {
    const rng = this.rng;
    const hh = this.f.household;
    const terms = this.m.terms;
    let target: Person;
    if (outcome === 'neutral') {
      // The only child measured at entry leaves school age before T: 15 on the 31 August before A.
      target = hh.children[hh.children.length - 1]!;
      const aug = lastAugust31(this.A);
      target.dob = dayOf(`${yearOf(aug) - 16}-${rng.pick(['09', '10', '11', '12'])}-${String(rng.int(1, 28)).padStart(2, '0')}`);
      target.twin = false;
      for (const c of hh.children) {
        if (c !== target && isSchoolAge(c.dob, this.A)) c.dob = addMonths(this.A, -12 * rng.int(1, 3)) - rng.int(0, 300); // too young for school
      }
    } else {
      let measured = this.measuredChildren();
      while (measured.length === 0) {
        const child = hh.children[0]!;
        const aug = lastAugust31(this.asOf);
        child.dob = dayOf(`${yearOf(aug) - rng.int(8, 15)}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`);
        child.twin = false;
        measured = this.measuredChildren();
      }
      target = rng.pick(measured);
    }
    const entryBy = rng.weighted([['absence', 80], ['exclusions', 12], ['alternative_provision', 8]] as const);
    const failTerm = rng.int(0, 2);
    for (const child of hh.children) {
      for (const [i, term] of terms.entries()) {
        if (!this.m.onRoll(child, term)) continue;
        const isEntryTerm = i < 3;
        if (child === target && isEntryTerm) {
          if (entryBy === 'absence') this.push(this.m.attendance(hh, child, term, 0.12, 0.35));
          else if (entryBy === 'exclusions') this.push(this.m.attendance(hh, child, term, 0.02, 0.08, { fixedExclusions: 1 }));
          else this.push(this.m.attendance(hh, child, term, 0.03, 0.09, { alternativeProvision: true }));
          continue;
        }
        if (child === target && !isEntryTerm) {
          if (outcome === 'neutral') continue; // left school
          const k = i - 3;
          if (outcome === 'poor_attendance' && k === failTerm) this.push(this.m.attendance(hh, child, term, 0.11, 0.25));
          else if (outcome === 'exactly_ten_percent' && k === failTerm) {
            const possible = Math.floor(term.sessionsPossible / 10) * 10;
            const absent = possible / 10;
            const ev = this.m.attendance(hh, child, term, 0, 0.01, { possible });
            ev.authorised = Math.floor(absent / 2);
            ev.unauthorised = absent - ev.authorised;
            this.push(ev);
          } else if (outcome === 'excluded') this.push(this.m.attendance(hh, child, term, 0.01, 0.07, { fixedExclusions: 1 }));
          else this.push(this.m.attendance(hh, child, term, 0.01, 0.085, { fixedExclusions: k === 1 && rng.chance(0.2) ? 2 : 0 }));
          continue;
        }
        // Brothers and sisters attend well throughout (they are measured too when school age at A and T).
        const u = rng.next();
        this.push(this.m.attendance(hh, child, term, 0, 0.01 + 0.07 * u * u));
      }
    }
    this.set('education', outcome === 'pass' ? 'pass' : outcome === 'neutral' ? 'neutral' : 'fail');
  }

  // --- children who need help -------------------------------------------------------------

  needHelp(outcome: 'pass' | 'stepped_down' | 'rereferral' | 'cp_open'): void {
    const rng = this.rng;
    const hh = this.f.household;
    const caseRef = `SCF${String(hh.index * 37).padStart(7, '0')}`;
    const child = rng.pick(hh.children);
    const type = rng.weighted([['cin', 70], ['cp_plan', 20], ['lac', 10]] as const);
    const start = this.m.day(addMonths(this.A, -12) + MARGIN + 45, this.A - 30);
    // Closed clear of the 6 months before T (families attached too recently for that close when they close).
    const latestEnd = Math.max(start + 30, addMonths(this.asOf, -6) - MARGIN);
    const end = this.m.day(Math.min(start + 60, latestEnd), Math.min(this.A + 120, latestEnd));
    const mother = this.adults()[0]!;
    const contact = start - rng.int(20, 40);
    this.push(
      this.m.episode(child, 'contact', contact, contact, caseRef, ''),
      this.m.episode(child, 'referral', contact + rng.int(1, 10), start - 1, caseRef, ''),
      this.m.episode(child, type, start, end, caseRef, rng.chance(0.7) ? 'child' : ''),
    );
    if (rng.chance(0.5)) this.push(this.m.episode(mother, type, start, end, caseRef, 'parent'));
    if (outcome === 'stepped_down') {
      this.push(this.m.episode(child, 'early_help', end + 1, end + rng.int(90, 200), caseRef, 'child'));
    }
    if (outcome === 'rereferral' || outcome === 'cp_open') {
      const referral = this.inLastSixMonths();
      const again = outcome === 'cp_open' ? 'cp_plan' : 'cin';
      const reStart = Math.min(referral + rng.int(5, 20), this.asOf - 3);
      this.push(this.m.episode(child, 'referral', referral, reStart - 1, caseRef, ''), this.m.episode(child, again, reStart, null, caseRef, 'child'));
    }
    this.set('children_need_help', outcome === 'pass' || outcome === 'stepped_down' ? 'pass' : 'fail');
  }

  // --- worklessness and continuous employment ----------------------------------------------

  /**
   * An adult on an out-of-work benefit at attachment, and what follows. `route` picks the
   * continuous-employment story; `outcome` whether the 26-week benefit-free test passes at T.
   */
  worklessness(opts: {
    route: 'none' | 'esa_13_weeks' | 'jsa_26_of_30' | 'jsa_short' | 'job_before_attachment' | 'uc_blank';
    outcome: 'pass' | 'fail';
  }): void {
    const rng = this.rng;
    const candidates = this.adults().filter((a) => ageOn(a.dob, this.A) >= 18 && ageOn(a.dob, this.A) <= 60);
    const adult = candidates[0] ?? this.adults()[0]!;
    const T = this.asOf;
    const isJsa = opts.route === 'jsa_26_of_30' || opts.route === 'jsa_short';
    let [benefit, conditionality] = isJsa ? ['JSA', ''] : rng.weighted(OUT_OF_WORK.filter(([[b]]) => b !== 'JSA'));
    if (opts.route === 'uc_blank') [benefit, conditionality] = ['UC', ''];
    const start = this.m.day(this.A - 700, this.A - 60);
    // The benefit ends: clear of the 26 weeks before T for a pass, inside them for a fail.
    const passEnd = () => this.m.day(this.A + MARGIN, T - 26 * WEEK - MARGIN);
    const failEnd = () => this.m.day(T - 24 * WEEK, T - 4 * WEEK);
    let end: number | null;
    let job: number | undefined;
    switch (opts.route) {
      case 'none':
      case 'uc_blank':
        end = opts.outcome === 'pass' ? passEnd() : rng.chance(0.6) ? null : failEnd();
        // A job that started too recently for 13 weeks: the 26-week test passes, employment does not.
        if (opts.outcome === 'pass' && rng.chance(0.3)) job = this.m.day(T - 9 * WEEK, T - 3 * WEEK);
        this.f.continuousEmployment = false;
        break;
      case 'esa_13_weeks':
        end = opts.outcome === 'pass' ? passEnd() : this.m.day(T - 24 * WEEK, T - 20 * WEEK);
        job = this.m.day(end + 1, Math.max(end + 1, T - 16 * WEEK));
        this.f.continuousEmployment = true;
        break;
      case 'jsa_26_of_30':
        end = this.m.day(this.A + MARGIN, T - 30 * WEEK - MARGIN);
        job = this.m.day(end + 1, T - 29 * WEEK);
        this.f.continuousEmployment = true;
        break;
      case 'jsa_short':
        end = this.m.day(T - 23 * WEEK - 4, T - 22 * WEEK);
        job = end + rng.int(1, 5); // about 22 weeks of work: short of 26 in 30
        this.f.continuousEmployment = false;
        break;
      case 'job_before_attachment':
        end = passEnd();
        job = this.m.day(this.A - 120, this.A - 30); // permitted work while on benefit: started before A
        this.f.continuousEmployment = false;
        break;
    }
    this.push(this.m.spell(adult, 'benefit', start, end, benefit, conditionality));
    if (job !== undefined) this.push(this.m.spell(adult, 'employment', job, null));
    const result: ProblemResult = opts.route === 'jsa_short' ? 'fail' : opts.route === 'jsa_26_of_30' || opts.route === 'job_before_attachment' ? 'pass' : opts.outcome;
    this.set('worklessness', result);
  }

  /** A 16 or 17 year old not in education, employment or training at attachment. */
  neet(outcome: 'pass' | 'fail'): void {
    const rng = this.rng;
    const hh = this.f.household;
    let yp = hh.children.find((c) => ageOn(c.dob, this.A) === 16 || ageOn(c.dob, this.A) === 17);
    if (!yp) {
      yp = hh.children[0]!;
      yp.dob = addMonths(this.A, -12 * 16 - rng.int(1, 10));
      yp.twin = false;
    }
    const start = this.m.day(this.A - 200, this.A - 30);
    const end = outcome === 'pass' ? this.m.day(this.A + MARGIN, this.asOf - 13 * WEEK - MARGIN) : null;
    this.push(this.m.spell(yp, 'neet', start, end));
    if (outcome === 'pass' && end !== null && rng.chance(0.5)) this.push(this.m.spell(yp, 'employment', end + 1, null));
    this.set('worklessness', outcome);
  }

  // --- domestic abuse ---------------------------------------------------------------------

  domesticAbuse(outcome: 'pass' | 'fail'): void {
    const hh = this.f.household;
    this.push(...this.m.domesticAbuse(hh, this.inYearBeforeA()));
    if (this.rng.chance(0.4)) this.push(...this.m.domesticAbuse(hh, this.inYearBeforeA()));
    const gap = this.betweenAandLastSix();
    if (gap !== undefined && this.rng.chance(0.2)) this.push(...this.m.domesticAbuse(hh, gap));
    if (outcome === 'fail') this.push(...this.m.domesticAbuse(hh, this.inLastSixMonths()));
    this.set('domestic_abuse', outcome);
  }

  // --- health (evidence only) ---------------------------------------------------------------

  #attested(): string {
    const rng = this.rng;
    return `${rng.pick([...WORKER_INITIALS])}. ${rng.pick(WORKER_SURNAMES)}, ${rng.pick(['Keyworker', 'Team Manager', 'Family Support Worker', 'Health Visitor'])}`;
  }

  health(outcome: 'pass' | 'not_achieved_later' | 'after_t' | 'no_evidence' | 'achieved_after_setback'): void {
    const T = this.asOf;
    const attested = this.#attested();
    const ev = (o: EvidenceRow['outcome'], day: number, note: string) =>
      this.f.evidence.push({ problem: 'health', outcome: o, day, attestedBy: attested, note });
    const span = (from: number, to: number) => this.m.day(from, to);
    switch (outcome) {
      case 'pass':
        ev('achieved', span(this.A + 30, T - MARGIN), 'GP confirms engagement with treatment; letter on file');
        break;
      case 'achieved_after_setback': {
        const setback = span(this.A + 20, this.A + 90);
        ev('not_achieved', setback, 'Missed mental health appointments');
        ev('achieved', span(setback + 30, T - MARGIN), 'Completed talking therapy course; discharge letter held');
        break;
      }
      case 'not_achieved_later': {
        const ok = span(this.A + 20, T - 90);
        ev('achieved', ok, 'Attending substance misuse service');
        ev('not_achieved', span(ok + 20, T - MARGIN), 'Disengaged from service; relapse reported');
        break;
      }
      case 'after_t':
        ev('achieved', T + this.rng.int(5, 25), 'Health visitor review completed');
        break;
      case 'no_evidence':
        break;
    }
    this.set('health', outcome === 'pass' || outcome === 'achieved_after_setback' ? 'pass' : 'fail');
  }

  /** An attested outcome for a data-evidenced problem: ignored unless a plan enables equivalent progress. */
  attest(problem: Problem): void {
    this.f.evidence.push({
      problem,
      outcome: 'achieved',
      day: this.m.day(this.A + 30, this.asOf - MARGIN),
      attestedBy: this.#attested(),
      note: 'Keyworker judges equivalent progress',
    });
  }

  /** A problem the keyworker identified that no extract evidences: passes unless data later shows it. */
  keyworkerOnly(problem: Problem): void {
    this.f.keyworkerProblems.push(problem);
    this.set(problem, 'pass');
  }

  // --- everything else in the family: ordinary, no problem signals --------------------------

  background(): void {
    const rng = this.rng;
    const hh = this.f.household;
    const hasAttendance = new Set(this.f.events.filter((e) => e.kind === 'attendance').map((e) => e.person));
    for (const child of hh.children) if (!hasAttendance.has(child)) this.push(...this.m.goodAttendance(hh, child));
    const onBenefit = new Set(this.f.events.filter((e) => e.kind === 'employment').map((e) => e.person));
    const dataStart = addMonths(this.asOf, -40);
    for (const adult of hh.adults) {
      if (onBenefit.has(adult)) continue;
      const age = ageOn(adult.dob, this.asOf);
      if (age < 66 && rng.chance(0.45)) this.push(this.m.spell(adult, 'employment', dataStart - rng.int(0, 2000), null));
      if (rng.chance(0.15)) this.push(this.m.spell(adult, 'benefit', dataStart - rng.int(0, 1500), null, rng.pick(['PIP', 'DLA', 'HB'])));
    }
    const parent = hh.adults[0];
    if (parent && !onBenefit.has(parent) && rng.chance(0.6)) this.push(this.m.spell(parent, 'benefit', dataStart - rng.int(0, 1500), null, 'CB'));
    // Most attached families get an early help episode when the keyworker takes them on.
    if (rng.chance(0.6)) {
      const child = rng.pick(hh.children);
      this.push(this.m.episode(child, 'early_help', this.A, this.A + rng.int(120, 330), `EHF${String(hh.index).padStart(7, '0')}`, 'child'));
    }
  }
}

interface ScenarioSpec {
  name: string;
  weight: number;
  /** Attached in the holiday before the last three terms (needed when education is measured). */
  school?: boolean;
  recent?: boolean;
  build(b: FamilyBuilder): void;
}

type OtherProblem = 'crime_asb' | 'children_need_help' | 'domestic_abuse' | 'health' | 'education';

/** One or more further problems, each passing (or, with `mixed`, passing or failing at random). */
function others(b: FamilyBuilder, count: number, exclude: readonly Problem[], mixed = false, allowEducation = false): void {
  const rng = b.rng;
  const pool: OtherProblem[] = (['crime_asb', 'children_need_help', 'domestic_abuse', 'health', 'education'] as const).filter(
    (p) => !exclude.includes(p) && (allowEducation || p !== 'education'),
  );
  for (let i = 0; i < count && pool.length > 0; i++) {
    const problem = pool.splice(rng.int(0, pool.length - 1), 1)[0]!;
    const pass = !mixed || rng.chance(0.5);
    switch (problem) {
      case 'crime_asb':
        b.crime(pass ? 'pass' : 'reoffend');
        break;
      case 'children_need_help':
        b.needHelp(pass ? 'pass' : 'rereferral');
        break;
      case 'domestic_abuse':
        b.domesticAbuse(pass ? 'pass' : 'fail');
        break;
      case 'health':
        b.health(pass ? 'pass' : 'no_evidence');
        break;
      case 'education':
        b.education(pass ? 'pass' : 'poor_attendance');
        break;
    }
  }
}

/**
 * The scenarios, each a story with a known ending. Every one appears at least once in any
 * council of that many families or more (they are dealt in order first), then by weight.
 */
export const SCENARIOS: readonly ScenarioSpec[] = [
  {
    name: 'ssp_all_progress',
    weight: 30,
    school: true,
    build: (b) => {
      const rng = b.rng;
      const pool: Problem[] = ['crime_asb', 'education', 'children_need_help', 'worklessness', 'domestic_abuse', 'health'];
      const count = rng.weighted([[2, 4], [3, 4], [4, 2]] as const);
      for (let i = 0; i < count; i++) {
        const p = pool.splice(rng.int(0, pool.length - 1), 1)[0]!;
        if (p === 'crime_asb') b.crime('pass');
        else if (p === 'education') b.education('pass');
        else if (p === 'children_need_help') b.needHelp(rng.chance(0.3) ? 'stepped_down' : 'pass');
        else if (p === 'worklessness') b.worklessness({ route: rng.chance(0.15) ? 'uc_blank' : 'none', outcome: 'pass' });
        else if (p === 'domestic_abuse') b.domesticAbuse('pass');
        else b.health(rng.chance(0.2) ? 'achieved_after_setback' : 'pass');
      }
    },
  },
  { name: 'ce_esa_13_weeks', weight: 7, build: (b) => { b.worklessness({ route: 'esa_13_weeks', outcome: b.rng.chance(0.5) ? 'pass' : 'fail' }); others(b, b.rng.int(1, 2), [], true); } },
  { name: 'ce_jsa_26_of_30', weight: 4, build: (b) => { b.worklessness({ route: 'jsa_26_of_30', outcome: 'pass' }); others(b, b.rng.int(1, 2), [], true); } },
  { name: 'ce_jsa_short', weight: 3, build: (b) => { b.worklessness({ route: 'jsa_short', outcome: 'fail' }); others(b, b.rng.int(1, 2), []); } },
  { name: 'ce_despite_reoffending', weight: 3, build: (b) => { b.worklessness({ route: 'esa_13_weeks', outcome: 'pass' }); b.crime('reoffend'); } },
  { name: 'ce_job_started_before_attachment', weight: 2, build: (b) => { b.worklessness({ route: 'job_before_attachment', outcome: 'pass' }); others(b, 1, []); } },
  { name: 'worklessness_off_benefits', weight: 3, build: (b) => { b.worklessness({ route: 'none', outcome: 'pass' }); others(b, b.rng.int(1, 2), []); } },
  { name: 'worklessness_continues', weight: 2, build: (b) => { b.worklessness({ route: 'none', outcome: 'fail' }); others(b, 1, []); } },
  { name: 'child_reoffends', weight: 5, build: (b) => { b.crime('reoffend', 'child_offence'); others(b, b.rng.int(1, 2), ['crime_asb']); } },
  { name: 'asb_intervention_after', weight: 2, build: (b) => { b.crime('intervention_after'); others(b, 1, ['crime_asb']); } },
  { name: 'asb_fall_exactly_60', weight: 3, build: (b) => { b.crime('asb_exactly_60'); others(b, 1, ['crime_asb']); } },
  { name: 'asb_fall_50', weight: 3, build: (b) => { b.crime('asb_not_fallen'); others(b, 1, ['crime_asb']); } },
  { name: 'asb_baseline_zero', weight: 3, build: (b) => { b.crime('baseline_zero'); others(b, 1, ['crime_asb']); } },
  { name: 'attendance_stays_poor', weight: 4, school: true, build: (b) => { b.education('poor_attendance'); others(b, b.rng.int(1, 2), ['education']); } },
  { name: 'absence_exactly_10_percent', weight: 1, school: true, build: (b) => { b.education('exactly_ten_percent'); others(b, 1, ['education']); } },
  { name: 'excluded_after_attachment', weight: 2, school: true, build: (b) => { b.education('excluded'); others(b, 1, ['education']); } },
  { name: 'child_leaves_school_age', weight: 2, school: true, build: (b) => { b.education('neutral'); others(b, 1, ['education']); } },
  { name: 'cin_stepped_down', weight: 4, build: (b) => { b.needHelp('stepped_down'); others(b, 1, ['children_need_help']); } },
  { name: 'cin_rereferral', weight: 3, build: (b) => { b.needHelp('rereferral'); others(b, 1, ['children_need_help']); } },
  { name: 'child_protection_plan_open', weight: 1, build: (b) => { b.needHelp('cp_open'); others(b, 1, ['children_need_help']); } },
  { name: 'domestic_abuse_recurs', weight: 4, build: (b) => { b.domesticAbuse('fail'); others(b, 1, ['domestic_abuse']); } },
  { name: 'health_not_achieved_later', weight: 2, build: (b) => { b.health('not_achieved_later'); others(b, 1, ['health']); } },
  { name: 'health_evidence_after_as_of', weight: 2, build: (b) => { b.health('after_t'); others(b, 1, ['health']); } },
  { name: 'health_no_evidence', weight: 1, build: (b) => { b.health('no_evidence'); others(b, 1, ['health']); } },
  { name: 'uc_working_not_out_of_work', weight: 2, build: (b) => {
      const adult = b.adults()[0]!;
      const since = b.A - b.rng.int(200, 600);
      b.push(b.m.spell(adult, 'benefit', since, null, 'UC', 'working'), b.m.spell(adult, 'employment', since - b.rng.int(0, 30), null));
      others(b, 2, []);
    } },
  { name: 'neet_cleared', weight: 2, build: (b) => { b.neet('pass'); others(b, 1, []); } },
  { name: 'neet_continues', weight: 1, build: (b) => { b.neet('fail'); others(b, 1, []); } },
  { name: 'attached_too_recently', weight: 4, recent: true, build: (b) => {
      b.crime('pass');
      others(b, b.rng.int(1, 2), ['crime_asb']);
    } },
  { name: 'one_problem_only', weight: 3, build: (b) => { b.worklessness({ route: 'esa_13_weeks', outcome: 'pass' }); } },
  { name: 'attested_but_data_fails', weight: 1, build: (b) => { b.domesticAbuse('fail'); b.attest('domestic_abuse'); others(b, 1, ['domestic_abuse']); } },
  { name: 'keyworker_only_problem', weight: 2, build: (b) => { b.keyworkerOnly('domestic_abuse'); others(b, 1, ['domestic_abuse']); } },
];

/** The scenario for the n-th attached family (0-based): each once in order, then by weight. */
export function scenarioFor(n: number, rng: { weighted<T>(c: readonly (readonly [T, number])[]): T }): ScenarioSpec {
  if (n < SCENARIOS.length) return SCENARIOS[n]!;
  return rng.weighted(SCENARIOS.map((s) => [s, s.weight] as const));
}

/** When the family was attached: before the last three terms for school scenarios, else 9 to 20 months before T. */
function attachmentDay(m: EventMaker, spec: ScenarioSpec): number {
  const T = m.asOf;
  if (spec.recent) return m.day(T - 150, T - 60);
  if (spec.school) {
    const holidayStart = m.terms[2]!.end + 3;
    let holidayEnd = m.terms[3]!.start - 3;
    // Keep clear of 31 August, the day school age is taken on.
    const aug = dayOf(`${yearOf(holidayStart)}-08-31`);
    if (holidayStart <= aug + 1 && holidayEnd >= aug - 2) holidayEnd = aug - 2;
    return m.day(holidayStart, holidayEnd);
  }
  return m.day(addMonths(T, -20), addMonths(T, -9));
}

/** Build one attached family for scenario `spec`. */
export function buildAttachedFamily(pop: PopulationMaker, m: EventMaker, spec: ScenarioSpec, caseNumber: number): AttachedFamily {
  const rng = m.rng;
  const household = pop.household({ withChildren: true, needSchoolAge: spec.school === true });
  const attachedOn = attachmentDay(m, spec);
  // Families on the programme move more than most.
  if (rng.chance(0.12)) pop.move(household, m.day(addMonths(attachedOn, -10), m.asOf - 30));
  const f: AttachedFamily = {
    caseRef: `EH-${String(100_000 + caseNumber * 7)}`,
    scenario: spec.name,
    household,
    attachedOn,
    problems: new Map(),
    keyworkerProblems: [],
    continuousEmployment: false,
    events: [],
    evidence: [],
    leadProfessional: rng.chance(0.6)
      ? rng.pick(TEAMS)
      : `${rng.pick([...WORKER_INITIALS])}. ${rng.pick(WORKER_SURNAMES)} (${rng.pick(['keyworker', 'family support worker', 'youth worker'])})`,
  };
  const b = new FamilyBuilder(m, f);
  spec.build(b);
  b.background();
  // The keyworker's assessment names health always (nothing else can), and most of what data shows.
  for (const problem of f.problems.keys()) {
    if (problem === 'health' || (!f.keyworkerProblems.includes(problem) && rng.chance(0.55))) {
      if (!f.keyworkerProblems.includes(problem)) f.keyworkerProblems.push(problem);
    }
  }
  return f;
}

/** Problems a non-attached household is constructed to show at the reference date (2 or more: eligible, not attached). */
export type DataProblem = Exclude<Problem, 'health'>;

/**
 * A household that meets identification at T but was never attached: two or three problems
 * evidenced by data in the 12 months before T. For `eligible-unattached.csv`.
 */
export function buildEligibleUnattached(pop: PopulationMaker, m: EventMaker): { household: Household; problems: DataProblem[]; events: LifeEvent[] } {
  const rng = m.rng;
  const T = m.asOf;
  const pool: DataProblem[] = ['crime_asb', 'education', 'children_need_help', 'worklessness', 'domestic_abuse'];
  const count = rng.chance(0.7) ? 2 : 3;
  const problems: DataProblem[] = [];
  while (problems.length < count) {
    const p = pool.splice(rng.int(0, pool.length - 1), 1)[0]!;
    problems.push(p);
  }
  const household = pop.household({ withChildren: true, needSchoolAge: problems.includes('education') });
  const events: LifeEvent[] = [];
  const inYear = () => m.day(addMonths(T, -12) + MARGIN, T - MARGIN);
  const kids = household.children;
  if (problems.includes('education')) {
    let child = kids.find((c) => isSchoolAge(c.dob, T));
    if (!child) {
      child = kids[0]!;
      child.dob = dayOf(`${yearOf(lastAugust31(T)) - rng.int(7, 14)}-${String(rng.int(1, 12)).padStart(2, '0')}-10`);
      child.twin = false;
    }
    const last3 = new Set(m.terms.slice(3).map((t) => t.id));
    for (const term of m.terms) {
      if (!m.onRoll(child, term)) continue;
      events.push(last3.has(term.id) ? m.attendance(household, child, term, 0.13, 0.4) : m.attendance(household, child, term, 0.02, 0.09));
    }
  }
  for (const child of kids) if (!events.some((e) => e.person === child)) events.push(...m.goodAttendance(household, child));
  const adult = household.adults.find((a) => ageOn(a.dob, T) < 60) ?? household.adults[0]!;
  if (problems.includes('crime_asb')) {
    const older = kids.filter((c) => ageOn(c.dob, T) >= 12);
    if (older.length > 0 && rng.chance(0.6)) events.push(m.offence(rng.pick(older), inYear()));
    else events.push(m.asbIntervention(adult, inYear()));
  }
  if (problems.includes('children_need_help')) {
    const start = inYear();
    const caseRef = `SCF${String(household.index * 37).padStart(7, '0')}`;
    events.push(m.episode(rng.pick(kids), rng.weighted([['cin', 7], ['cp_plan', 2], ['lac', 1]] as const), start, rng.chance(0.5) ? null : Math.min(start + rng.int(60, 200), T - 3), caseRef, 'child'));
  }
  if (problems.includes('worklessness')) {
    const [benefit, cond] = rng.weighted(OUT_OF_WORK);
    events.push(m.spell(adult, 'benefit', m.day(T - 900, T - 40), null, benefit, cond));
  }
  if (problems.includes('domestic_abuse')) events.push(...m.domesticAbuse(household, inYear()));
  return { household, problems: problems.sort((a, b) => PROBLEMS.indexOf(a) - PROBLEMS.indexOf(b)), events };
}
