import { describe, expect, it } from 'vitest';
import { UsageError, JobError } from '../../src/errors.ts';
import {
  breakdownLines,
  breakdownOf,
  forecastDecision,
  levelName,
  storedBreakdown,
  formatWeight,
  guardRefusal,
  modelVerdict,
  parseStoredModel,
  recordsSideBySide,
  reviewOrder,
} from '../../src/link/breakdown.ts';
import { COUNCIL_COMPARISONS } from '../../src/link/council.ts';
import { gammaOf, scorePair, type LinkModel } from '../../src/link/model.ts';
import { formatPairId, orderPair, parsePairId, parseRecordRef } from '../../src/link/pair-id.ts';
import { toLinkRecord } from '../../src/link/records.ts';

/** A model with the council's comparisons and made-up m and u (no data needed). */
function councilModel(): LinkModel {
  return {
    comparisons: COUNCIL_COMPARISONS.map((c) => ({
      name: c.name,
      levels: c.levels.map((level, l) => ({ label: level.label, m: l === c.levels.length - 1 ? 0.05 : 0.9 / (l + 1), u: l === c.levels.length - 1 ? 0.9 : 0.01 * (l + 1) })),
    })),
    prior: 0.001,
    iterations: 12,
    converged: true,
  };
}

describe('record and pair ids', () => {
  it('parse SOURCE:RECORD_ID, keeping colons inside the record id', () => {
    expect(parseRecordRef('attendance:ATT00000012')).toEqual({ source: 'attendance', recordId: 'ATT00000012' });
    expect(parseRecordRef(' Social_Care:SC:01 ')).toEqual({ source: 'social_care', recordId: 'SC:01' });
  });

  it('refuse a record without a known source or an id, as usage errors', () => {
    expect(() => parseRecordRef('ATT00000012')).toThrow(UsageError);
    expect(() => parseRecordRef('evidence:EVD1')).toThrow(/unknown person source "evidence"/);
    expect(() => parseRecordRef('police:OCC1')).toThrow(UsageError);
    expect(() => parseRecordRef('offending:')).toThrow(/no record id/);
  });

  it('give one pair id for a pair in either order, in the order link_pair stores it (source, then record id)', () => {
    const att = { source: 'attendance', recordId: 'ATT00000012' } as const;
    const off = { source: 'offending', recordId: 'OCC00000034' } as const;
    expect(formatPairId(off, att)).toBe('attendance:ATT00000012~offending:OCC00000034');
    expect(formatPairId(att, off)).toBe('attendance:ATT00000012~offending:OCC00000034');
    expect(parsePairId('offending:OCC00000034~attendance:ATT00000012')).toEqual([att, off]);
    expect(parsePairId('attendance:ATT00000012~offending:OCC00000034')).toEqual([att, off]);
    // One source: by record id.
    expect(orderPair({ source: 'attendance', recordId: 'B' }, { source: 'attendance', recordId: 'A' }).map((r) => r.recordId)).toEqual(['A', 'B']);
  });

  it('split a pair at the second record even when a record id holds a ~', () => {
    expect(parsePairId('employment:D~1~offending:O~2')).toEqual([
      { source: 'employment', recordId: 'D~1' },
      { source: 'offending', recordId: 'O~2' },
    ]);
  });

  it('refuse a malformed pair or one record twice', () => {
    expect(() => parsePairId('attendance:ATT1')).toThrow(/not a pair/);
    expect(() => parsePairId('attendance:ATT1 offending:OCC2')).toThrow(UsageError);
    expect(() => parsePairId('attendance:ATT1~attendance:ATT1')).toThrow(/one record twice/);
    expect(() => parsePairId('attendance:ATT1~evidence:E1')).toThrow(UsageError);
  });
});

