import { dwellingKey, dwellingKeyWithoutPostcode, parseDwelling } from './dwelling.ts';
import { detached } from '../db/copy-out.ts';

/**
 * Grouping people into families. Pure logic: no database.
 *
 * A family is the adults and children living together. The evidence, strongest first:
 * 1. The programme register: everyone on one case_ref is that family, whatever address other
 *    systems still hold for them, and nobody is in two register families.
 * 2. Social care case groups: people sharing the social care system's case_ref.
 * 3. Co-residence: people whose current home is the same dwelling (same UPRN, else the same
 *    address and postcode, read the same way however written) over overlapping periods.
 *
 * A link that would put two register families together is refused, so a stale address or a
 * shared case group never merges attached families. A dwelling with more residents than any
 * household has (a hostel, a care home, an address used for everyone with no fixed abode) does
 * not group its residents.
 */

/** Where and when a person's records place them: one row per person and address as written. */
export interface AddressObservation {
  personId: number;
  uprn: string | null;
  address: string | null;
  postcode: string | null;
  /** First and last date (ISO) of the records at that address. */
  first: string;
  last: string;
  records: number;
}

/** A person's row in the programme register. */
export interface RegisterEntry {
  personId: number;
  caseRef: string;
  /** ISO date. */
  attachedOn: string;
  uprn: string | null;
  address: string | null;
  postcode: string | null;
}

/** A person's membership of a social care case group. */
export interface CareGroupEntry {
  personId: number;
  caseRef: string;
  /** ISO date of the person's first episode in the group. */
  first: string;
}

export type MembershipBasis = 'register' | 'register_lookalike' | 'social_care' | 'residence' | 'alone';

export interface FamilyMember {
  personId: number;
  basis: MembershipBasis;
  /** ISO date the evidence first places the person in the family, when it says. */
  joinedOn: string | null;
}

export interface Household {
  /** The register's case_ref, for an attached family. */
  caseRef: string | null;
  /** Sorted by person id. */
  members: FamilyMember[];
}

export interface GroupingOptions {
  /** Residents of one dwelling above which it is treated as communal and not grouped (default 15). */
  maxResidents?: number;
  /** Days apart two periods at one dwelling may be and still count as overlapping (default 730). */
  overlapToleranceDays?: number;
}

export interface Grouping {
  households: Household[];
  /** Links not made because they would add to a register family, by kind of evidence. */
  refused: { social_care: number; residence: number };
  /** Register people on more than one case_ref: kept in the latest attached one. */
  registerConflicts: number;
  /** Dwellings with more residents than maxResidents (not grouped). */
  communalDwellings: number;
  /** Addresses that identify no dwelling (no street, or no number and no postcode). */
  unplacedAddresses: number;
}

/** No dwelling key or person: the empty value of the numbered columns below. */
const NONE = -1;
/** No date: the empty value of the day-number columns (every real day, year 1 to 9999, is above it). */
const NO_DAY = -2_147_483_648;

const DAY_MS = 86_400_000;

/** ISO dates as day numbers and back; a run holds a few thousand distinct dates, each converted once. */
class Days {
  readonly #dayOf = new Map<string, number>();
  readonly #isoOf = new Map<number, string>();

  of(iso: string): number {
    let day = this.#dayOf.get(iso);
    if (day === undefined) {
      day = Date.parse(`${iso}T00:00:00Z`) / DAY_MS;
      if (!Number.isInteger(day)) throw new Error(`not an ISO date: ${JSON.stringify(iso)}`);
      this.#dayOf.set(iso, day);
      this.#isoOf.set(day, iso);
    }
    return day;
  }

  iso(day: number): string {
    let iso = this.#isoOf.get(day);
    if (iso === undefined) this.#isoOf.set(day, (iso = new Date(day * DAY_MS).toISOString().slice(0, 10)));
    return iso;
  }
}

/** Strings numbered from 0 in order of first sight, kept as strings of their own. */
class StringNumbers {
  readonly #numberOf = new Map<string, number>();
  readonly strings: string[] = [];

  number(value: string): number {
    let n = this.#numberOf.get(value);
    if (n === undefined) {
      n = this.strings.length;
      const kept = detached(value);
      this.#numberOf.set(kept, n);
      this.strings.push(kept);
    }
    return n;
  }
}

