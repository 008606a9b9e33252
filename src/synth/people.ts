import { addMonths, ageOn } from './calendar.ts';
import { DISTRICTS, DOUBLE_BARRELLED, FEMALE_FORENAMES, MALE_FORENAMES, NAME_SKEW, STREETS, SURNAMES, TAIL_FEMALE_FORENAMES, TAIL_MALE_FORENAMES, TAIL_SURNAMES } from './pools.ts';
import type { Rng } from './random.ts';

/**
 * Residents and households of the synthetic council: who people really are (the truth), before
 * any source system records them with its own noise (noise.ts).
 */

export type Sex = 'M' | 'F';

export interface Person {
  /** Truth id, `P0000001`. */
  id: string;
  /** Dense index used to derive the person's ids in each source system. */
  index: number;
  householdId: string;
  forename: string;
  middleNames: string;
  surname: string;
  /** Day number of the date of birth. */
  dob: number;
  sex: Sex;
  /** Twin of another member (same dob, same surname, same address). */
  twin: boolean;
}

/** Where a household lived from a date onwards. */
export interface Residence {
  from: number;
  /** Flat (may be empty), house number and street, e.g. `Flat 2`, `14`, `Albert Road`. */
  flat: string;
  number: string;
  street: string;
  postcode: string;
  uprn: string;
}

export interface Household {
  id: string;
  index: number;
  adults: Person[];
  children: Person[];
  residences: Residence[];
}

export function members(household: Household): Person[] {
  return [...household.adults, ...household.children];
}

/** The residence in force on a day (the first one for days before it). */
export function residenceOn(household: Household, day: number): Residence {
  let current = household.residences[0]!;
  for (const r of household.residences) if (r.from <= day) current = r;
  return current;
}

export type HouseholdShape = 'single' | 'couple' | 'couple_children' | 'lone_parent' | 'adult_child' | 'three_generation' | 'sharers';

/** Shapes of household and how common each is (England and Wales census proportions, roughly). */
const SHAPES: readonly (readonly [HouseholdShape, number])[] = [
  ['single', 27],
  ['couple', 22],
  ['couple_children', 25],
  ['lone_parent', 13],
  ['adult_child', 6],
  ['three_generation', 3],
  ['sharers', 4],
];

const POSTCODE_LETTERS = 'ABDEFGHJLNPQRSTUWXYZ';

/**
 * Makes residents and households. One instance holds the streets of the borough and a short
 * memory of recent households, so that some neighbours share a name the way real streets do.
 */
export class PopulationMaker {
  readonly #rng: Rng;
  readonly #asOf: number;
  readonly #streets: { name: string; district: string; sector: number }[];
  #personCount = 0;
  #householdCount = 0;
  #uprnCount = 0;
  /** Recent households by street, for same-name neighbours. */
  readonly #recentByStreet = new Map<string, Person>();

  constructor(rng: Rng, asOf: number, population: number) {
    this.#rng = rng;
    this.#asOf = asOf;
    const streetCount = Math.max(20, Math.round(population / 250));
    this.#streets = [];
    for (let i = 0; i < streetCount; i++) {
      this.#streets.push({ name: rng.pick(STREETS), district: rng.pick(DISTRICTS), sector: rng.int(1, 9) });
    }
  }

  get personCount(): number {
    return this.#personCount;
  }