describe('the breakdown of a pair', () => {
  it('gives each council comparison its level and weight, and the total and probability of the stage\'s own scorePair', () => {
    const model = councilModel();
    const a = toLinkRecord({ forename: 'Katherine', surname: 'Okafor', dob: '2011-06-13', sex: 'F', address: '12 High Street', postcode: 'SE5 9DH', uprn: null });
    const b = toLinkRecord({ forename: 'Katharine', surname: 'OKAFOR', dob: '2011-06-13', sex: null, address: 'Flat 2, 12 High St', postcode: 'se59dh', uprn: null });
    const gamma = gammaOf(COUNCIL_COMPARISONS, a, b);
    const br = breakdownOf(model, gamma, { a, b });
    const score = scorePair(model, gamma);
    expect(br.weight).toBe(score.weight);
    expect(br.probability).toBe(score.probability);
    expect(br.comparisons.map((c) => c.weight)).toEqual(score.contributions);
    expect(br.priorWeight + br.comparisons.reduce((s, c) => s + c.weight, 0)).toBeCloseTo(br.weight, 10);
    expect(br.comparisons.map((c) => c.comparison)).toEqual(COUNCIL_COMPARISONS.map((c) => c.name));
    const named = Object.fromEntries(br.comparisons.map((c) => [c.comparison, c]));
    expect(levelName(named.surname!)).toBe('surname: exact');
    expect(levelName(named.dob!)).toBe('dob: exact');
    expect(levelName(named.location!)).toBe('location: same postcode and house number');
    expect(named.forename!.label).not.toMatch(/^(exact|else)$/);
    expect(named.sex).toMatchObject({ level: -1, label: 'no value to compare', m: null, u: null, weight: 0, termFrequency: 0 });
  });

  /** Three comparisons with round numbers: weights log2(m/u) of 3, -2 and 1 bits. */
  const small: LinkModel = {
    comparisons: [
      { name: 'forename', levels: [{ label: 'exact', m: 0.8, u: 0.1 }, { label: 'else', m: 0.2, u: 0.8 }] },
      { name: 'dob', levels: [{ label: 'exact', m: 0.8, u: 0.1 }, { label: 'day and month transposed', m: 0.1, u: 0.05 }, { label: 'else', m: 0.1, u: 0.85 }] },
      { name: 'sex', levels: [{ label: 'exact', m: 0.9, u: 0.5 }, { label: 'else', m: 0.1, u: 0.5 }] },
    ],
    prior: 1 / 17,
    iterations: 1,
    converged: true,
  };

  it('lays the breakdown out as aligned lines of labels and signed weights, with m and u when asked', () => {
    const br = breakdownOf(small, [0, 1, -1]);
    expect(br.priorWeight).toBeCloseTo(-4, 12);
    expect(br.weight).toBeCloseTo(-4 + 3 + 1, 12);
    expect(br.probability).toBeCloseTo(0.5, 12);
    const lines = breakdownLines(br, { indent: '' });
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^forename\s+exact\s+\+3\.00$/);
    expect(lines[1]).toMatch(/^dob\s+day and month transposed\s+\+1\.00$/);
    expect(lines[2]).toMatch(/^sex\s+no value to compare\s+\+0\.00$/);
    expect(lines[3]).toMatch(/^prior \(how rare a match is among all pairs\)\s+-4\.00$/);
    expect(lines[4]).toMatch(/^total match weight\s+\+0\.00 {3}probability 0\.5000$/);
    // The weights line up in one column.
    expect(new Set(lines.map((l) => l.replace(/ {3}probability.*$/, '').length)).size).toBe(1);
    const withMU = breakdownLines(br, { withMU: true, indent: '' });
    expect(withMU[0]).toMatch(/^comparison\s+level\s+m\s+u\s+weight$/);
    expect(withMU[1]).toMatch(/^forename\s+exact\s+0\.8000\s+0\.1000\s+\+3\.00$/);
    expect(withMU[3]).toMatch(/^sex\s+no value to compare\s+-\s+-\s+\+0\.00$/);
    expect(new Set(withMU.slice(1).map((l) => l.replace(/ {3}probability.*$/, '').length)).size).toBe(1);
    // Probabilities this small are shown in scientific notation, not as 0.0000.
    expect(breakdownLines(breakdownOf(small, [1, 2, 1]), { indent: '' }).at(-1)).toMatch(/^total match weight\s+-11\.41 {3}probability 3\.68e-4$/);
  });

  it('reads a stored pair back: its contributions, its total, and any term-frequency part of a weight', () => {
    // As link_pair stores them: contributions rounded to 4 decimals; the forename's exact match on a rare name weighs 1.5 bits more.
    const br = storedBreakdown(small, { levels: [0, 0, 0], contributions: [4.5, 3.00004, 0.848], weight: 4.348, probability: 0.953 });
    expect(br.weight).toBe(4.348);
    expect(br.probability).toBe(0.953);
    expect(br.comparisons.map((c) => c.termFrequency)).toEqual([1.5, 0, 0]);
    expect(breakdownLines(br, { indent: '' })[0]).toMatch(/^forename\s+exact\s+\+4\.50   \(\+1\.50 of it for how rare the value is\)$/);
    expect(() => storedBreakdown(small, { levels: [0, 0], contributions: [1, 1], weight: 0, probability: 0.5 })).toThrow(JobError);
    expect(() => storedBreakdown(small, { levels: [0, 5, 0], contributions: [1, 1, 1], weight: 0, probability: 0.5 })).toThrow(/level 5 for dob/);
  });

  it('signs weights and never prints -0.00', () => {
    expect(formatWeight(6.2774)).toBe('+6.28');
    expect(formatWeight(-2.4437)).toBe('-2.44');
    expect(formatWeight(-0.001)).toBe('+0.00');
    expect(formatWeight(0)).toBe('+0.00');
  });
});

