import { describe, expect, it } from 'vitest';
import { SOURCES, SOURCE_COLUMNS, compileRowValidator, rowSchema, type CellContext } from '../../src/ingest/sources.ts';

const ctx: CellContext = { dateFormat: 'auto', today: '2026-11-22' };

/** Candidate cell texts per kind of column: valid, invalid and blank. */
const CANDIDATES: Record<string, (string | undefined)[]> = {
  text: ['abc', ' padded ', undefined],
  date: ['2020-01-31', '31/01/2020', '2011-02-30', '2020-13-01', '1899-12-31', '2031-01-01', 'yesterday', undefined],
  count: ['0', '7', '140', '-1', '2.5', 'x', undefined],
  yn: ['Y', 'n', 'yes', 'maybe', undefined],
  sex: ['M', 'f', 'X', undefined],
  uprn: ['1', '123456789012', '1234567890123', 'A1', undefined],
  enum: ['proven_offence', 'BENEFIT', 'cin', 'achieved', 'child', 'victim', 'searching', 'nonsense', undefined],
  code: ['jsa', 'PIP', undefined],
  problem: ['health', 'Education', 'unknown_code', undefined],
  problems: ['health;education', 'crime_asb ; health;health', 'health;bogus', undefined],
};

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('the compiled row validator gives exactly the zod schema verdicts', () => {
  for (const source of SOURCES) {
    it(`${source}`, () => {
      const specs = SOURCE_COLUMNS[source];
      const schema = rowSchema(source, ctx);
      const validate = compileRowValidator(source, specs.map((_, i) => i), ctx);
      const random = rng(source.length * 7919);
      let valid = 0;
      let invalid = 0;
      for (let n = 0; n < 3000; n++) {
        // Mostly valid rows (so cross-column checks are reached), with some bad cells.
        const cells = specs.map((spec) => {
          const options = CANDIDATES[spec.kind.type]!;
          const pick = random() < 0.85 ? options[0] : options[Math.floor(random() * options.length)];
          if (spec.kind.type === 'enum' && pick === options[0]) return spec.kind.values[Math.floor(random() * spec.kind.values.length)];
          if (spec.kind.type === 'date' && pick === options[0]) return ['2019-09-01', '2020-01-31', '20/07/2020'][Math.floor(random() * 3)];
          return pick;
        });
        const input: Record<string, string | undefined> = {};
        specs.forEach((spec, i) => {
          const c = cells[i];
          input[spec.name] = c === undefined ? undefined : c.trim() === '' ? undefined : c.trim();
        });
        const zodResult = schema.safeParse(input);
        const fast = validate(cells.map((c) => c ?? ''));
        expect(fast.ok, JSON.stringify(input)).toBe(zodResult.success);
        if (zodResult.success && fast.ok) {
          valid++;
          expect(specs.map((s) => zodResult.data[s.name] ?? null)).toEqual(fast.values.map((v) => v ?? null));
        } else if (!zodResult.success && !fast.ok) {
          invalid++;
          const zodReasons = zodResult.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).sort();
          const fastReasons = fast.problems.map((p) => `${p.column}: ${p.reason}`).sort();
          expect(fastReasons).toEqual(zodReasons);
        }
      }
      expect(valid).toBeGreaterThan(30);
      expect(invalid).toBeGreaterThan(50);
    });
  }
});
