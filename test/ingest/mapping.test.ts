import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, testDatabase, type TestDatabase } from '../support/db.ts';
import { person, tempDir, writeExtract } from '../support/files.ts';
import { ConfigError, ExitCode } from '../../src/errors.ts';
import { discoverExtracts, extractFromArgs, IngestFailedError, ingestExtracts, loadMapping } from '../../src/ingest/index.ts';
import { testRun } from '../support/run.ts';
import { ingest, ingestLoaded, inputFile, rawRows, rejectsOf, TODAY, writeRaw } from './helpers.ts';

/**
 * Column mappings: how a council system's export differs from the canonical extract (header
 * names, date layout, value spellings, delimiter, encoding), and clear errors for bad mappings.
 */
describe.each(availableBackends())('column mapping on %s', (backend) => {
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

  it('renames headers (matched case-insensitively), reads DD-MMM-YYYY dates and recodes values', async () => {
    const mapping = await writeRaw(
      tmp.dir,
      'police.mapping.yaml',
      [
        'source: offending',
        'date_format: DD-MMM-YYYY',
        'columns:',
        '  Person ID: record_id',
        '  First Name: forename',
        '  Last Name: surname',
        '  Date of Birth: dob',
        '  Offence Date: event_date',
        '  Category: event_type',
        '  Offence: detail',
        'values:',
        '  event_type:',
        '    "Crime - Proven": proven_offence',
        '    ASB: asb_incident',
        '  sex:',
        '    Female: F',
        '',
      ].join('\n'),
    );
    const file = await writeRaw(
      tmp.dir,
      'police.csv',
      [
        'PERSON ID,first name , Last Name,Date of Birth,Sex,Offence Date,Category,Offence',
        'P1,Ann,Smith,03-Apr-2012,Female,15-JUN-2025,crime - proven,Theft', // 2
        'P2,Bob,Jones,3-Sept-2011,M,01-jan-2025,asb,', // 3
        'P3,Cat,Brown,2012-04-03,F,01-Jan-2025,asb_intervention,', // 4: ISO is not the mapping's layout
        'P4,Dan,Green,31-Feb-2012,M,01-Jan-2025,ASB,', // 5
        'P5,Eve,White,03-Foo-2012,F,01-Jan-2025,ASB,', // 6
        'P6,Fay,Black,03-Apr-2012,F,01-Jan-2025,Crime - Suspected,', // 7
        'P7,Gus,Grey,03-Apr-2012,M,01-Jan-2025,Asb_Intervention,', // 8: canonical codes still accepted
      ].join('\n'),
    );
    const { fileId, summary } = await ingestLoaded(t.db, 'offending', file, { mapping });
    expect(summary.files[0]!.ignoredColumns).toEqual([]);
    expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id', 'forename', 'surname', 'dob', 'sex', 'event_date', 'event_type', 'detail'])).toEqual([
      { line: 2, record_id: 'P1', forename: 'Ann', surname: 'Smith', dob: '2012-04-03', sex: 'F', event_date: '2025-06-15', event_type: 'proven_offence', detail: 'Theft' },
      { line: 3, record_id: 'P2', forename: 'Bob', surname: 'Jones', dob: '2011-09-03', sex: 'M', event_date: '2025-01-01', event_type: 'asb_incident', detail: null },
      { line: 8, record_id: 'P7', forename: 'Gus', surname: 'Grey', dob: '2012-04-03', sex: 'M', event_date: '2025-01-01', event_type: 'asb_intervention', detail: null },
    ]);
    expect(await rejectsOf(t.db, fileId)).toEqual([
      { line: 4, column_name: 'dob', value: '2012-04-03', reason: "dob 2012-04-03 is not a date in the mapping's DD-MMM-YYYY form" },
      { line: 5, column_name: 'dob', value: '31-Feb-2012', reason: 'dob 31-Feb-2012 is not a real date' },
      { line: 6, column_name: 'dob', value: '03-Foo-2012', reason: 'dob 03-Foo-2012 is not a real date' },
      {
        line: 7,
        column_name: 'event_type',
        value: 'Crime - Suspected',
        reason: 'event_type Crime - Suspected is not one of proven_offence, asb_incident, asb_intervention, domestic_abuse',
      },
    ]);
    // The mapping used is recorded with the file, with its hash.
    const f = await inputFile(t.db, fileId);
    const mappingText = await readFile(mapping, 'utf8');
    expect(f.mapping_sha256).toBe(createHash('sha256').update(mappingText).digest('hex'));
    expect(f.mapping).toMatchObject({ path: mapping, date_format: 'DD-MMM-YYYY', columns: { 'Person ID': 'record_id' } });
  });

  it('reads a semicolon-delimited file when the mapping says so (JSON mapping)', async () => {
    const mapping = await writeRaw(tmp.dir, 'semi.mapping.json', JSON.stringify({ delimiter: ';', date_format: 'DD.MM.YYYY' }));
    const file = await writeRaw(
      tmp.dir,
      'semi.csv',
      'record_id;forename;surname;dob;address;event_date;event_type\nS1;Ann;Smith;03.04.2012;1, High Street, Town;01.02.2025;asb_incident\nS2;Bob;Jones;4.5.2011;"2; Low Road";02.02.2025;proven_offence\n',
    );
    const { fileId } = await ingestLoaded(t.db, 'offending', file, { mapping });
    expect(await rawRows(t.db, 'offending', fileId, ['line', 'record_id', 'dob', 'address', 'event_date', 'event_type'])).toEqual([
      { line: 2, record_id: 'S1', dob: '2012-04-03', address: '1, High Street, Town', event_date: '2025-02-01', event_type: 'asb_incident' },
      { line: 3, record_id: 'S2', dob: '2011-05-04', address: '2; Low Road', event_date: '2025-02-02', event_type: 'proven_offence' },
    ]);
    expect(await rejectsOf(t.db, fileId)).toEqual([]);
  });

  it('decodes a windows-1252 file when the mapping says so, and refuses it as UTF-8 without one', async () => {
    const text = 'record_id,forename,surname,dob,address,event_date,event_type,detail\nL1,Zoë,Brontë,2012-03-04,1 Rue Café,2025-01-02,proven_offence,Stole £5 – “cash”\n';
    // windows-1252: é = 0xE9, ë = 0xEB, £ = 0xA3, en dash = 0x96, curly quotes = 0x93/0x94
    const cp1252 = Buffer.from(
      text
        .replace(/–/g, '\u0096')
        .replace(/“/g, '\u0093')
        .replace(/”/g, '\u0094'),
      'latin1',
    );
    expect(cp1252.includes(0xa3)).toBe(true);
    const file = await writeRaw(tmp.dir, 'old-system.csv', cp1252);

    const refused = await ingest(t.db, [{ source: 'offending', file }]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IngestFailedError);
    expect((refused as IngestFailedError).summary.files[0]!.message).toContain('is not valid utf-8 text');

    const mapping = await writeRaw(tmp.dir, 'old-system.mapping.yaml', 'encoding: windows-1252\n');
    const { fileId } = await ingestLoaded(t.db, 'offending', file, { mapping });
    expect(await rawRows(t.db, 'offending', fileId, ['record_id', 'forename', 'surname', 'address', 'detail'])).toEqual([
      { record_id: 'L1', forename: 'Zoë', surname: 'Brontë', address: '1 Rue Café', detail: 'Stole £5 – “cash”' },
    ]);
  });

  it('uses the mapping beside an extract found by discoverExtracts', async () => {
    const dir = path.join(tmp.dir, 'extracts');
    await mkdir(dir);
    await writeFile(path.join(dir, 'offending.mapping.yml'), 'columns:\n  Surname_Family: surname\n');
    await writeExtract(dir, 'offending', [{ ...person(9), Surname_Family: 'Family9', event_date: '2025-01-02', event_type: 'asb_incident' }], {
      header: ['record_id', 'forename', 'Surname_Family', 'dob', 'event_date', 'event_type'],
    });
    await writeExtract(dir, 'evidence', [
      { record_id: 'E1', case_ref: 'EH-9', problem: 'health', outcome: 'achieved', evidence_date: '2025-01-02', attested_by: 'K Worker' },
    ]);
    const files = await discoverExtracts(dir);
    expect(files.map((f) => [f.source, path.basename(f.path), f.mapping ? path.basename(f.mapping.path) : null])).toEqual([
      ['offending', 'offending.csv', 'offending.mapping.yml'],
      ['evidence', 'evidence.csv', null],
    ]);
    const ctx = await testRun(t.db);
    const summary = await ingestExtracts(ctx, { files, today: TODAY });
    expect(summary.files.map((f) => [f.source, f.status, f.rowsLoaded])).toEqual([
      ['offending', 'loaded', 1],
      ['evidence', 'loaded', 1],
    ]);
    expect(await rawRows(t.db, 'offending', summary.files[0]!.fileId!, ['record_id', 'surname'])).toEqual([{ record_id: 'R9', surname: 'Family9' }]);
  });

  it('fails a file with a clear message when the mapped headers are still missing', async () => {
    const mapping = await writeRaw(tmp.dir, 'partial.mapping.yaml', 'columns:\n  Given: forename\n');
    const file = await writeRaw(tmp.dir, 'partial.csv', 'record_id,Given,dob,event_date,event_type\nQ1,Ann,2012-03-04,2025-01-01,asb_incident\n');
    const error = await ingest(t.db, [{ source: 'offending', file, mapping }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IngestFailedError);
    expect((error as IngestFailedError).message).toContain(`${file} is missing required column surname`);
    expect(await t.db.kysely.selectFrom('audit.input_file').select('file_id').where('file_name', '=', file).execute()).toEqual([]);
  });
});

