import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dateComparison, nameComparison } from '../../src/link/comparisons.ts';
import { evaluateFebrl, FEBRL_COMPARISONS, readFebrl } from '../../src/link/febrl.ts';
import { PairNumbers } from '../../src/link/columns.ts';
import { blockOn } from '../../src/link/evaluate.ts';
import {
  blockingKey,
  candidatePairs,
  estimateM,
  fieldPart,
  gammaOf,
  gammaTable,
  pairQuality,
  sampledRule,
  scoreCandidates,
  scorePair,
  termFrequencyTables,
  termFrequencyWeight,
  trainModel,
  type BlockingRule,
  type Comparison,
  type Gamma,
  type KeyPart,
  type LinkModel,
} from '../../src/link/model.ts';
import { COUNCIL_BLOCKING, COUNCIL_COMPARISONS } from '../../src/link/council.ts';
import { Rng } from '../../src/synth/random.ts';

const FEBRL = path.join(import.meta.dirname, '..', 'fixtures', 'febrl');

describe('comparison levels', () => {
  it('place a pair at the first level that holds, and null when a value is missing', () => {
    const comparisons = [nameComparison('forename', { swapWith: 'surname' }), dateComparison('dob')];
    const g = (a: Record<string, string>, b: Record<string, string>) => Array.from(gammaOf(comparisons, a, b));
    expect(g({ forename: 'katherine', surname: 'okafor', dob: '20110613' }, { forename: 'katherine', surname: 'okafor', dob: '20110613' })).toEqual([0, 0]);
    expect(g({ forename: 'okafor', surname: 'x', dob: '20110613' }, { forename: 'kate', surname: 'okafor', dob: '20111306' })).toEqual([1, 1]);
    expect(g({ forename: 'katherine', surname: '', dob: '20110613' }, { forename: 'katharine', surname: '', dob: '20110618' })).toEqual([2, 2]);
    expect(g({ forename: '', surname: '', dob: '19990101' }, { forename: 'zed', surname: '', dob: '20110613' })).toEqual([-1, 4]);
  });
});

describe('levels over numbered columns (gammaTable)', () => {
  const rng = new Rng(11);
  const pick = (values: string[]) => values[rng.int(0, values.length - 1)]!;
  const names = ['', 'katherine', 'katharine', 'kate', 'kathy', 'william', 'bill', 'will', 'okafor', 'okafr', 'sharma', 'george', 'smith', 'smyth', 'ann-marie', 'anne marie'];
  const council = () => ({
    forename: pick(names),
    surname: pick(names),
    dob: pick(['', '20110613', '20111306', '20110618', '20100613', '19990101', '2011']),
    sex: pick(['', 'F', 'M']),
    postcode: pick(['', 'SE153AB', 'SE153XY', 'SE15', 'N11AA']),
    uprn: pick(['', '100', '101']),
    houseNumber: pick(['', '12', '14']),
  });
  /** Every pair's levels from gammaTable, and from gammaOf record by record. */
  const both = (comparisons: readonly Comparison[], left: Record<string, string>[], right: Record<string, string>[]) => {
    const pairs = { length: 0, left: new Int32Array(3000), right: new Int32Array(3000) };
    for (; pairs.length < 3000; pairs.length++) {
      pairs.left[pairs.length] = rng.int(0, left.length - 1);
      pairs.right[pairs.length] = rng.int(0, right.length - 1);
    }
    const table = gammaTable(comparisons, left, right, pairs);
    const byRecord = new Int8Array(table.levels.length);
    for (let n = 0; n < pairs.length; n++) byRecord.set(gammaOf(comparisons, left[pairs.left[n]!]!, right[pairs.right[n]!]!), n * comparisons.length);
    return { table: Array.from(table.levels), byRecord: Array.from(byRecord) };
  };

  it('are the levels record by record for the council comparisons (names swapped, nicknames, missing values), deduplicating and linking', () => {
    const records = Array.from({ length: 300 }, council);
    const dedupe = both(COUNCIL_COMPARISONS, records, records);
    expect(dedupe.table).toEqual(dedupe.byRecord);
    const link = both(COUNCIL_COMPARISONS, records.slice(0, 150), Array.from({ length: 200 }, council));
    expect(link.table).toEqual(link.byRecord);
    // Every level of every comparison occurs, so none is left untested.
    COUNCIL_COMPARISONS.forEach((c, k) => {
      const seen = new Set(dedupe.table.filter((_, n) => n % COUNCIL_COMPARISONS.length === k));
      expect([...seen].sort()).toEqual([-1, ...c.levels.map((_, l) => l)].sort());
    });
  });

  it('are the levels record by record for the FEBRL comparisons', async () => {
    const [a, b] = await Promise.all([readFebrl(path.join(FEBRL, 'dataset4a.csv')), readFebrl(path.join(FEBRL, 'dataset4b.csv'))]);
    const link = both(FEBRL_COMPARISONS, a, b);
    expect(link.table).toEqual(link.byRecord);
  });
});