  #residence(from: number, street?: { name: string; district: string; sector: number }): Residence {
    const rng = this.#rng;
    const s = street ?? rng.pick(this.#streets);
    const flat = rng.chance(0.3) ? `Flat ${rng.int(1, 24)}` : '';
    // Neighbouring numbers on one street share the postcode unit, so postcodes repeat.
    const number = rng.int(1, 160);
    const unit = `${POSTCODE_LETTERS[(number * 7 + s.sector) % POSTCODE_LETTERS.length]}${POSTCODE_LETTERS[Math.floor(number / 20) % POSTCODE_LETTERS.length]}`;
    this.#uprnCount++;
    return {
      from,
      flat,
      number: String(number),
      street: s.name,
      postcode: `${s.district} ${s.sector}${unit}`,
      uprn: String(100_000_000 + ((this.#uprnCount * 7_919) % 900_000_000)),
    };
  }

  #surname(): string {
    const rng = this.#rng;
    if (rng.chance(0.04)) {
      const [a, b] = rng.pick(DOUBLE_BARRELLED);
      return rng.chance(0.8) ? `${a}-${b}` : `${a} ${b}`;
    }
    // Half from the borough's common names (most common first), half from a long tail, so that no
    // surname is held by much more than 1% of residents, as in England and Wales (Smith: 1.3%).
    return rng.chance(0.5) ? rng.pickSkewed(SURNAMES, NAME_SKEW) : rng.pick(TAIL_SURNAMES);
  }

  #forename(sex: Sex): string {
    const rng = this.#rng;
    // The borough's common forenames, and a long tail (the most common near 2%, as among births).
    if (rng.chance(0.4)) return rng.pick(sex === 'F' ? TAIL_FEMALE_FORENAMES : TAIL_MALE_FORENAMES);
    return rng.pickSkewed(sex === 'F' ? FEMALE_FORENAMES : MALE_FORENAMES, NAME_SKEW);
  }

  #middle(sex: Sex): string {
    const rng = this.#rng;
    if (rng.chance(0.45)) return '';
    const first = this.#forename(sex);
    return rng.chance(0.15) ? `${first} ${this.#forename(sex)}` : first;
  }

  /** A person aged between minAge and maxAge (whole years) on the reference date. */
  person(householdId: string, sex: Sex, minAge: number, maxAge: number, surname: string): Person {
    const rng = this.#rng;
    const age = rng.int(minAge, maxAge);
    const dob = addMonths(this.#asOf, -12 * age) - rng.int(1, 364);
    const index = ++this.#personCount;
    return {
      id: `P${String(index).padStart(7, '0')}`,
      index,
      householdId,
      forename: this.#forename(sex),
      middleNames: this.#middle(sex),
      surname,
      dob,
      sex,
      twin: false,
    };
  }

  /** Another child of the same family, occasionally a twin of the previous one. */
  #child(householdId: string, surname: string, minAge: number, maxAge: number, previous?: Person): Person {
    const rng = this.#rng;
    const sex: Sex = rng.chance(0.5) ? 'M' : 'F';
    const child = this.person(householdId, sex, minAge, maxAge, surname);
    if (previous && rng.chance(0.03)) {
      child.dob = previous.dob;
      child.twin = true;
      previous.twin = true;
      // Twins' names are often alike (same first letter): hard for a matcher, as in life.
      if (rng.chance(0.4)) {
        const pool = (sex === 'F' ? FEMALE_FORENAMES : MALE_FORENAMES).filter((n) => n[0] === previous.forename[0] && n !== previous.forename);
        if (pool.length > 0) child.forename = rng.pick(pool);
      }
    }
    return child;
  }

