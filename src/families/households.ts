import { dwellingKey, dwellingKeyWithoutPostcode, parseDwelling } from './dwelling.ts';

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

interface Stay {
  first: string;
  last: string;
  /** The latest start among the records (two spells still open: the later-starting one is newer). */
  latestStart: string;
  records: number;
}

/** Whether stay `a` (at key `ka`) is more recent evidence of where someone lives than `b`. */
function newer(a: Stay, ka: string, b: Stay, kb: string): boolean {
  if (a.last !== b.last) return a.last > b.last;
  if (a.latestStart !== b.latestStart) return a.latestStart > b.latestStart;
  if (a.records !== b.records) return a.records > b.records;
  return ka < kb;
}

const DAY_MS = 86_400_000;
const dayOf = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / DAY_MS;

/**
 * Resolves addresses to dwelling keys: a UPRN where the record has one or where that address is
 * mostly recorded with one, else the normalised address with its postcode, else (postcode
 * missing) the only address with that flat, number and street that has a postcode.
 */
export class DwellingResolver {
  readonly #uprnOf = new Map<string, string>();
  readonly #withPostcode = new Map<string, string | null>();
  /** Keys of each address and postcode as written: members of a household share them, and each is read twice. */
  readonly #parsed = new Map<string, Map<string, { key: string | null; loose: string | null }>>();
  unplaced = 0;

  #keysOf(address: string | null, postcode: string | null): { key: string | null; loose: string | null } {
    let byPostcode = this.#parsed.get(address ?? '');
    if (!byPostcode) this.#parsed.set(address ?? '', (byPostcode = new Map()));
    let keys = byPostcode.get(postcode ?? '');
    if (!keys) {
      const d = parseDwelling(address, postcode);
      byPostcode.set(postcode ?? '', (keys = { key: d.postcode === '' ? null : dwellingKey(d), loose: dwellingKeyWithoutPostcode(d) }));
    }
    return keys;
  }

  constructor(observations: Iterable<{ uprn: string | null; address: string | null; postcode: string | null; records: number }>) {
    const uprnCounts = new Map<string, Map<string, number>>();
    for (const o of observations) {
      const { key, loose } = this.#keysOf(o.address, o.postcode);
      if (key === null) continue;
      if (loose !== null) {
        const seen = this.#withPostcode.get(loose);
        if (seen === undefined) this.#withPostcode.set(loose, key);
        else if (seen !== key) this.#withPostcode.set(loose, null);
      }
      const uprn = (o.uprn ?? '').trim();
      if (uprn === '') continue;
      let counts = uprnCounts.get(key);
      if (!counts) uprnCounts.set(key, (counts = new Map()));
      counts.set(uprn, (counts.get(uprn) ?? 0) + o.records);
    }
    for (const [key, counts] of uprnCounts) {
      let total = 0;
      let best = '';
      let bestN = 0;
      for (const [uprn, n] of counts) {
        total += n;
        if (n > bestN || (n === bestN && uprn < best)) [best, bestN] = [uprn, n];
      }
      // An address recorded with several UPRNs (a block mis-keyed) is only aliased when one clearly wins.
      if (bestN >= 0.8 * total) this.#uprnOf.set(key, best);
    }
  }

  /** The address without its postcode (flat, number and street), or null when it has no number and street. */
  looseKey(address: string | null, postcode: string | null): string | null {
    return this.#keysOf(address, postcode).loose;
  }

  /** The dwelling key of an address, or null when it identifies none. */
  resolve(uprn: string | null, address: string | null, postcode: string | null): string | null {
    const u = (uprn ?? '').trim();
    if (u !== '') return `U:${u}`;
    const parsed = this.#keysOf(address, postcode);
    let key = parsed.key;
    if (key === null) key = parsed.loose === null ? null : (this.#withPostcode.get(parsed.loose) ?? null);
    if (key === null) {
      if ((address ?? '').trim() !== '') this.unplaced++;
      return null;
    }
    const aliased = this.#uprnOf.get(key);
    return aliased === undefined ? key : `U:${aliased}`;
  }
}

class Components {
  readonly #parent = new Map<number, number>();
  readonly #caseOf = new Map<number, string>();

