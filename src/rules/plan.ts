import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { z } from 'zod';
import YAML from 'yaml';
import { ConfigError } from '../errors.ts';
import { formatZodIssues } from '../config/zod-errors.ts';
import { financialYearOf, financialYearStart, type Day } from './dates.ts';

/**
 * An outcomes plan (a council's Troubled Families Outcomes Plan, TFOP) as data: which headline
 * problems it knows, how each is identified and what counts as significant and sustained
 * progress, the continuous-employment route, and the payments. Rules are a closed set of
 * parameterised predicates (the `rule` key picks one); every one is listed in docs/rules.md.
 */

export const OFFENDING_TYPES = ['proven_offence', 'asb_incident', 'asb_intervention', 'domestic_abuse'] as const;
export const EPISODE_TYPES = ['contact', 'referral', 'early_help', 'cin', 'cp_plan', 'lac'] as const;

const Code = z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a lower-case code such as crime_asb');
const Months = z.number().int().min(1).max(120);
const Weeks = z.number().int().min(1).max(520);
const Fraction = z.number().min(0).max(1);
const Count = z.number().int().min(0);

const Who = z
  .enum(['any', 'child', 'adult', 'young_person', 'school_age'])
  .describe('whose records count, by age on the date tested: any member, child (under 18), adult (18+), young person (16-18), school age');

const EventTypes = z.array(z.enum(OFFENDING_TYPES)).min(1).describe('offending.csv event types that count');
const EpisodeTypes = z.array(z.enum(EPISODE_TYPES)).min(1).describe('social_care.csv episode types that count');
const SpellKind = z
  .enum(['out_of_work_benefit', 'neet'])
  .describe('out_of_work_benefit: a benefit spell of an out-of-work type (see out_of_work_benefits); neet: a neet spell');
const Absence = z
  .enum(['overall', 'unauthorised'])
  .describe('overall: (authorised + unauthorised) / possible sessions; unauthorised: unauthorised / possible');

// --- identification predicates: true when the problem is present at the reference date D ----

const EventsAtLeast = z
  .strictObject({
    rule: z.literal('events_at_least').describe('at least N offending events in the window ending D'),
    event_types: EventTypes,
    who: Who.default('any'),
    per: z.enum(['person', 'family']).default('family').describe('person: one member must have N; family: N across all members'),
    at_least: z.number().int().min(1).describe('how many events identify the problem'),
    window_months: Months.optional().describe('months ending D (default: identification_window_months)'),
  })
  .describe('count offending events in a window');

const SchoolRecord = z
  .strictObject({
    rule: z.literal('school_record').describe("a school-age child's last terms that ended on or before D show the problem"),
    terms: z.number().int().min(1).max(9).default(3).describe("how many of the child's most recent terms are looked at"),
    absence: Absence.default('overall'),
    absence_rate_at_least: Fraction.nullable()
      .default(0.1)
      .describe('absence over those terms (all sessions absent / all sessions possible) at or above this identifies; null = not used'),
    fixed_exclusions_at_least: Count.nullable().default(3).describe('fixed exclusions in total over those terms at or above this identifies; null = not used'),
    permanent_exclusion: z.boolean().default(true).describe('a permanent exclusion in those terms identifies'),
    alternative_provision: z.boolean().default(true).describe('attending alternative provision in those terms identifies'),
  })
  .describe('school attendance, exclusions and alternative provision');

const EpisodeOpen = z
  .strictObject({
    rule: z.literal('episode_open_in_window').describe('an episode of these types open at any time in the window ending D'),
    episode_types: EpisodeTypes,
    who: Who.default('child'),
    window_months: Months.optional().describe('months ending D (default: identification_window_months)'),
  })
  .describe('social care episodes open in a window');

const SpellOnDate = z
  .strictObject({
    rule: z.literal('spell_on_date').describe('a spell of this kind open on D'),
    spell: SpellKind,
    who: Who.default('adult'),
  })
  .describe('benefit or NEET spell open on the reference date');

export const IdentificationRule = z.discriminatedUnion('rule', [EventsAtLeast, SchoolRecord, EpisodeOpen, SpellOnDate]);
export type IdentificationRule = z.infer<typeof IdentificationRule>;

// --- progress predicates: true when a family attached on A shows progress as of T ------------

const NoEvents = z
  .strictObject({
    rule: z.literal('no_events').describe('no offending event of these types by a member in the window ending T'),
    event_types: EventTypes,
    who: Who.default('any'),
    window_months: Months.default(6).describe('months ending T'),
  })
  .describe('no events in the months before T');

