import { dateComparison, exactComparison, nameComparison } from './comparisons.ts';
import { blockOn } from './evaluate.ts';
import soundex from 'talisman/phonetics/soundex.js';
import { MISSING } from './columns.ts';
import { fieldPart, type BlockingRule, type Comparison, type KeyPart, type LinkRecord, type ScoringTask, type TrainingSession } from './model.ts';

/**
 * The linkage model for council person records: its comparisons, blocking rules and training
 * sessions. One definition, used by the match stage and by `linkage-eval --synth`.
 */

/**
 * Where someone lives, as one comparison: postcode, house number and UPRN all say the same thing,
 * so scoring them separately would count one fact several times.
 */
const location: Comparison = {
  name: 'location',
  isNull: (a, b) => !(a.postcode || a.uprn) || !(b.postcode || b.uprn),
  levels: [
    { label: 'same UPRN', test: (a, b) => !!a.uprn && a.uprn === b.uprn },
    { label: 'same postcode and house number', test: (a, b) => !!a.postcode && a.postcode === b.postcode && !!a.houseNumber && a.houseNumber === b.houseNumber },
    { label: 'same postcode', test: (a, b) => !!a.postcode && a.postcode === b.postcode },
    { label: 'else', test: () => true },
  ],
  // The same levels by value numbers (columns.ts): integer comparisons, no strings.
  prepare: (columns) => {
    const uprn = columns.field('uprn');
    const postcode = columns.field('postcode');
    const house = columns.field('houseNumber');
    const [ua, ub, pa, pb, ha, hb] = [uprn.left, uprn.right, postcode.left, postcode.right, house.left, house.right];
    return (i, j) => {
      const p = pa[i]!;
      const u = ua[i]!;
      if ((p === MISSING && u === MISSING) || (pb[j] === MISSING && ub[j] === MISSING)) return -1;
      if (u !== MISSING && u === ub[j]) return 0;
      if (p === MISSING || p !== pb[j]) return 3;
      return ha[i] !== MISSING && ha[i] === hb[j] ? 1 : 2;
    };
  },
};

/**
 * Names: exact (weighted by how rare the name is: term-frequency adjustment), swapped, and for the
 * forename a nickname level (William and Bill) after Jaro-Winkler >= 0.92, where measured weights
 * put it: between a near-spelling (stronger) and a loose likeness (weaker). See docs/linkage.md.
 */
export const COUNCIL_COMPARISONS: Comparison[] = [
  nameComparison('forename', { swapWith: 'surname', nicknames: 0.92, termFrequency: true }),
  nameComparison('surname', { swapWith: 'forename', termFrequency: true }),
  dateComparison('dob'),
  location,
  exactComparison('sex'),
];

const dob = fieldPart('dob');
const forename = fieldPart('forename');
const surname = fieldPart('surname');

/**
 * A name with part of the date of birth: the same name and birth year (a day or month mistyped,
 * or day and month swapped), or the same name and day and month (the year mistyped). A name alone
 * grows quadratically with the council (every "Oliver Smith" against every other).
 */
const birthYear: KeyPart = { fields: ['dob'], of: ([d]) => (d!.length === 8 ? d!.slice(0, 4) : undefined) };
const birthDayAndMonth: KeyPart = { fields: ['dob'], of: ([d]) => (d!.length === 8 ? d!.slice(4) : undefined) };
const nameAndBirth = (part: 'year' | 'day and month'): BlockingRule => ({
  name: `forename+surname+birth ${part}`,
  parts: [forename, surname, part === 'year' ? birthYear : birthDayAndMonth],
});

/** A postcode's sector (`AB12 3` of `AB12 3CD`): the postcode without its last two characters. */
const sector: KeyPart = { fields: ['postcode'], of: ([p]) => (p!.length >= 5 ? p!.slice(0, -2) : undefined) };

/**
 * A name's Soundex code, worked out once per name: the rule on both names in either order meets
 * each name in hundreds of thousands of combinations (1.1 s of blocking at 1x without this).
 */
const soundexCodes = new Map<string, string>();
function soundexOf(name: string): string {
  let code = soundexCodes.get(name);
  if (code === undefined) {
    // The cap only guards a pathological extract.
    if (soundexCodes.size >= 1_000_000) soundexCodes.clear();
    soundexCodes.set(name, (code = soundex(name)));
  }
  return code;
}

/** A name's Soundex code (`Robert` and `Rupert`: R163). */
const sound = (field: string): KeyPart => ({ fields: [field], of: ([name]) => (name ? soundexOf(name) : undefined) });

/**
 * The same date of birth and one more thing that rarely changes all at once: a name that sounds
 * the same (Soundex, so a mistyped letter after the first still agrees), the postcode sector, or
 * both names in either order.
 * The date alone puts everyone born on one day against each other: 35M pairs at 1x, growing with
 * the square of the council.
 */
const birthAnd = (what: string, part: KeyPart): BlockingRule => ({ name: `dob+${what}`, parts: [dob, part] });

export const COUNCIL_BLOCKING: BlockingRule[] = [
  birthAnd('forename sound', sound('forename')),
  birthAnd('surname sound', sound('surname')),
  birthAnd('postcode sector', sector),
  // Forename and surname swapped (George Sharma and Sharma George), with no postcode to fall back on.
  birthAnd('both names sound, either order', {
    fields: ['forename', 'surname'],
    of: ([forename, surname]) => {
      if (!forename || !surname) return undefined;
      const [a, b] = [soundexOf(forename), soundexOf(surname)];
      return a <= b ? `${a}|${b}` : `${b}|${a}`;
    },
  }),
  nameAndBirth('year'),
  nameAndBirth('day and month'),
  blockOn('surname', 'postcode'),
  blockOn('forename', 'postcode'),
  blockOn('uprn', 'forename'),
];

/**
 * The pairs the date-of-birth session learns from: everyone with one date of birth (sampled by
 * whole days to at most `maxPairs`). It needs pairs that agree on the date whatever their names
 * and address: the candidates of the rules above agree on a name's sound too, and among them
 * strangers with one forename and birthday look like matches (at 1x EM learnt that 12% of
 * matches have another surname, and linked them).
 */
export const COUNCIL_TRAINING = { rules: [blockOn('dob')], maxPairs: 2_000_000 };

/**
 * Names and location learnt among pairs with one date of birth (the training sample: everyone
 * born on one day, whatever their names); the date among candidate pairs with one name.
 */
export const COUNCIL_SESSIONS: TrainingSession[] = [{ fix: ['dob'], from: 'training' }, { fix: ['forename', 'surname'] }];

/** Blocks larger than this are skipped (a key shared by this many profiles says nothing). */
export const COUNCIL_MAX_BLOCK_SIZE = 20_000;

/**
 * The council model's link task over `records` deduplicated against themselves (the match stage
 * scores profiles so; a scoring worker thread rebuilds the same task from numbered columns).
 */
export function councilScoringTask(records: readonly LinkRecord[]): ScoringTask {
  return {
    comparisons: COUNCIL_COMPARISONS,
    blocking: COUNCIL_BLOCKING,
    training: COUNCIL_TRAINING,
    left: records,
    sessions: COUNCIL_SESSIONS,
    maxBlockSize: COUNCIL_MAX_BLOCK_SIZE,
  };
}

/** The profile fields the council's comparisons and blocking rules read. */
export const COUNCIL_FIELDS = ['forename', 'surname', 'dob', 'sex', 'postcode', 'uprn', 'houseNumber'] as const;
