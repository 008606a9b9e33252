import { z } from 'zod';
import { parseDate, describeDateProblem, type DateFormat } from './dates.ts';

/**
 * The six extracts of extracts.md: their canonical columns, which are required, and how each
 * cell is validated. This table is the single place the contract lives in code: the row
 * schemas, the raw tables' COPY column lists and the missing-header check are all derived from it.
 */

export const SOURCES = ['attendance', 'offending', 'employment', 'social_care', 'attachments', 'evidence'] as const;
export type SourceName = (typeof SOURCES)[number];

/** Headline problem codes of the shipped plans (phase 2, phase 1, Supporting Families 2022). */
export const KNOWN_PROBLEM_CODES = [
  'crime_asb', 'education', 'children_need_help', 'worklessness', 'domestic_abuse', 'health',
  'early_years', 'substance_use', 'family_relationships', 'children_safe', 'crime', 'housing', 'financial_stability',
] as const;

type CellKind =
  | { type: 'text' }
  | { type: 'date' }
  | { type: 'count' }
  | { type: 'yn' }
  | { type: 'sex' }
  | { type: 'uprn' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'code'; case: 'upper' }
  | { type: 'problem' }
  | { type: 'problems' };

/** One canonical column. `fallback` is what a blank cell means when it is not "missing". */
export interface ColumnSpec {
  name: string;
  kind: CellKind;
  required: boolean;
  fallback?: number | boolean;
  description: string;
}

const text = { type: 'text' } as const;
const date = { type: 'date' } as const;

function col(name: string, kind: CellKind, required: boolean, description: string, fallback?: number | boolean): ColumnSpec {
  return fallback === undefined ? { name, kind, required, description } : { name, kind, required, description, fallback };
}

const PERSON_COLUMNS: ColumnSpec[] = [
  col('record_id', text, true, "the source row's own id, unique within the file"),
  col('person_ref', text, false, "the source system's person id (UPN, police id, NI number, social care id)"),
  col('forename', text, true, 'given name'),
  col('middle_names', text, false, 'middle names'),
  col('surname', text, true, 'family name'),
  col('dob', date, true, 'date of birth'),
  col('sex', { type: 'sex' }, false, 'M, F, U or blank (other codes kept as given)'),
  col('address', text, false, 'free-text address lines'),
  col('postcode', text, false, 'UK postcode in any case or spacing'),
  col('uprn', { type: 'uprn' }, false, 'Unique Property Reference Number, 1 to 12 digits'),
];

