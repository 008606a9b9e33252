import { describe, expect, it } from 'vitest';
import { dwellingKey, parseDwelling } from '../../src/families/dwelling.ts';
import {
  AddressObservationColumns,
  DwellingResolver,
  HouseholdGrouper,
  groupHouseholds,
  lookAlike,
  type AddressObservation,
  type Household,
  type RegisterEntry,
} from '../../src/families/households.ts';
import { assignFamilyIds } from '../../src/families/stage.ts';

describe('dwellings', () => {
  it('reads one home however a system writes it', () => {
    const forms = [
      ['Flat 2, 125 Third Avenue', 'SE24 9FH'],
      ['FLAT 2 125 THIRD AVE, LONDON', 'se249fh'],
      ['2/125 Third Ave', 'SE249FH'],
      ['125 Third Avenue, Flat 2', 'SE24 9FH'],
      ['Flat 2\n125 Third Avenue\nLondon', 'SE24  9FH'],
    ];
    const keys = new Set(forms.map(([a, p]) => dwellingKey(parseDwelling(a, p))));
    expect(keys).toEqual(new Set(['A:SE249FH|2|125|third avenue']));
  });

  it('keeps different flats, numbers and streets apart', () => {
    const key = (a: string) => dwellingKey(parseDwelling(a, 'SE1 1AA'));
    expect(new Set([key('Flat 1, 9 Heather Close'), key('Flat 2, 9 Heather Close'), key('9 Heather Close'), key('11 Heather Close'), key('9 Heather Road')]).size).toBe(5);
    expect(key('12 High St')).toBe(key('12 HIGH STREET'));
  });

  it('finds no dwelling in an address that names none', () => {
    expect(dwellingKey(parseDwelling('', 'SE1 1AA'))).toBeNull();
    expect(dwellingKey(parseDwelling('No fixed abode', ''))).toBeNull();
    expect(dwellingKey(parseDwelling('London', 'SE1 1AA'))).toBeNull();
  });

  it('reads every address as the plain definition does: lower case, split at commas and line breaks, cleaned, words spelled out', () => {
    // The definition, written as plainly as possible; parseDwelling slices clean ASCII parts
    // instead, and must give the same dwelling for anything a system may write.
    const words: Record<string, string> = {
      rd: 'road', st: 'street', ave: 'avenue', av: 'avenue', ln: 'lane', cl: 'close', dr: 'drive', ct: 'court', gdns: 'gardens',
      cres: 'crescent', cresc: 'crescent', pl: 'place', terr: 'terrace', ter: 'terrace', sq: 'square', gr: 'grove', gro: 'grove',
      pk: 'park', hse: 'house', est: 'estate', wy: 'way', mews: 'mews', hts: 'heights', cott: 'cottages', sth: 'south', nth: 'north',
    };
    const street = (w: string[]) => w.map((x) => (Object.hasOwn(words, x) ? words[x]! : x)).join(' ');
    const plain = (address: string, postcode: string) => {
      const parts = address.toLowerCase().split(/[,\n\r]+/).map((p) => p.replace(/[^a-z0-9/ ]/g, ' ').replace(/\s+/g, ' ').trim())
        .filter((p) => p !== '' && !['london', 'greater london', 'uk', 'england'].includes(p));
      let [flat, number, name] = ['', '', ''];
      for (const part of parts) {
        let rest = part;
        const f = /^(?:flat|apartment|apt|unit|room)\s+(\w+)\s*/.exec(rest);
        if (f) [flat, rest] = [flat || f[1]!, rest.slice(f[0].length)];
        const s = /^(\w+)\s*\/\s*(\d+\w?)\s+(.*)$/.exec(rest);
        if (s) {
          [flat, number, name] = [flat || s[1]!, number || s[2]!, name || street(s[3]!.split(' '))];
          continue;
        }
        const n = /^(\d+\w?)\s+(.*)$/.exec(rest);
        if (n && !name) {
          [number, name] = [n[1]!, street(n[2]!.split(' '))];
          continue;
        }
        if (rest !== '' && !name && !/^\d+\w?$/.test(rest)) name = street(rest.split(' '));
      }
      return { flat, number, street: name, postcode: postcode.toUpperCase().replace(/[^A-Z0-9]/g, '') };
    };
    // Pieces of addresses as systems write them, and characters that trip a hand-written reader.
    const pieces = ['Flat', 'FLAT', 'flat', 'Apt', 'Unit', 'Room', '2', '12a', '125', '2/125', '2 / 125', 'Third', 'AVE', 'Ave.', 'Rd', 'St',
      'rd', 'Gdns', 'London', 'LONDON', 'Greater London', 'UK', 'The', 'Sq', 'constructor', "St. Mary's", 'Bäckerstraße', 'İstanbul',
      'ΟΔΟΣ', 'K', ',', ', ', ',,', '\n', '\r\n', ' ', '  ', '\t', '-', '/', '#', '  ,  ', 'flat 3', '9'];
    let seed = 20261208;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const cases: string[] = ['', ' ', ',', 'London', ' , London ,', 'Flat 2, 125 Third Avenue', '125 Third Avenue, Flat 2', '2/125 THIRD AVE, LONDON'];
    for (let i = 0; i < 20_000; i++) {
      const n = 1 + (next() % 8);
      let address = '';
      for (let j = 0; j < n; j++) address += pieces[next() % pieces.length]! + (next() % 3 === 0 ? '' : ' ');
      cases.push(address);
    }
    for (const address of cases) expect(parseDwelling(address, 'se1  1aa'), JSON.stringify(address)).toEqual(plain(address, 'se1  1aa'));
    // A word of Object.prototype's is a word like any other.
    expect(parseDwelling('12 Constructor Rd', null).street).toBe('constructor road');
  });

  it('places an address without a UPRN at the UPRN it is mostly given with, and a missing postcode by the only match', () => {
    const r = new DwellingResolver([
      { uprn: '100', address: '9 Heather Close', postcode: 'SE16 4JA', records: 9 },
      { uprn: '', address: '9 Heather Close', postcode: 'SE16 4JA', records: 3 },
      { uprn: '200', address: '4 Oak Road', postcode: 'SE5 1AB', records: 1 },
      { uprn: '201', address: '4 Oak Road', postcode: 'SE5 1AB', records: 1 },
    ]);
    expect(r.resolve(null, '9 HEATHER CL', 'se164ja')).toBe('U:100');
    expect(r.resolve(null, '9 Heather Close, London', '')).toBe('U:100');
    // Recorded with two UPRNs equally: ambiguous, so the address stays an address.
    expect(r.resolve(null, '4 Oak Road', 'SE5 1AB')).toBe('A:SE51AB||4|oak road');
    expect(r.resolve('555', 'anything', '')).toBe('U:555');
    expect(r.resolve(null, 'No fixed abode', '')).toBeNull();
    expect(r.unplaced).toBe(1);
  });
});

