import { describe, expect, it } from 'vitest';
import { nameComparison } from '../../src/link/comparisons.ts';
import { gammaOf } from '../../src/link/model.ts';
import { FORMAL_NAMES, NAME_FAMILY_COUNT, sameNameFamily } from '../../src/link/nicknames.ts';

describe('the nickname table', () => {
  it('pairs a name with its diminutives, either way round', () => {
    for (const [formal, short] of [
      ['william', 'bill'],
      ['katherine', 'kate'],
      ['margaret', 'peggy'],
      ['harold', 'harry'],
      ['henry', 'harry'],
      ['elizabeth', 'liz'],
      ['james', 'jim'],
      ['robert', 'bob'],
      ['richard', 'dick'],
      ['edward', 'ted'],
      ['mary', 'polly'],
    ]) {
      expect(sameNameFamily(formal!, short!), `${formal}/${short}`).toBe(true);
      expect(sameNameFamily(short!, formal!), `${short}/${formal}`).toBe(true);
    }
  });

  it('pairs two diminutives of one name, and two spellings of one formal name', () => {
    expect(sameNameFamily('bill', 'will')).toBe(true);
    expect(sameNameFamily('peggy', 'maggie')).toBe(true);
    expect(sameNameFamily('katherine', 'catherine')).toBe(true);
    expect(sameNameFamily('muhammad', 'mohammed')).toBe(true);
  });

  it('does not join two formal names through a diminutive they share', () => {
    expect(sameNameFamily('henry', 'harold')).toBe(false); // both can be Harry
    expect(sameNameFamily('samuel', 'samantha')).toBe(false); // both can be Sam
    expect(sameNameFamily('alexander', 'alexandra')).toBe(false);
  });

  it('says nothing of unrelated, unknown or identical names', () => {
    expect(sameNameFamily('harry', 'noah')).toBe(false);
    expect(sameNameFamily('sophie', 'margaret')).toBe(false);
    expect(sameNameFamily('muhammad', 'isaac')).toBe(false);
    expect(sameNameFamily('zzyzx', 'bill')).toBe(false);
    expect(sameNameFamily('', 'bill')).toBe(false);
    expect(sameNameFamily('william', 'william')).toBe(false); // the exact level's business
  });

  it('reads a double forename by its first part when the whole is not listed', () => {
    expect(sameNameFamily('mary ann', 'molly')).toBe(true);
    expect(sameNameFamily('anne-marie', 'annie')).toBe(true);
    expect(sameNameFamily('zoe ann', 'annie')).toBe(false);
  });

  it('is a few hundred formal names, all lower case letters', () => {
    expect(NAME_FAMILY_COUNT).toBeGreaterThan(250);
    expect(FORMAL_NAMES.length).toBeGreaterThan(300);
    for (const name of FORMAL_NAMES) expect(name).toMatch(/^[a-z]+$/);
  });
});

describe('the nickname level of a forename comparison', () => {
  const levels = (opts: Parameters<typeof nameComparison>[1], a: string, b: string) => {
    const c = nameComparison('forename', { swapWith: 'surname', ...opts });
    const g = gammaOf([c], { forename: a, surname: 'lee' }, { forename: b, surname: 'lee' })[0]!;
    return c.levels[g]!.label;
  };

  it('sits after exact and swap, and after the Jaro-Winkler band it is placed behind', () => {
    const labels = nameComparison('forename', { swapWith: 'surname', nicknames: 0.92 }).levels.map((l) => l.label);
    expect(labels).toEqual(['exact', 'swapped with surname', 'jaro-winkler >= 0.92', 'nickname or other form of one name', 'jaro-winkler >= 0.8', 'else']);
    expect(nameComparison('forename', { nicknames: true }).levels.map((l) => l.label)).toEqual([
      'exact',
      'nickname or other form of one name',
      'jaro-winkler >= 0.92',
      'jaro-winkler >= 0.8',
      'else',
    ]);
  });

  it('places known-as names there, and leaves different names in else', () => {
    expect(levels({ nicknames: 0.92 }, 'william', 'bill')).toBe('nickname or other form of one name');
    expect(levels({ nicknames: 0.92 }, 'peggy', 'margaret')).toBe('nickname or other form of one name');
    expect(levels({ nicknames: 0.92 }, 'harry', 'noah')).toBe('else');
    expect(levels({}, 'william', 'bill')).toBe('else'); // without the option, as before
  });
});
