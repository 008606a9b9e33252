/**
 * Dwellings: which home an address line and postcode point at, however a system wrote it
 * (`Flat 2, 125 Third Avenue`, `2/125 THIRD AVE, LONDON`, `125 Third Avenue, Flat 2`). Pure
 * logic: no database.
 */

/** Street-type abbreviations councils' systems use, to their full words. */
const STREET_WORDS: Record<string, string> = {
  rd: 'road', st: 'street', ave: 'avenue', av: 'avenue', ln: 'lane', cl: 'close', dr: 'drive', ct: 'court', gdns: 'gardens',
  cres: 'crescent', cresc: 'crescent', pl: 'place', terr: 'terrace', ter: 'terrace', sq: 'square', gr: 'grove', gro: 'grove',
  pk: 'park', hse: 'house', est: 'estate', wy: 'way', mews: 'mews', hts: 'heights', cott: 'cottages', sth: 'south', nth: 'north',
};

/** Words that name the town or area, not the street, when they end an address. */
const PLACE_WORDS = new Set(['london', 'greater london', 'uk', 'england']);

/** An address reduced to what identifies a home. Empty strings where the address does not say. */
export interface Dwelling {
  /** Flat, unit or apartment number (`2`, `2a`). */
  flat: string;
  /** The building's number on its street (`125`). */
  number: string;
  /** The street, lower case, abbreviations spelled out (`third avenue`). */
  street: string;
  /** Postcode without spaces, upper case (`SE249FH`). */
  postcode: string;
}

/** A postcode without spaces, upper case; '' when blank. */
export function normalisePostcode(postcode: string | null | undefined): string {
  return (postcode ?? '').toUpperCase().replace(/[^A-Z0-9]/g, '');
}

function normaliseStreet(words: string[]): string {
  return words.map((w) => STREET_WORDS[w] ?? w).join(' ');
}

/**
 * Read an address line (any case, commas or line breaks between parts) and postcode into a
 * {@link Dwelling}. An address that cannot be read gives empty number and street.
 */
export function parseDwelling(address: string | null | undefined, postcode: string | null | undefined): Dwelling {
  const parts = (address ?? '')
    .toLowerCase()
    .split(/[,\n\r]+/)
    .map((p) => p.replace(/[^a-z0-9/ ]/g, ' ').replace(/\s+/g, ' ').trim())
    .filter((p) => p !== '' && !PLACE_WORDS.has(p));
  let flat = '';
  let number = '';
  let street = '';
  for (const part of parts) {
    let rest = part;
    const flatMatch = /^(?:flat|apartment|apt|unit|room)\s+(\w+)\s*/.exec(rest);
    if (flatMatch) {
      flat ||= flatMatch[1]!;
      rest = rest.slice(flatMatch[0].length);
    }
    // `2/125 Third Avenue`: flat 2 of number 125.
    const slashMatch = /^(\w+)\s*\/\s*(\d+\w?)\s+(.*)$/.exec(rest);
    if (slashMatch) {
      flat ||= slashMatch[1]!;
      number ||= slashMatch[2]!;
      street ||= normaliseStreet(slashMatch[3]!.split(' '));
      continue;
    }
    const numberMatch = /^(\d+\w?)\s+(.*)$/.exec(rest);
    if (numberMatch && !street) {
      number = numberMatch[1]!;
      street = normaliseStreet(numberMatch[2]!.split(' '));
      continue;
    }
    // A part holding only a flat number has been read; a named building or street with no number.
    if (rest !== '' && !street && !/^\d+\w?$/.test(rest)) street = normaliseStreet(rest.split(' '));
  }
  return { flat, number, street, postcode: normalisePostcode(postcode) };
}

/**
 * The key of a dwelling for grouping: null when the address does not identify one (no street,
 * or neither a number nor a postcode to pin the street down).
 */
export function dwellingKey(d: Dwelling): string | null {
  if (d.street === '' || (d.number === '' && d.postcode === '')) return null;
  return `A:${d.postcode}|${d.flat}|${d.number}|${d.street}`;
}

/** The same key without the postcode, to place an address whose postcode is missing. */
export function dwellingKeyWithoutPostcode(d: Dwelling): string | null {
  if (d.street === '' || d.number === '') return null;
  return `${d.flat}|${d.number}|${d.street}`;
}
