import { describe, expect, it } from 'vitest';
import { profileNormalisers } from '../../src/link/profiles.ts';
import { normaliseDob, normaliseName, normalisePostcode } from '../../src/link/records.ts';

/**
 * The profile builder reads 1.9M records at 1x with shortcuts for the common spellings (a name of
 * ASCII letters, a postcode of capitals and digits, an ISO date): every value must come out as
 * records.ts's plain definitions make it, shortcut or not.
 */
describe('the profile builder normalisers', () => {
  const names = [
    'Smith', 'smith', 'SMITH', "O'Brien", 'Smith-Jones', 'Mary Ann', 'Mary  Ann', ' Mary', 'Mary ', 'Zoë', 'José', 'Ångström', 'Ḿ', 'Nguyen2',
    'Ann.', 'de la Cruz', '', 'ß', 'İlkay', 'Łukasz', 'x', 'Z', '\tTab', 'Ｓmith', 'a\u0301b', '--', "'", 'Aa Bb Cc',
  ];
  const postcodes = [
    'SE21 2PA', 'se21 2pa', 'SE212PA', ' SE21 2PA', 'SE21 2PA ', 'SE21  2PA', 'SE21\t2PA', 'S E21 2PA', 'SE21-2PA', '', ' ', 'E1 6AN', 'EC1A 1BB',
    'ＳE1 1AA', 'W1A 0AX', 'sw1a1aa', 'SE21\u00a02PA',
  ];
  const dobs = ['2010-08-31', '20100831', '', '2010-8-31', '0099-01-01', '2010-08-31 BC', '2010/08/31', '1999-12-3'];

  it('give what the plain definitions give, on shortcut and other spellings alike', () => {
    const n = profileNormalisers();
    // Twice: the second time the remembered results are used.
    for (let round = 0; round < 2; round++) {
      for (const v of names) expect({ v, got: n.name(v) }).toEqual({ v, got: normaliseName(v) });
      for (const v of postcodes) expect({ v, got: n.postcode(v) }).toEqual({ v, got: normalisePostcode(v) });
      for (const v of dobs) expect({ v, got: n.dob(v) }).toEqual({ v, got: normaliseDob(v) });
    }
    for (const blank of [null, undefined]) {
      expect(n.name(blank)).toBe(normaliseName(blank));
      expect(n.postcode(blank)).toBe(normalisePostcode(blank));
      expect(n.dob(blank)).toBe(normaliseDob(blank));
    }
  });

  it('agree with the plain definitions on 20,000 generated names and postcodes', () => {
    const n = profileNormalisers();
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '-.éÉüßİ\t\u00a0";
    const word = (len: number) => Array.from({ length: len }, () => alphabet[next() % alphabet.length]).join('');
    for (let i = 0; i < 20_000; i++) {
      const v = word(next() % 12);
      expect({ v, name: n.name(v), postcode: n.postcode(v) }).toEqual({ v, name: normaliseName(v), postcode: normalisePostcode(v) });
    }
  });
});
