import { Worker } from 'node:worker_threads';
import { columnsOf } from './columns.ts';
import { COUNCIL_FIELDS, councilScoringTask } from './council.ts';
import { candidatePairs, gammaTable, numberRules, trainAndScore, type LinkRecord, type PairList, type ScoredCandidates } from './model.ts';

/**
 * The council model's scoring of a first (full) match on two threads. Each thread numbers the
 * keys of some blocking rules; this one then finds the candidate pairs, while the other works out
 * what training needs and does not depend on the candidates (u from random pairs, the training
 * sample and its levels); then each works out the levels of part of the candidates. The result
 * is the same as `scoreCandidates` on one thread, to the bit: the worker is given this thread's
 * numbered columns, and every step is a pure function of them. Below {@link TWO_THREADS_FROM} profiles, starting a thread costs more than it
 * saves.
 */

/** Profiles from which the match stage scores on two threads. */
export const TWO_THREADS_FROM = 50_000;

/** What the worker is started with: the records' numbered columns (values joined by NUL, which PostgreSQL text never holds), and the rules whose keys it numbers. */
export interface ScoringWorkerInput {
  length: number;
  fields: Record<string, { ids: Int32Array; values: string }>;
  rules: number[];
}

/** The worker's first message: the keys of its rules (one array for both sides: the task deduplicates). */
export interface ScoringWorkerKeys {
  kind: 'keys';
  keys: { index: number; ids: Int32Array; values: number }[];
  ms: number;
}

/** The worker's second message: what training needs. */
export interface ScoringWorkerTraining {
  kind: 'training';
  trainingPairs: number;
  u: number[][];
  /** The training sample's levels (absent when the sample is empty). */
  levels: Int8Array | undefined;
  ms: number;
}

/** The candidate pairs the worker works out the levels of. */
export interface PairsForWorker {
  left: Int32Array;
  right: Int32Array;
}

/** The worker's last message: the levels of the pairs it was sent, in their order. */
export interface ScoringWorkerLevels {
  kind: 'levels';
  levels: Int8Array;
  ms: number;
}

/** The worker's messages in order, as promises; a failed or stopped worker fails every message not yet delivered. */
function messagesOf(worker: Worker): () => Promise<unknown> {
  const arrived: unknown[] = [];
  const waiting: { resolve: (message: unknown) => void; reject: (error: Error) => void }[] = [];
  let failure: Error | undefined;
  worker.on('message', (message) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(message);
    else arrived.push(message);
  });
  const fail = (error: Error) => {
    failure ??= error;
    for (const waiter of waiting.splice(0)) waiter.reject(failure);
  };
  worker.on('error', (error) => fail(new Error('the scoring worker thread failed', { cause: error })));
  worker.on('exit', (code) => fail(new Error(`the scoring worker thread stopped (exit code ${code}) before it sent what was asked`)));
  return () => {
    if (arrived.length > 0) return Promise.resolve(arrived.shift());
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };
}

/** Candidate pairs are shared between the threads in stripes of this many, so each gets pairs of every rule (their levels cost unevenly). */
const STRIPE_PAIRS = 4096;

/** Whether stripe `s` goes to the worker, for a worker's share `share` of the stripes, spread evenly. */
const workersStripe = (s: number, share: number) => Math.floor((s + 1) * share) > Math.floor(s * share);

/** The stripes of `length` pairs, `stripe` long (the last maybe shorter), as `[from, to)` with whether the worker takes it. */
function* stripesOf(length: number, stripe: number, share: number): Generator<{ from: number; to: number; worker: boolean }> {
  for (let from = 0, s = 0; from < length; from += stripe, s++) yield { from, to: Math.min(from + stripe, length), worker: workersStripe(s, share) };
}

/** The pairs of the worker's stripes (`worker` true) or of this thread's, in order. */
function stripedPairs(pairs: PairList, stripe: number, share: number, worker: boolean): PairList {
  const left = new Int32Array(pairs.length);
  const right = new Int32Array(pairs.length);
  let length = 0;
  for (const { from, to, worker: theirs } of stripesOf(pairs.length, stripe, share)) {
    if (theirs !== worker) continue;
    left.set(pairs.left.subarray(from, to), length);
    right.set(pairs.right.subarray(from, to), length);
    length += to - from;
  }
  return { length, left: left.slice(0, length), right: right.slice(0, length) };
}