describe('PairNumbers', () => {
  it('numbers pairs densely in order of first appearance, as a Map would, through growth', () => {
    const rng = new Rng(3);
    const numbers = new PairNumbers(4);
    const byMap = new Map<string, number>();
    for (let n = 0; n < 50_000; n++) {
      const p = rng.int(0, 300);
      const q = rng.int(0, 2 ** 31 - 2) % (n % 2 ? 400 : 2 ** 31 - 1);
      if (!byMap.has(`${p}|${q}`)) byMap.set(`${p}|${q}`, byMap.size);
      expect(numbers.numberOf(p, q)).toBe(byMap.get(`${p}|${q}`));
    }
    expect(numbers.size).toBe(byMap.size);
    const [p, q] = [...byMap.keys()][1234]!.split('|').map(Number);
    expect([numbers.firsts[1234], numbers.seconds[1234]]).toEqual([p, q]);
  });
});

describe('blocking', () => {
  it('ORs rules together, counts each pair once, and in dedupe mode keeps i < j', () => {
    const records = [
      { a: '1', b: 'x' },
      { a: '1', b: 'y' },
      { a: '2', b: 'x' },
      { a: '1', b: 'x' },
    ];
    const rules = [blockOn('a'), blockOn('b')];
    const { pairs, byRule } = candidatePairs(rules, records, records, { dedupe: true });
    expect(Array.from({ length: pairs.length }, (_, n) => `${pairs.left[n]}-${pairs.right[n]}`).sort()).toEqual(['0-1', '0-2', '0-3', '1-3', '2-3']);
    expect(byRule).toEqual({ a: 3, b: 2 }); // 0-3 agrees on both rules and is counted under the first
  });

  it('pairs exactly the records whose keys agree under some rule, for keys of several parts, shared parts and sampled rules', () => {
    const rng = new Rng(5);
    const pick = (values: string[]) => values[rng.int(0, values.length - 1)]!;
    const records = Array.from({ length: 400 }, () => ({ a: pick(['', 'x', 'y', 'z']), b: pick(['', 'p', 'q', 'r', 's', 'p|x']), c: pick(['', '1', '2']) }));
    const firstOfB: KeyPart = { fields: ['b'], of: ([b]) => (b ? b[0] : undefined) };
    const rules: BlockingRule[] = [
      blockOn('a', 'b', 'c'),
      { name: 'first of b + c', parts: [firstOfB, fieldPart('c')] },
      { ...blockOn('c', 'a'), sample: 0.5 },
      blockOn('b'),
    ];
    const { pairs, byRule } = candidatePairs(rules, records, records, { dedupe: true });
    const expected: string[] = [];
    const expectedByRule: Record<string, number> = Object.fromEntries(rules.map((r) => [r.name, 0]));
    for (let i = 0; i < records.length; i++) {
      for (let j = i + 1; j < records.length; j++) {
        const rule = rules.find((r) => {
          const key = blockingKey(r, records[i]!);
          return key !== undefined && key === blockingKey(r, records[j]!);
        });
        if (!rule) continue;
        expected.push(`${i}-${j}`);
        expectedByRule[rule.name]!++;
      }
    }
    expect(Array.from({ length: pairs.length }, (_, n) => `${pairs.left[n]}-${pairs.right[n]}`).sort()).toEqual(expected.sort());
    expect(byRule).toEqual(expectedByRule);
    expect(expectedByRule['c+a']).toBeGreaterThan(0);
    // The sampled rule keeps some blocks and not others.
    const sampledKeys = new Set(records.map((r) => blockingKey(rules[2]!, r)).filter((k) => k !== undefined));
    const allKeys = new Set(records.map((r) => blockingKey(blockOn('c', 'a'), r)).filter((k) => k !== undefined));
    expect(sampledKeys.size).toBeGreaterThan(0);
    expect(sampledKeys.size).toBeLessThan(allKeys.size);
  });
});