describe('a stored model', () => {
  it('is rebuilt from its JSON (object or text) and scores as the original', () => {
    const model = councilModel();
    const rebuilt = parseStoredModel(JSON.parse(JSON.stringify(model)), COUNCIL_COMPARISONS)!;
    expect(rebuilt).toEqual(model);
    expect(parseStoredModel(JSON.stringify(model), COUNCIL_COMPARISONS)).toEqual(model);
    const gamma = Int8Array.from([2, 0, 1, 3, 0]);
    expect(scorePair(rebuilt, gamma)).toEqual(scorePair(model, gamma));
  });

  it('is absent when the run trained none, and refused when its comparisons are not this version\'s', () => {
    expect(parseStoredModel(null, COUNCIL_COMPARISONS)).toBeUndefined();
    const model = councilModel();
    const renamed = { ...model, comparisons: model.comparisons.map((c, k) => (k === 1 ? { ...c, name: 'lastname' } : c)) };
    expect(() => parseStoredModel(renamed, COUNCIL_COMPARISONS)).toThrow(JobError);
    const fewer = { ...model, comparisons: model.comparisons.slice(1) };
    expect(() => parseStoredModel(fewer, COUNCIL_COMPARISONS)).toThrow(/4 comparisons stored, 5 now/);
    const relabelled = { ...model, comparisons: model.comparisons.map((c) => ({ ...c, levels: c.levels.map((l) => ({ ...l, label: `${l.label}!` })) })) };
    expect(() => parseStoredModel(relabelled, COUNCIL_COMPARISONS)).toThrow(/levels of forename differ/);
  });
});