const EventFall = z
  .strictObject({
    rule: z.literal('event_fall').describe('events in the window ending T are at most (1 - min_fall) of those in the baseline window ending A'),
    event_types: EventTypes,
    who: Who.default('any'),
    window_months: Months.default(6).describe('months ending T'),
    baseline_months: Months.default(6).describe('months ending A (the baseline)'),
    min_fall: Fraction.describe('the fall required, 0.6 = a 60% fall; a baseline of 0 requires 0'),
  })
  .describe('reduction against the baseline before attachment');

const SchoolTerms = z
  .strictObject({
    rule: z
      .literal('school_terms')
      .describe('every child school age at A and at T has consecutive terms that started on or after A and ended on or before T meeting the limits'),
    consecutive_terms: z.number().int().min(1).max(9).default(3).describe('how many consecutive terms'),
    absence: Absence.default('overall'),
    absence_rate_below: Fraction.describe('absence must be under this (0.1 = under 10%)'),
    absence_measured: z
      .enum(['per_term', 'over_terms'])
      .default('per_term')
      .describe('per_term: each term under the rate; over_terms: the terms taken together under the rate'),
    fixed_exclusions_below: Count.nullable().default(3).describe('fixed exclusions in total across the terms must be under this; null = not used'),
    no_permanent_exclusion: z.boolean().default(true).describe('a permanent exclusion in the terms fails'),
    which_terms: z
      .enum(['any', 'latest'])
      .default('any')
      .describe("any: some run of consecutive terms since A passes (as programme-rules.md reads); latest: the child's most recent run must pass"),
  })
  .describe('school attendance and exclusions since attachment');

const NoEpisodes = z
  .strictObject({
    rule: z.literal('no_episodes').describe('no episode of these types open (or started) in the window ending T'),
    episode_types: EpisodeTypes,
    who: Who.default('child'),
    window_months: Months.default(6).describe('months ending T'),
  })
  .describe('no social care episode in the months before T');

const SpellFree = z
  .strictObject({
    rule: z.literal('spell_free').describe('every member (of `who`, on A) with a spell of this kind open on A has none in the weeks ending T'),
    spell: SpellKind,
    who: Who.default('adult'),
    window_weeks: Weeks.describe('weeks ending T'),
  })
  .describe('off benefits / out of NEET');

const Attested = z
  .strictObject({
    rule: z
      .literal('attested')
      .describe('the latest evidence.csv row for the problem dated after A and on or before T says achieved (a later not_achieved wins; rows after T are ignored)'),
  })
  .describe('attested evidence');

export const ProgressRule = z.discriminatedUnion('rule', [NoEvents, EventFall, SchoolTerms, NoEpisodes, SpellFree, Attested]);
export type ProgressRule = z.infer<typeof ProgressRule>;

export const ProblemSchema = z
  .strictObject({
    description: z.string().default('').describe('what the problem is, for people reading the plan'),
    identification: z
      .array(IdentificationRule)
      .default([])
      .describe('data rules identifying the problem at D; any one is enough; empty = keyworker assessment only'),
    progress: z.array(ProgressRule).min(1).describe('rules for significant and sustained progress as of T; every one must pass'),
    required_for_progress: z
      .boolean()
      .default(true)
      .describe('false: the problem counts towards eligibility but is not tested for the progress route (phase 1 worklessness)'),
    equivalent_progress: z
      .boolean()
      .default(false)
      .describe('an attested achieved evidence.csv row may stand in when the data rules do not pass'),
    neutral_counts: z
      .boolean()
      .default(false)
      .describe('a rule whose only people are neutral (a child who left school age) passes instead of giving neutral'),
  })
  .describe('one headline problem');
export type Problem = z.infer<typeof ProblemSchema>;

const MonthDay = z
  .string()
  .regex(/^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/, 'expected MM-DD such as 08-31')
  .refine((s) => s !== '02-29', 'cannot be 29 February');

const AgesSchema = z
  .strictObject({
    adult_from: z.number().int().min(10).max(30).default(18).describe('an adult is at least this old; a child is younger'),
    young_person_from: z.number().int().min(10).max(30).default(16).describe('youngest age of a young person'),
    young_person_to: z.number().int().min(10).max(30).default(18).describe('oldest age of a young person'),
    school_age_from: z.number().int().min(2).max(20).default(5).describe('youngest school age, on school_age_date'),
    school_age_to: z.number().int().min(2).max(20).default(15).describe('oldest school age, on school_age_date'),
    school_age_date: MonthDay.default('08-31').describe('MM-DD: school age is age on the most recent such day on or before the date tested'),
  })
  .describe('age bands, taken on the date being tested');