const obs = (personId: number, address: string, first: string, last = first, extra: Partial<AddressObservation> = {}): AddressObservation => ({
  personId,
  uprn: null,
  address,
  postcode: 'SE1 1AA',
  first,
  last,
  records: 1,
  ...extra,
});
const reg = (personId: number, caseRef: string, address: string, attachedOn = '2025-06-01'): RegisterEntry => ({
  personId,
  caseRef,
  attachedOn,
  uprn: null,
  address,
  postcode: 'SE1 1AA',
});
const membersOf = (households: Household[]) => households.map((h) => h.members.map((m) => m.personId));

describe('grouping people into households', () => {
  it('groups people who share a home over overlapping periods, not those who lived there years apart', () => {
    const g = groupHouseholds(
      [1, 2, 3, 4],
      [obs(1, '5 Elm Road', '2025-01-01', '2026-06-01'), obs(2, '5 ELM RD', '2025-09-01', '2026-09-01'), obs(3, '5 Elm Road', '2019-01-01', '2020-01-01'), obs(4, '7 Elm Road', '2025-01-01')],
      [],
      [],
    );
    expect(membersOf(g.households)).toEqual([[1, 2], [3], [4]]);
    expect(g.households[0]!.members.map((m) => m.basis)).toEqual(['residence', 'residence']);
    expect(g.households[1]!.members[0]!.basis).toBe('alone');
  });

  it('groups the same whatever order the observations come in (one person\'s rows apart included)', () => {
    const observations = [
      obs(1, '5 Elm Road', '2024-01-01', '2025-01-01'),
      obs(1, '9 Oak Road', '2025-06-01', '2026-06-01'),
      obs(2, '5 Elm Road', '2024-01-01', '2026-06-01'),
      obs(3, '9 Oak Road', '2025-01-01', '2026-06-01'),
      obs(4, '5 ELM RD', '2025-03-01', '2026-01-01'),
      obs(4, '12 Ash Way', '2023-01-01', '2024-01-01'),
    ];
    const inOrder = groupHouseholds([1, 2, 3, 4], observations, [], []);
    expect(membersOf(inOrder.households)).toEqual([[1, 3], [2, 4]]);
    for (const shuffled of [[...observations].reverse(), [observations[5]!, observations[1]!, observations[3]!, observations[0]!, observations[4]!, observations[2]!]]) {
      expect(groupHouseholds([1, 2, 3, 4], shuffled, [], [])).toEqual(inOrder);
    }
  });

  it('uses each person\'s current home: someone who moved is with the people at the new address', () => {
    const g = groupHouseholds(
      [1, 2, 3],
      [obs(1, '5 Elm Road', '2024-01-01', '2025-01-01'), obs(1, '9 Oak Road', '2025-06-01', '2026-06-01'), obs(2, '5 Elm Road', '2024-01-01', '2026-06-01'), obs(3, '9 Oak Road', '2025-01-01', '2026-06-01')],
      [],
      [],
    );
    expect(membersOf(g.households)).toEqual([[1, 3], [2]]);
  });

  it('keeps the register family closed: its members stay together whatever address other systems hold, and neighbours do not join', () => {
    const g = groupHouseholds(
      [1, 2, 3, 4],
      // Person 2's other records still show an old address; person 3 lives at the register address but is not on the register.
      [obs(1, '5 Elm Road', '2025-01-01', '2026-06-01'), obs(2, '40 Old Lane', '2024-01-01', '2026-06-01'), obs(3, '5 Elm Road', '2025-01-01', '2026-06-01'), obs(4, '40 Old Lane', '2024-01-01', '2026-06-01')],
      [reg(1, 'EH-1', '5 Elm Road'), reg(2, 'EH-1', '5 Elm Road')],
      [],
    );
    expect(g.households.map((h) => [h.caseRef, h.members.map((m) => m.personId)])).toEqual([
      ['EH-1', [1, 2]],
      [null, [3]],
      [null, [4]],
    ]);
    expect(g.households[0]!.members.map((m) => [m.basis, m.joinedOn])).toEqual([
      ['register', '2025-06-01'],
      ['register', '2025-06-01'],
    ]);
  });

  it('puts a person in the latest register family when two case_refs list them', () => {
    const g = groupHouseholds([1, 2, 3], [], [reg(1, 'EH-1', '5 Elm Road', '2024-01-01'), reg(2, 'EH-1', '5 Elm Road', '2024-01-01'), reg(2, 'EH-2', '9 Oak Road', '2025-03-01'), reg(3, 'EH-2', '9 Oak Road', '2025-03-01')], []);
    expect(g.households.map((h) => [h.caseRef, h.members.map((m) => m.personId)])).toEqual([
      ['EH-1', [1]],
      ['EH-2', [2, 3]],
    ]);
    expect(g.registerConflicts).toBe(1);
  });

  it('adds a resident who looks like a register member (an unlinked record of theirs) to the register family, and no one else', () => {
    const grouper = new HouseholdGrouper(
      [1, 2, 3, 4],
      [obs(1, '5 Elm Road', '2025-01-01', '2026-06-01'), obs(2, '5 Elm Road', '2025-01-01', '2026-06-01'), obs(3, '5 Elm Road', '2025-01-01', '2026-06-01'), obs(4, '5 Elm Road', '2025-01-01', '2026-06-01')],
      [reg(1, 'EH-1', '5 Elm Road'), reg(2, 'EH-1', '5 Elm Road')],
      [],
    );
    expect(grouper.lookalikeCandidates()).toEqual(new Map([[3, [1, 2]], [4, [1, 2]]]));
    const identities = new Map([
      [1, [{ forename: 'Tunde', surname: 'Rose', dob: '1980-01-13' }]],
      [2, [{ forename: 'Amy', surname: 'Rose', dob: '2012-05-01' }]],
      [3, [{ forename: 'TUNDE', surname: 'ROSE', dob: '1979-01-13' }]], // year one out
      [4, [{ forename: 'Olivia', surname: 'Eze', dob: '2012-05-01' }]], // a neighbour with the same birthday
    ]);
    const g = grouper.group(identities);
    expect(g.households.map((h) => [h.caseRef, h.members.map((m) => `${m.personId}:${m.basis}`)])).toEqual([
      ['EH-1', ['1:register', '2:register', '3:register_lookalike']],
      [null, ['4:alone']],
    ]);
  });

  it('also finds lookalikes of a register member at a dwelling where the member (or another of the family) was seen other than their home, and with no postcode at their number and street', () => {
    const grouper = new HouseholdGrouper(
      [1, 2, 3, 4, 5, 6, 7],
      [
        // Register member 1 lives at 5 Elm Road (a UPRN), but one system records them at the
        // same house without it: a dwelling key of its own (the UPRN is not clear enough to alias).
        obs(1, '5 Elm Road', '2024-01-01', '2026-06-01', { uprn: '100' }),
        obs(1, '5 Elm Road', '2024-03-01', '2024-03-01', { postcode: 'SE1 1AB' }),
        // 6 gives that address two UPRNs, so it is not aliased to either.
        obs(6, '5 Elm Road', '2024-03-01', '2024-03-01', { postcode: 'SE1 1AB', uprn: '200' }),
        obs(6, '5 Elm Road', '2024-04-01', '2024-04-01', { postcode: 'SE1 1AB', uprn: '300' }),
        // 3: the member's duplicate record there; 4: the member's duplicate with no postcode at
        // 5 Elm Road (which exists in two postcodes, so it identifies no dwelling); 5: a stranger
        // with no postcode at the same number and street.
        obs(3, '5 Elm Road', '2025-01-01', '2025-01-01', { postcode: 'SE1 1AB' }),
        obs(4, '5 Elm Road', '2025-02-01', '2025-02-01', { postcode: null }),
        obs(5, '5 Elm Road', '2025-02-01', '2025-02-01', { postcode: null }),
        // 7: member 2's duplicate record, at the dwelling where only member 1 was seen.
        obs(7, '5 Elm Road', '2025-03-01', '2025-03-01', { postcode: 'SE1 1AB' }),
      ],
      [reg(1, 'EH-1', '5 Elm Road'), reg(2, 'EH-1', '5 Elm Road')],
      [],
    );
    expect(grouper.lookalikeCandidates()).toEqual(new Map([[3, [1, 2]], [4, [1, 2]], [5, [1, 2]], [7, [1, 2]]]));
    const identities = new Map([
      [1, [{ forename: 'Tunde', surname: 'Rose', dob: '1980-01-13' }]],
      [2, [{ forename: 'Amy', surname: 'Rose', dob: '2012-05-01' }]],
      [3, [{ forename: 'Tunde', surname: 'ROSE', dob: '1980-01-13' }]],
      [4, [{ forename: 'Tunde', surname: 'Rose', dob: '1980-01-18' }]], // one digit mistyped
      [5, [{ forename: 'Olivia', surname: 'Eze', dob: '1990-05-01' }]],
      [6, [{ forename: 'Sam', surname: 'Ng', dob: '1950-05-01' }]],
      [7, [{ forename: 'AMY', surname: 'ROSE', dob: '2011-05-01' }]], // year one out
    ]);
    const g = grouper.group(identities);
    expect(g.households.find((h) => h.caseRef === 'EH-1')!.members.map((m) => `${m.personId}:${m.basis}:${m.joinedOn}`)).toEqual([
      '1:register:2025-06-01',
      '2:register:2025-06-01',
      '3:register_lookalike:2025-01-01',
      '4:register_lookalike:2025-02-01',
      '7:register_lookalike:2025-03-01',
    ]);
  });

  it('tells a missed link from a neighbour by name and date of birth', () => {
    const id = (forename: string, surname: string, dob: string) => [{ forename, surname, dob }];
    expect(lookAlike(id('William', 'Taylor', '2012-01-01'), id('William', 'Taylor', '2012-01-01'))).toBe(true);
    expect(lookAlike(id('Mia', 'Begum', '1974-11-02'), id('MIA', 'BEGUM', '1975-11-02'))).toBe(true);
    expect(lookAlike(id('Mia', 'Begum', '1974-11-02'), id('Begum', 'Mia', '1974-02-11'))).toBe(true);
    expect(lookAlike(id('Mia', 'Begum', '1974-11-02'), id('Ella', 'Jones', '1974-11-02'))).toBe(false);
    expect(lookAlike(id('Mia', 'Begum', '1974-11-02'), id('Mia', 'Begum', '2001-11-02'))).toBe(false);
  });

  it('joins a social care case group, but never into a register family', () => {
    const g = groupHouseholds(
      [1, 2, 3, 4],
      [obs(1, '5 Elm Road', '2025-01-01'), obs(2, '9 Oak Road', '2025-01-01'), obs(3, '11 Ash Road', '2025-01-01'), obs(4, '13 Ash Road', '2025-01-01')],
      [reg(1, 'EH-1', '5 Elm Road')],
      [
        { personId: 2, caseRef: 'SC-1', first: '2024-02-01' },
        { personId: 3, caseRef: 'SC-1', first: '2024-03-01' },
        { personId: 1, caseRef: 'SC-2', first: '2024-01-01' },
        { personId: 4, caseRef: 'SC-2', first: '2024-01-01' },
      ],
    );
    expect(membersOf(g.households)).toEqual([[1], [2, 3], [4]]);
    expect(g.households[1]!.members.map((m) => [m.basis, m.joinedOn])).toEqual([
      ['social_care', '2024-02-01'],
      ['social_care', '2024-03-01'],
    ]);
    expect(g.refused.social_care).toBe(1);
  });

  it('groups the same from columns as from objects, with person ids beyond 32 bits and dates as written', () => {
    const big = 3_000_000_000;
    const observations = [
      obs(big + 7, '5 Elm Road', '2025-01-01', '9999-12-31'),
      obs(big + 2, '5 ELM RD', '2025-09-01', '2026-09-01'),
      obs(5, '9 Oak Road', '0001-01-01', '2024-02-29'),
    ];
    const columns = new AddressObservationColumns();
    for (const o of observations) columns.add(o);
    expect(columns.ordered).toBe(false);
    const fromColumns = groupHouseholds([], columns, [], []);
    expect(fromColumns).toEqual(groupHouseholds([], observations, [], []));
    expect(fromColumns.households.map((h) => h.members.map((m) => `${m.personId}:${m.basis}:${m.joinedOn}`))).toEqual([
      ['5:alone:0001-01-01'],
      [`${big + 2}:residence:2025-09-01`, `${big + 7}:residence:2025-01-01`],
    ]);
  });

  it('does not group the residents of a communal address', () => {
    const people = Array.from({ length: 20 }, (_, i) => i + 1);
    const g = groupHouseholds(people, people.map((p) => obs(p, '1 Hostel Road', '2025-01-01')), [], [], { maxResidents: 15 });
    expect(g.households).toHaveLength(20);
    expect(g.communalDwellings).toBe(1);
  });
});

