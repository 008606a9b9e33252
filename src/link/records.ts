import type { SourceName } from '../ingest/sources.ts';
import type { LinkRecord } from './model.ts';

/**
 * Person records in the form linkage compares them: names without accents, case or punctuation,
 * dates as YYYYMMDD, postcodes without spaces, the house number pulled out of the address. One
 * definition, used by the match stage (over `raw.*`) and by linkage-eval (over extract files).
 */

/** The extracts whose rows are about a person (evidence rows are about a family). */
export const PERSON_SOURCES = ['attendance', 'offending', 'employment', 'social_care', 'attachments'] as const satisfies readonly SourceName[];

/**
 * SQL (a UNION ALL, to use as a subquery) of the rows of every person extract's current files:
 * `source` plus the given columns, which every person extract has (e.g. `record_id, dob`).
 */
export function currentPersonRecordsSql(columns: string): string {
  return PERSON_SOURCES.map((source) => `SELECT '${source}'::text AS source, ${columns} FROM raw.${source} JOIN audit.current_file USING (file_id)`).join(
    '\nUNION ALL\n',
  );
}

/** The person columns every person extract carries, as loaded (missing values null or ''). */
export interface PersonColumns {
  forename: string | null;
  surname: string | null;
  /** ISO `YYYY-MM-DD`. */
  dob: string | null;
  sex: string | null;
  address: string | null;
  postcode: string | null;
  uprn: string | null;
}

export function normaliseName(value: string | null | undefined): string {
  return (value ?? '').toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z' -]/g, '').replace(/\s+/g, ' ').trim();
}

/** The house number of an address line such as `12 High Street` or `Flat 3, 82 Main Road` (the building's number). */
export function houseNumber(address: string | null | undefined): string {
  return /(?:^|[\s,/])(\d+)[a-z]?\s+[a-z]/.exec((address ?? '').toLowerCase())?.[1] ?? '';
}

/** How the fields of a record are normalised; callers that see each value many times can remember them. */
export interface Normalisers {
  name(value: string | null | undefined): string;
  dob(value: string | null | undefined): string;
  postcode(value: string | null | undefined): string;
}

/** A date of birth as linkage compares it: `YYYYMMDD`, `''` when missing. */
export function normaliseDob(value: string | null | undefined): string {
  return (value ?? '').replace(/-/g, '');
}

/** A postcode as linkage compares it: upper case, no spaces. */
export function normalisePostcode(value: string | null | undefined): string {
  return (value ?? '').toUpperCase().replace(/\s+/g, '');
}

const NORMALISERS: Normalisers = { name: normaliseName, dob: normaliseDob, postcode: normalisePostcode };

/** A person record as linkage compares it. */
export function toLinkRecord(p: PersonColumns, normalise: Normalisers = NORMALISERS): LinkRecord {
  return {
    forename: normalise.name(p.forename),
    surname: normalise.name(p.surname),
    dob: normalise.dob(p.dob),
    sex: (p.sex ?? '').toUpperCase(),
    postcode: normalise.postcode(p.postcode),
    uprn: (p.uprn ?? '').trim(),
    houseNumber: houseNumber(p.address),
  };
}