describe('council blocking', () => {
  const rec = (forename: string, surname: string, dob: string, postcode = '') => ({ forename, surname, dob, postcode, uprn: '', sex: '', houseNumber: '' });
  const found = (a: Record<string, string>, b: Record<string, string>) => candidatePairs(COUNCIL_BLOCKING, [a, b], [a, b], { dedupe: true }).pairs.length === 1;

  it('finds a swapped name with the same date of birth and no postcode, and a mistyped name with the same date', () => {
    expect(found(rec('george', 'sharma', '20001107'), rec('sharma', 'george', '20001107'))).toBe(true);
    expect(found(rec('katherine', 'okafor', '20110613'), rec('katharine', 'okafr', '20110613'))).toBe(true);
    expect(found(rec('katherine', 'okafor', '20110613', 'SE153AB'), rec('kate', 'mensah', '20110613', 'SE153XY'))).toBe(true);
  });

  it('does not pair everyone born on one day: two strangers with nothing else in common are not candidates', () => {
    expect(found(rec('george', 'sharma', '20001107', 'SE153AB'), rec('ada', 'okafor', '20001107', 'SE221XY'))).toBe(false);
  });
});

describe('training blocking', () => {
  const byDay = blockOn('day');
  // 200 blocks of 10 records: 9,000 pairs.
  const records = Array.from({ length: 2000 }, (_, i) => ({ day: `d${i % 200}`, name: `n${i}` }));

  it('keeps a rule that gives no more than the limit, and samples whole blocks of one that gives more, the same blocks every time', () => {
    expect(sampledRule(byDay, records, 9000, 5000)).toBe(byDay);
    const sampled = sampledRule(byDay, records, 3000, 5000);
    expect(sampled).not.toBe(byDay);
    const { pairs } = candidatePairs([sampled], records, records, { dedupe: true });
    expect(pairs.length).toBeGreaterThan(1500);
    expect(pairs.length).toBeLessThan(4500);
    expect(pairs.length % 45).toBe(0); // whole blocks of 10 (45 pairs each), never part of one
    const again = candidatePairs([sampledRule(byDay, records, 3000, 5000)], records, records, { dedupe: true });
    expect(Array.from(again.pairs.left)).toEqual(Array.from(pairs.left));
  });

  it('compares training pairs to learn m for the sessions that ask for them, but never scores them as candidates', () => {
    const comparisons = [nameComparison('forename'), nameComparison('surname'), dateComparison('dob')];
    const rng = new Rng(11);
    const people = Array.from({ length: 300 }, (_, i) => ({ forename: `f${i % 40}x${rng.int(0, 9)}`, surname: `s${i}`, dob: `20${String(10 + (i % 9)).padStart(2, '0')}0${1 + (i % 9)}1${i % 10}` }));
    const left = [...people, ...people.slice(0, 100).map((p) => ({ ...p }))];
    const blocking = [blockOn('surname')];
    const training = { rules: [blockOn('dob')], maxPairs: 1e9 };
    const sessions = [{ fix: ['surname'] }, { fix: ['dob'], from: 'training' as const }];
    const plain = scoreCandidates({ comparisons, blocking, left, sessions });
    const trained = scoreCandidates({ comparisons, blocking, training, left, sessions });
    // The same candidates either way: the 100 repeated people.
    expect(trained.pairs.length).toBe(100);
    expect(Array.from(trained.pairs.left)).toEqual(Array.from(plain.pairs.left));
    expect(trained.byRule).toEqual({ surname: 100 });
    expect(trained.weights.length).toBe(100);
    // Training pairs: every pair agreeing on the date of birth, candidates among them.
    let sameDob = 0;
    for (let i = 0; i < left.length; i++) for (let j = i + 1; j < left.length; j++) if (left[i]!.dob === left[j]!.dob) sameDob++;
    expect(trained.trainingPairs).toBe(sameDob);
    expect(plain.trainingPairs).toBe(0);
    // They change what m is learnt from, not which pairs are scored.
    expect(trained.model?.comparisons).not.toEqual(plain.model?.comparisons);
  });
});

