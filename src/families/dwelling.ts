/**
 * Dwellings: which home an address line and postcode point at, however a system wrote it
 * (`Flat 2, 125 Third Avenue`, `2/125 THIRD AVE, LONDON`, `125 Third Avenue, Flat 2`). Pure
 * logic: no database.
 */

/** Street-type abbreviations councils' systems use, to their full words. */
const STREET_WORDS = new Map<string, string>(Object.entries({
  rd: 'road', st: 'street', ave: 'avenue', av: 'avenue', ln: 'lane', cl: 'close', dr: 'drive', ct: 'court', gdns: 'gardens',
  cres: 'crescent', cresc: 'crescent', pl: 'place', terr: 'terrace', ter: 'terrace', sq: 'square', gr: 'grove', gro: 'grove',
  pk: 'park', hse: 'house', est: 'estate', wy: 'way', mews: 'mews', hts: 'heights', cott: 'cottages', sth: 'south', nth: 'north',
}));

/** A whole word (between single spaces or the ends) that is one of {@link STREET_WORDS}. */
const STREET_WORD = new RegExp(`(?<=^| )(?:${[...STREET_WORDS.keys()].join('|')})(?= |$)`, 'g');

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

/** Words separated by single spaces, each abbreviation spelled out. */
function normaliseStreet(words: string): string {
  return words.replace(STREET_WORD, (word) => STREET_WORDS.get(word)!);
}

/** A part of an address line: lower case, only letters, digits, `/` and single spaces, trimmed. */
function cleanPart(part: string): string {
  return part.replace(/[^a-z0-9/ ]/g, ' ').replace(/\s+/g, ' ').trim();
}

const COMMA = 44;
const LF = 10;
const CR = 13;
const SPACE = 32;
const [F, A, U, R] = ['f', 'a', 'u', 'r'].map((c) => c.charCodeAt(0));

/**
 * The parts of an address line, lower case, split at commas and line breaks, each cleaned
 * ({@link cleanPart}); blank parts and town names dropped. Most addresses are plain ASCII with
 * clean parts, which are sliced as they are; anything else goes through the regular expressions.
 */
function addressParts(address: string): string[] {
  const lower = address.toLowerCase();
  const parts: string[] = [];
  const keep = (part: string) => {
    if (part !== '' && !PLACE_WORDS.has(part)) parts.push(part);
  };
  let from = 0;
  for (let at = 0; at <= lower.length; at++) {
    const c = at < lower.length ? lower.charCodeAt(at) : COMMA;
    if (c !== COMMA && c !== LF && c !== CR) continue;
    // One part: [from, at), clean when it holds only a-z, 0-9, / and single spaces.
    let start = from;
    let end = at;
    while (start < end && lower.charCodeAt(start) === SPACE) start++;
    while (end > start && lower.charCodeAt(end - 1) === SPACE) end--;
    let clean = true;
    for (let i = start, lastSpace = false; i < end; i++) {
      const ch = lower.charCodeAt(i);
      if (ch === SPACE) {
        if (lastSpace) {
          clean = false;
          break;
        }
        lastSpace = true;
      } else if ((ch >= 97 && ch <= 122) || (ch >= 48 && ch <= 57) || ch === 47) lastSpace = false;
      else {
        clean = false;
        break;
      }
    }
    keep(clean ? lower.slice(start, end) : cleanPart(lower.slice(from, at)));
    from = at + 1;
  }
  return parts;
}

/**
 * Read an address line (any case, commas or line breaks between parts) and postcode into a
 * {@link Dwelling}. An address that cannot be read gives empty number and street.
 */
export function parseDwelling(address: string | null | undefined, postcode: string | null | undefined): Dwelling {
  const parts = addressParts(address ?? '');
  let flat = '';
  let number = '';
  let street = '';
  for (const part of parts) {
    let rest = part;
    // Each expression is tried only where its first character could match (1.9M addresses at 1x).
    const first = rest.charCodeAt(0);
    const flatMatch = first === F || first === A || first === U || first === R ? /^(?:flat|apartment|apt|unit|room)\s+(\w+)\s*/.exec(rest) : null;
    if (flatMatch) {
      flat ||= flatMatch[1]!;
      rest = rest.slice(flatMatch[0].length);
    }
    // `2/125 Third Avenue`: flat 2 of number 125.
    const slashMatch = rest.includes('/') ? /^(\w+)\s*\/\s*(\d+\w?)\s+(.*)$/.exec(rest) : null;
    if (slashMatch) {
      flat ||= slashMatch[1]!;
      number ||= slashMatch[2]!;
      street ||= normaliseStreet(slashMatch[3]!);
      continue;
    }
    const digit = rest.charCodeAt(0);
    const numberMatch = digit >= 48 && digit <= 57 ? /^(\d+\w?)\s+(.*)$/.exec(rest) : null;
    if (numberMatch && !street) {
      number = numberMatch[1]!;
      street = normaliseStreet(numberMatch[2]!);
      continue;
    }
    // A part holding only a flat number has been read; a named building or street with no number.
    if (rest !== '' && !street && !/^\d+\w?$/.test(rest)) street = normaliseStreet(rest);
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