/** Canonical columns of every source, in file and table order. */
export const SOURCE_COLUMNS: Record<SourceName, ColumnSpec[]> = {
  attendance: [
    ...PERSON_COLUMNS,
    col('term_start', date, true, 'first day of the term'),
    col('term_end', date, true, 'last day of the term (after term_start)'),
    col('school_urn', text, false, "school's unique reference number"),
    col('sessions_possible', { type: 'count' }, true, 'sessions possible, integer >= 0'),
    col('sessions_authorised', { type: 'count' }, true, 'authorised absence sessions, integer >= 0'),
    col('sessions_unauthorised', { type: 'count' }, true, 'unauthorised absence sessions, integer >= 0'),
    col('fixed_exclusions', { type: 'count' }, false, 'fixed-period exclusions in the term; blank = 0', 0),
    col('permanent_exclusion', { type: 'yn' }, false, 'Y/N; blank = N', false),
    col('alternative_provision', { type: 'yn' }, false, 'Y/N: attends a pupil referral unit or alternative provision'),
  ],
  offending: [
    ...PERSON_COLUMNS,
    col('event_date', date, true, 'date of the offence, incident or intervention'),
    col('event_type', { type: 'enum', values: ['proven_offence', 'asb_incident', 'asb_intervention', 'domestic_abuse'] }, true, 'kind of event'),
    col('role', { type: 'enum', values: ['victim', 'perpetrator', 'other'] }, false, 'for domestic_abuse: victim, perpetrator or other'),
    col('detail', text, false, 'free text; never needed by rules'),
  ],
  employment: [
    ...PERSON_COLUMNS,
    col('spell_type', { type: 'enum', values: ['benefit', 'employment', 'neet'] }, true, 'benefit, employment or neet'),
    col('benefit_type', { type: 'code', case: 'upper' }, false, 'JSA, ESA, IS, IB, SDA, CA, UC or another code; required for benefit spells'),
    col('uc_conditionality', { type: 'enum', values: ['searching', 'planning', 'preparing', 'no_requirements', 'working'] }, false, 'UC conditionality group; blank = unknown'),
    col('start_date', date, true, 'first day of the spell'),
    col('end_date', date, false, 'last day; blank = still open'),
  ],
  social_care: [
    ...PERSON_COLUMNS,
    col('episode_type', { type: 'enum', values: ['contact', 'referral', 'early_help', 'cin', 'cp_plan', 'lac'] }, true, 'kind of episode'),
    col('start_date', date, true, 'first day of the episode'),
    col('end_date', date, false, 'last day; blank = open'),
    col('case_ref', text, false, "social care family or case group id"),
    col('role', { type: 'enum', values: ['child', 'parent', 'carer', 'other'] }, false, 'role in the case; blank = child when under 18 at start'),
  ],
  attachments: [
    ...PERSON_COLUMNS,
    col('case_ref', text, true, "the early help system's family reference"),
    col('attached_on', date, true, 'date the family was attached to the programme'),
    col('member_role', { type: 'enum', values: ['child', 'adult'] }, false, 'child, adult or blank (derived from age)'),
    col('problems', { type: 'problems' }, false, "keyworker's headline problems, ';'-separated codes"),
    col('lead_professional', text, false, 'lead professional or team'),
  ],
  evidence: [
    col('record_id', text, true, "the source row's own id, unique within the file"),
    col('case_ref', text, true, 'the family, as in attachments.csv'),
    col('problem', { type: 'problem' }, true, 'headline problem code'),
    col('outcome', { type: 'enum', values: ['achieved', 'not_achieved'] }, true, 'achieved or not_achieved'),
    col('evidence_date', date, true, 'date the outcome was observed'),
    col('attested_by', text, true, 'who vouches for it (name and role)'),
    col('note', text, false, 'description of the evidence held'),
  ],
};

/** The row as it goes into the raw table: one value per canonical column, `null` for missing. */
export type CellValue = string | number | boolean | string[] | null;
export type ValidRow = Record<string, CellValue>;

/** Why a row was rejected, for one column (or the row as a whole when `column` is null). */
export interface RowProblem {
  column: string | null;
  /** The offending cell as given (may be personal data: goes only to rejects). */
  value: string | null;
  /** Full reason for a data officer, e.g. `dob 2011-02-30 is not a real date`. */
  reason: string;
  /** The same without the value, safe for logs and progress: e.g. `not a real date`. */
  kind: string;
}

/** Settings that change how cells are read: the mapping's date layout, and today's date (a birth after it is impossible). */
export interface CellContext {
  dateFormat: DateFormat;
  today: string;
}

/** A cell that failed: what kind of problem (safe to print) and the full reason (may quote the value). */
export class CellFailure {
  readonly kind: string;
  readonly reason: string;
  constructor(kind: string, reason: string) {
    this.kind = kind;
    this.reason = reason;
  }
}

/** A valid cell's value, or why it is not valid. (A class, not a wrapper object, so valid cells allocate nothing.) */
export type CellResult = CellValue | CellFailure;

function fail(kind: string, reason: string): CellFailure {
  return new CellFailure(kind, reason);
}

/**
 * Read one cell: `value` is the trimmed text, or undefined when blank. The one implementation of
 * cell validation, used both by the zod schema and by the compiled row validator.
 */