describe('EM', () => {
  it('recovers known m probabilities and the match share from unlabelled pairs', () => {
    // Three comparisons of three levels; pairs drawn from a known mixture.
    const trueM = [[0.85, 0.1, 0.05], [0.9, 0.05, 0.05], [0.7, 0.2, 0.1]];
    const trueU = [[0.01, 0.04, 0.95], [0.02, 0.08, 0.9], [0.05, 0.15, 0.8]];
    const lambda = 0.2;
    const rng = new Rng(5);
    const draw = (p: number[]) => {
      const r = rng.next();
      return r < p[0]! ? 0 : r < p[0]! + p[1]! ? 1 : 2;
    };
    const gammas: Gamma[] = [];
    for (let i = 0; i < 40_000; i++) {
      const match = rng.chance(lambda);
      gammas.push(Int8Array.from((match ? trueM : trueU).map(draw)));
    }
    const comparisons = trueM.map((_, k) => ({ name: `c${k}`, isNull: () => false, levels: [0, 1, 2].map((l) => ({ label: String(l), test: () => false })) })) as Comparison[];
    const result = estimateM(comparisons, gammas, trueU, { maxIterations: 200 });
    expect(result.converged).toBe(true);
    expect(result.lambda).toBeCloseTo(lambda, 1);
    for (let k = 0; k < 3; k++) for (let l = 0; l < 3; l++) expect(Math.abs(result.m[k]![l]! - trueM[k]![l]!)).toBeLessThan(0.03);
  });

  it('training sessions learn a person, not a household, where households dominate the candidates', () => {
    // Candidates: same person (10%), same household but another person (60%), strangers (30%).
    const rng = new Rng(9);
    const pick = (p: number[]) => {
      let r = rng.next();
      for (let l = 0; l < p.length; l++) if ((r -= p[l]!) < 0) return l;
      return p.length - 1;
    };
    const classes = [
      { share: 0.1, p: [[0.95, 0.03, 0.02], [0.97, 0.02, 0.01], [0.9, 0.1]] },
      { share: 0.6, p: [[0.01, 0.04, 0.95], [0.01, 0.02, 0.97], [1, 0]] },
      { share: 0.3, p: [[0.01, 0.04, 0.95], [0.003, 0.01, 0.987], [0.01, 0.99]] },
    ];
    const gammas: Gamma[] = [];
    for (let i = 0; i < 30_000; i++) {
      const c = classes[pick(classes.map((x) => x.share))]!;
      gammas.push(Int8Array.from(c.p.map(pick)));
    }
    const level = (name: string, n: number) => ({ name, isNull: () => false, levels: Array.from({ length: n }, (_, l) => ({ label: String(l), test: () => false })) });
    const comparisons = [level('forename', 3), level('dob', 3), level('location', 2)] as Comparison[];
    const records = Array.from({ length: 1000 }, (_, i) => ({ id: String(i) }));
    // Without sessions EM takes "lives together" for "same person" (location m near 1): this is the guard.
    const model = trainModel(comparisons, records, records, gammas, { dedupe: true, uPairs: 1, sessions: [{ fix: ['dob'] }, { fix: ['forename'] }] });
    const m = (k: number, l: number) => model.comparisons[k]!.levels[l]!.m;
    expect(m(0, 0)).toBeGreaterThan(0.85); // forename agrees for the same person
    expect(m(1, 0)).toBeGreaterThan(0.85); // and so does the date of birth
    expect(m(2, 0)).toBeLessThan(0.97); // living together is not what makes a match
  });

  it('turns levels into a match weight with the prior, and a probability', () => {
    const model = { comparisons: [{ name: 'c', levels: [{ label: 'exact', m: 0.9, u: 0.01 }, { label: 'else', m: 0.1, u: 0.99 }] }], prior: 0.01, iterations: 1, converged: true };
    const agree = scorePair(model, Int8Array.from([0]));
    expect(agree.weight).toBeCloseTo(Math.log2(0.01 / 0.99) + Math.log2(90), 10);
    expect(agree.probability).toBeCloseTo(1 / (1 + 2 ** -agree.weight), 12);
    expect(scorePair(model, Int8Array.from([-1])).contributions).toEqual([0]);
  });

  it('scores precision, recall and F1', () => {
    expect(pairQuality(new Set(['a', 'b', 'c']), new Set(['a', 'b', 'd', 'e']))).toMatchObject({ tp: 2, fp: 1, fn: 2, precision: 2 / 3, recall: 0.5 });
  });
});

