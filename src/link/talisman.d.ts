// talisman ships CommonJS without type declarations; these are the functions tfclaims uses.
declare module 'talisman/metrics/jaro-winkler.js' {
  /** Jaro-Winkler similarity in [0, 1]. */
  export default function jaroWinkler(a: string, b: string): number;
}
declare module 'talisman/metrics/damerau-levenshtein.js' {
  /** Optimal string alignment distance (adjacent transpositions count as one edit). */
  export default function damerauLevenshtein(a: string, b: string): number;
}
declare module 'talisman/phonetics/double-metaphone.js' {
  /** Primary and alternate Double Metaphone codes. */
  export default function doubleMetaphone(word: string): [string, string];
}
declare module 'talisman/phonetics/soundex.js' {
  /** American Soundex code (a letter and three digits). */
  export default function soundex(word: string): string;
}