export function parseCell(spec: ColumnSpec, value: string | undefined, ctx: CellContext): CellResult {
  const { name, kind } = spec;
  if (value === undefined) {
    if (spec.required) return fail('required but blank', `${name} is required but blank`);
    // Blank problems = none identified: raw.attachments.problems is NOT NULL, so NULL failed the whole COPY.
    if (kind.type === 'problems') return [];
    return spec.fallback ?? null;
  }
  switch (kind.type) {
    case 'text':
      return value;
    case 'date': {
      const result = parseDate(value, ctx.dateFormat);
      if (!result.ok) {
        const kindText = result.problem === 'not_real' ? 'not a real date' : result.problem === 'range' ? 'date out of range' : 'not a date';
        return fail(kindText, describeDateProblem(name, value, result.problem, ctx.dateFormat));
      }
      if (name === 'dob' && result.iso > ctx.today) return fail('date of birth in the future', `${name} ${value} is in the future`);
      return result.iso;
    }
    case 'count':
      if (!/^\d{1,9}$/.test(value)) return fail('not a whole number >= 0', `${name} ${value} is not a whole number of 0 or more`);
      return Number(value);
    case 'yn': {
      const upper = value.toUpperCase();
      if (upper === 'Y' || upper === 'YES') return true;
      if (upper === 'N' || upper === 'NO') return false;
      return fail('not Y or N', `${name} ${value} is not Y or N`);
    }
    case 'sex': {
      const upper = value.toUpperCase();
      return upper === 'M' || upper === 'F' || upper === 'U' ? upper : value;
    }
    case 'uprn':
      if (!/^\d{1,12}$/.test(value)) return fail('not a UPRN', `${name} ${value} is not a UPRN (1 to 12 digits)`);
      return value;
    case 'code':
      return value.toUpperCase();
    case 'enum': {
      const lower = value.toLowerCase();
      if (kind.values.includes(lower)) return lower;
      return fail('not an allowed value', `${name} ${value} is not one of ${kind.values.join(', ')}`);
    }
    case 'problem': {
      const lower = value.toLowerCase();
      if ((KNOWN_PROBLEM_CODES as readonly string[]).includes(lower)) return lower;
      return fail('unknown problem code', `${name} ${value} is not a known problem code (${KNOWN_PROBLEM_CODES.join(', ')})`);
    }
    case 'problems': {
      const codes = [...new Set(value.split(';').map((c) => c.trim().toLowerCase()).filter((c) => c !== ''))].sort();
      const unknown = codes.filter((c) => !(KNOWN_PROBLEM_CODES as readonly string[]).includes(c));
      if (unknown.length > 0) {
        const verb = unknown.length === 1 ? 'is not a known problem code' : 'are not known problem codes';
        return fail('unknown problem code', `${name} ${value}: ${unknown.join(', ')} ${verb} (${KNOWN_PROBLEM_CODES.join(', ')})`);
      }
      return codes;
    }
  }
}

/** A failed cross-column check: which column to blame, and why. */
interface CrossProblem {
  column: string;
  kind: string;
  reason: string;
}

/** Checks across columns of a row whose cells are each valid (extracts.md: end after start, absences within sessions). */
export function crossCheck(source: SourceName, row: (column: string) => CellValue): CrossProblem[] {
  const problems: CrossProblem[] = [];
  switch (source) {
    case 'attendance': {
      const start = row('term_start') as string;
      const end = row('term_end') as string;
      if (end <= start) problems.push({ column: 'term_end', kind: 'term ends before it starts', reason: `term_end ${end} is not after term_start ${start}` });
      const possible = row('sessions_possible') as number;
      const absent = (row('sessions_authorised') as number) + (row('sessions_unauthorised') as number);
      if (absent > possible) {
        problems.push({
          column: 'sessions_possible',
          kind: 'absences exceed sessions possible',
          reason: `sessions_authorised + sessions_unauthorised (${absent}) exceed sessions_possible (${possible})`,
        });
      }
      break;
    }
    case 'employment':
    case 'social_care': {
      const start = row('start_date') as string;
      const end = row('end_date');
      if (typeof end === 'string' && end < start) problems.push({ column: 'end_date', kind: 'ends before it starts', reason: `end_date ${end} is before start_date ${start}` });
      if (source === 'employment' && row('spell_type') === 'benefit' && row('benefit_type') === null) {
        problems.push({ column: 'benefit_type', kind: 'required for benefit spells', reason: 'benefit_type is required when spell_type is benefit' });
      }
      break;
    }
    default:
      break;
  }
  return problems;
}

