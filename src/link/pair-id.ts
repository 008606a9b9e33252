import { UsageError } from '../errors.ts';
import { PERSON_SOURCES } from './records.ts';

/**
 * How a reviewer names records and pairs on the command line: a record is `source:record_id`
 * (`attendance:ATT00000012`), a pair is two records joined by `~`
 * (`attendance:ATT00000012~offending:OCC00000034`). Both are built from the extracts' own ids,
 * so a pair id printed by one run names the same pair in every later run, and a decision typed
 * from an old listing still applies. Pure logic: no database.
 */

export type PersonSource = (typeof PERSON_SOURCES)[number];

/** One source record, by its extract and its record id. */
export interface RecordRef {
  source: PersonSource;
  recordId: string;
}

const SOURCES: readonly string[] = PERSON_SOURCES;
const SECOND_RECORD = new RegExp(`~(?:${PERSON_SOURCES.join('|')}):`, 'i');

function isPersonSource(value: string): value is PersonSource {
  return SOURCES.includes(value);
}

/** `source:record_id`. */
export function formatRecordRef(ref: RecordRef): string {
  return `${ref.source}:${ref.recordId}`;
}

/**
 * Parse `source:record_id`. The source is everything before the first colon (source names hold
 * none), so a record id may itself contain colons.
 */
export function parseRecordRef(text: string): RecordRef {
  const value = text.trim();
  const cut = value.indexOf(':');
  if (cut < 0) {
    throw new UsageError(`"${value}" is not a record: expected SOURCE:RECORD_ID, e.g. attendance:ATT00000012`, {
      hint: `SOURCE is one of ${PERSON_SOURCES.join(', ')}`,
    });
  }
  const source = value.slice(0, cut).toLowerCase();
  const recordId = value.slice(cut + 1).trim();
  if (!isPersonSource(source)) {
    throw new UsageError(`unknown person source "${value.slice(0, cut)}" in "${value}"`, { hint: `SOURCE is one of ${PERSON_SOURCES.join(', ')}` });
  }
  if (recordId === '') throw new UsageError(`"${value}" has no record id after the colon`, { hint: 'e.g. attendance:ATT00000012' });
  return { source, recordId };
}

/**
 * The order a pair is stored in: by source, then record id, comparing UTF-16 code units. That is
 * the order `core.link_pair` holds pairs in on a database with C collation (PGlite and the
 * project's servers: the match stage takes records sorted by source and record id), and it does
 * not depend on the database, so every decision on one pair is stored the same way round and
 * "the latest decision wins" (the match stage keeps the latest per stored order).
 */
export function orderPair(a: RecordRef, b: RecordRef): [RecordRef, RecordRef] {
  const before = a.source !== b.source ? a.source < b.source : a.recordId <= b.recordId;
  return before ? [a, b] : [b, a];
}

/** Whether two refs name the same record. */
export function sameRecord(a: RecordRef, b: RecordRef): boolean {
  return a.source === b.source && a.recordId === b.recordId;
}

/** The pair id of two records, whichever order they are given in. */
export function formatPairId(a: RecordRef, b: RecordRef): string {
  const [x, y] = orderPair(a, b);
  return `${formatRecordRef(x)}~${formatRecordRef(y)}`;
}

/**
 * Parse a pair id in either order (`a~b` or `b~a`) into its stored order. The second record
 * starts at the `~` followed by a known source and a colon, so a `~` inside a record id does not
 * cut the pair in the wrong place.
 */
export function parsePairId(text: string): [RecordRef, RecordRef] {
  const value = text.trim();
  const cut = SECOND_RECORD.exec(value)?.index ?? -1;
  if (cut <= 0) {
    throw new UsageError(`"${value}" is not a pair: expected SOURCE:RECORD_ID~SOURCE:RECORD_ID`, {
      hint: 'copy the pair id from `tfclaims review list`, e.g. attendance:ATT00000012~offending:OCC00000034',
    });
  }
  const a = parseRecordRef(value.slice(0, cut));
  const b = parseRecordRef(value.slice(cut + 1));
  if (sameRecord(a, b)) throw new UsageError(`pair "${value}" names one record twice`, { hint: 'a pair is two different records' });
  return orderPair(a, b);
}