  /** Children aged 0 to maxEldest, with parents old enough to have them. */
  #children(householdId: string, surnames: string[], count: number, opts: { needSchoolAge?: boolean; minAge?: number; maxAge?: number }): Person[] {
    const rng = this.#rng;
    const children: Person[] = [];
    for (let i = 0; i < count; i++) {
      const surname = rng.pick(surnames);
      const child = this.#child(householdId, surname, opts.minAge ?? 0, opts.maxAge ?? 17, children[children.length - 1]);
      children.push(child);
    }
    if (opts.needSchoolAge && !children.some((c) => ageOn(c.dob, this.#asOf) >= 7 && ageOn(c.dob, this.#asOf) <= 14)) {
      const first = children[0]!;
      first.dob = addMonths(this.#asOf, -12 * rng.int(7, 14)) - rng.int(1, 364);
      first.twin = false;
    }
    return children.sort((a, b) => a.dob - b.dob);
  }

  /**
   * A household of a given shape (or a random one). `withChildren` forces at least one child
   * (attached families always have children); `needSchoolAge` forces one aged 7 to 14.
   */
  household(opts: { shape?: HouseholdShape; withChildren?: boolean; needSchoolAge?: boolean; childCount?: number } = {}): Household {
    const rng = this.#rng;
    const index = ++this.#householdCount;
    const id = `H${String(index).padStart(7, '0')}`;
    let shape = opts.shape ?? rng.weighted(SHAPES);
    if (opts.withChildren && !['couple_children', 'lone_parent', 'three_generation'].includes(shape)) {
      shape = rng.weighted([['couple_children', 5], ['lone_parent', 4], ['three_generation', 1]] as const);
    }
    const surname = this.#surname();
    const adults: Person[] = [];
    let children: Person[] = [];
    const childCount = opts.childCount ?? rng.weighted([[1, 41], [2, 36], [3, 15], [4, 6], [5, 2]] as const);
    switch (shape) {
      case 'single':
        adults.push(this.person(id, rng.chance(0.5) ? 'M' : 'F', 18, 90, surname));
        break;
      case 'couple': {
        const a = this.person(id, 'F', 20, 88, rng.chance(0.6) ? surname : this.#surname());
        const b = this.person(id, rng.chance(0.95) ? 'M' : 'F', Math.max(18, ageOn(a.dob, this.#asOf) - 8), Math.min(92, ageOn(a.dob, this.#asOf) + 10), surname);
        adults.push(a, b);
        break;
      }
      case 'couple_children':
      case 'lone_parent':
      case 'three_generation': {
        const mother = this.person(id, 'F', 0, 0, rng.chance(0.65) ? surname : this.#surname());
        const surnames = [surname, mother.surname];
        children = this.#children(id, surnames, childCount, opts);
        const eldest = ageOn(children[0]!.dob, this.#asOf);
        mother.dob = addMonths(children[0]!.dob, -12 * rng.int(18, 38)) - rng.int(0, 300);
        if (shape === 'lone_parent' && rng.chance(0.85)) {
          adults.push(mother);
        } else if (shape === 'lone_parent') {
          adults.push(this.person(id, 'M', Math.max(eldest + 20, 18), eldest + 45, surname));
        } else {
          const father = this.person(id, 'M', 0, 0, surname);
          father.dob = mother.dob - rng.int(-1500, 3000);
          // A father and son of the same name in one house: a classic false match.
          const son = children.find((c) => c.sex === 'M');
          if (son && rng.chance(0.02)) son.forename = father.forename;
          adults.push(mother, father);
        }
        if (shape === 'three_generation') {
          const grand = this.person(id, rng.chance(0.7) ? 'F' : 'M', 0, 0, rng.chance(0.5) ? surname : mother.surname);
          grand.dob = addMonths(mother.dob, -12 * rng.int(19, 35));
          adults.push(grand);
        }
        break;
      }
      case 'adult_child': {
        const parent = this.person(id, rng.chance(0.7) ? 'F' : 'M', 42, 70, surname);
        const grown = this.person(id, rng.chance(0.5) ? 'M' : 'F', 18, 26, surname);
        parent.dob = addMonths(grown.dob, -12 * rng.int(20, 40));
        adults.push(parent, grown);
        break;
      }
      case 'sharers': {
        const n = rng.int(2, 4);
        for (let i = 0; i < n; i++) adults.push(this.person(id, rng.chance(0.5) ? 'M' : 'F', 19, 40, i === 0 ? surname : this.#surname()));
        break;
      }
    }
    for (const a of adults) if (a.dob > addMonths(this.#asOf, -12 * 18)) a.dob = addMonths(this.#asOf, -12 * 18) - rng.int(30, 900);

    const street = rng.pick(this.#streets);
    const key = `${street.name}|${street.district}`;
    const neighbour = this.#recentByStreet.get(key);
    // Two unrelated people with the same name on one street (different dates of birth).
    if (neighbour && rng.chance(0.01) && adults[0]) {
      adults[0].forename = neighbour.forename;
      adults[0].surname = neighbour.surname;
      if (adults[0].sex !== neighbour.sex) adults[0].sex = neighbour.sex;
    }
    if (adults[0]) this.#recentByStreet.set(key, adults[0]);

    const dataStart = addMonths(this.#asOf, -40);
    const residences: Residence[] = [this.#residence(dataStart - rng.int(0, 3000), street)];
    // Some households move within the borough during the period the extracts cover.
    if (rng.chance(0.09)) residences.push(this.#residence(dataStart + rng.int(60, this.#asOf - dataStart - 30)));
    return { id, index, adults, children, residences };
  }

  /** The household moves to another address in the borough on `day`. */
  move(household: Household, day: number): void {
    household.residences.push(this.#residence(day));
    household.residences.sort((a, b) => a.from - b.from);
  }
}