const OutOfWorkSchema = z
  .strictObject({
    benefit_types: z.array(z.string().min(1)).min(1).describe('benefit_type codes that are out-of-work benefits'),
    uc_not_out_of_work_when: z
      .array(z.string().min(1))
      .default(['working'])
      .describe('UC conditionality values that mean in work (UC with these is not out-of-work; blank conditionality is)'),
  })
  .describe('which benefit spells count as out-of-work');

const ContinuousEmploymentSchema = z
  .strictObject({
    enabled: z.boolean().describe('whether the continuous-employment route can make a family claimable'),
    benefit_months_before_attachment: Months.default(6).describe('the adult was on an out-of-work benefit at some time in these months up to A'),
    jsa_rule: z
      .strictObject({
        benefit_types: z.array(z.string().min(1)).min(1).default(['JSA']).describe('last benefit types that use this rule'),
        qualifying_weeks: Weeks.default(26).describe('whole ISO weeks employed and off out-of-work benefits needed...'),
        of_weeks: Weeks.default(30).describe('...out of this many whole ISO weeks ending on or before T'),
      })
      .nullable()
      .default(null)
      .describe('rule when the last out-of-work benefit before work was JSA; null = every benefit uses consecutive_weeks'),
    consecutive_weeks: Weeks.default(13).describe('consecutive whole ISO weeks employed and off out-of-work benefits, ending on or before T'),
    employment_must_start_after_attachment: z
      .boolean()
      .default(true)
      .describe('for the consecutive-weeks rule, only employment that started after A counts'),
  })
  .describe('the continuous-employment route');

const Gbp = z
  .number()
  .min(0)
  .refine((n) => Number.isInteger(Math.round(n * 100)) && Math.abs(Math.round(n * 100) - n * 100) < 1e-6, 'expected pounds with at most 2 decimal places');

const PaymentSchema = z
  .strictObject({
    from_financial_year: z
      .string()
      .regex(/^\d{4}-\d{2}$/, 'expected a financial year such as 2015-16')
      .refine((s) => (Number(s.slice(0, 4)) + 1) % 100 === Number(s.slice(5)), 'the two years must follow each other, like 2015-16')
      .describe('first financial year (April to March) these amounts apply to; they apply until the next entry'),
    results_payment_gbp: Gbp.describe('results payment per turned-around family, GBP'),
    attachment_fee_gbp: Gbp.optional().describe('attachment fee per family taken on, GBP (recorded, not claimed by this pipeline)'),
    progress_to_work_gbp: Gbp.optional().describe('progress-to-work payment, GBP (recorded, not evaluated: no extract evidences it)'),
  })
  .describe('payment amounts from a financial year');

export const PlanSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected an id of lower-case letters, digits, hyphens and underscores')
      .describe('plan id recorded with every result, e.g. phase2-london-core'),
    version: z.union([z.string().min(1), z.number()]).transform(String).describe('the plan version; change it whenever the plan changes'),
    title: z.string().default('').describe('a title for people'),
    description: z.string().default('').describe('what the plan is based on'),
    min_problems: z.number().int().min(1).describe('problems at entry needed to be eligible'),
    identification_window_months: Months.default(12).describe('default window (months ending D) of identification rules'),
    progress_due_months: Months.default(6).describe('T must be at least this many months after A for the progress route'),
    keyworker_assessment: z.boolean().default(true).describe("whether the register's problems column counts towards the problems at entry"),
    ages: AgesSchema.prefault({}),
    out_of_work_benefits: OutOfWorkSchema,
    problems: z
      .record(Code, ProblemSchema)
      .refine((r) => Object.keys(r).length > 0, 'a plan needs at least one problem')
      .describe('headline problems by code, in the order outputs list them'),
    continuous_employment: ContinuousEmploymentSchema,
    payments: z.array(PaymentSchema).min(1).describe('amounts by financial year, oldest first'),
  })
  .superRefine((plan, ctx) => {
    const count = Object.keys(plan.problems).length;
    if (plan.min_problems > count) {
      ctx.addIssue({ code: 'custom', path: ['min_problems'], message: `is ${plan.min_problems} but the plan has only ${count} problems` });
    }
    if (plan.ages.young_person_from > plan.ages.young_person_to) {
      ctx.addIssue({ code: 'custom', path: ['ages', 'young_person_to'], message: 'must not be below young_person_from' });
    }
    if (plan.ages.school_age_from > plan.ages.school_age_to) {
      ctx.addIssue({ code: 'custom', path: ['ages', 'school_age_to'], message: 'must not be below school_age_from' });
    }
    const jsa = plan.continuous_employment.jsa_rule;
    if (jsa && jsa.qualifying_weeks > jsa.of_weeks) {
      ctx.addIssue({ code: 'custom', path: ['continuous_employment', 'jsa_rule', 'qualifying_weeks'], message: 'must not exceed of_weeks' });
    }
    plan.payments.forEach((p, i) => {
      const prev = plan.payments[i - 1];
      if (prev && financialYearStart(p.from_financial_year) <= financialYearStart(prev.from_financial_year)) {
        ctx.addIssue({ code: 'custom', path: ['payments', i, 'from_financial_year'], message: 'must be later than the entry before it' });
      }
    });
    for (const [code, problem] of Object.entries(plan.problems)) {
      const hasAttested = problem.progress.some((r) => r.rule === 'attested');
      if (hasAttested && problem.equivalent_progress) {
        ctx.addIssue({
          code: 'custom',
          path: ['problems', code, 'equivalent_progress'],
          message: 'is for data-evidenced problems; this problem is already decided by attested evidence',
        });
      }
    }
  })
  .describe('an outcomes plan');

