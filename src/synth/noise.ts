import { isoOf, ukOf } from './calendar.ts';
import { type Household, type Person, residenceOn } from './people.ts';
import { ABBREVIATIONS, NICKNAMES } from './pools.ts';
import type { Rng } from './random.ts';

/**
 * How each source system records a person. Every system has its own habits (police write
 * surnames in capitals and rarely hold a UPRN, DWP addresses lag behind moves, keyworkers use
 * the name a family goes by), and its own errors. A person's identity in one system is decided
 * once and reused for every record that system holds about them, because real systems copy a
 * person's details from record to record; a small per-record error rate comes on top.
 * The rates are documented in docs/synth.md; they are set from what council data teams report,
 * never tuned to any matcher.
 */

export type PersonSource = 'attendance' | 'offending' | 'employment' | 'social_care' | 'attachments';

export interface SourceProfile {
  /** Known-as name instead of the formal one (William -> Bill), when the name has one. */
  nickname: number;
  /** One-character typo in the forename or surname. */
  typo: number;
  /** Forename and surname entered the wrong way round. */
  swap: number;
  /** Day and month of birth transposed (only possible when both are 12 or less). */
  dobSwap: number;
  /** One digit of the date of birth wrong (day or year). */
  dobTypo: number;
  /** Middle names recorded when the person has them. */
  middle: number;
  /** Only one half of a double-barrelled surname recorded. */
  partialSurname: number;
  caseStyle: 'proper' | 'upper_surname' | 'upper';
  sexBlank: number;
  refBlank: number;
  /** The system holds the person twice, under a second id (a duplicate record). */
  duplicatePerson: number;
  postcodeMissing: number;
  postcodeCompact: number;
  postcodeLower: number;
  uprnPresent: number;
  abbreviate: number;
  /** Days the system takes to learn of a move (until then it records the old address). */
  moveLagDays: number;
  /** Address lines separated by line breaks inside the quoted cell. */
  multilineAddress: number;
  /** Chance that one record carries an extra one-off typo. */
  recordTypo: number;
}

export const PROFILES: Record<PersonSource, SourceProfile> = {
  attendance: {
    nickname: 0.01, typo: 0.01, swap: 0.002, dobSwap: 0.002, dobTypo: 0.002, middle: 0.9, partialSurname: 0.3, caseStyle: 'proper',
    sexBlank: 0.0, refBlank: 0.02, duplicatePerson: 0.003, postcodeMissing: 0.02, postcodeCompact: 0.05, postcodeLower: 0.0,
    uprnPresent: 0.75, abbreviate: 0.1, moveLagDays: 40, multilineAddress: 0, recordTypo: 0.001,
  },
  offending: {
    nickname: 0.08, typo: 0.05, swap: 0.015, dobSwap: 0.015, dobTypo: 0.01, middle: 0.4, partialSurname: 0.5, caseStyle: 'upper_surname',
    sexBlank: 0.03, refBlank: 0.08, duplicatePerson: 0.02, postcodeMissing: 0.25, postcodeCompact: 0.3, postcodeLower: 0.05,
    uprnPresent: 0.2, abbreviate: 0.5, moveLagDays: 0, multilineAddress: 0, recordTypo: 0.02,
  },
  employment: {
    nickname: 0.005, typo: 0.015, swap: 0.003, dobSwap: 0.005, dobTypo: 0.003, middle: 0.95, partialSurname: 0.2, caseStyle: 'upper',
    sexBlank: 0.01, refBlank: 0.03, duplicatePerson: 0.002, postcodeMissing: 0.04, postcodeCompact: 0.1, postcodeLower: 0,
    uprnPresent: 0.4, abbreviate: 0.6, moveLagDays: 200, multilineAddress: 0, recordTypo: 0.002,
  },
  social_care: {
    nickname: 0.04, typo: 0.03, swap: 0.005, dobSwap: 0.01, dobTypo: 0.005, middle: 0.6, partialSurname: 0.4, caseStyle: 'proper',
    sexBlank: 0.05, refBlank: 0.05, duplicatePerson: 0.02, postcodeMissing: 0.1, postcodeCompact: 0.15, postcodeLower: 0.05,
    uprnPresent: 0.6, abbreviate: 0.3, moveLagDays: 30, multilineAddress: 0.03, recordTypo: 0.01,
  },
  attachments: {
    nickname: 0.12, typo: 0.03, swap: 0.005, dobSwap: 0.01, dobTypo: 0.005, middle: 0.3, partialSurname: 0.5, caseStyle: 'proper',
    sexBlank: 0.1, refBlank: 0.2, duplicatePerson: 0, postcodeMissing: 0.02, postcodeCompact: 0.2, postcodeLower: 0.1,
    uprnPresent: 0.5, abbreviate: 0.3, moveLagDays: 10, multilineAddress: 0, recordTypo: 0.01,
  },
};

