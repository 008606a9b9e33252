/**
 * The rules stage (issue 4): outcomes plans, identification, significant and sustained progress,
 * continuous employment and tiers of support, with evidence for every decision. See docs/rules.md.
 */
export { evaluateFamilies, type EvaluateOptions, type EvaluationSummary } from './evaluate.ts';
export {
  loadPlan,
  parsePlan,
  planSha256,
  canonicalJson,
  paymentFor,
  problemCodes,
  PlanSchema,
  BUILTIN_PLANS,
  DEFAULT_PLAN,
  PLANS_DIR,
  type Plan,
  type LoadedPlan,
  type IdentificationRule,
  type ProgressRule,
} from './plan.ts';
export * as ruleDates from './dates.ts';
export { tierTimeline, EPISODE_TIER, type TierChange, type TierEpisode } from './tiers.ts';
