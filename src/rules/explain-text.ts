import { dayOf, isoOf } from './dates.ts';

/**
 * `tfclaims explain` as text and JSON (issue 4, item 6): pure formatting of a family's
 * explanation, no database. `explain.ts` reads the explanation from one rules evaluation; this
 * module turns it into plain language a keyworker or auditor can follow, and into one JSON
 * object with the same content.
 *
 * Personal data: the explanation holds ids, dates of events, ages, counts and codes. Person
 * fields of source rows (names, dates of birth, addresses, postcodes, person ids of source
 * systems) and free-text notes are only present when the explanation was read with
 * `showRecords`, and only then printed.
 */

/** One row of core.rule_evidence, as read. */
export interface RuleRow {
  phase: 'identification' | 'progress' | 'continuous_employment';
  /** Problem code; '' for rules of the whole family (the progress time gate, continuous employment). */
  problem: string;
  /** Position in the plan's list (0-based); -1 = progress_due gate; -2 = equivalent-progress attestation. */
  ruleIndex: number;
  rule: string;
  parameters: Record<string, unknown>;
  measured: Record<string, unknown>;
  threshold: Record<string, unknown>;
  result: string;
  sourceRecords: string[];
  attestedBy: string | null;
  testedOn: string;
}

/** The person fields of a source row (personal data: only read with --show-records). */
export interface PersonFields {
  person_ref: string | null;
  forename: string | null;
  middle_names: string | null;
  surname: string | null;
  dob: string | null;
  sex: string | null;
  address: string | null;
  postcode: string | null;
  uprn: string | null;
}

/** A source record a rule used: where it is and what it says (codes and dates of events only). */
export interface RecordInfo {
  /** `source:record_id`. */
  ref: string;
  source: string;
  recordId: string;
  /** The file of the extract the evaluation read it from, and its line (1 = header). Absent when the row is no longer stored. */
  fileId: number | null;
  fileName: string | null;
  line: number | null;
  /** The person the record is linked to now (core.person_record); null for evidence.csv rows and unlinked records. */
  personId: number | null;
  /** What the row says, as codes, dates and counts (e.g. `2026-07-01 proven_offence`). */
  facts: string;
  /** With --show-records only: the row's person fields. */
  personal?: PersonFields;
  /** With --show-records only: free text of the row (offending detail, evidence note, lead professional). */
  notes?: Record<string, string>;
}

/** A member of the family when the evaluation was made. */
export interface MemberInfo {
  personId: number;
  basis: string;
  joinedOn: string | null;
  /** member_role in the programme register, when the person is on it. */
  registerRole: string | null;
  /** Age and band on each date that matters (A = attached on, T = as of); empty when no date of birth is known. */
  ages: { date: string; label: string; age: number; band: 'adult' | 'child'; youngPerson: boolean; schoolAge: boolean }[];
  /** How many current records of each source the person has (counts only). */
  records: Record<string, number>;
}

export interface TierRow {
  personId: number;
  fromDate: string;
  toDate: string | null;
  tier: number;
  previousTier: number;
  change: string;
  sourceRecords: string[];
}

export interface ProblemAtEntry {
  problem: string;
  identifiedOn: string;
  fromData: boolean;
  fromKeyworker: boolean;
}

export interface ProblemResult {
  problem: string;
  required: boolean;
  dataResult: string;
  result: string;
  decidedBy: string;
  attestedBy: string | null;
}

export interface Verdict {
  problemsAtEntry: string[];
  eligible: boolean;
  progressDue: boolean;
  sspMet: boolean;
  ceMet: boolean;
  claimableByRules: boolean;
  route: string | null;
  financialYear: string;
  paymentGbp: string | null;
}

export interface SourceFile {
  fileId: number;
  source: string;
  fileName: string;
  sha256: string;
  loadedByRun: number;
}

/** What one rules evaluation decided about one family, and why. */
export interface FamilyExplanation {
  family: { familyId: number; caseRef: string | null; attachedOn: string | null };
  evaluation: {
    evaluationId: number;
    runId: number;
    asOf: string;
    evaluatedAt: string;
    planId: string;
    planVersion: string;
    planSha256: string;
    evidenceSha256: string | null;
  };
  plan: {
    minProblems: number;
    progressDueMonths: number;
    identificationWindowMonths: number;
    keyworkerAssessment: boolean;
    continuousEmploymentEnabled: boolean;
    adultFrom: number;
    /** The plan's problems in plan order, with their descriptions. */
    problems: { code: string; description: string; required: boolean; /** How many identification (data) rules the plan has for it. */ dataRules: number }[];
  };
  /**
   * attached: in the register and evaluated in full; eligible_unattached: not in the register but
   * meets identification on the as-of date; not_evaluated: neither (see `reason`).
   */
  status: 'attached' | 'eligible_unattached' | 'not_evaluated';
  reason: string | null;
  /** Members when the evaluation was made (membership at its run). */
  members: MemberInfo[];
  /** Person ids that joined or left the family after the evaluation's run. */
  membershipSince: { joined: number[]; left: number[] };
  problemsAtEntry: ProblemAtEntry[];
  /** eligible_unattached only: the problems identified from data on the as-of date. */
  problemsFromData: string[];
  rules: RuleRow[];
  problemResults: ProblemResult[];
  verdict: Verdict | null;
  tiers: TierRow[];
  /** Every record behind a rule or a tier change, by `source:record_id`. */
  records: Record<string, RecordInfo>;
  files: SourceFile[];
  showRecords: boolean;
}