export type Plan = z.infer<typeof PlanSchema>;

/** A validated plan, where it came from and its content hash (recorded with every result). */
export interface LoadedPlan {
  plan: Plan;
  /** sha256 (hex) of the canonical serialisation of the validated plan: see canonicalJson. */
  sha256: string;
  /** The file read, or `builtin:<id>`. */
  source: string;
}

/** The plans shipped in plans/: id -> file. */
export const BUILTIN_PLANS = ['phase2-london-core', 'phase1-2012', 'supporting-families-2022'] as const;
export const DEFAULT_PLAN = 'phase2-london-core';

export const PLANS_DIR = fileURLToPath(new URL('../../plans/', import.meta.url));

/**
 * Canonical JSON: object keys sorted (by code unit), no whitespace, arrays in order, numbers as
 * JavaScript prints them. Applied to the plan AFTER validation, so defaults are filled in: two
 * files that mean the same plan (YAML or JSON, comments, key order, layout, a default written out
 * or left implicit) have the same hash; any change of meaning changes it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function planSha256(plan: Plan): string {
  return createHash('sha256').update(canonicalJson(plan)).digest('hex');
}

/** Validate an already parsed plan document; `where` names it in messages. */
export function parsePlan(doc: unknown, where: string): LoadedPlan {
  const result = PlanSchema.safeParse(doc);
  if (!result.success) {
    throw new ConfigError(`outcomes plan ${where} is invalid:\n  ${formatZodIssues('plan', result.error).join('\n  ')}`, {
      hint: 'fix the values named above; plans/phase2-london-core.yaml documents every key',
    });
  }
  return { plan: result.data, sha256: planSha256(result.data), source: where };
}

/**
 * Load a plan: a built-in id (`phase2-london-core`, `phase1-2012`, `supporting-families-2022`)
 * or the path of a YAML or JSON file. Fails with ConfigError naming the file and each bad path.
 */
export async function loadPlan(fileOrBuiltinId: string = DEFAULT_PLAN): Promise<LoadedPlan> {
  const builtin = (BUILTIN_PLANS as readonly string[]).includes(fileOrBuiltinId);
  const file = builtin ? path.join(PLANS_DIR, `${fileOrBuiltinId}.yaml`) : fileOrBuiltinId;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read outcomes plan ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      hint: `give a plan file, or one of the built-in plans: ${BUILTIN_PLANS.join(', ')}`,
      cause: error,
    });
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    throw new ConfigError(`outcomes plan ${file} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  const loaded = parsePlan(doc, file);
  return { ...loaded, source: builtin ? `builtin:${fileOrBuiltinId}` : file };
}

/** The plan's problem codes in plan order. */
export function problemCodes(plan: Plan): string[] {
  return Object.keys(plan.problems);
}

/** The payment entry in force for the financial year containing `day`, or undefined before the first. */
export function paymentFor(plan: Plan, day: Day): { financialYear: string; resultsPaymentGbp: string; resultsPaymentPence: number } | undefined {
  const fy = financialYearOf(day);
  const start = financialYearStart(fy);
  let entry: Plan['payments'][number] | undefined;
  for (const p of plan.payments) if (financialYearStart(p.from_financial_year) <= start) entry = p;
  if (!entry) return undefined;
  const pence = Math.round(entry.results_payment_gbp * 100);
  return { financialYear: fy, resultsPaymentGbp: `${Math.floor(pence / 100)}.${String(pence % 100).padStart(2, '0')}`, resultsPaymentPence: pence };
}