describe('term-frequency adjustment of exact name matches', () => {
  const surname = nameComparison('surname', { termFrequency: true });
  // 10 records: smith 6 times, jones twice, okonkwo and lee once each.
  const people = ['smith', 'smith', 'smith', 'smith', 'smith', 'smith', 'jones', 'jones', 'okonkwo', 'lee'].map((s) => ({ surname: s }));

  it('counts values over the records linked (both sides of a link task), listing only repeated ones, with a floor', () => {
    const tables = termFrequencyTables([surname, dateComparison('dob')], people.slice(0, 5), people.slice(5))!;
    expect(Object.keys(tables)).toEqual(['surname']);
    expect(tables.surname).toEqual({ field: 'surname', level: 0, total: 10, counts: { jones: 2, smith: 6 }, minimum: 0.1 });
    expect(termFrequencyTables([surname], people, undefined, { minimumCount: 3 })!.surname!.minimum).toBeCloseTo(0.3, 12);
    expect(termFrequencyTables([dateComparison('dob')], people, undefined)).toBeUndefined();
  });

  const model = (): LinkModel => ({
    comparisons: [{ name: 'surname', levels: [{ label: 'exact', m: 0.9, u: 0.4 }, { label: 'jaro-winkler >= 0.92', m: 0.05, u: 0.01 }, { label: 'jaro-winkler >= 0.8', m: 0.03, u: 0.05 }, { label: 'else', m: 0.02, u: 0.54 }] }],
    prior: 0.1,
    iterations: 1,
    converged: true,
    termFrequencies: termFrequencyTables([surname], people, undefined),
  });

  it('makes an exact match weigh log2(m / tf): a rare name more than the average agreement, a common one less', () => {
    const m = model();
    const exact = Int8Array.from([0]);
    const plain = scorePair(m, exact).contributions[0]!;
    expect(plain).toBeCloseTo(Math.log2(0.9 / 0.4), 12); // without the records: unadjusted, as before
    const smith = scorePair(m, exact, { surname: 'smith' }, { surname: 'smith' });
    const okonkwo = scorePair(m, exact, { surname: 'okonkwo' }, { surname: 'okonkwo' });
    expect(smith.contributions[0]).toBeCloseTo(Math.log2(0.9 / 0.6), 12);
    expect(okonkwo.contributions[0]).toBeCloseTo(Math.log2(0.9 / 0.1), 12); // seen once: tf 1/10
    expect(okonkwo.weight).toBeGreaterThan(scorePair(m, exact).weight);
    expect(smith.weight).toBeLessThan(scorePair(m, exact).weight);
    expect(okonkwo.termFrequencyAdjustments![0]).toBeCloseTo(termFrequencyWeight(m.termFrequencies!.surname!, 0.4, 'okonkwo'), 12);
    // A value never counted (a record added since) is as rare as a value seen once.
    expect(scorePair(m, exact, { surname: 'zed' }, { surname: 'zed' }).contributions[0]).toBeCloseTo(Math.log2(0.9 / 0.1), 12);
    // So is a value named like an object's own property (`constructor`, `toString`): never NaN.
    for (const name of ['constructor', 'toString', '__proto__']) {
      expect(termFrequencyWeight(m.termFrequencies!.surname!, 0.4, name)).toBeCloseTo(Math.log2(0.4 / 0.1), 12);
    }
  });

  it('leaves the other levels, null comparisons and models without tables unadjusted', () => {
    const m = model();
    const fuzzy = scorePair(m, Int8Array.from([1]), { surname: 'smith' }, { surname: 'smyth' });
    expect(fuzzy.contributions[0]).toBeCloseTo(Math.log2(0.05 / 0.01), 12);
    expect(fuzzy.termFrequencyAdjustments).toEqual([0]);
    expect(scorePair(m, Int8Array.from([-1]), { surname: '' }, { surname: 'smith' }).contributions).toEqual([0]);
    const { termFrequencies: _, ...old } = m;
    expect(scorePair(old, Int8Array.from([0]), { surname: 'okonkwo' }, { surname: 'okonkwo' })).toEqual(scorePair(old, Int8Array.from([0])));
  });

  it('is trained with the model, only for comparisons that ask, and survives the model stored as JSON', () => {
    const comparisons = [surname, nameComparison('forename')];
    const records = people.map((p, i) => ({ ...p, forename: i % 2 ? 'ann' : 'bob' }));
    const gammas = [gammaOf(comparisons, records[0]!, records[1]!), gammaOf(comparisons, records[8]!, records[8]!)];
    const trained = trainModel(comparisons, records, records, gammas, { dedupe: true, uPairs: 50 });
    expect(Object.keys(trained.termFrequencies!)).toEqual(['surname']);
    const stored = JSON.parse(JSON.stringify(trained)) as LinkModel;
    for (const [a, b] of [[0, 1], [8, 8], [6, 7]] as const) {
      const g = gammaOf(comparisons, records[a]!, records[b]!);
      expect(scorePair(stored, g, records[a], records[b])).toEqual(scorePair(trained, g, records[a], records[b]));
    }
    expect(trainModel([nameComparison('forename')], records, records, gammas.map((g) => g.slice(1)), { dedupe: true, uPairs: 50 }).termFrequencies).toBeUndefined();
  });
});