// ------------------------------------------------------------------------------------------
// Small helpers
// ------------------------------------------------------------------------------------------

const TIER_NAMES: Readonly<Record<number, string>> = {
  0: 'no tier (no early help, CIN, CP or LAC episode open)',
  2: 'Tier 2 (early help)',
  3: 'Tier 3 (child in need)',
  4: 'Tier 4 (child protection plan or looked after)',
};

const ROUTE_NAMES: Readonly<Record<string, string>> = {
  significant_sustained_progress: 'significant and sustained progress',
  continuous_employment: 'continuous employment',
};

/** The evidence row's key as an auditor queries it: `phase/problem/rule_index` ('-' for no problem). */
export function evidenceKey(r: Pick<RuleRow, 'phase' | 'problem' | 'ruleIndex'>): string {
  return `${r.phase}/${r.problem === '' ? '-' : r.problem}/${r.ruleIndex}`;
}

/** The day after an exclusive window start, so a window reads "from X to Y" with both days included. */
function fromAfter(after: unknown): string | undefined {
  if (typeof after !== 'string') return undefined;
  try {
    return isoOf(dayOf(after) + 1);
  } catch {
    return after;
  }
}

function windowText(m: Record<string, unknown>, afterKey = 'window_after', endKey = 'window_end'): string {
  const from = fromAfter(m[afterKey]);
  const to = m[endKey];
  return from && typeof to === 'string' ? `${from} to ${to}` : '';
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}

function pct(v: unknown): string {
  if (v === null || v === undefined) return 'n/a';
  const n = num(v) * 100;
  return `${Number.isInteger(n) ? n : n.toFixed(2).replace(/0+$/, '').replace(/\.$/, '')}%`;
}

function list(values: unknown): string[] {
  return Array.isArray(values) ? values.map(String) : [];
}

