import { fieldPart, pairQuality, probabilityOf, scoreCandidates, type BlockingRule, type Comparison, type LinkModel, type LinkRecord, type TrainingSession } from './model.ts';

/** A blocking rule on the exact values of some fields (records missing any of them are not blocked by it). */
export function blockOn(...fields: string[]): BlockingRule {
  return { name: fields.join('+'), parts: fields.map(fieldPart) };
}

export interface LinkageEvaluation {
  candidatePairs: number;
  byRule: Record<string, number>;
  /** Pairs compared to train m (the training rules' sample; some may be candidates too), never scored as links. */
  trainingPairs: number;
  model: LinkModel;
  threshold: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  f1: number;
  /** Match weights of candidate pairs in whole-number bins: weight -> pairs. */
  weightHistogram: Record<string, number>;
  truePairs: number;
}

/**
 * Link `left` to `right` (or deduplicate `left` when `right` is absent) with no labels, and score
 * the pairs at or above the probability threshold (default 0.5, match weight 0) against the
 * truth that `entityOf` gives. True pairs are counted over all possible pairs, not only
 * candidates, so a blocking miss counts as a miss.
 */
export function evaluateLinkage<R extends LinkRecord>(opts: {
  comparisons: readonly Comparison[];
  blocking: readonly BlockingRule[];
  left: readonly R[];
  right?: readonly R[];
  entityOf: (record: R) => string;
  sessions?: readonly TrainingSession[];
  /** Wider blocking for training m only, each rule sampled to at most `maxPairs` pairs. */
  training?: { rules: readonly BlockingRule[]; maxPairs: number };
  maxBlockSize?: number;
  threshold?: number;
  /** Floor of term frequencies, as a count of records (default 1). */
  tfMinimumCount?: number;
}): LinkageEvaluation {
  const { left } = opts;
  const dedupe = opts.right === undefined;
  const right = opts.right ?? left;
  const { pairs, byRule, trainingPairs, model, untrainable, weights } = scoreCandidates({
    comparisons: opts.comparisons,
    blocking: opts.blocking,
    left,
    ...(opts.right ? { right: opts.right } : {}),
    ...(opts.training ? { training: opts.training } : {}),
    ...(opts.sessions ? { sessions: opts.sessions } : {}),
    ...(opts.maxBlockSize ? { maxBlockSize: opts.maxBlockSize } : {}),
    ...(opts.tfMinimumCount === undefined ? {} : { tfMinimumCount: opts.tfMinimumCount }),
  });
  if (!model) throw untrainable!;
  const threshold = opts.threshold ?? 0.5;
  const predicted = new Set<string>();
  const weightHistogram: Record<string, number> = {};
  for (let n = 0; n < pairs.length; n++) {
    const bin = String(Math.floor(weights[n]!));
    weightHistogram[bin] = (weightHistogram[bin] ?? 0) + 1;
    if (probabilityOf(weights[n]!) >= threshold) predicted.add(`${pairs.left[n]}|${pairs.right[n]}`);
  }
  const byEntity = new Map<string, number[]>();
  right.forEach((r, j) => {
    const entity = opts.entityOf(r);
    const list = byEntity.get(entity);
    if (list) list.push(j);
    else byEntity.set(entity, [j]);
  });
  const truth = new Set<string>();
  left.forEach((r, i) => {
    for (const j of byEntity.get(opts.entityOf(r)) ?? []) if (!dedupe || j > i) truth.add(`${i}|${j}`);
  });
  return { candidatePairs: pairs.length, byRule, trainingPairs, model, threshold, ...pairQuality(predicted, truth), weightHistogram, truePairs: truth.size };
}
