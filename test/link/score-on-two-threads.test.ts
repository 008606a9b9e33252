import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { numberedRecords } from '../../src/link/columns.ts';
import { councilScoringTask } from '../../src/link/council.ts';
import { candidatePairs, gammaTable, scoreCandidates, trainingInputs, type Comparison, type LinkRecord } from '../../src/link/model.ts';
import { scoreCouncilOnTwoThreads } from '../../src/link/score-on-two-threads.ts';
import { readCouncilRecords } from '../../src/link/synthetic.ts';

const SAMPLES = path.resolve(import.meta.dirname, '../../samples/extracts');

/** The sample council's person records as the match stage's scoring sees them (linkage fields only). */
async function sampleRecords(): Promise<LinkRecord[]> {
  const records = await readCouncilRecords(SAMPLES);
  return records.map(({ forename, surname, dob, sex, postcode, uprn, houseNumber }) => ({ forename, surname, dob, sex, postcode, uprn, houseNumber }) as LinkRecord);
}

describe('scoring on two threads', () => {
  it('gives what one thread gives, to the bit, however the work is shared', async () => {
    const records = await sampleRecords();
    const alone = scoreCandidates(councilScoringTask(records));
    expect(alone.pairs.length).toBeGreaterThan(200);
    expect(alone.model).toBeDefined();
    // The worker numbering some rules, all of them or none; taking no levels, some stripes or all.
    for (const opts of [{ workerRulesFrom: 4, workerShare: 0.3, stripePairs: 16 }, { workerRulesFrom: 0, workerShare: 1, stripePairs: 7 }, { workerRulesFrom: 9, workerShare: 0 }]) {
      const timings: Record<string, number> = {};
      const shared = await scoreCouncilOnTwoThreads(records, { ...opts, timings });
      expect(Array.from(shared.pairs.left)).toEqual(Array.from(alone.pairs.left));
      expect(Array.from(shared.pairs.right)).toEqual(Array.from(alone.pairs.right));
      expect(Array.from(shared.table.levels)).toEqual(Array.from(alone.table.levels));
      expect(shared.byRule).toEqual(alone.byRule);
      expect(shared.trainingPairs).toBe(alone.trainingPairs);
      expect(shared.model).toEqual(alone.model);
      expect(Array.from(shared.weights)).toEqual(Array.from(alone.weights));
      expect(timings['worker: training']).toBeGreaterThanOrEqual(0);
    }
  });

  it('numbered columns stand in for the records: the same candidates, levels, training sample and u', async () => {
    const records = await sampleRecords();
    const task = councilScoringTask(records);
    const fields = Object.fromEntries(
      ['forename', 'surname', 'dob', 'sex', 'postcode', 'uprn', 'houseNumber'].map((name) => {
        const values = [''];
        const numberOf = new Map([['', 0]]);
        const ids = Int32Array.from(records, (r) => {
          const value = r[name] ?? '';
          let n = numberOf.get(value);
          if (n === undefined) numberOf.set(value, (n = values.push(value) - 1));
          return n;
        });
        return [name, { ids, values }];
      }),
    );
    const standIn = numberedRecords(records.length, fields);
    const fromColumns = councilScoringTask(standIn);
    const direct = candidatePairs(task.blocking, records, records, { dedupe: true, maxBlockSize: task.maxBlockSize! });
    const viaColumns = candidatePairs(fromColumns.blocking, standIn, standIn, { dedupe: true, maxBlockSize: task.maxBlockSize! });
    expect(Array.from(viaColumns.pairs.left)).toEqual(Array.from(direct.pairs.left));
    expect(Array.from(viaColumns.pairs.right)).toEqual(Array.from(direct.pairs.right));
    expect(Array.from(gammaTable(task.comparisons, standIn, standIn, viaColumns.pairs).levels)).toEqual(Array.from(gammaTable(task.comparisons, records, records, direct.pairs).levels));
    // The training rule is sampled by block: its keys' text comes from the columns' values.
    const trainingDirect = trainingInputs({ ...task, training: { ...task.training!, maxPairs: 50 } }, { withU: true });
    const trainingColumns = trainingInputs({ ...fromColumns, training: { ...fromColumns.training!, maxPairs: 50 } }, { withU: true });
    const unsampled = trainingInputs(task).trainingPairs;
    expect(trainingDirect.trainingPairs).toBeGreaterThan(0);
    expect(trainingDirect.trainingPairs).toBeLessThan(unsampled);
    expect(trainingColumns.trainingPairs).toBe(trainingDirect.trainingPairs);
    expect(Array.from(trainingColumns.training!.levels)).toEqual(Array.from(trainingDirect.training!.levels));
    expect(trainingColumns.u).toEqual(trainingDirect.u);
  });

  it('a field not given, or a comparison that needs whole records, is an error, not a wrong answer', () => {
    const standIn = numberedRecords(2, { forename: { ids: Int32Array.of(1, 2), values: ['', 'ANN', 'ANNE'] } });
    const surnameExact: Comparison = { name: 'surname', field: 'surname', isNull: () => false, levels: [{ label: 'else', test: () => true }] };
    expect(() => gammaTable([surnameExact], standIn, standIn, { length: 1, left: Int32Array.of(0), right: Int32Array.of(1) })).toThrow(/field surname was not among the numbered columns/);
    const wholeRecords: Comparison = { name: 'both', isNull: () => false, levels: [{ label: 'else', test: () => true }] };
    expect(() => gammaTable([wholeRecords], standIn, standIn, { length: 1, left: Int32Array.of(0), right: Int32Array.of(1) })).toThrow(/needs whole records/);
    expect(() => numberedRecords(3, { forename: { ids: Int32Array.of(1, 2), values: ['', 'ANN', 'ANNE'] } })).toThrow(/has 2 records, not 3/);
  });

  it('a worker that fails or stops early fails the scoring with the cause, and nothing is left waiting', async () => {
    const records = await sampleRecords();
    const failure = (workerModule: URL) => scoreCouncilOnTwoThreads(records, { workerModule }).then(() => undefined, (error: unknown) => error as Error);
    // Fails after sending its keys, while this thread waits for its training work.
    const thrown = await failure(new URL('./fixtures/scoring-worker-throws.ts', import.meta.url));
    expect(thrown?.message).toBe('the scoring worker thread failed');
    expect((thrown?.cause as Error).message).toBe('out of memory (a stand-in)');
    // Stops before sending anything.
    const stopped = await failure(new URL('./fixtures/scoring-worker-exits.ts', import.meta.url));
    expect(stopped?.message).toBe('the scoring worker thread stopped (exit code 3) before it sent what was asked');
    // The next scoring, with the real worker, is whole.
    const alone = scoreCandidates(councilScoringTask(records));
    const again = await scoreCouncilOnTwoThreads(records);
    expect(Array.from(again.weights)).toEqual(Array.from(alone.weights));
  });
});