function orWords(values: unknown): string {
  const v = list(values);
  return v.length <= 1 ? (v[0] ?? '') : `${v.slice(0, -1).join(', ')} or ${v.at(-1)}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function persons(ids: unknown): string {
  const v = list(ids);
  return v.length === 0 ? '' : `, by ${v.length === 1 ? 'person' : 'people'} ${v.join(', ')}`;
}

function whoText(who: unknown, adultFrom: number): string {
  switch (who) {
    case 'child':
      return `a child (under ${adultFrom})`;
    case 'adult':
      return `an adult (${adultFrom} or over)`;
    case 'young_person':
      return 'a young person';
    case 'school_age':
      return 'a school-age child';
    default:
      return 'any member';
  }
}

function whoPlural(who: unknown, adultFrom: number): string {
  switch (who) {
    case 'child':
      return `children (under ${adultFrom})`;
    case 'adult':
      return `adults (${adultFrom} or over)`;
    case 'young_person':
      return 'young people';
    case 'school_age':
      return 'school-age children';
    default:
      return 'members';
  }
}

/** A rule's result as it reads in a sentence. */
export function resultWord(result: string): string {
  switch (result) {
    case 'pass':
      return 'PASS';
    case 'fail':
      return 'FAIL';
    case 'neutral':
      return 'NEUTRAL';
    case 'insufficient_data':
      return 'INSUFFICIENT DATA';
    case 'not_applicable':
      return 'NOT APPLICABLE';
    default:
      return result.toUpperCase();
  }
}

// ------------------------------------------------------------------------------------------
// Each rule in plain language: what it asks, what was measured against what threshold
// ------------------------------------------------------------------------------------------

export interface RuleSentence {
  /** What the rule asks, from its parameters. */
  asks: string;
  /** What was measured against what threshold. */
  measured: string;
  /** Further detail lines (per child, per adult, per person). */
  detail: string[];
}

/** The rule in words: what it asks and what was measured, from the stored parameters, measured values and threshold. */
export function describeRule(r: RuleRow, adultFrom = 18): RuleSentence {
  const p = r.parameters;
  const m = r.measured;
  const t = r.threshold;
  const win = windowText(m);
  switch (r.rule) {
    case 'events_at_least': {
      const perPerson = t.per === 'person' || p.per === 'person';
      const atLeast = num(t.at_least ?? p.at_least);
      const byPerson = Array.isArray(m.by_person) ? (m.by_person as { person_id: number; events: number }[]) : [];
      return {
        asks: perPerson
          ? `${whoText(p.who, adultFrom)} with at least ${atLeast} ${orWords(p.event_types)} event${atLeast === 1 ? '' : 's'} in the window ${win}`
          : `at least ${atLeast} ${orWords(p.event_types)} event${atLeast === 1 ? '' : 's'} across the family (${whoPlural(p.who, adultFrom)}) in the window ${win}`,
        measured: perPerson
          ? `most by one person: ${num(m.most_by_one_person)} (needs at least ${atLeast}); ${plural(num(m.events), 'event')} in all`
          : `${plural(num(m.events), 'event')} across the family (needs at least ${atLeast})`,
        detail: byPerson.length > 0 ? [`events by person: ${byPerson.map((b) => `person ${b.person_id}: ${b.events}`).join(', ')}`] : [],
      };
    }
    case 'school_record': {
      const conds: string[] = [];
      if (t.absence_rate_at_least !== null && t.absence_rate_at_least !== undefined) conds.push(`${t.absence ?? 'overall'} absence ${pct(t.absence_rate_at_least)} or more`);
      if (t.fixed_exclusions_at_least !== null && t.fixed_exclusions_at_least !== undefined) conds.push(`${t.fixed_exclusions_at_least} or more fixed exclusions`);
      if (t.permanent_exclusion) conds.push('a permanent exclusion');
      if (t.alternative_provision) conds.push('alternative provision');
      const children = Array.isArray(m.children) ? (m.children as Record<string, unknown>[]) : [];
      return {
        asks: `a school-age child whose last ${num(t.terms)} terms ended by ${r.testedOn} show ${conds.join(', or ')}`,
        measured:
          children.length === 0
            ? 'no school-age child with attendance records in those terms'
            : `${plural(children.length, 'school-age child', 'school-age children')} measured, ${children.filter((c) => c.identified).length} identified`,
        detail: children.map(
          (c) =>
            `person ${c.person_id}: ${plural(num(c.terms), 'term')} ${c.first_term_start} to ${c.last_term_end}, absence ${pct(c.absence_rate)} ` +
            `(${c.sessions_absent} of ${c.sessions_possible} sessions), ${plural(num(c.fixed_exclusions), 'fixed exclusion')}` +
            `${c.permanent_exclusion ? ', permanently excluded' : ''}${c.alternative_provision ? ', alternative provision' : ''}: ${c.identified ? 'identified' : 'not identified'}`,
        ),
      };
    }
    case 'episode_open_in_window':
      return {
        asks: `${whoText(p.who, adultFrom)} with a ${orWords(p.episode_types)} episode open at any time in the window ${win}`,
        measured: `${plural(num(m.episodes), 'episode')} open${persons(m.persons)} (needs at least ${num(t.at_least ?? 1)})`,
        detail: [],
      };
    case 'spell_on_date':
      return {
        asks: `${whoText(p.who, adultFrom)} with ${p.spell === 'neet' ? 'a NEET spell' : 'an out-of-work benefit spell'} open on ${String(m.on ?? r.testedOn)}`,
        measured: `${plural(num(m.spells_open), 'spell')} open${persons(m.persons)} (needs at least ${num(t.at_least ?? 1)})`,
        detail: [],
      };
    case 'no_events':
      return {
        asks: `no ${orWords(p.event_types)} event by ${p.who === 'any' || p.who === undefined ? 'any member' : whoPlural(p.who, adultFrom)} in the window ${win}`,
        measured: `${plural(num(m.events), 'event')}${persons(m.persons)} (must be at most ${num(t.at_most)})`,
        detail: [],
      };
    case 'event_fall': {
      const fall = pct(t.min_fall ?? p.min_fall);
      return {
        asks:
          `${orWords(p.event_types)} events in the window ${win} at most ${pct(t.at_most_share_of_baseline)} of those in the ` +
          `baseline ${windowText(m, 'baseline_after', 'baseline_end')} before attachment (a ${fall} fall; a baseline of 0 requires 0)`,
        measured: `${num(m.events_in_window)} in the window against a baseline of ${num(m.baseline_events)}: at most ${String(m.allowed)} allowed`,
        detail: [],
      };
    }
    case 'school_terms': {
      const children = Array.isArray(m.children) ? (m.children as Record<string, unknown>[]) : [];
      const limits = [
        `${t.absence_measured === 'over_terms' ? 'together' : 'each'} under ${pct(t.absence_rate_below)} ${t.absence ?? 'overall'} absence`,
        t.fixed_exclusions_below !== null && t.fixed_exclusions_below !== undefined ? `fewer than ${t.fixed_exclusions_below} fixed exclusions in total` : '',
        t.no_permanent_exclusion ? 'no permanent exclusion' : '',
      ].filter((s) => s !== '');
      return {
        asks:
          `every child school age at attachment (${String(m.terms_after ?? '')}) and still school age on ${String(m.terms_end_by ?? r.testedOn)} has ` +
          `${num(t.consecutive_terms)} consecutive terms starting on or after attachment and ending by ${String(m.terms_end_by ?? r.testedOn)}, ${limits.join(', ')}`,
        measured:
          children.length === 0
            ? 'no child was school age at attachment (nobody to measure)'
            : children.map((c) => `person ${c.person_id} ${String(c.result)}`).join(', '),
        detail: children.flatMap((c) => {
          const terms = Array.isArray(c.terms) ? (c.terms as Record<string, unknown>[]) : [];
          const head =
            c.result === 'neutral'
              ? `person ${c.person_id}: no longer school age on ${r.testedOn} (neutral)`
              : `person ${c.person_id}: ${plural(num(c.terms_since_attachment), 'term')} since attachment; ${terms.length > 0 ? 'terms tested' : 'no run of consecutive terms to test'}: ${resultWord(String(c.result))}`;
          return [
            head,
            ...terms.map(
              (x) =>
                `  term ${x.term_start} to ${x.term_end}: absence ${pct(x.absence_rate)} (${x.sessions_absent} of ${x.sessions_possible} sessions), ` +
                `${plural(num(x.fixed_exclusions), 'fixed exclusion')}${x.permanent_exclusion ? ', permanently excluded' : ''}`,
            ),
          ];
        }),
      };
    }
    case 'no_episodes':
      return {
        asks: `no ${whoText(p.who, adultFrom).replace(/^an? /, '')} with a ${orWords(p.episode_types)} episode open or started in the window ${win}`,
        measured: `${plural(num(m.episodes_open_or_started), 'episode')} open or started${persons(m.persons)} (must be at most ${num(t.at_most)})`,
        detail: [],
      };
    case 'spell_free': {
      const ps = Array.isArray(m.persons) ? (m.persons as Record<string, unknown>[]) : [];
      return {
        asks:
          `every ${p.who === 'young_person' ? 'young person' : p.who === 'adult' ? 'adult' : 'member'} with ${p.spell === 'neet' ? 'a NEET spell' : 'an out-of-work benefit'} ` +
          `open at attachment has none in the ${num(p.window_weeks)} weeks ${win}`,
        measured: `${num(m.on_spell_at_attachment)} on it at attachment, ${num(m.with_spell_in_window)} of them with a spell in the window (must be at most ${num(t.with_spell_in_window_at_most)})`,
        detail: ps.map(
          (x) =>
            `person ${x.person_id}: at attachment ${list(x.spells_at_attachment).join(', ') || 'none'}; in the window ${list(x.spells_in_window).join(', ') || 'none'}`,
        ),
      };
    }
    case 'attested':
    case 'equivalent_progress': {
      const latest =
        m.latest_outcome === null || m.latest_outcome === undefined
          ? 'no attestation dated in the window'
          : `latest: ${String(m.latest_outcome)} on ${String(m.latest_evidence_date)} (${String(m.latest_record)})${r.attestedBy ? `, attested by ${r.attestedBy}` : ''}`;
      const ignored = [
        num(m.ignored_after_as_of) > 0 ? `${plural(num(m.ignored_after_as_of), 'row')} dated after the as-of date ignored` : '',
        num(m.ignored_on_or_before_attachment) > 0 ? `${plural(num(m.ignored_on_or_before_attachment), 'row')} dated on or before attachment ignored` : '',
      ].filter((s) => s !== '');
      return {
        asks:
          (r.rule === 'equivalent_progress' ? 'equivalent progress (the plan lets an attestation stand in for the data rules): ' : '') +
          `the latest evidence.csv row for ${r.problem} dated in the window ${win} says achieved (a later not_achieved wins)`,
        measured: `${plural(num(m.attestations_considered), 'attestation')} considered; ${latest}`,
        detail: ignored,
      };
    }
    case 'progress_due':
      return {
        asks: `the as-of date is at least ${num(p.progress_due_months)} months after attachment (${String(m.attached_on)})`,
        measured: `as of ${String(m.as_of)}; needs ${String(t.as_of_on_or_after)} or later`,
        detail: [],
      };
    case 'continuous_employment': {
      const adults = Array.isArray(m.adults) ? (m.adults as Record<string, unknown>[]) : [];
      const jsa = t.weeks_of_window as { at_least: number; of_weeks: number; benefit_types: string[] } | null | undefined;
      const cw = t.consecutive_weeks as { at_least: number; employment_started_after_attachment: boolean } | undefined;
      const lastWeek = String(m.last_whole_week_ends);
      const consecutive = `for at least ${cw?.at_least ?? 13} consecutive whole weeks ending by ${lastWeek}${cw?.employment_started_after_attachment ? ', in employment that started after attachment' : ''}`;
      const asks =
        `an adult (on ${r.testedOn}) who was on an out-of-work benefit at some time in the ${num(p.benefit_months_before_attachment ?? 6)} months up to attachment, and who was employed and on no out-of-work benefit ` +
        (jsa
          ? `in at least ${jsa.at_least} of the ${jsa.of_weeks} whole weeks ${String(m.weeks_window_first_monday)} to ${lastWeek} if the last such benefit was ${orWords(jsa.benefit_types)}, otherwise ${consecutive}`
          : consecutive);
      return {
        asks,
        measured:
          adults.length === 0
            ? 'no adult was on an out-of-work benefit in the months up to attachment (nobody to test)'
            : `${plural(adults.length, 'adult')} tested, ${adults.filter((a) => a.qualifies).length} qualif${adults.filter((a) => a.qualifies).length === 1 ? 'ies' : 'y'}`,
        detail: adults.map((a) =>
          a.test === 'weeks_of_window'
            ? `person ${a.person_id}: last out-of-work benefit ${String(a.last_out_of_work_benefit)} (${String(a.last_benefit_record)}), ` +
              `${num(a.qualifying_weeks_in_window)} qualifying weeks of ${jsa?.of_weeks ?? 30} (needs ${jsa?.at_least ?? 26}): ${a.qualifies ? 'qualifies' : 'does not qualify'}`
            : `person ${a.person_id}: last out-of-work benefit ${String(a.last_out_of_work_benefit)} (${String(a.last_benefit_record)}), ` +
              `longest run ${plural(num(a.longest_consecutive_run), 'consecutive week')}${a.run_ends_on ? ` ending ${String(a.run_ends_on)}` : ''} (needs ${cw?.at_least ?? 13}): ${a.qualifies ? 'qualifies' : 'does not qualify'}`,
        ),
      };
    }
    default:
      return { asks: `${r.rule} ${JSON.stringify(p)}`, measured: `${JSON.stringify(m)} against ${JSON.stringify(t)}`, detail: [] };
  }
}

// ------------------------------------------------------------------------------------------
// The verdict
// ------------------------------------------------------------------------------------------

/** One line saying the overall verdict. */
export function headline(e: FamilyExplanation): string {
  const v = e.verdict;
  if (e.status === 'eligible_unattached') {
    return `NOT CLAIMABLE: not in the programme register; it meets identification on ${e.evaluation.asOf} (${e.problemsFromData.join(', ')}), so it is listed in eligible-unattached.csv for the early help service`;
  }
  if (!v) return `NOT CLAIMABLE: not evaluated as an attached family (${e.reason ?? 'see above'})`;
  if (v.claimableByRules) {
    return `CLAIMABLE under the rules by ${ROUTE_NAMES[v.route ?? ''] ?? v.route}: ${v.paymentGbp === null ? 'no results payment in the plan' : `GBP ${v.paymentGbp}`} (financial year ${v.financialYear})`;
  }
  return `NOT CLAIMABLE under the rules: ${notClaimableReasons(e).join('; ')}`;
}

/** Why a family with a verdict is not claimable, in words. */
export function notClaimableReasons(e: FamilyExplanation): string[] {
  const v = e.verdict;
  if (!v) return [];
  if (!v.eligible) return [`only ${plural(v.problemsAtEntry.length, 'problem')} at entry (the plan needs ${e.plan.minProblems}), whatever the progress or employment data show`];
  return [sspText(e), ceText(e)];
}

function sspText(e: FamilyExplanation): string {
  const v = e.verdict!;
  if (v.sspMet) return 'significant and sustained progress met';
  const reasons: string[] = [];
  if (!v.progressDue) reasons.push(`the as-of date is less than ${e.plan.progressDueMonths} months after attachment`);
  const required = e.problemResults.filter((p) => p.required);
  if (required.length === 0) reasons.push('no problem at entry is tested for progress');
  const notPassed = required.filter((p) => p.result !== 'pass');
  const said: Record<string, string> = { fail: 'failed', neutral: 'neutral', insufficient_data: 'insufficient data' };
  if (notPassed.length > 0) reasons.push(notPassed.map((p) => `${p.problem} ${said[p.result] ?? p.result}`).join(', '));
  return `significant and sustained progress not met (${reasons.join('; ')})`;
}

function ceText(e: FamilyExplanation): string {
  const v = e.verdict!;
  if (!e.plan.continuousEmploymentEnabled) return 'continuous employment is not a route under this plan';
  if (v.ceMet) return 'continuous employment met';
  const ce = e.rules.find((r) => r.phase === 'continuous_employment');
  return ce?.result === 'not_applicable'
    ? 'continuous employment not met (no adult was on an out-of-work benefit in the months up to attachment)'
    : 'continuous employment not met (no adult has enough qualifying weeks)';
}

// ------------------------------------------------------------------------------------------
// The whole explanation as text
// ------------------------------------------------------------------------------------------

function recordLines(e: FamilyExplanation, refs: readonly string[], indent: string): string[] {
  if (refs.length === 0) return [];
  const lines = [`${indent}records (${refs.length}):`];
  for (const ref of refs) {
    const r = e.records[ref];
    if (!r) {
      lines.push(`${indent}  ${ref}  (no longer stored)`);
      continue;
    }
    const where = r.fileName ? `${r.fileName} line ${r.line}` : 'row not found in the files the evaluation read';
    const who = r.personId === null ? '' : `, person ${r.personId}`;
    lines.push(`${indent}  ${ref}  ${where}: ${r.facts}${who}`);
    if (e.showRecords && r.personal) lines.push(`${indent}      PERSONAL: ${personalText(r.personal)}`);
    if (e.showRecords && r.notes) for (const [k, v] of Object.entries(r.notes)) lines.push(`${indent}      ${k}: ${v}`);
  }
  return lines;
}

function personalText(p: PersonFields): string {
  const name = [p.forename, p.middle_names, p.surname].filter((s) => s).join(' ');
  return [
    name && `name ${name}`,
    p.dob && `born ${p.dob}`,
    p.sex && `sex ${p.sex}`,
    p.address && `address ${p.address}`,
    p.postcode && `postcode ${p.postcode}`,
    p.uprn && `uprn ${p.uprn}`,
    p.person_ref && `source person id ${p.person_ref}`,
  ]
    .filter((s) => s)
    .join('; ');
}

function ruleLines(e: FamilyExplanation, r: RuleRow, indent: string): string[] {
  const s = describeRule(r, e.plan.adultFrom);
  return [
    `${indent}[${evidenceKey(r)}] ${r.rule}: ${resultWord(r.result)}`,
    `${indent}  asks: ${s.asks}`,
    `${indent}  measured: ${s.measured}`,
    ...s.detail.map((d) => `${indent}    ${d}`),
    ...recordLines(e, r.sourceRecords, `${indent}  `),
  ];
}

function describeProblem(e: FamilyExplanation, code: string): string {
  const d = e.plan.problems.find((p) => p.code === code)?.description;
  return d ? `${code} (${d})` : code;
}

function memberLine(m: MemberInfo): string {
  const ages =
    m.ages.length === 0
      ? 'age unknown (no date of birth settled)'
      : m.ages
          .map((a) => `on ${a.date} (${a.label}) ${a.band} aged ${a.age}${a.schoolAge ? ', school age' : ''}${a.youngPerson ? ', young person' : ''}`)
          .join('; ');
  const records = Object.entries(m.records)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  return (
    `person ${m.personId}: ${ages}; member by ${m.basis}${m.joinedOn ? ` since ${m.joinedOn}` : ''}` +
    `${m.registerRole ? `, register role ${m.registerRole}` : ''}; records: ${records || 'none'}`
  );
}

/** The explanation as lines of plain text for stdout. */
export function explanationText(e: FamilyExplanation): string[] {
  const f = e.family;
  const ev = e.evaluation;
  const out: string[] = [];
  const title = `Family ${f.familyId}${f.caseRef ? `, case ${f.caseRef}` : ' (not in the programme register)'}${f.attachedOn ? `, attached on ${f.attachedOn}` : ''}`;
  out.push(title);
  out.push(
    `Evaluation #${ev.evaluationId} as of ${ev.asOf} (run #${ev.runId}, ${ev.evaluatedAt}) under plan ${ev.planId} version ${ev.planVersion}, plan sha256 ${ev.planSha256}`,
  );
  if (ev.evidenceSha256) out.push(`Evidence sha256 ${ev.evidenceSha256}`);
  out.push(
    e.showRecords
      ? 'PERSONAL DATA below (--show-records): do not paste this output into tickets or e-mails'
      : 'No personal data below: ids, ages, dates of events and codes only (--show-records adds the source rows\' person fields)',
  );
  out.push('');
  out.push(`VERDICT: ${headline(e)}`);
  const v = e.verdict;
  if (v) {
    out.push(`  eligible at entry: ${v.eligible ? 'yes' : 'no'}, ${plural(v.problemsAtEntry.length, 'problem')} at entry (the plan needs ${e.plan.minProblems})`);
    out.push(`  route 1, significant and sustained progress: ${v.sspMet ? 'MET' : `NOT MET: ${sspText(e).replace(/^significant and sustained progress not met \((.*)\)$/, '$1')}`}`);
    out.push(
      `  route 2, continuous employment: ${!e.plan.continuousEmploymentEnabled ? 'NOT A ROUTE under this plan' : v.ceMet ? 'MET' : 'NOT MET'}` +
        (v.ceMet ? ` (${qualifyingAdults(e)})` : e.plan.continuousEmploymentEnabled ? `: ${ceText(e).replace(/^continuous employment not met \((.*)\)$/, '$1')}` : ''),
    );
    if (v.claimableByRules && v.sspMet && v.ceMet) out.push('  both routes are met: the route recorded is continuous employment (a family is paid once)');
    out.push('  (the claims stage also checks that the family has never been in a submitted claim)');
  } else if (e.reason) {
    out.push(`  ${e.reason}`);
  }

  out.push('');
  out.push(`Members when evaluated (${e.members.length})`);
  for (const m of e.members) out.push(`  ${memberLine(m)}`);
  if (e.members.length === 0) out.push('  none');
  const { joined, left } = e.membershipSince;
  if (joined.length + left.length > 0) {
    out.push(
      `  since this evaluation: ${[joined.length ? `joined ${joined.map((p) => `person ${p}`).join(', ')}` : '', left.length ? `left ${left.map((p) => `person ${p}`).join(', ')}` : '']
        .filter((s) => s)
        .join('; ')} (run tfclaims evaluate again to take them into account)`,
    );
  }

  const idRules = e.rules.filter((r) => r.phase === 'identification');
  if (e.status === 'attached') {
    out.push('');
    out.push(`Problems at entry, identified on ${f.attachedOn} (${e.problemsAtEntry.length})`);
    for (const p of e.problemsAtEntry) {
      const passed = idRules.filter((r) => r.problem === p.problem && r.result === 'pass').map(evidenceKey);
      const from = [
        p.fromData ? `data (${passed.length > 0 ? passed.join(', ') : 'identification rule'})` : '',
        p.fromKeyworker ? "the keyworker's assessment (problems column of attachments.csv)" : '',
      ].filter((s) => s);
      out.push(`  ${describeProblem(e, p.problem)}: from ${from.join(' and ')}`);
    }
    if (e.problemsAtEntry.length === 0) out.push('  none');
    const gate = e.rules.find((r) => r.rule === 'progress_due');
    const kwRefs = gate?.sourceRecords.filter((r) => r.startsWith('attachments:')) ?? [];
    if (e.problemsAtEntry.some((p) => p.fromKeyworker) && kwRefs.length > 0) {
      out.push("  the keyworker's assessment is read from the family's register rows:");
      out.push(...recordLines(e, kwRefs, '    '));
    }
  } else if (e.status === 'eligible_unattached') {
    out.push('');
    out.push(`Problems identified from data on ${e.evaluation.asOf} (${e.problemsFromData.length}): ${e.problemsFromData.join(', ')}`);
  }

  if (idRules.length > 0) {
    const d = idRules[0]!.testedOn;
    out.push('');
    out.push(`Identification on ${d}: every data rule of the plan (any one passing identifies its problem)`);
    for (const code of orderedProblems(e, idRules)) {
      const rows = idRules.filter((r) => r.problem === code);
      const identified = rows.some((r) => r.result === 'pass');
      out.push(`  ${describeProblem(e, code)}: ${identified ? 'identified from data' : 'not identified from data'}`);
      for (const r of rows) out.push(...ruleLines(e, r, '    '));
    }
    const kwOnly = e.plan.problems.filter((p) => p.dataRules === 0).map((p) => p.code);
    if (kwOnly.length > 0) out.push(`  ${kwOnly.join(', ')}: no data rule in the plan (keyworker assessment only)`);
    const notKept = e.plan.problems.filter((p) => p.dataRules > 0 && !idRules.some((r) => r.problem === p.code)).map((p) => p.code);
    if (notKept.length > 0) {
      out.push(`  ${notKept.join(', ')}: not identified (for a family not in the register only the rules that pass are kept as evidence)`);
    }
  }

  const progress = e.rules.filter((r) => r.phase === 'progress');
  if (e.status === 'attached') {
    out.push('');
    out.push(`Significant and sustained progress as of ${ev.asOf}: every required problem at entry must pass`);
    const gate = progress.find((r) => r.ruleIndex === -1);
    if (gate) out.push(...ruleLines(e, gate, '  '));
    for (const pr of orderedResults(e)) {
      const how =
        pr.decidedBy === 'attestation'
          ? ` by an equivalent-progress attestation${pr.attestedBy ? ` (${pr.attestedBy})` : ''}; the data rules gave ${pr.dataResult}`
          : '';
      out.push(`  ${describeProblem(e, pr.problem)}: ${resultWord(pr.result)}${how}${pr.required ? '' : ' (not required for this route: counts for eligibility only)'}`);
      for (const r of progress.filter((x) => x.problem === pr.problem).sort((a, b) => (a.ruleIndex < 0 ? 1 : 0) - (b.ruleIndex < 0 ? 1 : 0) || a.ruleIndex - b.ruleIndex)) {
        out.push(...ruleLines(e, r, '    '));
      }
    }
    const ce = e.rules.filter((r) => r.phase === 'continuous_employment');
    out.push('');
    out.push(`Continuous employment as of ${ev.asOf}`);
    if (!e.plan.continuousEmploymentEnabled) out.push('  not a route under this plan');
    for (const r of ce) out.push(...ruleLines(e, r, '  '));
  }

  out.push('');
  out.push(`Tiers of support of the children (to ${ev.asOf})`);
  if (e.tiers.length === 0) out.push('  no child of the family had an early help, CIN, CP or LAC episode');
  const byPerson = new Map<number, TierRow[]>();
  for (const t of e.tiers) byPerson.set(t.personId, [...(byPerson.get(t.personId) ?? []), t]);
  for (const [personId, rows] of byPerson) {
    out.push(`  person ${personId}:`);
    for (const t of rows) {
      out.push(
        `    ${t.fromDate} to ${t.toDate ?? 'now'}: ${TIER_NAMES[t.tier] ?? `tier ${t.tier}`} (${t.change === 'opened' || t.change === 'closed' ? t.change : `${t.change.replace('_', ' ')} from Tier ${t.previousTier}`})` +
          (t.sourceRecords.length > 0 ? ` [${t.sourceRecords.join(', ')}]` : ''),
      );
    }
  }

  if (e.files.length > 0) {
    out.push('');
    out.push('Source files the evaluation read (line numbers above are lines of these files; line 1 is the header)');
    for (const file of e.files) out.push(`  ${file.source}: ${file.fileName} (file #${file.fileId}, sha256 ${file.sha256}, loaded by run #${file.loadedByRun})`);
  }
  return out;
}