describe('stable family ids', () => {
  const household = (caseRef: string | null, ...ids: number[]): Household => ({
    caseRef,
    members: ids.map((personId) => ({ personId, basis: 'residence', joinedOn: null })),
  });

  it('keeps a register family\'s id by case_ref and every other family\'s by its members', () => {
    const previous = new Map([[1, 10], [2, 10], [3, 11], [4, 11], [5, 12]]);
    const { familyIdOf, changes } = assignFamilyIds([household('EH-1', 1, 2, 9), household(null, 3, 4), household(null, 5), household(null, 6)], previous, new Map([['EH-1', 10]]));
    expect(familyIdOf).toEqual([10, 11, 12, undefined]);
    expect(changes).toEqual([]);
  });

  it('records a merge when two families become one, and a split when members form a family of their own', () => {
    const previous = new Map([[1, 10], [2, 10], [3, 11], [4, 12], [5, 12], [6, 12]]);
    const { familyIdOf, changes } = assignFamilyIds([household(null, 1, 2, 3), household(null, 4, 5), household(null, 6)], previous, new Map());
    expect(familyIdOf).toEqual([10, 12, undefined]);
    expect(changes).toEqual([
      { kind: 'merge', oldFamilyId: 11, household: 0, members: 1, reason: 'members now live in one family with others' },
      { kind: 'split', oldFamilyId: 12, household: 2, members: 1, reason: 'members now form a family of their own' },
    ]);
  });

  it('gives an earlier unattached family\'s id to it when it is attached', () => {
    const { familyIdOf } = assignFamilyIds([household('EH-7', 1, 2)], new Map([[1, 30], [2, 30]]), new Map());
    expect(familyIdOf).toEqual([30]);
  });
});
