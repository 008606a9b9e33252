/**
 * Worker thread of {@link scoreCouncilOnTwoThreads} (score-on-two-threads.ts): given the profiles
 * as numbered columns, it numbers the keys of the blocking rules it is given and posts them, works
 * out what training needs (u and the training sample's levels) and posts it, then the levels of
 * the candidate pairs it is sent, and ends. It reads no database.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { numberedRecords } from './columns.ts';
import { councilScoringTask } from './council.ts';
import { gammaTable, numberRules, trainingInputs } from './model.ts';
import type { PairsForWorker, ScoringWorkerInput, ScoringWorkerKeys, ScoringWorkerLevels, ScoringWorkerTraining } from './score-on-two-threads.ts';

const input = workerData as ScoringWorkerInput;
const records = numberedRecords(
  input.length,
  Object.fromEntries(Object.entries(input.fields).map(([name, { ids, values }]) => [name, { ids, values: values.split('\u0000') }])),
);
const task = councilScoringTask(records);
let started = performance.now();
// Deduplicating: a rule's keys are one array for both sides, sent once.
const keys: ScoringWorkerKeys = {
  kind: 'keys',
  keys: [...numberRules(task.blocking, records, records, input.rules)].map(([index, { right, values }]) => ({ index, ids: right, values })),
  ms: Math.round(performance.now() - started),
};
parentPort!.postMessage(keys, keys.keys.map(({ ids }) => ids.buffer as ArrayBuffer));
started = performance.now();
const inputs = trainingInputs(task, { withU: true });
const training: ScoringWorkerTraining = {
  kind: 'training',
  trainingPairs: inputs.trainingPairs,
  u: inputs.u!,
  levels: inputs.training?.levels,
  ms: Math.round(performance.now() - started),
};
parentPort!.postMessage(training, training.levels ? [training.levels.buffer as ArrayBuffer] : []);
parentPort!.once('message', (pairs: PairsForWorker) => {
  const began = performance.now();
  const { levels } = gammaTable(task.comparisons, records, records, { length: pairs.left.length, left: pairs.left, right: pairs.right });
  const done: ScoringWorkerLevels = { kind: 'levels', levels, ms: Math.round(performance.now() - began) };
  parentPort!.postMessage(done, [levels.buffer as ArrayBuffer]);
});