function qualifyingAdults(e: FamilyExplanation): string {
  const ce = e.rules.find((r) => r.phase === 'continuous_employment');
  const adults = Array.isArray(ce?.measured.adults) ? (ce.measured.adults as { person_id: number; qualifies: boolean }[]) : [];
  const ids = adults.filter((a) => a.qualifies).map((a) => a.person_id);
  return ids.length === 0 ? 'see below' : `${ids.length === 1 ? 'person' : 'people'} ${ids.join(', ')}`;
}

function orderedProblems(e: FamilyExplanation, rows: readonly RuleRow[]): string[] {
  const inPlan = e.plan.problems.map((p) => p.code);
  const codes = [...new Set(rows.map((r) => r.problem))];
  return codes.sort((a, b) => (inPlan.indexOf(a) + 1 || 999) - (inPlan.indexOf(b) + 1 || 999) || a.localeCompare(b));
}

function orderedResults(e: FamilyExplanation): ProblemResult[] {
  const inPlan = e.plan.problems.map((p) => p.code);
  return [...e.problemResults].sort((a, b) => (inPlan.indexOf(a.problem) + 1 || 999) - (inPlan.indexOf(b.problem) + 1 || 999));
}

// ------------------------------------------------------------------------------------------
// JSON
// ------------------------------------------------------------------------------------------

/** The explanation as one JSON object: the same content as the text, plus the verdict in words. */
export function explanationJson(e: FamilyExplanation): Record<string, unknown> {
  return {
    family: e.family,
    evaluation: e.evaluation,
    plan: e.plan,
    status: e.status,
    reason: e.reason,
    verdict: e.verdict,
    headline: headline(e),
    members: e.members,
    membershipSince: e.membershipSince,
    problemsAtEntry: e.problemsAtEntry,
    problemsFromData: e.problemsFromData,
    problemResults: e.problemResults,
    rules: e.rules.map((r) => ({ key: evidenceKey(r), ...r, inWords: describeRule(r, e.plan.adultFrom) })),
    tiers: e.tiers,
    // Person fields and notes only with --show-records, whatever the explanation holds.
    records: e.showRecords ? e.records : Object.fromEntries(Object.entries(e.records).map(([ref, { personal: _p, notes: _n, ...rest }]) => [ref, rest])),
    files: e.files,
    showRecords: e.showRecords,
  };
}
