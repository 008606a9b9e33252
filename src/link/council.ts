import { dateComparison, exactComparison, nameComparison } from './comparisons.ts';
import { blockOn } from './evaluate.ts';
import type { BlockingRule, Comparison } from './model.ts';

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

/**
 * A name with part of the date of birth: the same name and birth year (a day or month mistyped,
 * or day and month swapped), or the same name and day and month (the year mistyped). A name alone
 * grows quadratically with the council (every "Oliver Smith" against every other).
 */
const nameAndBirth = (part: 'year' | 'day and month'): BlockingRule => ({
  name: `forename+surname+birth ${part}`,
  key: (r) => (r.forename && r.surname && r.dob && r.dob.length === 8 ? `${r.forename}|${r.surname}|${part === 'year' ? r.dob.slice(0, 4) : r.dob.slice(4)}` : undefined),
});

export const COUNCIL_BLOCKING: BlockingRule[] = [
  blockOn('dob'),
  nameAndBirth('year'),
  nameAndBirth('day and month'),
  blockOn('surname', 'postcode'),
  blockOn('forename', 'postcode'),
  blockOn('uprn', 'forename'),
];

/** Names and location learnt among pairs with one date of birth; the date among pairs with one name. */
export const COUNCIL_SESSIONS = [{ fix: ['dob'] }, { fix: ['forename', 'surname'] }];