  add(id: number, caseRef: string | null): void {
    if (this.#parent.has(id)) return;
    this.#parent.set(id, id);
    if (caseRef !== null) this.#caseOf.set(id, caseRef);
  }

  find(id: number): number {
    let root = id;
    while (this.#parent.get(root)! !== root) root = this.#parent.get(root)!;
    let at = id;
    while (at !== root) {
      const next = this.#parent.get(at)!;
      this.#parent.set(at, root);
      at = next;
    }
    return root;
  }

  /**
   * Join two people's families; true when joined or already one. A register family is closed:
   * only the register puts people in it (`register` true), so other evidence joining a register
   * family to anyone is refused.
   */
  union(a: number, b: number, register = false): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return true;
    const ca = this.#caseOf.get(ra);
    const cb = this.#caseOf.get(rb);
    if (ca !== undefined && cb !== undefined && ca !== cb) return false;
    if (!register && (ca !== undefined || cb !== undefined)) return false;
    const [keep, drop] = ra < rb ? [ra, rb] : [rb, ra];
    this.#parent.set(drop, keep);
    const caseRef = ca ?? cb;
    if (caseRef !== undefined) this.#caseOf.set(keep, caseRef);
    return true;
  }

  caseOf(id: number): string | null {
    return this.#caseOf.get(this.find(id)) ?? null;
  }

  ids(): IterableIterator<number> {
    return this.#parent.keys();
  }
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

/**
 * Group people into households in two steps, because the second needs names only for a few
 * people: construct with the evidence, ask {@link HouseholdGrouper.lookalikeCandidates} who
 * lives in a register family's home without being on its register, load those people's and the
 * register members' {@link Identity}s, then {@link HouseholdGrouper.group}.
 */
export class HouseholdGrouper {
  readonly #resolver: DwellingResolver;
  readonly #registerOf = new Map<number, RegisterEntry>();
  readonly #registerConflicts: number;
  readonly #people: Set<number>;
  readonly #careGroups: readonly CareGroupEntry[];
  /** Each person's current home and their stay there. */
  readonly #homeOf = new Map<number, { home: string; stay: Stay }>();
  /**
   * The register families whose members have been seen at each dwelling key (of their records and
   * register entries) and, prefixed `L:`, at each address without its postcode.
   */
  readonly #casesSeenAt = new Map<string, Set<string>>();
  /** People with no home (no record's address identifies a dwelling), with their addresses without postcode. */
  readonly #homelessAt = new Map<number, Set<string>>();
  readonly #firstSeen = new Map<number, string>();
  readonly #maxResidents: number;
  readonly #tolerance: number;

  constructor(
    people: Iterable<number>,
    observations: readonly AddressObservation[],
    register: readonly RegisterEntry[],
    careGroups: readonly CareGroupEntry[],
    opts: GroupingOptions = {},
  ) {
    this.#maxResidents = opts.maxResidents ?? 15;
    this.#tolerance = opts.overlapToleranceDays ?? 730;
    this.#careGroups = careGroups;
    // Iterated, not copied: at 1x there are 1.4M observations.
    this.#resolver = new DwellingResolver(
      (function* () {
        yield* observations;
        for (const r of register) yield { ...r, records: 1 };
      })(),
    );
    this.#people = new Set(people);

    // The register family of each register person: the latest attachment wins.
    const conflicted = new Set<number>();
    for (const entry of register) {
      const seen = this.#registerOf.get(entry.personId);
      if (seen && seen.caseRef !== entry.caseRef) conflicted.add(entry.personId);
      if (!seen || entry.attachedOn > seen.attachedOn || (entry.attachedOn === seen.attachedOn && entry.caseRef < seen.caseRef)) {
        this.#registerOf.set(entry.personId, entry);
      }
      this.#people.add(entry.personId);
    }
    this.#registerConflicts = conflicted.size;

    // Each person's stays at each dwelling, one person at a time (the families stage reads
    // observations ordered by person; others are put in that order here), so that only the
    // current home's stay is kept: not a map of stays for each of 600k people at 1x.
    let order: number[] | undefined;
    for (let n = 1; n < observations.length; n++) {
      if (observations[n]!.personId < observations[n - 1]!.personId) {
        order = [...observations.keys()].sort((x, y) => observations[x]!.personId - observations[y]!.personId || x - y);
        break;
      }
    }
    const seenAt = (key: string, personId: number) => {
      const caseRef = this.#registerOf.get(personId)!.caseRef;
      const cases = this.#casesSeenAt.get(key);
      if (cases) cases.add(caseRef);
      else this.#casesSeenAt.set(key, new Set([caseRef]));
    };
    for (const entry of register) {
      const key = this.#resolver.resolve(entry.uprn, entry.address, entry.postcode);
      if (key !== null) seenAt(key, entry.personId);
      const loose = this.#resolver.looseKey(entry.address, entry.postcode);
      if (loose !== null) seenAt(`L:${loose}`, entry.personId);
    }
    let personId = Number.NaN;
    let stays = new Map<string, Stay>();
    let looseKeys = new Set<string>();
    const settle = () => {
      if (stays.size > 0) this.#settleHome(personId, stays);
      else if (looseKeys.size > 0 && !this.#registerOf.has(personId)) this.#homelessAt.set(personId, looseKeys);
      stays = new Map();
      looseKeys = new Set();
    };
    for (let n = 0; n < observations.length; n++) {
      const o = observations[order ? order[n]! : n]!;
      if (o.personId !== personId) {
        settle();
        personId = o.personId;
      }
      this.#people.add(o.personId);
      const seen = this.#firstSeen.get(o.personId);
      if (seen === undefined || o.first < seen) this.#firstSeen.set(o.personId, o.first);
      const key = this.#resolver.resolve(o.uprn, o.address, o.postcode);
      const onRegister = this.#registerOf.has(o.personId);
      if (key === null || onRegister) {
        const loose = this.#resolver.looseKey(o.address, o.postcode);
        if (loose !== null) {
          if (onRegister) seenAt(`L:${loose}`, o.personId);
          else looseKeys.add(loose);
        }
      }
      if (key === null) continue;
      if (onRegister) seenAt(key, o.personId);
      const stay = stays.get(key);
      if (!stay) stays.set(key, { first: o.first, last: o.last, latestStart: o.first, records: o.records });
      else {
        if (o.first < stay.first) stay.first = o.first;
        if (o.first > stay.latestStart) stay.latestStart = o.first;
        if (o.last > stay.last) stay.last = o.last;
        stay.records += o.records;
      }
    }
    settle();
  }

  /**
   * A person's current home from their stays: the register's address for a register person
   * (other systems may lag), else the dwelling of the person's latest record.
   */
  #settleHome(personId: number, stays: ReadonlyMap<string, Stay>): void {
    const entry = this.#registerOf.get(personId);
    let home = entry ? this.#resolver.resolve(entry.uprn, entry.address, entry.postcode) : null;
    if (home === null || !stays.has(home)) {
      home = null;
      let best: Stay | undefined;
      for (const [key, stay] of stays) {
        if (!best || newer(stay, key, best, home!)) {
          best = stay;
          home = key;
        }
      }
    }
    if (home !== null) this.#homeOf.set(personId, { home, stay: stays.get(home)! });
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
    for (const [personId, { home }] of this.#homeOf) {
      if (!this.#registerOf.has(personId)) add(personId, this.#casesSeenAt.get(home));
    }
    for (const [personId, looseKeys] of this.#homelessAt) {
      for (const loose of looseKeys) add(personId, this.#casesSeenAt.get(`L:${loose}`));
    }
    const candidates = new Map<number, number[]>();
    for (const [personId, cases] of casesOf) {
      candidates.set(personId, [...cases].flatMap((c) => membersOfCase.get(c) ?? []).sort((x, y) => x - y));
    }
    return candidates;
  }

  /** Group everyone; `identities` (of lookalike candidates and register people) lets a missed link join its register family. */
  group(identities: ReadonlyMap<number, readonly Identity[]> = new Map()): Grouping {
    const components = new Components();
    const people = [...this.#people].sort((x, y) => x - y);
    for (const id of people) components.add(id, this.#registerOf.get(id)?.caseRef ?? null);
    const basisOf = new Map<number, { basis: MembershipBasis; joinedOn: string | null }>();
    const firstOfCase = new Map<string, number>();
    for (const [personId, entry] of [...this.#registerOf].sort((x, y) => x[0] - y[0])) {
      basisOf.set(personId, { basis: 'register', joinedOn: entry.attachedOn });
      const first = firstOfCase.get(entry.caseRef);
      if (first === undefined) firstOfCase.set(entry.caseRef, personId);
      else components.union(first, personId, true);
    }

    // A resident of a register family's home who looks like one of its members is that member's
    // unlinked record (or a twin): part of the family.
    for (const [personId, members] of [...this.lookalikeCandidates()].sort((x, y) => x[0] - y[0])) {
      const own = identities.get(personId);
      if (!own) continue;
      const member = members.find((m) => lookAlike(own, identities.get(m) ?? []));
      if (member === undefined) continue;
      if (components.union(member, personId, true)) {
        basisOf.set(personId, { basis: 'register_lookalike', joinedOn: this.#homeOf.get(personId)?.stay.first ?? this.#firstSeen.get(personId) ?? null });
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
      for (let i = 1; i < entries.length; i++) {
        if (components.union(entries[0]!.personId, entries[i]!.personId)) joinedAny = true;
        else refused.social_care++;
      }
      if (!joinedAny) continue;
      for (const e of entries) {
        const seen = basisOf.get(e.personId);
        if (!seen) basisOf.set(e.personId, { basis: 'social_care', joinedOn: e.first });
        else if (seen.basis === 'social_care' && e.first < seen.joinedOn!) seen.joinedOn = e.first;
      }
    }

    // Co-residence: people at one home whose stays overlap (within the tolerance) live together.
    const residents = new Map<string, { personId: number; stay: Stay }[]>();
    for (const [personId, at] of this.#homeOf) {
      const list = residents.get(at.home);
      if (list) list.push({ personId, stay: at.stay });
      else residents.set(at.home, [{ personId, stay: at.stay }]);
    }
    let communalDwellings = 0;
    for (const key of [...residents.keys()].sort()) {
      const list = residents.get(key)!;
      if (list.length < 2) continue;
      if (list.length > this.#maxResidents) {
        communalDwellings++;
        continue;
      }
      list.sort((x, y) => (x.stay.first < y.stay.first ? -1 : x.stay.first > y.stay.first ? 1 : x.personId - y.personId));
      const together = (from: number, to: number) => {
        // Register people are already grouped; everyone else at the home joins one another.
        const others = list.slice(from, to).filter((p) => components.caseOf(p.personId) === null);
        refused.residence += to - from - others.length > 0 && others.length > 0 ? others.length : 0;
        for (let i = 1; i < others.length; i++) components.union(others[0]!.personId, others[i]!.personId);
        if (others.length > 1) {
          for (const p of others) if (!basisOf.has(p.personId)) basisOf.set(p.personId, { basis: 'residence', joinedOn: p.stay.first });
        }
      };
      let groupStart = 0;
      let groupEnd = dayOf(list[0]!.stay.last);
      for (let i = 1; i < list.length; i++) {
        const stay = list[i]!.stay;
        if (dayOf(stay.first) > groupEnd + this.#tolerance) {
          together(groupStart, i);
          groupStart = i;
        }
        groupEnd = Math.max(groupEnd, dayOf(stay.last));
      }
      together(groupStart, list.length);
    }

    // Collect households in a fixed order (by smallest member id).
    const byRoot = new Map<number, number[]>();
    for (const id of components.ids()) {
      const root = components.find(id);
      const list = byRoot.get(root);
      if (list) list.push(id);
      else byRoot.set(root, [id]);
    }
    const households: Household[] = [...byRoot.values()]
      .map((ids) => ids.sort((x, y) => x - y))
      .sort((x, y) => x[0]! - y[0]!)
      .map((ids) => ({
        caseRef: components.caseOf(ids[0]!),
        members: ids.map((personId) => {
          const b = basisOf.get(personId);
          // A person grouped only through another member's evidence (a link by their case group) keeps that basis.
          if (b && (ids.length > 1 || b.basis === 'register')) return { personId, basis: b.basis, joinedOn: b.joinedOn };
          return { personId, basis: ids.length > 1 ? ('residence' as const) : ('alone' as const), joinedOn: this.#firstSeen.get(personId) ?? null };
        }),
      }));
    return { households, refused, registerConflicts: this.#registerConflicts, communalDwellings, unplacedAddresses: this.#resolver.unplaced };
  }
}

/** Group people into households with no lookalike step (see {@link HouseholdGrouper}). */
export function groupHouseholds(
  people: Iterable<number>,
  observations: readonly AddressObservation[],
  register: readonly RegisterEntry[],
  careGroups: readonly CareGroupEntry[],
  opts: GroupingOptions = {},
): Grouping {
  return new HouseholdGrouper(people, observations, register, careGroups, opts).group();
}