/**
 * The zod schema of one row of a source: canonical column -> trimmed text (absent when blank)
 * in, typed row out, or issues carrying `params.kind` and the column as path. It is the
 * reviewable statement of the contract; ingest runs the same cell and cross-column checks
 * through `compileRowValidator`, which a test holds to exactly this schema's verdicts.
 */
export function rowSchema(source: SourceName, ctx: CellContext) {
  const shape: Record<string, z.ZodType<CellValue, string | undefined>> = {};
  for (const spec of SOURCE_COLUMNS[source]) {
    shape[spec.name] = z
      .string()
      .optional()
      .transform((value, zctx): CellValue => {
        const result = parseCell(spec, value, ctx);
        if (!(result instanceof CellFailure)) return result;
        zctx.issues.push({ code: 'custom', message: result.reason, input: value, params: { kind: result.kind } });
        return z.NEVER;
      })
      .describe(spec.description);
  }
  return z
    .object(shape)
    .superRefine((row, zctx) => {
      const values = row as ValidRow;
      for (const p of crossCheck(source, (column) => values[column] ?? null)) {
        zctx.issues.push({ code: 'custom', message: p.reason, input: values[p.column], path: [p.column], params: { kind: p.kind } });
      }
    })
    .describe(`one row of ${source}.csv`);
}

/** Validates rows given as cell arrays in header order; returns the typed values in canonical order, or the problems. */
export type RowValidator = (cells: readonly string[]) => { ok: true; values: CellValue[] } | { ok: false; problems: RowProblem[] };

/**
 * Compile the row check for one file: `positions[i]` is the index in the file's header of
 * canonical column i (or -1 when the file lacks that optional column). `recode` maps a
 * canonical column's given values to canonical ones (from the column mapping).
 */
export function compileRowValidator(
  source: SourceName,
  positions: readonly number[],
  ctx: CellContext,
  recode: Record<string, Map<string, string>> = {},
): RowValidator {
  const specs = SOURCE_COLUMNS[source];
  const count = specs.length;
  const recoders = specs.map((s) => recode[s.name]);
  const indexOf = new Map(specs.map((s, i) => [s.name, i]));
  const hasCrossChecks = CROSS_CHECKED_SOURCES.has(source);
  return (cells) => {
    const values: CellValue[] = new Array(count);
    let problems: RowProblem[] | undefined;
    for (let i = 0; i < count; i++) {
      const at = positions[i]!;
      let text = at < 0 ? undefined : cells[at];
      if (text !== undefined) {
        if (text.length > 0 && (text.charCodeAt(0) <= 32 || text.charCodeAt(text.length - 1) <= 32)) text = text.trim();
        if (text === '') text = undefined;
        else {
          const recoder = recoders[i];
          if (recoder !== undefined) text = recoder.get(text.toLowerCase()) ?? text;
        }
      }
      const result = parseCell(specs[i]!, text, ctx);
      if (result instanceof CellFailure) {
        (problems ??= []).push({ column: specs[i]!.name, value: text ?? null, reason: result.reason, kind: result.kind });
      } else values[i] = result;
    }
    if (problems) return { ok: false, problems };
    if (hasCrossChecks) {
      const get = (column: string): CellValue => values[indexOf.get(column)!] ?? null;
      const cross = crossCheck(source, get);
      if (cross.length > 0) {
        return {
          ok: false,
          problems: cross.map((p) => {
            const v = get(p.column);
            return { column: p.column, value: v === null ? null : String(v), reason: p.reason, kind: p.kind };
          }),
        };
      }
    }
    return { ok: true, values };
  };
}

/** Sources with checks across columns (the others skip that step). */
const CROSS_CHECKED_SOURCES = new Set<SourceName>(['attendance', 'employment', 'social_care']);

/** Canonical column names of a source, in table order. */
export function columnNames(source: SourceName): string[] {
  return SOURCE_COLUMNS[source].map((c) => c.name);
}

/** Required canonical columns of a source. */
export function requiredColumns(source: SourceName): string[] {
  return SOURCE_COLUMNS[source].filter((c) => c.required).map((c) => c.name);
}

/** Whether a name is one of the six sources. */
export function isSource(name: string): name is SourceName {
  return (SOURCES as readonly string[]).includes(name);
}