describe('FEBRL, unsupervised, default settings (benchmarks.md floors)', () => {
  it('FEBRL4 (dataset4a x dataset4b): F1 >= 0.999 at the default threshold', async () => {
    const result = evaluateFebrl(await readFebrl(path.join(FEBRL, 'dataset4a.csv')), await readFebrl(path.join(FEBRL, 'dataset4b.csv')));
    expect(result.truePairs).toBe(5000);
    expect(result.model.converged).toBe(true);
    expect(result.f1).toBeGreaterThanOrEqual(0.999);
  });

  it('FEBRL1 (dedupe of dataset1): F1 >= 0.99 at the default threshold', async () => {
    const result = evaluateFebrl(await readFebrl(path.join(FEBRL, 'dataset1.csv')), undefined);
    expect(result.truePairs).toBe(500);
    expect(result.f1).toBeGreaterThanOrEqual(0.99);
  });
});

describe('tfclaims linkage-eval', () => {
  it('prints precision, recall and F1 for FEBRL4 and FEBRL1, and the levels with --json', async () => {
    const { cli } = await import('../cli/helpers.ts');
    const result = await cli(['--json', '--log-dir', path.join(os.tmpdir(), 'tfclaims-linkage-eval-logs'), 'linkage-eval']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^FEBRL4 link \(dataset4a x dataset4b\): F1 0\.99\d\d/m);
    const json = JSON.parse(result.stdout) as { febrl4: { f1: number; levels: { name: string }[] }; febrl1: { f1: number } };
    expect(json.febrl4.f1).toBeGreaterThanOrEqual(0.999);
    expect(json.febrl1.f1).toBeGreaterThanOrEqual(0.99);
    expect(json.febrl4.levels.map((l) => l.name)).toContain('dob');
  });

  it('with --synth, scores person linkage on a synthetic council against its truth (every valid person record)', async () => {
    const { cli, ROOT } = await import('../cli/helpers.ts');
    const samples = path.join(ROOT, 'samples', 'extracts');
    const result = await cli(['--json', '--log-dir', path.join(os.tmpdir(), 'tfclaims-linkage-eval-logs'), 'linkage-eval', '--synth', samples]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { synthetic: { records: number; truePairs: number; tp: number; fn: number } };
    const { readFile } = await import('node:fs/promises');
    const truth = (await readFile(path.join(samples, 'truth', 'records.csv'), 'utf8')).trim().split('\n').slice(1);
    expect(json.synthetic.records).toBe(truth.filter((l) => !l.startsWith('evidence,')).length);
    expect(json.synthetic.tp + json.synthetic.fn).toBe(json.synthetic.truePairs);
    expect(result.stderr).toMatch(/^synthetic council \(\d+ person records, dedupe\): person-pair F1 0\.\d{4}/m);
  });

  it('says what to do when the folder lacks the FEBRL files (exit 2)', async () => {
    const { cli } = await import('../cli/helpers.ts');
    const result = await cli(['--log-dir', path.join(os.tmpdir(), 'tfclaims-linkage-eval-logs'), 'linkage-eval', '--febrl', os.tmpdir()]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('has no dataset1.csv');
  });
});