/**
 * Score `profiles` (deduplicated against themselves) with the council model on two threads; the
 * same result as `scoreCandidates(councilScoringTask(profiles))`. `workerRulesFrom`: the worker
 * numbers the keys of the blocking rules from this index on. `workerShare`: the share of the
 * candidate pairs whose levels the worker works out (it has done its training work by then), in
 * stripes of `stripePairs`. `timings` receives how long each part took, in ms (for the run's log).
 * `workerModule`: the worker thread's code (scoring-worker.ts unless a test stands in a failing
 * one); a worker that fails or stops early fails the scoring, with its error as the cause.
 */
export async function scoreCouncilOnTwoThreads(
  profiles: readonly LinkRecord[],
  opts: { workerRulesFrom?: number; workerShare?: number; stripePairs?: number; timings?: Record<string, number>; workerModule?: URL } = {},
): Promise<ScoredCandidates> {
  const task = councilScoringTask(profiles);
  const timings = opts.timings ?? {};
  let at = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - at);
    at = now;
  };
  const columns = columnsOf(profiles, profiles);
  const rulesFrom = Math.min(opts.workerRulesFrom ?? 4, task.blocking.length);
  const input: ScoringWorkerInput = { length: profiles.length, fields: {}, rules: task.blocking.map((_, n) => n).filter((n) => n >= rulesFrom) };
  for (const name of COUNCIL_FIELDS) {
    const column = columns.field(name);
    input.fields[name] = { ids: column.right, values: column.values.join('\u0000') };
  }
  lap('fields numbered');
  const worker = new Worker(opts.workerModule ?? new URL('./scoring-worker.ts', import.meta.url), { workerData: input });
  try {
    const next = messagesOf(worker);
    const keysFromWorker = next();
    // Handled where it is awaited; until then a failure must not count as unhandled.
    keysFromWorker.catch(() => {});
    const keys = numberRules(task.blocking, profiles, profiles, task.blocking.map((_, n) => n).filter((n) => n < rulesFrom));
    lap('keys numbered here');
    const theirKeys = (await keysFromWorker) as ScoringWorkerKeys;
    for (const { index, ids, values } of theirKeys.keys) keys.set(index, { left: ids, right: ids, values });
    timings['worker: keys'] = theirKeys.ms;
    lap('waiting for the worker\'s keys');
    const fromWorker = next();
    fromWorker.catch(() => {});
    const { pairs, byRule } = candidatePairs(task.blocking, profiles, profiles, { dedupe: true, maxBlockSize: task.maxBlockSize!, keys });
    lap('candidate pairs');
    const share = opts.workerShare ?? 0.3;
    const stripe = opts.stripePairs ?? STRIPE_PAIRS;
    const theirs = stripedPairs(pairs, stripe, share, true);
    worker.postMessage(theirs satisfies PairsForWorker, [theirs.left.buffer as ArrayBuffer, theirs.right.buffer as ArrayBuffer]);
    const mine = gammaTable(task.comparisons, profiles, profiles, stripedPairs(pairs, stripe, share, false));
    lap('levels here');
    const training = (await fromWorker) as ScoringWorkerTraining;
    const levels = (await next()) as ScoringWorkerLevels;
    lap('waiting for the worker');
    timings['worker: training'] = training.ms;
    timings['worker: levels'] = levels.ms;
    const width = mine.width;
    const all = new Int8Array(pairs.length * width);
    // Each stripe's levels back in its place: each thread's levels are its stripes' in order.
    const read = { worker: 0, here: 0 };
    for (const { from, to, worker: theirs } of stripesOf(pairs.length, stripe, share)) {
      const n = (to - from) * width;
      const source = theirs ? levels.levels : mine.levels;
      const at = theirs ? read.worker : read.here;
      all.set(source.subarray(at, at + n), from * width);
      if (theirs) read.worker += n;
      else read.here += n;
    }
    const table = { width, length: pairs.length, levels: all };
    const scored = trainAndScore(task, { pairs, byRule, table }, {
      trainingPairs: training.trainingPairs,
      training: training.levels ? { width, length: training.levels.length / width, levels: training.levels } : undefined,
      u: training.u,
    });
    lap('training and weights');
    return scored;
  } finally {
    await worker.terminate();
  }
}