describe('the review queue order and verdicts', () => {
  it('puts the least certain pairs first, ties by pair id; or the most probable first', () => {
    const pairs = [
      { pairId: 'b', probability: 0.3 },
      { pairId: 'a', probability: 0.7 },
      { pairId: 'c', probability: 0.55 },
      { pairId: 'd', probability: 0.21 },
    ];
    expect(reviewOrder(pairs).map((p) => p.pairId)).toEqual(['c', 'a', 'b', 'd']);
    expect(reviewOrder(pairs, 'probability').map((p) => p.pairId)).toEqual(['a', 'c', 'b', 'd']);
  });

  it('says what the model alone makes of a probability at a run\'s thresholds', () => {
    const t = { threshold: 0.5, reviewLow: 0.2, reviewHigh: 0.8 };
    expect(modelVerdict(0.9, t).text).toBe('a link');
    expect(modelVerdict(0.6, t).text).toBe('a link, in the review band');
    expect(modelVerdict(0.3, t)).toEqual({ link: false, inReviewBand: true, text: 'no link, in the review band' });
    expect(modelVerdict(0.1, t).text).toBe('no link');
  });
});

describe('what a decision will do', () => {
  const facts = (refs: Record<string, string[]>, dobs: string[]) => ({ refs: new Map(Object.entries(refs).map(([s, r]) => [s, new Set(r)])), dobs: new Set(dobs) });

  it('names the guard that will refuse a "same" (sources only, never the ids or dates)', () => {
    expect(guardRefusal(facts({ attendance: ['U1'] }, ['20110613']), facts({ attendance: ['U2'] }, ['20110613']))).toBe('they hold different person ids of one source (attendance)');
    expect(guardRefusal(facts({ attendance: ['U1'] }, ['20110613']), facts({ offending: ['P9'] }, ['20110631']))).toBeUndefined();
    expect(guardRefusal(facts({}, ['20110613']), facts({}, ['19990101']))).toBe('their dates of birth cannot be one date mistyped');
    expect(guardRefusal(facts({ attendance: ['U1'] }, []), facts({ attendance: ['U1'] }, []))).toBeUndefined();
  });

  it('forecasts a merge, a split, a refusal, or nothing to change', () => {
    const base = { pairId: 'attendance:A~offending:B', sameProfile: false, refusal: undefined };
    expect(forecastDecision({ ...base, decision: 'same', personA: 3, personB: 7 }).join('\n')).toMatch(/will make person #3 and person #7 one person/);
    expect(forecastDecision({ ...base, decision: 'same', personA: 3, personB: 3 }).join('\n')).toMatch(/already one person \(#3\)/);
    expect(forecastDecision({ ...base, decision: 'same', personA: 3, personB: 7, refusal: 'their dates of birth cannot be one date mistyped' }).join('\n')).toMatch(
      /will still keep them apart: their dates of birth/,
    );
    expect(forecastDecision({ ...base, decision: 'different', personA: 3, personB: 3 }).join('\n')).toMatch(/will split person #3/);
    expect(forecastDecision({ ...base, decision: 'different', personA: 3, personB: 7 }).join('\n')).toMatch(/different people now \(#3 and #7\)/);
    expect(forecastDecision({ ...base, decision: 'same', personA: undefined, personB: 7 }).join('\n')).toMatch(/the first record of .* has not been matched yet/);
  });
});

describe('records side by side', () => {
  it('aligns two records field by field, shows blanks as -, and neutralises control characters', () => {
    const lines = recordsSideBySide(
      { label: 'attendance:A1', fields: { forename: 'Ann', surname: 'Lee\u001b[2J', dob: null } },
      { label: 'offending:O1', fields: { forename: 'ANN', surname: 'Lee', dob: '2011-06-13' } },
      { indent: '', markDifferences: true },
    );
    expect(lines[0]).toMatch(/^\s+attendance:A1\s+offending:O1$/);
    expect(lines[1]).toMatch(/^forename\s+Ann\s+ANN\s+\(differs\)$/);
    expect(lines[2]).toContain('Lee?[2J');
    expect(lines.join('\n')).not.toContain('\u001b');
    expect(lines[3]).toMatch(/^dob\s+-\s+2011-06-13\s+\(differs\)$/);
  });
});
