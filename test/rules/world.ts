import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Database } from '../../src/db/index.ts';
import { addMonths, dayOf, isoOf } from '../../src/rules/dates.ts';

/**
 * Hand-built families for the rules tests: people with a date of birth (core.person,
 * core.person_detail), families with members (core.family, core.family_member), and the
 * source rows that the rules read (raw.* rows of current files, each mapped to its person in
 * core.person_record), as the families stage would leave them.
 */

export const iso = (day: number) => isoOf(day);
export const plusMonths = (date: string, months: number) => isoOf(addMonths(dayOf(date), months));
export const plusDays = (date: string, days: number) => isoOf(dayOf(date) + days);

const SOURCES = ['attendance', 'offending', 'employment', 'social_care', 'attachments', 'evidence'] as const;
type Source = (typeof SOURCES)[number];

export class World {
  readonly db: Database;
  readonly runId: number;
  #files = new Map<Source, number>();
  #seq = 0;
  #line = 1;

  constructor(db: Database, runId: number) {
    this.db = db;
    this.runId = runId;
  }

  get k() {
    return this.db.kysely;
  }

  /** One current input file per source (ids from the sequence, so nothing clashes). */
  async setup(): Promise<this> {
    for (const source of SOURCES) {
      const r = await sql<{ file_id: number }>`
        INSERT INTO audit.input_file (run_id, source, file_name, sha256, size_bytes, rows_read, rows_loaded, rows_rejected, started_at)
        VALUES (${this.runId}, ${source}, ${`${source}.csv`}, ${createHash('sha256').update(`rules-test-${source}-${this.runId}`).digest('hex')}, 1, 0, 0, 0, now())
        RETURNING file_id::int AS file_id`.execute(this.k);
      this.#files.set(source, r.rows[0]!.file_id);
    }
    return this;
  }