const KEYBOARD: Record<string, string> = {
  a: 'qwsz', b: 'vghn', c: 'xdfv', d: 'serfcx', e: 'wsdr', f: 'drtgvc', g: 'ftyhbv', h: 'gyujnb', i: 'ujko', j: 'huikmn', k: 'jiolm',
  l: 'kop', m: 'njk', n: 'bhjm', o: 'iklp', p: 'ol', q: 'wa', r: 'edft', s: 'awedxz', t: 'rfgy', u: 'yhji', v: 'cfgb', w: 'qase',
  x: 'zsdc', y: 'tghu', z: 'asx',
};

const PHONETIC: readonly (readonly [RegExp, string])[] = [
  [/ph/i, 'f'], [/ie$/i, 'y'], [/y$/i, 'ie'], [/ck/i, 'k'], [/ou/i, 'o'], [/ee/i, 'ea'], [/mm/i, 'm'], [/nn/i, 'n'], [/ll/i, 'l'],
  [/tt/i, 't'], [/ai/i, 'ay'], [/c(?=[aou])/i, 'k'], [/s$/i, 'z'],
];

/** One realistic keying error in a name: neighbouring key, dropped or doubled letter, swapped pair, or a sound-alike spelling. */
export function typo(name: string, rng: Rng): string {
  if (name.length < 3) return name;
  const op = rng.int(0, 4);
  const i = rng.int(1, name.length - 1);
  const ch = name[i]!;
  const lower = ch.toLowerCase();
  switch (op) {
    case 0: {
      const near = KEYBOARD[lower];
      if (!near) return name.slice(0, i) + name.slice(i + 1);
      const sub = rng.pick([...near]);
      return name.slice(0, i) + (ch === lower ? sub : sub.toUpperCase()) + name.slice(i + 1);
    }
    case 1:
      return name.slice(0, i) + name.slice(i + 1);
    case 2:
      return name.slice(0, i) + ch + name.slice(i);
    case 3:
      if (i >= name.length - 1) return name.slice(0, i) + name.slice(i + 1);
      return name.slice(0, i) + name[i + 1] + ch + name.slice(i + 2);
    default: {
      const rules = PHONETIC.filter(([re]) => re.test(name.slice(1)));
      if (rules.length === 0) return name.slice(0, i) + ch + name.slice(i);
      const [re, to] = rng.pick(rules);
      return name[0] + name.slice(1).replace(re, to);
    }
  }
}

function styled(name: string, style: SourceProfile['caseStyle'], isSurname: boolean): string {
  if (style === 'upper' || (style === 'upper_surname' && isSurname)) return name.toUpperCase();
  return name;
}

/** How one system holds one person (decided once per person per system). */
export interface SystemIdentity {
  forename: string;
  middleNames: string;
  surname: string;
  dob: number;
  /** `dob` with a transposition or typo applied, as the system holds it. */
  dobText: string;
  sex: string;
  ref: string;
  duplicateRef: string;
}

/** Letter pairs that begin National Insurance numbers. */
const NI_PREFIXES = ['AB', 'CE', 'JA', 'JB', 'JC', 'JE', 'JG', 'JH', 'JJ', 'JK', 'JL', 'JM', 'JN', 'JP', 'JR', 'JS', 'JT', 'JW', 'JX', 'JY'];

/** A person's id in a source system: stable, unique, and unrelated to their id in any other system. */
export function sourceRef(source: PersonSource, index: number): string {
  switch (source) {
    case 'attendance': // unique pupil number: a letter and 12 digits
      return `H${String((index * 2_654_435_761) % 1e12).padStart(12, '0')}`;
    case 'offending':
      return `WP${String((index * 40_503) % 1e8).padStart(8, '0')}`;
    case 'employment':
      return `${NI_PREFIXES[Math.floor(index / 1e6) % NI_PREFIXES.length]}${String((index * 7_919) % 1e6).padStart(6, '0')}${'ABCD'[index % 4]}`;
    case 'social_care':
      return `SC${String((index * 104_729) % 1e8).padStart(8, '0')}`;
    case 'attachments':
      return `EHP${String((index * 15_485_863) % 1e8).padStart(8, '0')}`;
  }
}

function isoDobWithError(dob: number, profile: SourceProfile, rng: Rng): string {
  const iso = isoOf(dob);
  const y = iso.slice(0, 4);
  const m = iso.slice(5, 7);
  const d = iso.slice(8, 10);
  if (Number(d) <= 12 && d !== m && rng.chance(profile.dobSwap)) return `${y}-${d}-${m}`;
  if (rng.chance(profile.dobTypo)) {
    // A mis-keyed year or tens digit of the day, always still a real date (the row must load).
    if (rng.chance(0.5) && !(m === '02' && d === '29')) return `${Number(y) + rng.pick([-1, 1])}-${m}-${d}`;
    const n = Number(d);
    const day = n <= 9 ? n + 10 : n <= 18 ? n + 10 : n - 10;
    return `${y}-${m}-${String(day).padStart(2, '0')}`;
  }
  return iso;
}