describe('invalid column mappings', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(async () => {
    await tmp?.remove();
  });

  /** Load a mapping expected to be refused; returns the ConfigError. */
  async function refused(name: string, content: string | undefined, source: 'offending' | 'attendance' = 'offending'): Promise<ConfigError> {
    const file = path.join(tmp.dir, name);
    if (content !== undefined) await writeFile(file, content);
    const error = await loadMapping(file, source).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(ExitCode.usage);
    expect((error as ConfigError).message).toContain(file);
    return error as ConfigError;
  }

  it('names a column target that is not a column of the source', async () => {
    const error = await refused('target.yaml', 'columns:\n  Foo: bar\n  First: forename\n');
    expect(error.message).toContain('mapping.columns.Foo: "bar" is not a column of offending');
    expect(error.message).not.toContain('mapping.columns.First');
  });

  it('names a date format it does not know', async () => {
    const error = await refused('date.yaml', 'date_format: MM/DD/YYYY\n');
    expect(error.message).toMatch(/mapping\.date_format: .+/);
  });

  it('names a bad delimiter, encoding and reject fraction, all at once', async () => {
    const error = await refused('several.yaml', 'delimiter: ":"\nencoding: latin-9\nmax_reject_fraction: 2\n');
    expect(error.message).toMatch(/mapping\.delimiter: /);
    expect(error.message).toMatch(/mapping\.encoding: /);
    expect(error.message).toMatch(/mapping\.max_reject_fraction: /);
  });

  it('refuses unknown keys (a misspelt option is not silently ignored)', async () => {
    const error = await refused('typo.yaml', 'delimeter: ";"\n');
    expect(error.message).toContain('delimeter');
  });

  it('refuses a mapping written for another source', async () => {
    const error = await refused('other-source.yaml', 'source: attendance\n');
    expect(error.message).toContain('mapping.source: this mapping is for attendance, not offending');
  });

  it('refuses value recodings for a column the source does not have, and two headers for one column', async () => {
    const error = await refused('values.yaml', 'columns:\n  First: forename\n  Given: forename\nvalues:\n  colour:\n    Red: red\n');
    expect(error.message).toContain('mapping.values.colour: not a column of offending');
    expect(error.message).toContain('mapping.columns: more than one header maps to forename');
  });

  it('refuses a file that is not YAML or JSON, and a mapping that does not exist', async () => {
    const bad = await refused('broken.yaml', 'columns: [unclosed\n');
    expect(bad.message).toContain('is not valid YAML or JSON');
    const missing = await refused('does-not-exist.yaml', undefined);
    expect(missing.message).toContain('cannot read column mapping');
  });

  it('reports a bad mapping from extractFromArgs before anything is loaded', async () => {
    const file = await writeRaw(tmp.dir, 'x.csv', 'record_id\n');
    const mapping = await writeRaw(tmp.dir, 'x.mapping.yaml', 'columns:\n  Foo: bar\n');
    await expect(extractFromArgs('offending', file, mapping)).rejects.toThrow(ConfigError);
    await expect(extractFromArgs('attendance', file, mapping)).rejects.toThrow('mapping.columns.Foo: "bar" is not a column of attendance');
  });
});