  #id(prefix: string): string {
    return `${prefix}${String(++this.#seq).padStart(6, '0')}`;
  }

  async person(dob: string): Promise<number> {
    const r = await sql<{ id: number }>`INSERT INTO core.person (created_run) VALUES (${this.runId}) RETURNING person_id::int AS id`.execute(this.k);
    const id = r.rows[0]!.id;
    await sql`INSERT INTO core.person_detail (person_id, dob, sex, run_id) VALUES (${id}, ${dob}::date, 'U', ${this.runId})`.execute(this.k);
    return id;
  }

  /** A family of the given people; with `caseRef` and `attachedOn` it is in the programme register. */
  async family(members: number[], reg?: { caseRef: string; attachedOn: string; problems?: string[] }): Promise<number> {
    const r = await sql<{ id: number }>`
      INSERT INTO core.family (case_ref, created_run) VALUES (${reg?.caseRef ?? null}, ${this.runId}) RETURNING family_id::int AS id`.execute(this.k);
    const familyId = r.rows[0]!.id;
    for (const p of members) {
      await sql`INSERT INTO core.family_member (family_id, person_id, basis, joined_on, joined_run)
                VALUES (${familyId}, ${p}, ${reg ? 'register' : 'residence'}, ${reg?.attachedOn ?? null}::date, ${this.runId})`.execute(this.k);
      if (reg) {
        const recordId = this.#id('ATT');
        await sql`INSERT INTO raw.attachments (file_id, line, record_id, forename, surname, dob, case_ref, attached_on, problems)
                  SELECT ${this.#files.get('attachments')!}, ${++this.#line}, ${recordId}, 'A', 'B', d.dob, ${reg.caseRef}, ${reg.attachedOn}::date,
                         ${`{${(reg.problems ?? []).join(',')}}`}::text[]
                  FROM core.person_detail d WHERE d.person_id = ${p}`.execute(this.k);
        await this.#link('attachments', recordId, p);
      }
    }
    return familyId;
  }

  async #link(source: Source, recordId: string, personId: number) {
    await sql`INSERT INTO core.person_record (source, record_id, person_id, run_id) VALUES (${source}, ${recordId}, ${personId}, ${this.runId})`.execute(this.k);
  }

  async event(personId: number, date: string, type: 'proven_offence' | 'asb_incident' | 'asb_intervention' | 'domestic_abuse'): Promise<string> {
    const recordId = this.#id('OFF');
    await sql`INSERT INTO raw.offending (file_id, line, record_id, forename, surname, dob, event_date, event_type)
              VALUES (${this.#files.get('offending')!}, ${++this.#line}, ${recordId}, 'A', 'B', '2000-01-01', ${date}::date, ${type})`.execute(this.k);
    await this.#link('offending', recordId, personId);
    return `offending:${recordId}`;
  }

  async events(personId: number, dates: string[], type: 'proven_offence' | 'asb_incident' | 'asb_intervention' | 'domestic_abuse'): Promise<void> {
    for (const d of dates) await this.event(personId, d, type);
  }

  async term(
    personId: number,
    start: string,
    end: string,
    possible: number,
    absent: number,
    extra: { fixed?: number; permanent?: boolean; ap?: boolean; recordId?: string } = {},
  ): Promise<string> {
    const recordId = extra.recordId ?? this.#id('ATN');
    const authorised = Math.floor(absent / 2);
    await sql`INSERT INTO raw.attendance (file_id, line, record_id, forename, surname, dob, term_start, term_end, sessions_possible, sessions_authorised,
                                          sessions_unauthorised, fixed_exclusions, permanent_exclusion, alternative_provision)
              VALUES (${this.#files.get('attendance')!}, ${++this.#line}, ${recordId}, 'A', 'B', '2000-01-01', ${start}::date, ${end}::date, ${possible},
                      ${authorised}, ${absent - authorised}, ${extra.fixed ?? 0}, ${extra.permanent ?? false}, ${extra.ap ?? false})`.execute(this.k);
    await this.#link('attendance', recordId, personId);
    return `attendance:${recordId}`;
  }

  async spell(
    personId: number,
    type: 'benefit' | 'employment' | 'neet',
    start: string,
    end: string | null,
    benefit: string | null = null,
    conditionality: string | null = null,
  ): Promise<string> {
    const recordId = this.#id('EMP');
    await sql`INSERT INTO raw.employment (file_id, line, record_id, forename, surname, dob, spell_type, benefit_type, uc_conditionality, start_date, end_date)
              VALUES (${this.#files.get('employment')!}, ${++this.#line}, ${recordId}, 'A', 'B', '2000-01-01', ${type}, ${benefit}, ${conditionality},
                      ${start}::date, ${end}::date)`.execute(this.k);
    await this.#link('employment', recordId, personId);
    return `employment:${recordId}`;
  }

  async episode(personId: number, type: string, start: string, end: string | null, role: string | null = 'child'): Promise<string> {
    const recordId = this.#id('SCE');
    await sql`INSERT INTO raw.social_care (file_id, line, record_id, forename, surname, dob, episode_type, start_date, end_date, role)
              SELECT ${this.#files.get('social_care')!}, ${++this.#line}, ${recordId}, 'A', 'B', d.dob, ${type}, ${start}::date, ${end}::date, ${role}
              FROM core.person_detail d WHERE d.person_id = ${personId}`.execute(this.k);
    await this.#link('social_care', recordId, personId);
    return `social_care:${recordId}`;
  }

  async evidence(caseRef: string, problem: string, outcome: 'achieved' | 'not_achieved', date: string, by = 'A. Keyworker, Keyworker'): Promise<string> {
    const recordId = this.#id('EVD');
    await sql`INSERT INTO raw.evidence (file_id, line, record_id, case_ref, problem, outcome, evidence_date, attested_by)
              VALUES (${this.#files.get('evidence')!}, ${++this.#line}, ${recordId}, ${caseRef}, ${problem}, ${outcome}, ${date}::date, ${by})`.execute(this.k);
    return `evidence:${recordId}`;
  }
}