/** A growable column of 32-bit integers, `fill` where never set. */
class Int32Column {
  #values: Int32Array;
  readonly #fill: number;

  constructor(fill: number, capacity = 1024) {
    this.#fill = fill;
    this.#values = new Int32Array(capacity).fill(fill);
  }

  get(i: number): number {
    return i < this.#values.length ? this.#values[i]! : this.#fill;
  }

  set(i: number, value: number): void {
    if (i >= this.#values.length) {
      const grown = new Int32Array(Math.max(i + 1, this.#values.length * 2)).fill(this.#fill);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[i] = value;
  }
}

/**
 * Resolves addresses to dwelling keys: a UPRN where the record has one or where that address is
 * mostly recorded with one, else the normalised address with its postcode, else (postcode
 * missing) the only address with that flat, number and street that has a postcode.
 *
 * Keys are numbered ({@link DwellingResolver.keys}); an address is read once, when first given
 * ({@link DwellingResolver.keysOf}), and what it resolves to is known only after every address
 * has been learnt ({@link DwellingResolver.learn}, then {@link DwellingResolver.settle}).
 */
export class DwellingResolver {
  /** Dwelling keys: `U:uprn` and `A:postcode|flat|number|street`. */
  readonly keys = new StringNumbers();
  /** Addresses without postcode: `flat|number|street`. */
  readonly looseKeys = new StringNumbers();
  /** The UPRN key each address key is an alias of, where one clearly wins. */
  readonly #uprnOf = new Int32Column(NONE);
  /** The address key of each loose key: NONE where none, or where several addresses share it. */
  readonly #withPostcode = new Map<number, number>();
  /** Records of each address key with a UPRN: the first UPRN seen inline, more in a map. */
  #firstUprn: Int32Column | undefined = new Int32Column(NONE);
  #firstUprnRecords: Int32Column | undefined = new Int32Column(0);
  #moreUprns: Map<number, Map<number, number>> | undefined = new Map();
  unplaced = 0;

  /** With `observations`: learn them all and settle. Without: {@link learn} each, then {@link settle}. */
  constructor(observations?: Iterable<{ uprn: string | null; address: string | null; postcode: string | null; records: number }>) {
    if (observations === undefined) return;
    for (const o of observations) {
      const { key, loose } = this.keysOf(o.address, o.postcode);
      this.learn(this.uprnKey(o.uprn), key, loose, o.records);
    }
    this.settle();
  }

  /** The numbered dwelling key (with postcode) and loose key (without) of an address as written; NONE where it names none. */
  keysOf(address: string | null, postcode: string | null): { key: number; loose: number } {
    const d = parseDwelling(address, postcode);
    const key = d.postcode === '' ? null : dwellingKey(d);
    const loose = dwellingKeyWithoutPostcode(d);
    return { key: key === null ? NONE : this.keys.number(key), loose: loose === null ? NONE : this.looseKeys.number(loose) };
  }

  /** The numbered `U:` key of a UPRN; NONE when blank. */
  uprnKey(uprn: string | null): number {
    const u = (uprn ?? '').trim();
    return u === '' ? NONE : this.keys.number(`U:${u}`);
  }

  /** Learn that `records` records give the address (`key`, `loose`) with the UPRN `uprnKey`. */
  learn(uprnKey: number, key: number, loose: number, records: number): void {
    if (key === NONE) return;
    if (loose !== NONE) {
      const seen = this.#withPostcode.get(loose);
      if (seen === undefined) this.#withPostcode.set(loose, key);
      else if (seen !== key) this.#withPostcode.set(loose, NONE);
    }
    if (uprnKey === NONE) return;
    if (!this.#firstUprn || !this.#firstUprnRecords || !this.#moreUprns) throw new Error('DwellingResolver.learn after settle');
    const first = this.#firstUprn.get(key);
    if (first === NONE || first === uprnKey) {
      this.#firstUprn.set(key, uprnKey);
      this.#firstUprnRecords.set(key, this.#firstUprnRecords.get(key) + records);
      return;
    }
    let more = this.#moreUprns.get(key);
    if (!more) this.#moreUprns.set(key, (more = new Map()));
    more.set(uprnKey, (more.get(uprnKey) ?? 0) + records);
  }

  /** Decide which addresses are aliases of a UPRN; call once, after every address is learnt. */
  settle(): void {
    const firstUprn = this.#firstUprn;
    const firstRecords = this.#firstUprnRecords;
    const more = this.#moreUprns;
    if (!firstUprn || !firstRecords || !more) return;
    for (let key = 0; key < this.keys.strings.length; key++) {
      const first = firstUprn.get(key);
      if (first === NONE) continue;
      let total = firstRecords.get(key);
      let best = first;
      let bestN = total;
      for (const [uprn, n] of more.get(key) ?? []) {
        total += n;
        if (n > bestN || (n === bestN && this.keys.strings[uprn]! < this.keys.strings[best]!)) [best, bestN] = [uprn, n];
      }
      // An address recorded with several UPRNs (a block mis-keyed) is only aliased when one clearly wins.
      if (bestN >= 0.8 * total) this.#uprnOf.set(key, best);
    }
    this.#firstUprn = this.#firstUprnRecords = this.#moreUprns = undefined;
  }

  /** The numbered dwelling key of an address read by {@link keysOf}, or NONE (counted unplaced when the address is not blank). */
  resolveKeys(uprnKey: number, key: number, loose: number, addressGiven: boolean): number {
    if (uprnKey !== NONE) return uprnKey;
    let placed = key;
    if (placed === NONE && loose !== NONE) placed = this.#withPostcode.get(loose) ?? NONE;
    if (placed === NONE) {
      if (addressGiven) this.unplaced++;
      return NONE;
    }
    const aliased = this.#uprnOf.get(placed);
    return aliased === NONE ? placed : aliased;
  }

  /** The numbered dwelling key of an address as written, or NONE. */
  resolveNumber(uprn: string | null, address: string | null, postcode: string | null): number {
    const uprnKey = this.uprnKey(uprn);
    if (uprnKey !== NONE) return uprnKey;
    const { key, loose } = this.keysOf(address, postcode);
    return this.resolveKeys(NONE, key, loose, (address ?? '').trim() !== '');
  }

  /** The dwelling key of an address, or null when it identifies none. */
  resolve(uprn: string | null, address: string | null, postcode: string | null): string | null {
    const key = this.resolveNumber(uprn, address, postcode);
    return key === NONE ? null : this.keys.strings[key]!;
  }
}

/**
 * Address observations as columns, with each address read into its dwelling keys as it is
 * added: the families stage holds 5.6M at 4x, which as objects with their address strings
 * took more memory than the rest of the stage.
 */
export class AddressObservationColumns {
  readonly resolver = new DwellingResolver();
  readonly days = new Days();
  length = 0;
  person = new Float64Array(1024);
  uprnKey = new Int32Array(1024);
  key = new Int32Array(1024);
  loose = new Int32Array(1024);
  first = new Int32Array(1024);
  last = new Int32Array(1024);
  records = new Int32Array(1024);
  addressGiven = new Uint8Array(1024);
  /** Whether rows came in order of person (the families stage reads them so). */
  ordered = true;

  add(o: AddressObservation): void {
    const n = this.length;
    if (n === this.person.length) this.#grow();
    const { key, loose } = this.resolver.keysOf(o.address, o.postcode);
    const uprnKey = this.resolver.uprnKey(o.uprn);
    this.resolver.learn(uprnKey, key, loose, o.records);
    if (n > 0 && o.personId < this.person[n - 1]!) this.ordered = false;
    this.person[n] = o.personId;
    this.uprnKey[n] = uprnKey;
    this.key[n] = key;
    this.loose[n] = loose;
    this.first[n] = this.days.of(o.first);
    this.last[n] = this.days.of(o.last);
    this.records[n] = o.records;
    this.addressGiven[n] = (o.address ?? '').trim() === '' ? 0 : 1;
    this.length = n + 1;
  }

  #grow(): void {
    const size = this.person.length * 2;
    const grown = <T extends Float64Array | Int32Array | Uint8Array>(from: T, make: (n: number) => T): T => {
      const to = make(size);
      to.set(from);
      return to;
    };
    this.person = grown(this.person, (n) => new Float64Array(n));
    this.uprnKey = grown(this.uprnKey, (n) => new Int32Array(n));
    this.key = grown(this.key, (n) => new Int32Array(n));
    this.loose = grown(this.loose, (n) => new Int32Array(n));
    this.first = grown(this.first, (n) => new Int32Array(n));
    this.last = grown(this.last, (n) => new Int32Array(n));
    this.records = grown(this.records, (n) => new Int32Array(n));
    this.addressGiven = grown(this.addressGiven, (n) => new Uint8Array(n));
  }
}

interface Stay {
  first: number;
  last: number;
  /** The latest start among the records (two spells still open: the later-starting one is newer). */
  latestStart: number;
  records: number;
}

/** Whether stay `a` (at key `ka`) is more recent evidence of where someone lives than `b`. */
function newer(a: Stay, ka: string, b: Stay, kb: string): boolean {
  if (a.last !== b.last) return a.last > b.last;
  if (a.latestStart !== b.latestStart) return a.latestStart > b.latestStart;
  if (a.records !== b.records) return a.records > b.records;
  return ka < kb;
}

/** How a person is written in their records, for telling a missed link from a neighbour. */
export interface Identity {
  forename: string;
  surname: string;
  /** ISO date of birth. */
  dob: string;
}

/** Dates of birth one keying error apart: equal, one character, day and month swapped, or one year out. */
function dobsClose(a: string, b: string): boolean {
  if (a === b) return true;
  const [ya, ma, da] = a.split('-');
  const [yb, mb, db] = b.split('-');
  if (ma === mb && da === db && Math.abs(Number(ya) - Number(yb)) <= 1) return true;
  if (ya === yb && ma === db && da === mb) return true;
  let diff = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) diff++;
  return a.length === b.length && diff <= 1;
}

const plainName = (name: string) => name.toLowerCase().normalize('NFKD').replace(/[^a-z]/g, '');

/**
 * Whether two people, living at one address, look like one person the matcher kept apart (a
 * system's duplicate record, a mistyped year): a close date of birth and the same surname or
 * forename (either way round).
 */
export function lookAlike(a: readonly Identity[], b: readonly Identity[]): boolean {
  for (const x of a) {
    for (const y of b) {
      if (!dobsClose(x.dob, y.dob)) continue;
      const [xf, xs, yf, ys] = [plainName(x.forename), plainName(x.surname), plainName(y.forename), plainName(y.surname)];
      if ((xs !== '' && xs === ys) || (xf !== '' && xf === yf) || (xf !== '' && xf === ys && xs === yf)) return true;
    }
  }
  return false;
}

const BASIS: readonly (MembershipBasis | undefined)[] = [undefined, 'register', 'register_lookalike', 'social_care', 'residence'];
const BASIS_NUMBER = { register: 1, register_lookalike: 2, social_care: 3, residence: 4 } as const;

/**
 * Group people into households in two steps, because the second needs names only for a few
 * people: construct with the evidence, ask {@link HouseholdGrouper.lookalikeCandidates} who
 * lives in a register family's home without being on its register, load those people's and the
 * register members' {@link Identity}s, then {@link HouseholdGrouper.group}.
 *
 * Everyone is numbered by person id (`#ids`, sorted), and what is known of each person is a
 * typed-array column: 2.4M people at 4x cost some 40 bytes each, not a map entry per fact.
 */
export class HouseholdGrouper {
  readonly #resolver: DwellingResolver;
  readonly #days: Days;
  readonly #registerOf = new Map<number, RegisterEntry>();
  readonly #registerConflicts: number;
  readonly #careGroups: readonly CareGroupEntry[];
  /** Every person's id, ascending: a person's number is their place here. */
  readonly #ids: Float64Array;
  /** Each person's current home (a dwelling key number, NONE for none) and their stay there, as day numbers. */
  readonly #home: Int32Array;
  readonly #stayFirst: Int32Array;
  readonly #stayLast: Int32Array;
  /** The first date any record places the person anywhere (NO_DAY: none does). */
  readonly #firstSeen: Int32Array;
  /**
   * The register families whose members have been seen at each dwelling key (of their records and
   * register entries), and at each address without its postcode (loose key).
   */
  readonly #casesSeenAtKey = new Map<number, Set<string>>();
  readonly #casesSeenAtLoose = new Map<number, Set<string>>();
  /** People with no home (no record's address identifies a dwelling), with the loose keys of their addresses. */
  readonly #homelessAt = new Map<number, Set<number>>();
  readonly #maxResidents: number;
  readonly #tolerance: number;

  /**
   * `observations`: objects, or {@link AddressObservationColumns} (what the families stage
   * reads into, whose dwelling keys this grouper then uses and adds to). `people`: anyone to
   * group beyond those the evidence names.
   */
  constructor(
    people: Iterable<number>,
    observations: readonly AddressObservation[] | AddressObservationColumns,
    register: readonly RegisterEntry[],
    careGroups: readonly CareGroupEntry[],
    opts: GroupingOptions = {},
  ) {
    this.#maxResidents = opts.maxResidents ?? 15;
    this.#tolerance = opts.overlapToleranceDays ?? 730;
    this.#careGroups = careGroups;
    let columns: AddressObservationColumns;
    if (observations instanceof AddressObservationColumns) columns = observations;
    else {
      columns = new AddressObservationColumns();
      for (const o of observations) columns.add(o);
    }
    this.#resolver = columns.resolver;
    this.#days = columns.days;
    for (const r of register) {
      const { key, loose } = this.#resolver.keysOf(r.address, r.postcode);
      this.#resolver.learn(this.#resolver.uprnKey(r.uprn), key, loose, 1);
    }
    this.#resolver.settle();

    // Everyone, numbered in order of person id.
    const everyone: number[] = [...people];
    for (let n = 0; n < columns.length; n++) {
      if (n === 0 || columns.person[n] !== columns.person[n - 1]) everyone.push(columns.person[n]!);
    }
    for (const r of register) everyone.push(r.personId);
    for (const c of careGroups) everyone.push(c.personId);
    const sorted = Float64Array.from(everyone).sort();
    let count = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[count++] = sorted[i]!;
    this.#ids = sorted.slice(0, count);
    this.#home = new Int32Array(count).fill(NONE);
    this.#stayFirst = new Int32Array(count);
    this.#stayLast = new Int32Array(count);
    this.#firstSeen = new Int32Array(count).fill(NO_DAY);

    // The register family of each register person: the latest attachment wins.
    const conflicted = new Set<number>();
    for (const entry of register) {
      const seen = this.#registerOf.get(entry.personId);
      if (seen && seen.caseRef !== entry.caseRef) conflicted.add(entry.personId);
      if (!seen || entry.attachedOn > seen.attachedOn || (entry.attachedOn === seen.attachedOn && entry.caseRef < seen.caseRef)) {
        this.#registerOf.set(entry.personId, entry);
      }
    }
    this.#registerConflicts = conflicted.size;

    const seenAt = (at: Map<number, Set<string>>, key: number, personId: number) => {
      const caseRef = this.#registerOf.get(personId)!.caseRef;
      const cases = at.get(key);
      if (cases) cases.add(caseRef);
      else at.set(key, new Set([caseRef]));
    };
    for (const entry of register) {
      const key = this.#resolver.resolveNumber(entry.uprn, entry.address, entry.postcode);
      if (key !== NONE) seenAt(this.#casesSeenAtKey, key, entry.personId);
      const { loose } = this.#resolver.keysOf(entry.address, entry.postcode);
      if (loose !== NONE) seenAt(this.#casesSeenAtLoose, loose, entry.personId);
    }

    // Each person's stays at each dwelling, one person at a time (the families stage reads
    // observations ordered by person; others are put in that order here), so that only the
    // current home's stay is kept.
    let order: Int32Array | undefined;
    if (!columns.ordered) {
      order = Int32Array.from({ length: columns.length }, (_, n) => n).sort((x, y) => columns.person[x]! - columns.person[y]! || x - y);
    }
    let personId = Number.NaN;
    let person = NONE;
    let stays = new Map<number, Stay>();
    let looseKeys = new Set<number>();
    const settle = () => {
      if (stays.size > 0) this.#settleHome(person, personId, stays);
      else if (looseKeys.size > 0 && !this.#registerOf.has(personId)) this.#homelessAt.set(person, looseKeys);
      stays = new Map();
      looseKeys = new Set();
    };
    for (let i = 0; i < columns.length; i++) {
      const n = order ? order[i]! : i;
      if (columns.person[n] !== personId) {
        settle();
        personId = columns.person[n]!;
        person = this.#numberOf(personId);
      }
      const first = columns.first[n]!;
      const last = columns.last[n]!;
      const seen = this.#firstSeen[person]!;
      if (seen === NO_DAY || first < seen) this.#firstSeen[person] = first;
      const key = this.#resolver.resolveKeys(columns.uprnKey[n]!, columns.key[n]!, columns.loose[n]!, columns.addressGiven[n] === 1);
      const onRegister = this.#registerOf.has(personId);
      if (key === NONE || onRegister) {
        const loose = columns.loose[n]!;
        if (loose !== NONE) {
          if (onRegister) seenAt(this.#casesSeenAtLoose, loose, personId);
          else looseKeys.add(loose);
        }
      }
      if (key === NONE) continue;
      if (onRegister) seenAt(this.#casesSeenAtKey, key, personId);
      const stay = stays.get(key);
      if (!stay) stays.set(key, { first, last, latestStart: first, records: columns.records[n]! });
      else {
        if (first < stay.first) stay.first = first;
        if (first > stay.latestStart) stay.latestStart = first;
        if (last > stay.last) stay.last = last;
        stay.records += columns.records[n]!;
      }
    }
    settle();
  }

  /** How many people this groups. */
  get people(): number {
    return this.#ids.length;
  }

  /** A person's number (place in `#ids`), by binary search. */
  #numberOf(personId: number): number {
    let low = 0;
    let high = this.#ids.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const id = this.#ids[mid]!;
      if (id === personId) return mid;
      if (id < personId) low = mid + 1;
      else high = mid - 1;
    }
    throw new Error(`person ${personId} is not among those grouped`);
  }

  /**
   * A person's current home from their stays: the register's address for a register person
   * (other systems may lag), else the dwelling of the person's latest record.
   */
  #settleHome(person: number, personId: number, stays: ReadonlyMap<number, Stay>): void {
    const entry = this.#registerOf.get(personId);
    let home = entry ? this.#resolver.resolveNumber(entry.uprn, entry.address, entry.postcode) : NONE;
    if (home === NONE || !stays.has(home)) {
      home = NONE;
      let best: Stay | undefined;
      const keys = this.#resolver.keys.strings;
      for (const [key, stay] of stays) {
        if (!best || newer(stay, keys[key]!, best, keys[home]!)) {
          best = stay;
          home = key;
        }
      }
    }
    if (home === NONE) return;
    const stay = stays.get(home)!;
    this.#home[person] = home;
    this.#stayFirst[person] = stay.first;
    this.#stayLast[person] = stay.last;
  }

  /**
   * People not on the register who may be a register person's record the matcher kept apart (a
   * system's duplicate record under another id, a mistyped date), with those register people:
   * people whose home is a dwelling where a register person has been seen, and people with no
   * home whose address without postcode (the same number and street) is one of a register
   * person's; with every member of those register people's families. {@link group} joins those
   * who also look alike.
   */
  lookalikeCandidates(): Map<number, number[]> {
    // Living with some of a register family is living with all of it: the member someone looks
    // like may have been seen only at another of the family's dwelling keys.
    const membersOfCase = new Map<string, number[]>();
    for (const [personId, entry] of this.#registerOf) {
      const members = membersOfCase.get(entry.caseRef);
      if (members) members.push(personId);
      else membersOfCase.set(entry.caseRef, [personId]);
    }
    const casesOf = new Map<number, Set<string>>();
    const add = (personId: number, cases: ReadonlySet<string> | undefined) => {
      if (!cases) return;
      const seen = casesOf.get(personId);
      if (seen) for (const c of cases) seen.add(c);
      else casesOf.set(personId, new Set(cases));
    };
    for (let person = 0; person < this.#ids.length; person++) {
      const home = this.#home[person]!;
      const personId = this.#ids[person]!;
      if (home !== NONE && !this.#registerOf.has(personId)) add(personId, this.#casesSeenAtKey.get(home));
    }
    for (const [person, looseKeys] of this.#homelessAt) {
      for (const loose of looseKeys) add(this.#ids[person]!, this.#casesSeenAtLoose.get(loose));
    }
    const candidates = new Map<number, number[]>();
    for (const [personId, cases] of casesOf) {
      candidates.set(personId, [...cases].flatMap((c) => membersOfCase.get(c) ?? []).sort((x, y) => x - y));
    }
    return candidates;
  }

  /** Group everyone; `identities` (of lookalike candidates and register people) lets a missed link join its register family. */
  group(identities: ReadonlyMap<number, readonly Identity[]> = new Map()): Grouping {
    const people = this.#ids.length;
    const days = this.#days;
    // Families as a union-find over person numbers: a family's root is its least number.
    const parent = Int32Array.from({ length: people }, (_, n) => n);
    const caseOfRoot = new Map<number, string>();
    const find = (n: number): number => {
      let root = n;
      while (parent[root] !== root) root = parent[root]!;
      while (n !== root) {
        const next = parent[n]!;
        parent[n] = root;
        n = next;
      }
      return root;
    };
    const caseOf = (n: number) => caseOfRoot.get(find(n)) ?? null;
    // Join two people's families; true when joined or already one. A register family is closed:
    // only the register puts people in it (`register` true), so other evidence joining a register
    // family to anyone is refused.
    const union = (a: number, b: number, register = false): boolean => {
      const ra = find(a);
      const rb = find(b);
      if (ra === rb) return true;
      const ca = caseOfRoot.get(ra);
      const cb = caseOfRoot.get(rb);
      if (ca !== undefined && cb !== undefined && ca !== cb) return false;
      if (!register && (ca !== undefined || cb !== undefined)) return false;
      const [keep, drop] = ra < rb ? [ra, rb] : [rb, ra];
      parent[drop] = keep;
      const caseRef = ca ?? cb;
      if (caseRef !== undefined) {
        caseOfRoot.set(keep, caseRef);
        caseOfRoot.delete(drop);
      }
      return true;
    };
    const numberOf = (personId: number) => this.#numberOf(personId);
    // How each person is in their family (0: not yet said) and since when (NO_DAY: not known).
    const basis = new Uint8Array(people);
    const joinedOn = new Int32Array(people).fill(NO_DAY);
    const setBasis = (n: number, b: keyof typeof BASIS_NUMBER, day: number) => {
      basis[n] = BASIS_NUMBER[b];
      joinedOn[n] = day;
    };

    const firstOfCase = new Map<string, number>();
    for (const [personId, entry] of [...this.#registerOf].sort((x, y) => x[0] - y[0])) {
      const n = numberOf(personId);
      caseOfRoot.set(n, entry.caseRef);
      setBasis(n, 'register', days.of(entry.attachedOn));
      const first = firstOfCase.get(entry.caseRef);
      if (first === undefined) firstOfCase.set(entry.caseRef, n);
      else union(first, n, true);
    }

    // A resident of a register family's home who looks like one of its members is that member's
    // unlinked record (or a twin): part of the family.
    for (const [personId, members] of [...this.lookalikeCandidates()].sort((x, y) => x[0] - y[0])) {
      const own = identities.get(personId);
      if (!own) continue;
      const member = members.find((m) => lookAlike(own, identities.get(m) ?? []));
      if (member === undefined) continue;
      const n = numberOf(personId);
      if (union(numberOf(member), n, true)) {
        setBasis(n, 'register_lookalike', this.#home[n] !== NONE ? this.#stayFirst[n]! : this.#firstSeen[n]!);
      }
    }

    const refused = { social_care: 0, residence: 0 };
    // Social care case groups, in a fixed order.
    const careMembers = new Map<string, CareGroupEntry[]>();
    for (const entry of this.#careGroups) {
      const list = careMembers.get(entry.caseRef);
      if (list) list.push(entry);
      else careMembers.set(entry.caseRef, [entry]);
    }
    for (const caseRef of [...careMembers.keys()].sort()) {
      const entries = careMembers.get(caseRef)!.sort((x, y) => x.personId - y.personId);
      if (entries.length < 2) continue;
      let joinedAny = false;
      const first = numberOf(entries[0]!.personId);
      for (let i = 1; i < entries.length; i++) {
        if (union(first, numberOf(entries[i]!.personId))) joinedAny = true;
        else refused.social_care++;
      }
      if (!joinedAny) continue;
      for (const e of entries) {
        const n = numberOf(e.personId);
        const day = days.of(e.first);
        if (basis[n] === 0) setBasis(n, 'social_care', day);
        else if (basis[n] === BASIS_NUMBER.social_care && day < joinedOn[n]!) joinedOn[n] = day;
      }
    }

    // Co-residence: people at one home whose stays overlap (within the tolerance) live together.
    // Residents by home: a counting sort of person numbers by dwelling key number.
    const keys = this.#resolver.keys.strings.length;
    const start = new Int32Array(keys + 1);
    for (let n = 0; n < people; n++) if (this.#home[n] !== NONE) start[this.#home[n]! + 1]!++;
    for (let k = 0; k < keys; k++) start[k + 1]! += start[k]!;
    const residents = new Int32Array(start[keys]!);
    const filled = start.slice(0, keys);
    for (let n = 0; n < people; n++) if (this.#home[n] !== NONE) residents[filled[this.#home[n]!]!++] = n;
    const byStay = (x: number, y: number) => this.#stayFirst[x]! - this.#stayFirst[y]! || x - y;
    let communalDwellings = 0;
    for (let k = 0; k < keys; k++) {
      const list = residents.subarray(start[k]!, start[k + 1]!);
      if (list.length < 2) continue;
      if (list.length > this.#maxResidents) {
        communalDwellings++;
        continue;
      }
      list.sort(byStay);
      const together = (from: number, to: number) => {
        // Register people are already grouped; everyone else at the home joins one another.
        const others = Array.from(list.subarray(from, to)).filter((n) => caseOf(n) === null);
        refused.residence += to - from - others.length > 0 && others.length > 0 ? others.length : 0;
        for (let i = 1; i < others.length; i++) union(others[0]!, others[i]!);
        if (others.length > 1) {
          for (const n of others) if (basis[n] === 0) setBasis(n, 'residence', this.#stayFirst[n]!);
        }
      };
      let groupStart = 0;
      let groupEnd = this.#stayLast[list[0]!]!;
      for (let i = 1; i < list.length; i++) {
        const n = list[i]!;
        if (this.#stayFirst[n]! > groupEnd + this.#tolerance) {
          together(groupStart, i);
          groupStart = i;
        }
        groupEnd = Math.max(groupEnd, this.#stayLast[n]!);
      }
      together(groupStart, list.length);
    }

    // Households in order of their least member id (a family's root is its least number), members ascending.
    const size = new Int32Array(people);
    for (let n = 0; n < people; n++) size[find(n)]!++;
    const households: Household[] = [];
    const householdOf = new Int32Array(people);
    for (let n = 0; n < people; n++) {
      const root = parent[n]!;
      if (root === n) {
        householdOf[n] = households.length;
        households.push({ caseRef: caseOfRoot.get(n) ?? null, members: [] });
      }
      const together = size[root]! > 1;
      const b = basis[n]!;
      const own = b !== 0 && (together || b === BASIS_NUMBER.register);
      const day = own ? joinedOn[n]! : this.#firstSeen[n]!;
      households[householdOf[root]!]!.members.push({
        personId: this.#ids[n]!,
        basis: own ? BASIS[b]! : together ? 'residence' : 'alone',
        joinedOn: day === NO_DAY ? null : days.iso(day),
      });
    }
    return { households, refused, registerConflicts: this.#registerConflicts, communalDwellings, unplacedAddresses: this.#resolver.unplaced };
  }
}

/** Group people into households with no lookalike step (see {@link HouseholdGrouper}). */
export function groupHouseholds(
  people: Iterable<number>,
  observations: readonly AddressObservation[] | AddressObservationColumns,
  register: readonly RegisterEntry[],
  careGroups: readonly CareGroupEntry[],
  opts: GroupingOptions = {},
): Grouping {
  return new HouseholdGrouper(people, observations, register, careGroups, opts).group();
}