/** Decide how `source` holds `person`. */
export function systemIdentity(person: Person, source: PersonSource, rng: Rng): SystemIdentity {
  const p = PROFILES[source];
  let forename = person.forename;
  const nick = NICKNAMES[forename];
  if (nick && rng.chance(p.nickname)) forename = rng.pick(nick);
  let surname = person.surname;
  const parts = surname.split(/[- ]/);
  if (parts.length > 1 && rng.chance(p.partialSurname)) surname = rng.chance(0.7) ? parts[0]! : parts[parts.length - 1]!;
  if (rng.chance(p.typo)) {
    if (rng.chance(0.5)) forename = typo(forename, rng);
    else surname = typo(surname, rng);
  }
  if (rng.chance(p.swap)) [forename, surname] = [surname, forename];
  let middleNames = rng.chance(p.middle) ? person.middleNames : '';
  if (middleNames && rng.chance(0.2)) middleNames = middleNames[0]!;
  const sex = rng.chance(p.sexBlank) ? (rng.chance(0.7) ? '' : 'U') : person.sex;
  const ref = rng.chance(p.refBlank) ? '' : sourceRef(source, person.index);
  const duplicateRef = rng.chance(p.duplicatePerson) ? sourceRef(source, person.index + 50_000_000) : '';
  return {
    forename: styled(forename, p.caseStyle, false),
    middleNames: styled(middleNames, p.caseStyle, false),
    surname: styled(surname, p.caseStyle, true),
    dob: person.dob,
    dobText: isoDobWithError(person.dob, p, rng),
    sex,
    ref,
    duplicateRef,
  };
}

function formatAddress(household: Household, day: number, p: SourceProfile, rng: Rng, upper: boolean): { address: string; postcode: string; uprn: string } {
  const r = residenceOn(household, day - p.moveLagDays);
  let street = r.street;
  if (rng.chance(p.abbreviate)) {
    const words = street.split(' ');
    const last = words[words.length - 1]!;
    if (ABBREVIATIONS[last]) words[words.length - 1] = ABBREVIATIONS[last];
    street = words.join(' ');
  }
  let line: string;
  if (r.flat) {
    const flatNo = r.flat.slice(5);
    line = rng.weighted([
      [`${r.flat}, ${r.number} ${street}`, 5],
      [`${flatNo}/${r.number} ${street}`, 1],
      [`${r.number} ${street}, ${r.flat}`, 1],
      [`${r.flat} ${r.number} ${street}`, 1],
    ] as const);
  } else {
    line = `${r.number} ${street}`;
  }
  if (rng.chance(0.3)) line += ', London';
  if (rng.chance(p.multilineAddress)) line = line.replace(/, /g, '\n');
  let postcode = r.postcode;
  if (rng.chance(p.postcodeMissing)) postcode = '';
  else {
    if (rng.chance(p.postcodeCompact)) postcode = postcode.replace(' ', '');
    if (rng.chance(p.postcodeLower)) postcode = postcode.toLowerCase();
  }
  return {
    address: upper ? line.toUpperCase() : line,
    postcode,
    uprn: rng.chance(p.uprnPresent) ? r.uprn : '',
  };
}

/**
 * The ten person columns of a record about `person` made on `day`, as `source` holds them:
 * record_id (left blank: the writer numbers rows), person_ref, forename, middle_names, surname,
 * dob, sex, address, postcode, uprn.
 */
export function personCells(
  identity: SystemIdentity,
  household: Household,
  source: PersonSource,
  day: number,
  rng: Rng,
  dateStyle: 'iso' | 'uk',
): string[] {
  const p = PROFILES[source];
  let { forename, surname } = identity;
  if (rng.chance(p.recordTypo)) {
    if (rng.chance(0.5)) forename = typo(forename, rng);
    else surname = typo(surname, rng);
  }
  const ref = identity.duplicateRef && rng.chance(0.5) ? identity.duplicateRef : identity.ref;
  const { address, postcode, uprn } = formatAddress(household, day, p, rng, p.caseStyle === 'upper');
  const dob = dateStyle === 'uk' ? isoToUk(identity.dobText) : identity.dobText;
  return ['', ref, forename, identity.middleNames, surname, dob, identity.sex, address, postcode, uprn];
}

/** `YYYY-MM-DD` -> `DD/MM/YYYY`, textually (keeps a transposed dob transposed). */
export function isoToUk(iso: string): string {
  return `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
}

/** A date cell in the file's style. */
export function dateCell(day: number, style: 'iso' | 'uk'): string {
  return style === 'uk' ? ukOf(day) : isoOf(day);
}
