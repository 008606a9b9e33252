import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { person, tempDir, writeExtract } from '../support/files.ts';
import { columnNames } from '../../src/ingest/sources.ts';
import { IngestFailedError } from '../../src/ingest/index.ts';
import { ingest, ingestLoaded, inputFile, rawRows, rejectsOf, term, writeRaw } from './helpers.ts';

/**
 * Row validation (extracts.md): every bad row becomes a reject with its file, line, column,
 * value and a plain reason, while the good rows of the same file still load; and header
 * matching (case, spaces, BOM, extra columns, order).
 */
describe.each(availableBackends())('row validation on %s', (backend) => {
  let t: TestDatabase;
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    t = await testDatabase(backend);
    tmp = await tempDir();
  });
  afterAll(async () => {
    await t?.drop();
    await tmp?.remove();
  });

  /** Checks the audit.input_file counts and that they add up. */
  async function expectCounts(fileId: number, read: number, loaded: number, rejected: number) {
    const f = await inputFile(t.db, fileId);
    expect({ read: f.rows_read, loaded: f.rows_loaded, rejected: f.rows_rejected }).toEqual({ read, loaded, rejected });
    expect(f.rows_loaded + f.rows_rejected).toBe(f.rows_read);
  }

  it('accepts both date formats and rejects impossible, out-of-range, future and other-format dates with reasons', async () => {
    const file = await writeExtract(
      tmp.dir,
      'offending',
      [
        { ...person(1), dob: '2012-03-04', event_date: '2025-01-02', event_type: 'proven_offence' }, // 2
        { ...person(2), dob: '3/4/2012', event_date: '15/06/2025', event_type: 'proven_offence' }, // 3: UK order
        { ...person(3), dob: '2011-02-30', event_date: '2025-01-02', event_type: 'proven_offence' }, // 4
        { ...person(4), dob: '31/04/2012', event_date: '2025-01-02', event_type: 'proven_offence' }, // 5
        { ...person(5), event_date: '2025/01/02', event_type: 'proven_offence' }, // 6
        { ...person(6), event_date: '02-01-2025', event_type: 'proven_offence' }, // 7
        { ...person(7), dob: '29/02/2012', event_date: '2025-01-02', event_type: 'proven_offence' }, // 8: leap day
        { ...person(8), dob: '29/02/2011', event_date: '2025-01-02', event_type: 'proven_offence' }, // 9
        { ...person(9), dob: '2030-01-01', event_date: '2025-01-02', event_type: 'proven_offence' }, // 10: after "today"
        { ...person(10), event_date: '1850-01-01', event_type: 'proven_offence' }, // 11
        { ...person(11), event_date: '2 January 2025', event_type: 'proven_offence' }, // 12
        { ...person(12), dob: '12/13/2012', event_date: '2025-01-02', event_type: 'proven_offence' }, // 13: US order
      ],
      { name: 'dates.csv' },
    );
    const { fileId, summary } = await ingestLoaded(t.db, 'offending', file);
    expect(summary.files[0]!.rejectsByKind).toMatchObject({ 'dob: not a real date': 4 });
    expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id', 'dob', 'event_date'])).toEqual([
      { line: 2, record_id: 'R1', dob: '2012-03-04', event_date: '2025-01-02' },
      { line: 3, record_id: 'R2', dob: '2012-04-03', event_date: '2025-06-15' },
      { line: 8, record_id: 'R7', dob: '2012-02-29', event_date: '2025-01-02' },
    ]);
    expect(await rejectsOf(t.db, fileId)).toEqual([
      { line: 4, column_name: 'dob', value: '2011-02-30', reason: 'dob 2011-02-30 is not a real date' },
      { line: 5, column_name: 'dob', value: '31/04/2012', reason: 'dob 31/04/2012 is not a real date' },
      { line: 6, column_name: 'event_date', value: '2025/01/02', reason: 'event_date 2025/01/02 is not a date in YYYY-MM-DD or DD/MM/YYYY form' },
      { line: 7, column_name: 'event_date', value: '02-01-2025', reason: 'event_date 02-01-2025 is not a date in YYYY-MM-DD or DD/MM/YYYY form' },
      { line: 9, column_name: 'dob', value: '29/02/2011', reason: 'dob 29/02/2011 is not a real date' },
      { line: 10, column_name: 'dob', value: '2030-01-01', reason: 'dob 2030-01-01 is in the future' },
      { line: 11, column_name: 'event_date', value: '1850-01-01', reason: 'event_date 1850-01-01 is outside the years 1900-2099' },
      { line: 12, column_name: 'event_date', value: '2 January 2025', reason: 'event_date 2 January 2025 is not a date in YYYY-MM-DD or DD/MM/YYYY form' },
      { line: 13, column_name: 'dob', value: '12/13/2012', reason: 'dob 12/13/2012 is not a real date' },
    ]);
    await expectCounts(fileId, 12, 3, 9);
  });

  it('checks counts, Y/N flags, blanks, required columns and the attendance cross-field rules', async () => {
    const rows: Record<string, string>[] = [
      { ...person(1), ...term() }, // 2
      // 3: blank optional cells: NULL, except fixed_exclusions (0) and permanent_exclusion (N)
      { ...person(2), sex: '', address: '', postcode: ' ', uprn: '', ...term({ school_urn: '', fixed_exclusions: '', permanent_exclusion: '', alternative_provision: '  ' }) },
      { ...person(3), ...term({ sessions_possible: '12.5' }) }, // 4
      { ...person(4), ...term({ sessions_authorised: '-3' }) }, // 5
      { ...person(5), ...term({ sessions_unauthorised: 'ten' }) }, // 6
      { ...person(6), ...term({ sessions_authorised: '100', sessions_unauthorised: '41' }) }, // 7: 141 > 140
      { ...person(7), ...term({ sessions_authorised: '100', sessions_unauthorised: '40' }) }, // 8: 140 = 140, fine
      { ...person(8), ...term({ term_end: '2024-09-02' }) }, // 9: ends the day it starts
      { ...person(9), ...term({ term_end: '01/09/2024' }) }, // 10: ends before it starts
      { ...person(10), ...term({ permanent_exclusion: 'maybe' }) }, // 11
      { ...person(11), ...term({ permanent_exclusion: 'yes', alternative_provision: 'n' }) }, // 12
      { ...person(12), forename: '', ...term() }, // 13
      { ...person(13), surname: '   ', ...term() }, // 14: whitespace only is blank
      { ...person(14), ...term({ sessions_possible: '' }) }, // 15
      { ...person(15), ...term({ fixed_exclusions: '-1' }) }, // 16
      { ...person(16), uprn: '1234567890123', ...term() }, // 17: 13 digits
      { ...person(17), sex: 'm', ...term({ sessions_possible: '0', sessions_authorised: '0', sessions_unauthorised: '0' }) }, // 18
      { ...person(18), sex: 'X', ...term() }, // 19: other codes kept as given
    ];
    const file = await writeExtract(tmp.dir, 'attendance', rows, { name: 'terms.csv' });
    const { fileId } = await ingestLoaded(t.db, 'attendance', file);
    const loaded = await rawRows(t.db, 'attendance', fileId, [
      'line', 'record_id', 'sex', 'address', 'postcode', 'uprn', 'term_start', 'term_end', 'school_urn',
      'sessions_possible', 'sessions_authorised', 'sessions_unauthorised', 'fixed_exclusions', 'permanent_exclusion', 'alternative_provision',
    ]);
    expect(loaded).toEqual([
      {
        line: 2, record_id: 'R1', sex: 'F', address: '1 Example Road', postcode: 'SE15 5AB', uprn: '100001', term_start: '2024-09-02', term_end: '2024-12-20',
        school_urn: '100001', sessions_possible: 140, sessions_authorised: 10, sessions_unauthorised: 5, fixed_exclusions: 1, permanent_exclusion: false, alternative_provision: true,
      },
      {
        line: 3, record_id: 'R2', sex: null, address: null, postcode: null, uprn: null, term_start: '2024-09-02', term_end: '2024-12-20',
        school_urn: null, sessions_possible: 140, sessions_authorised: 10, sessions_unauthorised: 5, fixed_exclusions: 0, permanent_exclusion: false, alternative_provision: null,
      },
      expect.objectContaining({ line: 8, record_id: 'R7', sessions_possible: 140, sessions_authorised: 100, sessions_unauthorised: 40 }),
      expect.objectContaining({ line: 12, record_id: 'R11', permanent_exclusion: true, alternative_provision: false }),
      expect.objectContaining({ line: 18, record_id: 'R17', sex: 'M', sessions_possible: 0 }),
      expect.objectContaining({ line: 19, record_id: 'R18', sex: 'X' }),
    ]);
    expect(await rejectsOf(t.db, fileId)).toEqual([
      { line: 4, column_name: 'sessions_possible', value: '12.5', reason: 'sessions_possible 12.5 is not a whole number of 0 or more' },
      { line: 5, column_name: 'sessions_authorised', value: '-3', reason: 'sessions_authorised -3 is not a whole number of 0 or more' },
      { line: 6, column_name: 'sessions_unauthorised', value: 'ten', reason: 'sessions_unauthorised ten is not a whole number of 0 or more' },
      {
        line: 7,
        column_name: 'sessions_possible',
        value: '140',
        reason: 'sessions_authorised + sessions_unauthorised (141) exceed sessions_possible (140)',
      },
      { line: 9, column_name: 'term_end', value: '2024-09-02', reason: 'term_end 2024-09-02 is not after term_start 2024-09-02' },
      { line: 10, column_name: 'term_end', value: '2024-09-01', reason: 'term_end 2024-09-01 is not after term_start 2024-09-02' },
      { line: 11, column_name: 'permanent_exclusion', value: 'maybe', reason: 'permanent_exclusion maybe is not Y or N' },
      { line: 13, column_name: 'forename', value: null, reason: 'forename is required but blank' },
      { line: 14, column_name: 'surname', value: null, reason: 'surname is required but blank' },
      { line: 15, column_name: 'sessions_possible', value: null, reason: 'sessions_possible is required but blank' },
      { line: 16, column_name: 'fixed_exclusions', value: '-1', reason: 'fixed_exclusions -1 is not a whole number of 0 or more' },
      { line: 17, column_name: 'uprn', value: '1234567890123', reason: 'uprn 1234567890123 is not a UPRN (1 to 12 digits)' },
    ]);
    await expectCounts(fileId, 18, 6, 12);
  });

  it('accepts enum values in any case, rejects unknown ones, and records every problem of a row', async () => {
    const file = await writeExtract(
      tmp.dir,
      'offending',
      [
        { ...person(21), event_date: '2025-01-02', event_type: 'ASB_Incident' }, // 2
        { ...person(22), event_date: '2025-01-02', event_type: ' Domestic_ABUSE ', role: 'VICTIM' }, // 3
        { ...person(23), event_date: '2025-01-02', event_type: 'burglary' }, // 4
        { ...person(24), event_date: '2025-01-02', event_type: 'domestic_abuse', role: 'witness' }, // 5
        { ...person(25), event_date: '2025-01-02', event_type: '' }, // 6
        { ...person(26), dob: '2011-02-30', event_date: '2025-01-02', event_type: 'theft' }, // 7: two problems, one row
        { ...person(27), event_date: '2025-01-02', event_type: 'asb_intervention', detail: 'Closure order' }, // 8
      ],
      { name: 'enums.csv' },
    );
    const { fileId } = await ingestLoaded(t.db, 'offending', file);
    expect(await rawRows(t.db, 'offending', fileId, ['line', 'event_type', 'role', 'detail'])).toEqual([
      { line: 2, event_type: 'asb_incident', role: null, detail: null },
      { line: 3, event_type: 'domestic_abuse', role: 'victim', detail: null },
      { line: 8, event_type: 'asb_intervention', role: null, detail: 'Closure order' },
    ]);
    expect(await rejectsOf(t.db, fileId)).toEqual([
      { line: 4, column_name: 'event_type', value: 'burglary', reason: 'event_type burglary is not one of proven_offence, asb_incident, asb_intervention, domestic_abuse' },
      { line: 5, column_name: 'role', value: 'witness', reason: 'role witness is not one of victim, perpetrator, other' },
      { line: 6, column_name: 'event_type', value: null, reason: 'event_type is required but blank' },
      { line: 7, column_name: 'dob', value: '2011-02-30', reason: 'dob 2011-02-30 is not a real date' },
      { line: 7, column_name: 'event_type', value: 'theft', reason: 'event_type theft is not one of proven_offence, asb_incident, asb_intervention, domestic_abuse' },
    ]);
    // rows, not problems, are counted
    await expectCounts(fileId, 7, 3, 4);
  });

  it('checks employment spells: end not before start, benefit spells need a benefit type', async () => {
    const spell = (n: number, o: Record<string, string>) => ({ ...person(n), start_date: '2024-02-01', ...o });
    const file = await writeExtract(
      tmp.dir,
      'employment',
      [
        spell(31, { spell_type: 'Benefit', benefit_type: 'jsa' }), // 2
        spell(32, { spell_type: 'benefit', benefit_type: 'UC', uc_conditionality: 'Working', end_date: '2024-02-01' }), // 3: ends the day it starts
        spell(33, { spell_type: 'benefit', benefit_type: '' }), // 4
        spell(34, { spell_type: 'employment', end_date: '2024-01-31' }), // 5
        spell(35, { spell_type: 'EMPLOYMENT' }), // 6: no benefit type needed
        spell(36, { spell_type: 'benefit', benefit_type: 'PIP', uc_conditionality: 'asleep' }), // 7
        spell(37, { spell_type: 'volunteering' }), // 8
      ],
      { name: 'spells.csv' },
    );
    const { fileId } = await ingestLoaded(t.db, 'employment', file);
    expect(await rawRows(t.db, 'employment', fileId, ['line', 'spell_type', 'benefit_type', 'uc_conditionality', 'start_date', 'end_date'])).toEqual([
      { line: 2, spell_type: 'benefit', benefit_type: 'JSA', uc_conditionality: null, start_date: '2024-02-01', end_date: null },
      { line: 3, spell_type: 'benefit', benefit_type: 'UC', uc_conditionality: 'working', start_date: '2024-02-01', end_date: '2024-02-01' },
      { line: 6, spell_type: 'employment', benefit_type: null, uc_conditionality: null, start_date: '2024-02-01', end_date: null },
    ]);
    expect(await rejectsOf(t.db, fileId)).toEqual([
      { line: 4, column_name: 'benefit_type', value: null, reason: 'benefit_type is required when spell_type is benefit' },
      { line: 5, column_name: 'end_date', value: '2024-01-31', reason: 'end_date 2024-01-31 is before start_date 2024-02-01' },
      {
        line: 7,
        column_name: 'uc_conditionality',
        value: 'asleep',
        reason: 'uc_conditionality asleep is not one of searching, planning, preparing, no_requirements, working',
      },
      { line: 8, column_name: 'spell_type', value: 'volunteering', reason: 'spell_type volunteering is not one of benefit, employment, neet' },
    ]);
    await expectCounts(fileId, 7, 3, 4);
  });

  it('checks social care episodes: end not before start, episode and role codes', async () => {
    const episode = (n: number, o: Record<string, string>) => ({ ...person(n), start_date: '10/01/2024', case_ref: 'SC1', ...o });
    const file = await writeExtract(
      tmp.dir,
      'social_care',
      [
        episode(41, { episode_type: 'CP_Plan', role: 'Parent', end_date: '2024-06-30' }), // 2
        episode(42, { episode_type: 'cin', end_date: '09/01/2024' }), // 3
        episode(43, { episode_type: 'adoption' }), // 4
        episode(44, { episode_type: 'lac', role: 'uncle' }), // 5
        episode(45, { episode_type: 'early_help', case_ref: '' }), // 6
      ],
      { name: 'episodes.csv' },
    );
    const { fileId } = await ingestLoaded(t.db, 'social_care', file);
    expect(await rawRows(t.db, 'social_care', fileId, ['line', 'episode_type', 'start_date', 'end_date', 'case_ref', 'role'])).toEqual([
      { line: 2, episode_type: 'cp_plan', start_date: '2024-01-10', end_date: '2024-06-30', case_ref: 'SC1', role: 'parent' },
      { line: 6, episode_type: 'early_help', start_date: '2024-01-10', end_date: null, case_ref: null, role: null },
    ]);
    expect(await rejectsOf(t.db, fileId)).toEqual([
      { line: 3, column_name: 'end_date', value: '2024-01-09', reason: 'end_date 2024-01-09 is before start_date 2024-01-10' },
      { line: 4, column_name: 'episode_type', value: 'adoption', reason: 'episode_type adoption is not one of contact, referral, early_help, cin, cp_plan, lac' },
      { line: 5, column_name: 'role', value: 'uncle', reason: 'role uncle is not one of child, parent, carer, other' },
    ]);
    await expectCounts(fileId, 5, 2, 3);
  });

  it('normalises attachment problems to a sorted array and rejects unknown problem codes', async () => {
    const member = (n: number, o: Record<string, string>) => ({ ...person(n), case_ref: 'EH-1', attached_on: '01/04/2025', ...o });
    const file = await writeExtract(
      tmp.dir,
      'attachments',
      [
        member(51, { problems: ' Health ; crime_asb;health;', member_role: 'ADULT' }), // 2
        member(52, { problems: 'education' }), // 3
        member(53, { problems: 'health;flying' }), // 4
        member(54, { problems: 'health', member_role: 'grandparent' }), // 5
        member(55, { problems: 'worklessness', case_ref: '' }), // 6
        member(56, { problems: 'housing', attached_on: '' }), // 7
      ],
      { name: 'register.csv' },
    );
    const { fileId } = await ingestLoaded(t.db, 'attachments', file);
    expect(await rawRows(t.db, 'attachments', fileId, ['line', 'case_ref', 'attached_on', 'member_role', 'problems'])).toEqual([
      { line: 2, case_ref: 'EH-1', attached_on: '2025-04-01', member_role: 'adult', problems: ['crime_asb', 'health'] },
      { line: 3, case_ref: 'EH-1', attached_on: '2025-04-01', member_role: null, problems: ['education'] },
    ]);
    const rejects = await rejectsOf(t.db, fileId);
    expect(rejects.map((r) => [r.line, r.column_name, r.value])).toEqual([
      [4, 'problems', 'health;flying'],
      [5, 'member_role', 'grandparent'],
      [6, 'case_ref', null],
      [7, 'attached_on', null],
    ]);
    expect(rejects[0]!.reason).toMatch(/^problems health;flying: flying is not a known problem code \(.*crime_asb.*\)$/);
    expect(rejects[1]!.reason).toBe('member_role grandparent is not one of child, adult');
    expect(rejects[2]!.reason).toBe('case_ref is required but blank');
    expect(rejects[3]!.reason).toBe('attached_on is required but blank');
    await expectCounts(fileId, 6, 2, 4);
  });

  it('loads an attachment whose problems cell is blank (an optional column) as no problems', async () => {
    const file = await writeExtract(
      tmp.dir,
      'attachments',
      [
        { ...person(61), case_ref: 'EH-2', attached_on: '2025-04-01', problems: '' },
        { ...person(62), case_ref: 'EH-2', attached_on: '2025-04-01', problems: 'health' },
      ],
      { name: 'register-blank-problems.csv' },
    );
    const { fileId } = await ingestLoaded(t.db, 'attachments', file);
    expect(await rawRows(t.db, 'attachments', fileId, ['line', 'problems'])).toEqual([
      { line: 2, problems: [] },
      { line: 3, problems: ['health'] },
    ]);
    await expectCounts(fileId, 2, 2, 0);

    // and a register without the column at all
    const without = await writeExtract(tmp.dir, 'attachments', [{ ...person(63), case_ref: 'EH-3', attached_on: '2025-04-01' }], {
      name: 'register-no-problems-column.csv',
      header: ['record_id', 'forename', 'surname', 'dob', 'case_ref', 'attached_on'],
    });
    const { fileId: id2 } = await ingestLoaded(t.db, 'attachments', without);
    expect(await rawRows(t.db, 'attachments', id2, ['line', 'problems'])).toEqual([{ line: 2, problems: [] }]);
  });

  it('checks evidence rows: problem codes and outcomes', async () => {
    const attest = (n: number, o: Record<string, string>) => ({
      record_id: `E${n}`, case_ref: 'EH-1', problem: 'health', outcome: 'achieved', evidence_date: '2025-06-01', attested_by: 'A Keyworker (keyworker)', ...o,
    });
    const file = await writeExtract(
      tmp.dir,
      'evidence',
      [
        attest(1, { problem: 'Health', outcome: 'Not_Achieved' }), // 2
        attest(2, { problem: 'wellbeing' }), // 3
        attest(3, { outcome: 'partly' }), // 4
        attest(4, { attested_by: '' }), // 5
      ],
      { name: 'evidence.csv' },
    );
    const { fileId } = await ingestLoaded(t.db, 'evidence', file);
    expect(await rawRows(t.db, 'evidence', fileId, ['line', 'record_id', 'problem', 'outcome', 'note'])).toEqual([
      { line: 2, record_id: 'E1', problem: 'health', outcome: 'not_achieved', note: null },
    ]);
    const rejects = await rejectsOf(t.db, fileId);
    expect(rejects.map((r) => [r.line, r.column_name, r.value])).toEqual([
      [3, 'problem', 'wellbeing'],
      [4, 'outcome', 'partly'],
      [5, 'attested_by', null],
    ]);
    expect(rejects[0]!.reason).toMatch(/^problem wellbeing is not a known problem code/);
    await expectCounts(fileId, 4, 1, 3);
  });

  it('rejects a record_id seen again in the same file, naming the line of the first', async () => {
    const event = (n: number, id: string) => ({ ...person(n), record_id: id, event_date: '2025-03-01', event_type: 'asb_incident' });
    const file = await writeExtract(
      tmp.dir,
      'offending',
      [event(71, 'D1'), event(72, 'D2'), event(73, 'D1'), event(74, ' D1 '), event(75, 'd1'), event(76, 'D2')],
      { name: 'dupes.csv' },
    );
    const { fileId, summary } = await ingestLoaded(t.db, 'offending', file);
    expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id', 'forename'])).toEqual([
      { line: 2, record_id: 'D1', forename: 'Forename71' },
      { line: 3, record_id: 'D2', forename: 'Forename72' },
      { line: 6, record_id: 'd1', forename: 'Forename75' },
    ]);
    expect(await rejectsOf(t.db, fileId)).toEqual([
      { line: 4, column_name: 'record_id', value: 'D1', reason: 'record_id D1 already appears on line 2; the later row is rejected' },
      { line: 5, column_name: 'record_id', value: 'D1', reason: 'record_id D1 already appears on line 2; the later row is rejected' },
      { line: 7, column_name: 'record_id', value: 'D2', reason: 'record_id D2 already appears on line 3; the later row is rejected' },
    ]);
    expect(summary.files[0]).toMatchObject({ rowsRead: 6, rowsLoaded: 3, rowsRejected: 3 });
    await expectCounts(fileId, 6, 3, 3);
  });

  it('keeps line numbers right after multi-line quoted addresses and blank lines (LF files)', async () => {
    const header = columnNames('offending').join(',');
    const content = [
      header, // 1
      'M1,,Ann,,Smith,2012-03-04,F,"Flat 1\nHigh Street\nTown",SE1 1AA,,2025-01-02,proven_offence,,', // 2-4
      'M2,,Bob,,Jones,2011-02-30,M,,,,2025-01-02,proven_offence,,', // 5: rejected
      '', // 6: blank line
      'M3,,Cat,,Brown,2012-03-04,F,"1 Road\n\nCity",,,2025-01-02,asb_incident,,"said ""hello""\nthen left"', // 7-10
      'M4,,Dan,,Green,2012-03-04,M,,,,2025-01-02,asb_incident,,', // 11
      'M5,,Eve,,White,2012-03-04,F,,,,bad-date,asb_incident,,', // 12: rejected
    ].join('\n');
    const file = await writeRaw(tmp.dir, 'multiline-lf.csv', `${content}\n`);
    const { fileId } = await ingestLoaded(t.db, 'offending', file);
    expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id', 'address', 'detail'])).toEqual([
      { line: 2, record_id: 'M1', address: 'Flat 1\nHigh Street\nTown', detail: null },
      { line: 7, record_id: 'M3', address: '1 Road\n\nCity', detail: 'said "hello"\nthen left' },
      { line: 11, record_id: 'M4', address: null, detail: null },
    ]);
    expect((await rejectsOf(t.db, fileId)).map((r) => [r.line, r.column_name])).toEqual([
      [5, 'dob'],
      [12, 'event_date'],
    ]);
    await expectCounts(fileId, 5, 3, 2);
  });

  it('keeps line numbers right in a CRLF file whose quoted addresses hold CRLF line breaks', async () => {
    const header = columnNames('offending').join(',');
    const content = [
      header, // 1
      'C1,,Ann,,Smith,2012-03-04,F,"Flat 1\r\nHigh Street\r\nTown",SE1 1AA,,2025-01-02,proven_offence,,', // 2-4
      'C2,,Bob,,Jones,2011-02-30,M,,,,2025-01-02,proven_offence,,', // 5: rejected
      '', // 6
      'C3,,Cat,,Brown,2012-03-04,F,"1 Road\nCity",,,2025-01-02,asb_incident,,', // 7-8 (an Excel line break inside a cell)
      'C4,,Dan,,Green,2012-03-04,M,,,,2025-01-02,asb_incident,,', // 9
      'C5,,Eve,,White,2012-03-04,F,,,,bad-date,asb_incident,,', // 10: rejected
    ].join('\r\n');
    const file = await writeRaw(tmp.dir, 'multiline-crlf.csv', `${content}\r\n`);
    const { fileId } = await ingestLoaded(t.db, 'offending', file);
    expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id', 'address'])).toEqual([
      { line: 2, record_id: 'C1', address: 'Flat 1\r\nHigh Street\r\nTown' },
      { line: 7, record_id: 'C3', address: '1 Road\nCity' },
      { line: 9, record_id: 'C4', address: null },
    ]);
    expect((await rejectsOf(t.db, fileId)).map((r) => [r.line, r.column_name])).toEqual([
      [5, 'dob'],
      [10, 'event_date'],
    ]);
  });

  it('reads every value exactly across read-chunk boundaries (quotes, escaped quotes, multi-byte text, CRLF)', async () => {
    // ~3 MB, so the file is read in several chunks and COPYed in several batches.
    const header = columnNames('offending').join(',');
    const lines = [header];
    const expected: { record_id: string; line: number; forename: string; address: string; detail: string }[] = [];
    let line = 2;
    let size = 0;
    for (let i = 0; size < 3_000_000; i++) {
      const forename = i % 3 === 0 ? `Zoë-Åsa ${i}` : i % 3 === 1 ? `Siân ${i} 王` : `O'Brien ${i}`;
      const address = i % 7 === 0 ? `Flat ${i}\r\n"The Maltings"\r\nTown` : `${i} Rue de l'Église, Paris`;
      const detail = `said "${'x'.repeat(i % 40)}" \\ tab\there ${'€'.repeat(i % 5)}.`;
      const q = (v: string) => `"${v.replace(/"/g, '""')}"`;
      lines.push(`K${i},,${q(forename)},,Smith,2012-03-04,F,${q(address)},,,2025-01-02,proven_offence,,${q(detail)}`);
      size += lines.at(-1)!.length + 2;
      expected.push({ record_id: `K${i}`, line, forename, address, detail });
      line += i % 7 === 0 ? 3 : 1;
    }
    const file = await writeRaw(tmp.dir, 'chunks.csv', `${lines.join('\r\n')}\r\n`);
    const { fileId } = await ingestLoaded(t.db, 'offending', file, { maxRejectFraction: 0 });
    const rows = await rawRows<{ record_id: string; line: number; forename: string; address: string; detail: string }>(t.db, 'offending', fileId, [
      'record_id', 'line', 'forename', 'address', 'detail',
    ]);
    expect(rows.length).toBe(expected.length);
    const mismatches = rows.filter((r, i) => JSON.stringify(r) !== JSON.stringify(expected[i]));
    expect(mismatches.slice(0, 3)).toEqual([]);
  });

  it('turns a row with the wrong number of fields into a reject and loads the rest', async () => {
    const header = columnNames('offending').join(',');
    const content = [
      header, // 14 fields
      'W1,,Ann,,Smith,2012-03-04,F,,,,2025-01-02,proven_offence,,',
      'W2,,Bob,,Jones,2012-03-04,M,12 High St, Town,SE1 1AA,,2025-01-02,proven_offence,,', // 15 fields
      'W3,,Cat,,Brown,2012-03-04,F,,,,2025-01-02', // 11 fields
      'W4,,Dan,,Green,2012-03-04,M,,,,2025-01-02,asb_incident,,',
    ].join('\n');
    const file = await writeRaw(tmp.dir, 'ragged.csv', `${content}\n`);
    const { fileId } = await ingestLoaded(t.db, 'offending', file);
    expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id'])).toEqual([
      { line: 2, record_id: 'W1' },
      { line: 5, record_id: 'W4' },
    ]);
    expect(await rejectsOf(t.db, fileId)).toEqual([
      { line: 3, column_name: null, value: null, reason: 'row has 15 fields but the header has 14 (a comma inside an unquoted value?)' },
      { line: 4, column_name: null, value: null, reason: 'row has 11 fields but the header has 14 (a comma inside an unquoted value?)' },
    ]);
    await expectCounts(fileId, 4, 2, 2);
  });

  describe('headers', () => {
    const event = (n: number) => ({ ...person(n), event_date: '2025-05-05', event_type: 'proven_offence' });

    it('matches header names case-insensitively after trimming', async () => {
      const file = await writeRaw(
        tmp.dir,
        'header-case.csv',
        ' Record_ID ,FORENAME,  Surname,DoB ,Event_Date,EVENT_TYPE , Postcode\nH1,Ann,Smith,2012-03-04,2025-05-05,proven_offence,se15 5ab\n',
      );
      const { fileId, summary } = await ingestLoaded(t.db, 'offending', file);
      expect(summary.files[0]!.ignoredColumns).toEqual([]);
      expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id', 'forename', 'surname', 'dob', 'event_date', 'event_type', 'postcode', 'sex'])).toEqual([
        { line: 2, record_id: 'H1', forename: 'Ann', surname: 'Smith', dob: '2012-03-04', event_date: '2025-05-05', event_type: 'proven_offence', postcode: 'se15 5ab', sex: null },
      ]);
    });

    it('skips a UTF-8 byte order mark before the first header', async () => {
      const file = await writeExtract(tmp.dir, 'offending', [event(81), event(82)], { name: 'bom.csv', bom: true });
      const { fileId } = await ingestLoaded(t.db, 'offending', file);
      expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id'])).toEqual([
        { line: 2, record_id: 'R81' },
        { line: 3, record_id: 'R82' },
      ]);
    });

    it('ignores columns that match nothing canonical and reports them', async () => {
      const header = [...columnNames('offending'), 'Internal Notes', 'officer'];
      const file = await writeExtract(
        tmp.dir,
        'offending',
        [
          { ...event(83), 'Internal Notes': 'not for loading', officer: 'PC 1' },
          { ...event(84), 'Internal Notes': 'x', officer: 'PC 2' },
        ],
        { name: 'extra-columns.csv', header },
      );
      const { fileId, summary } = await ingestLoaded(t.db, 'offending', file);
      expect(summary.files[0]!.ignoredColumns).toEqual(['Internal Notes', 'officer']);
      expect(summary.files[0]!.rowsRejected).toBe(0);
      expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id', 'event_type'])).toEqual([
        { line: 2, record_id: 'R83', event_type: 'proven_offence' },
        { line: 3, record_id: 'R84', event_type: 'proven_offence' },
      ]);
    });

    it('reads columns in any order, and files that lack optional columns', async () => {
      const reversed = [...columnNames('offending')].reverse();
      const file = await writeExtract(tmp.dir, 'offending', [{ ...event(85), detail: 'Theft', role: '' }], { name: 'reversed.csv', header: reversed });
      const { fileId } = await ingestLoaded(t.db, 'offending', file);
      expect(await rawRows(t.db, 'offending', fileId, ['record_id', 'person_ref', 'forename', 'surname', 'dob', 'sex', 'uprn', 'event_date', 'event_type', 'detail'])).toEqual([
        { record_id: 'R85', person_ref: 'P85', forename: 'Forename85', surname: 'Surname85', dob: '2012-03-04', sex: 'F', uprn: '100085', event_date: '2025-05-05', event_type: 'proven_offence', detail: 'Theft' },
      ]);

      const minimal = ['event_type', 'dob', 'surname', 'record_id', 'event_date', 'forename'];
      const file2 = await writeExtract(tmp.dir, 'offending', [event(86)], { name: 'minimal.csv', header: minimal });
      const { fileId: id2 } = await ingestLoaded(t.db, 'offending', file2);
      expect(await rawRows(t.db, 'offending', id2, ['record_id', 'person_ref', 'sex', 'address', 'role', 'detail'])).toEqual([
        { record_id: 'R86', person_ref: null, sex: null, address: null, role: null, detail: null },
      ]);
    });

    it('fails a file whose header names a column twice, loading nothing', async () => {
      const file = await writeRaw(tmp.dir, 'twice.csv', 'record_id,forename,surname,dob,event_date,event_type,Forename\nT1,A,B,2012-03-04,2025-01-01,asb_incident,C\n');
      const error = await ingest(t.db, [{ source: 'offending', file }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IngestFailedError);
      expect((error as IngestFailedError).message).toContain('column forename appears twice in the header');
      expect(await t.db.kysely.selectFrom('audit.input_file').select('file_id').where('file_name', '=', file).execute()).toEqual([]);
    });
  });
});
