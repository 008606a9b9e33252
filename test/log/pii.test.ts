import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mainBackend } from '../support/db.ts';
import { csvCell, tempDir, writeExtract } from '../support/files.ts';
import { cli, cliDatabase, filesUnder, ROOT, type CliDatabase, type CliResult } from '../cli/helpers.ts';
import { columnNames, type SourceName } from '../../src/ingest/sources.ts';

/**
 * No personal data on the screen or in the logs. Extracts whose people have distinctive names,
 * dates of birth and addresses go through `ingest` and `run`, with and without --json, with rows
 * rejected for every kind of reason (their values may go only to rejects.csv), over the reject
 * threshold (exit 3), and as files that are not usable CSV at all. Nothing of those people may
 * appear on stdout, on stderr or in any file under the log folder.
 */

interface Person {
  forename: string;
  middle_names: string;
  surname: string;
  /** ISO and DD/MM/YYYY */
  dob: [string, string];
  address: string;
  postcode: string;
}

const PEOPLE: Person[] = [
  { forename: 'Zebediah', middle_names: 'Orlando', surname: 'Quillfeather', dob: ['2011-06-13', '13/06/2011'], address: '17 Marigold Crescent', postcode: 'SE15 4QX' },
  { forename: 'Philomena', middle_names: 'Ysolde', surname: 'Thistlewood', dob: ['2009-11-27', '27/11/2009'], address: 'Flat 3, 4 Juniper Mews', postcode: 'N16 7RB' },
  { forename: 'Ignatius', middle_names: 'Barnaby', surname: 'Wolfenden-Pryce', dob: ['1983-02-08', '08/02/1983'], address: '221 Larkspur Road', postcode: 'E8 3DL' },
];

/** Every form in which these people's details must not appear (compared case-insensitively). */
function needles(): string[] {
  const out = new Set<string>();
  for (const p of PEOPLE) {
    out.add(p.forename).add(p.middle_names).add(p.surname).add(p.address).add(p.postcode).add(p.postcode.replace(' ', ''));
    out.add(p.address.replace(/^[^,]*, /, '')); // the street part of a flat's address
    const [y, m, d] = p.dob[0].split('-') as [string, string, string];
    for (const form of [
      `${y}-${m}-${d}`,
      `${d}/${m}/${y}`,
      `${Number(d)}/${Number(m)}/${y}`,
      `${d}-${m}-${y}`,
      `${y}/${m}/${d}`,
      `${y}${m}${d}`,
      `${d}.${m}.${y}`,
      new Date(`${p.dob[0]}T00:00:00Z`).toDateString().slice(4), // "Jun 13 2011"
      new Date(new Date(`${p.dob[0]}T00:00:00Z`).getTime() - 3_600_000).toISOString().slice(0, 13), // a DATE shifted by a time zone
    ]) {
      out.add(form);
    }
  }
  return [...out];
}

/** Fail naming the first personal detail found in `text`, with where and some context. */
function expectNoPersonalData(text: string, where: string): void {
  const lower = text.toLowerCase();
  for (const needle of needles()) {
    const at = lower.indexOf(needle.toLowerCase());
    if (at >= 0) {
      expect.fail(`${where} holds personal data "${needle}": ...${text.slice(Math.max(0, at - 120), at + needle.length + 60)}...`);
    }
  }
}

const [Z, P, I] = PEOPLE as [Person, Person, Person];

function who(p: Person, id: string, dobForm: 0 | 1 = 0): Record<string, string> {
  return {
    record_id: id,
    person_ref: `PR-${id}`,
    forename: p.forename,
    middle_names: p.middle_names,
    surname: p.surname,
    dob: p.dob[dobForm],
    sex: 'F',
    address: p.address,
    postcode: p.postcode,
  };
}

/**
 * The six extracts for variant `v` (record ids differ between variants, so every run really
 * reads and validates its files rather than finding them already loaded). `fine` valid filler
 * rows per file set the share of rejected rows.
 */
async function writeExtracts(dir: string, v: string, fine: number): Promise<Record<SourceName, string>> {
  await mkdir(dir, { recursive: true });
  const filler = (make: (i: number) => Record<string, string>) => Array.from({ length: fine }, (_, i) => make(i));
  const term = { term_start: '2024-09-02', term_end: '2024-12-20', sessions_possible: '140', sessions_authorised: '2', sessions_unauthorised: '1' };
  const files = {
    offending: await writeExtract(dir, 'offending', [
      { ...who(Z, `${v}-o1`), event_date: '2025-03-01', event_type: 'asb_incident' },
      { ...who(P, `${v}-o2`, 1), event_date: '01/04/2025', event_type: 'proven_offence' },
      { ...who(Z, `${v}-o3`, 1), event_date: '2025-02-30', event_type: 'asb_incident' }, // invalid date
      { ...who(P, `${v}-o4`), dob: '31/02/2009', event_date: '2025-03-01', event_type: 'asb_incident' }, // impossible dob
      { ...who(I, `${v}-o5`), dob: '2099-01-01', event_date: '2025-03-01', event_type: 'asb_incident' }, // dob in the future
      { ...who(Z, `${v}-o6`), event_date: '2025-03-01', event_type: Z.address }, // shifted columns: an address as the event type
      { ...who(I, `${v}-o1`), event_date: '2025-03-02', event_type: 'asb_incident' }, // duplicate record_id
      { ...who(I, `${v}-o7`), uprn: I.postcode, event_date: '2025-03-01', event_type: 'asb_incident' }, // a postcode as the UPRN
      { ...who(Z, `${v}-o8`), event_date: '2025-03-01', event_type: 'domestic_abuse', role: `${Z.forename} ${Z.surname}` }, // a name as the role
      ...filler((i) => ({ ...who(I, `${v}-of${i}`), event_date: '2025-01-01', event_type: 'asb_intervention', detail: `seen at ${I.address}` })),
    ]),
    attendance: await writeExtract(dir, 'attendance', [
      { ...who(Z, `${v}-a1`), ...term },
      { ...who(Z, `${v}-a2`), ...term, sessions_possible: Z.surname }, // a name as a count
      { ...who(P, `${v}-a3`, 1), ...term, sessions_authorised: '-3' }, // a bad integer
      { ...who(P, `${v}-a4`), ...term, sessions_possible: '10', sessions_authorised: '8', sessions_unauthorised: '5' }, // absences > possible
      { ...who(I, `${v}-a5`, 1), ...term, term_end: '2024-09-01' }, // term ends before it starts
      { ...who(I, `${v}-a6`), ...term, permanent_exclusion: P.forename }, // a name as Y/N
      ...filler((i) => ({ ...who(P, `${v}-af${i}`, 1), ...term })),
    ]),
    employment: await writeExtract(dir, 'employment', [
      { ...who(I, `${v}-e1`), spell_type: 'employment', start_date: '2024-01-01' },
      { ...who(P, `${v}-e2`), spell_type: 'employment', start_date: '2024-06-01', end_date: '2024-01-01' }, // ends before it starts
      { ...who(I, `${v}-e3`, 1), spell_type: 'benefit', start_date: '2024-01-01' }, // benefit without benefit_type
      { ...who(Z, `${v}-e4`), spell_type: 'benefit', benefit_type: 'UC', uc_conditionality: Z.postcode, start_date: '2024-01-01' }, // a postcode as an enum
      ...filler((i) => ({ ...who(I, `${v}-ef${i}`), spell_type: 'neet', start_date: '2024-01-01' })),
    ]),
    social_care: await writeExtract(dir, 'social_care', [
      { ...who(Z, `${v}-s1`), episode_type: 'cin', start_date: '2024-01-01', case_ref: `SC-${v}` },
      { ...who(Z, `${v}-s2`), episode_type: 'cin', start_date: '2024-01-01', role: Z.surname }, // a name as the role
      { ...who(P, `${v}-s3`, 1), episode_type: 'lac', start_date: '2024-03-01', end_date: '2024-02-01' }, // ends before it starts
      { ...who(I, `${v}-s4`), dob: '', episode_type: 'cin', start_date: '2024-01-01' }, // required but blank
      ...filler((i) => ({ ...who(Z, `${v}-sf${i}`), episode_type: 'contact', start_date: '2024-01-01' })),
    ]),
    attachments: await writeExtract(dir, 'attachments', [
      { ...who(Z, `${v}-t1`), case_ref: `EH-${v}`, attached_on: '2025-01-10', problems: 'education;health', lead_professional: `${P.forename} ${P.surname}` },
      { ...who(P, `${v}-t2`), case_ref: `EH-${v}`, attached_on: '2025-01-10', problems: `education;${I.surname}` }, // a name as a problem code
      { ...who(I, `${v}-t3`), case_ref: `EH-${v}`, attached_on: I.dob[1].replace('1983', '1983x') }, // not a date
      ...filler((i) => ({ ...who(P, `${v}-tf${i}`), case_ref: `EH-${v}-${i}`, attached_on: '2025-01-10' })),
    ]),
    evidence: await writeExtract(dir, 'evidence', [
      { record_id: `${v}-v1`, case_ref: `EH-${v}`, problem: 'education', outcome: 'achieved', evidence_date: '2025-06-01', attested_by: `${P.forename} ${P.surname}`, note: `${Z.forename} ${Z.surname} of ${Z.address}, born ${Z.dob[1]}` },
      { record_id: `${v}-v2`, case_ref: `EH-${v}`, problem: 'health', outcome: `${Z.forename} ${Z.surname}`, evidence_date: '2025-06-01', attested_by: 'K Worker' }, // a name as the outcome
      { record_id: `${v}-v3`, case_ref: `EH-${v}`, problem: 'health', outcome: 'achieved', evidence_date: Z.dob[1].replace('13/06', '31/06'), attested_by: 'K Worker' }, // invalid date
      ...filler((i) => ({ record_id: `${v}-vf${i}`, case_ref: `EH-${v}`, problem: 'crime', outcome: 'not_achieved', evidence_date: '2025-06-01', attested_by: `${I.forename} ${I.surname}` })),
    ]),
  };
  return files;
}

/** A person's canonical row as CSV cells for `source`, optionally with an extra field. */
function csvRow(source: SourceName, row: Record<string, string>, delimiter = ','): string {
  return columnNames(source)
    .map((c) => (delimiter === ',' ? csvCell(row[c] ?? '') : (row[c] ?? '')))
    .join(delimiter);
}

/** A folder of extracts that are not usable CSV: each fails the whole file, and the run. */
async function writeBadExtracts(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const event = (p: Person, id: string) => ({ ...who(p, id), event_date: '2025-03-01', event_type: 'asb_incident' });
  const header = (source: SourceName, delimiter = ',') => columnNames(source).join(delimiter);
  const term = { term_start: '2024-09-02', term_end: '2024-12-20', sessions_possible: '140', sessions_authorised: '2', sessions_unauthorised: '1' };
  // semicolon delimited
  await writeFile(path.join(dir, 'offending.csv'), [header('offending', ';'), ...PEOPLE.map((p, i) => csvRow('offending', event(p, `b${i}`), ';'))].join('\n'));
  // ragged: most rows have a field too many
  await writeFile(
    path.join(dir, 'attendance.csv'),
    [header('attendance'), ...PEOPLE.flatMap((p, i) => [`${csvRow('attendance', { ...who(p, `r${i}`), ...term })},${p.address}`, csvRow('attendance', { ...who(p, `q${i}`), ...term })])].join('\n'),
  );
  // a quoted field that never closes
  await writeFile(
    path.join(dir, 'employment.csv'),
    [header('employment'), csvRow('employment', { ...who(Z, 'u1'), spell_type: 'neet', start_date: '2024-01-01' }), `u2,,"${P.forename},,${P.surname},${P.dob[1]},F,${P.address},${P.postcode},,neet,,,2024-01-01,`].join('\n'),
  );
  // no header: the first line is a person
  await writeFile(
    path.join(dir, 'social_care.csv'),
    PEOPLE.map((p, i) => csvRow('social_care', { ...who(p, `h${i}`), episode_type: 'cin', start_date: '2024-01-01' })).join('\n'),
  );
  // a quoted field that runs on over many lines
  // (people whose addresses need no quotes, so that only the stray quote opens a field)
  const rows = Array.from({ length: 30 }, (_, i) => csvRow('attachments', { ...who(i % 2 ? I : Z, `m${i}`), case_ref: `EH-${i}`, attached_on: '2025-01-10' }));
  rows[3] = `m3,,"${Z.forename},,${Z.surname},${Z.dob[0]},F,${Z.address},${Z.postcode},,EH-3,2025-01-10,,,`;
  rows[27] = `m27,,${I.forename}",,${I.surname},${I.dob[0]},F,${I.address},${I.postcode},,EH-27,2025-01-10,,,`;
  await writeFile(path.join(dir, 'attachments.csv'), [header('attachments'), ...rows].join('\n'));
  // not UTF-8 (windows-1252 bytes)
  await writeFile(
    path.join(dir, 'evidence.csv'),
    Buffer.from(`${header('evidence')}\nx1,EH-1,health,achieved,2025-06-01,${P.forename} ${P.surname} (keyworker),${Z.forename} ${Z.surname} café at ${Z.address}\n`, 'latin1'),
  );
}

interface Case {
  name: string;
  args: string[];
  code: number;
  /** A folder whose rejects.csv must exist (owner-only) and hold the rejected people's details. */
  rejectsIn?: string;
}

describe(`no personal data on screen or in logs (${mainBackend()})`, () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let d: CliDatabase;
  let logDir: string;
  const results: { c: Case; r: CliResult }[] = [];

  beforeAll(async () => {
    tmp = await tempDir();
    logDir = path.join(tmp.dir, 'logs');
    d = await cliDatabase(path.join(tmp.dir, 'db'));
    const dir = (name: string) => path.join(tmp.dir, name);
    const single = await writeExtracts(dir('single'), 'single', 20);
    await writeExtracts(dir('ok-human'), 'okh', 20);
    await writeExtracts(dir('ok-json'), 'okj', 20);
    await writeExtracts(dir('over-threshold'), 'over', 20);
    await writeBadExtracts(dir('bad'));
    const run = (extracts: string, out: string) => ['run', '--extracts', dir(extracts), '--as-of', '2026-10-31', '--window', '2026-Q3', '--out', dir(out)];
    const cases: Case[] = [
      { name: 'ingest offending', args: ['ingest', 'offending', single.offending, '--out', dir('out-ingest'), '--max-reject-fraction', '0.9'], code: 0, rejectsIn: dir('out-ingest') },
      { name: 'ingest attendance --json', args: ['--json', 'ingest', 'attendance', single.attendance, '--out', dir('out-ingest-json'), '--max-reject-fraction', '0.9'], code: 0, rejectsIn: dir('out-ingest-json') },
      { name: 'run', args: [...run('ok-human', 'out-run'), '--max-reject-fraction', '0.9'], code: 0, rejectsIn: dir('out-run') },
      { name: 'run --json', args: ['--json', ...run('ok-json', 'out-run-json'), '--max-reject-fraction', '0.9'], code: 0, rejectsIn: dir('out-run-json') },
      { name: 'run over the threshold', args: run('over-threshold', 'out-over'), code: 3, rejectsIn: dir('out-over') },
      { name: 'run --json over the threshold', args: ['--json', ...run('over-threshold', 'out-over-json')], code: 3, rejectsIn: dir('out-over-json') },
      { name: 'run with unusable files', args: run('bad', 'out-bad'), code: 3 },
      { name: 'run --json with unusable files', args: ['--json', ...run('bad', 'out-bad-json')], code: 3 },
      { name: 'ingest a file without a header', args: ['ingest', 'social_care', path.join(dir('bad'), 'social_care.csv'), '--out', dir('out-headerless')], code: 3 },
    ];
    const go = async (c: Case) => {
      // The most verbose log level, so that nothing is hidden by the level.
      const r = await cli(['--db', d.dbArg, '--log-dir', logDir, ...c.args], { env: { TFCLAIMS_LOG_LEVEL: 'trace' } });
      results.push({ c, r });
    };
    // A server takes them all at once; the embedded database one process at a time.
    if (d.backend === 'server') await Promise.all(cases.map(go));
    else for (const c of cases) await go(c);
  });
  afterAll(async () => {
    await d?.drop();
    await tmp?.remove();
  });

  it('every command ended as expected (so the data really went through)', () => {
    expect(results).toHaveLength(9);
    for (const { c, r } of results) {
      expect(r.code, `${c.name}: ${r.stderr}`).toBe(c.code);
      if (c.args.includes('--json')) expect(() => JSON.parse(r.stdout), c.name).not.toThrow();
      else expect(r.stdout, c.name).toBe('');
    }
    const stderrOf = (name: string) => results.find((x) => x.c.name === name)!.r.stderr;
    expect(stderrOf('run with unusable files')).toMatch(/separated by semicolons/);
    expect(stderrOf('run with unusable files')).toMatch(/rows rejected/);
    expect(stderrOf('run with unusable files')).toMatch(/never closed/);
    expect(stderrOf('run with unusable files')).toMatch(/missing required columns?/);
    expect(stderrOf('run with unusable files')).toMatch(/runs over \d+ lines/);
    expect(stderrOf('run with unusable files')).toMatch(/not valid utf-8/);
  });

  it('nothing personal on stdout or stderr', () => {
    for (const { c, r } of results) {
      expectNoPersonalData(r.stdout, `stdout of ${c.name}`);
      expectNoPersonalData(r.stderr, `stderr of ${c.name}`);
    }
  });

  it('nothing personal in any file under the log folder', async () => {
    const files = await filesUnder(logDir);
    expect(files.length).toBe(results.length);
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      expect(text.length).toBeGreaterThan(0);
      expectNoPersonalData(text, file);
    }
  });

  it('rejects.csv holds the rejected rows, owner-only', async () => {
    for (const { c } of results) {
      if (!c.rejectsIn) continue;
      const file = path.join(c.rejectsIn, 'rejects.csv');
      expect((await stat(file)).mode & 0o777, c.name).toBe(0o600);
      const text = await readFile(file, 'utf8');
      // The values that made rows fail are there (it is the one place they may be), and the check sees them.
      expect(text, c.name).toMatch(/Quillfeather|Thistlewood|Wolfenden-Pryce|Marigold|SE15 4QX|E8 3DL/);
      expect(() => expectNoPersonalData(text, file)).toThrow(/holds personal data/);
    }
    // and the loaded rows carry the people into the database (so they were read, not skipped)
    const loaded = await d.withDb(async (db) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM raw.offending WHERE surname = ${Z.surname}`.execute(db.kysely)).rows[0]!.n);
    expect(loaded).toBeGreaterThan(0);
  });
});

/**
 * The demo council in samples/extracts (generated by `tfclaims synth`), when present: a full run
 * prints and logs no person's name, date of birth or address.
 */
const SAMPLES = path.join(ROOT, 'samples/extracts');
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const AS_OF = '2026-10-31';

interface SamplePeople {
  pairs: Map<string, Set<string>>;
  dobs: Set<string>;
  addresses: Set<string>;
  postcodes: Set<string>;
}

async function samplePeople(): Promise<SamplePeople> {
  const people: SamplePeople = { pairs: new Map(), dobs: new Set(), addresses: new Set(), postcodes: new Set() };
  for (const name of (await readdir(SAMPLES)).filter((n) => n.endsWith('.csv'))) {
    const base = name.slice(0, -'.csv'.length);
    let renames: Record<string, string> = {};
    let delimiter = ',';
    let encoding = 'utf-8';
    for (const suffix of ['.mapping.yaml', '.mapping.yml', '.mapping.json']) {
      const mappingFile = path.join(SAMPLES, `${base}${suffix}`);
      if (!existsSync(mappingFile)) continue;
      const mapping = (YAML.parse(await readFile(mappingFile, 'utf8')) ?? {}) as { columns?: Record<string, string>; delimiter?: string; encoding?: string };
      renames = Object.fromEntries(Object.entries(mapping.columns ?? {}).map(([from, to]) => [from.trim().toLowerCase(), to]));
      delimiter = mapping.delimiter ?? ',';
      encoding = mapping.encoding ?? 'utf-8';
    }
    const text = new TextDecoder(encoding).decode(await readFile(path.join(SAMPLES, name)));
    const rows = parse(text, { delimiter, columns: (h: string[]) => h.map((c) => renames[c.trim().toLowerCase()] ?? c.trim().toLowerCase()), relax_column_count: true, bom: true, skip_empty_lines: true }) as Record<string, string>[];
    for (const row of rows) {
      const forename = row.forename?.trim();
      const surname = row.surname?.trim();
      if (forename && surname) {
        const key = surname.toLowerCase();
        if (!people.pairs.has(key)) people.pairs.set(key, new Set());
        people.pairs.get(key)!.add(forename.toLowerCase());
      }
      const dob = row.dob?.trim();
      if (dob) {
        people.dobs.add(dob);
        let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dob);
        if (m) people.dobs.add(`${m[3]}/${m[2]}/${m[1]}`);
        m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(dob);
        if (m) people.dobs.add(`${m[3]}-${m[2]!.padStart(2, '0')}-${m[1]!.padStart(2, '0')}`);
        m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(dob); // 26-Oct-1954
        const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) + 1 : 0;
        if (m && month > 0) {
          const [d, mm] = [m[1]!.padStart(2, '0'), String(month).padStart(2, '0')];
          people.dobs.add(`${m[3]}-${mm}-${d}`).add(`${d}/${mm}/${m[3]}`);
        }
      }
      if (row.address?.trim()) people.addresses.add(row.address.trim());
      if (row.postcode?.trim()) people.postcodes.add(row.postcode.trim());
    }
  }
  // The as-of date is printed on purpose; a person born on it is not told apart from it.
  people.dobs.delete(AS_OF);
  people.dobs.delete(AS_OF.split('-').reverse().join('/'));
  return people;
}

function expectNoSamplePeople(text: string, where: string, people: SamplePeople): void {
  for (const [i, line] of text.split('\n').entries()) {
    const words = new Set(line.toLowerCase().split(/[^\p{L}'-]+/u).filter(Boolean));
    for (const word of words) {
      const forenames = people.pairs.get(word);
      if (!forenames) continue;
      for (const forename of forenames) {
        if (words.has(forename)) expect.fail(`${where} line ${i + 1} names a person (${forename} ${word}): ${line.slice(0, 300)}`);
      }
    }
    for (const date of line.match(/\d{4}-\d{2}-\d{2}|\d{1,2}\/\d{1,2}\/\d{4}|\d{1,2}-[A-Za-z]{3}-\d{4}/g) ?? []) {
      if (people.dobs.has(date)) expect.fail(`${where} line ${i + 1} holds a date of birth (${date}): ${line.slice(0, 300)}`);
    }
  }
  for (const address of people.addresses) if (text.includes(address)) expect.fail(`${where} holds an address (${address})`);
  for (const postcode of people.postcodes) if (text.includes(postcode)) expect.fail(`${where} holds a postcode (${postcode})`);
}

describe('the demo council (samples/extracts)', () => {
  it.skipIf(!existsSync(SAMPLES))('a full run prints and logs no name, date of birth, address or postcode from the extracts', async () => {
    const tmp = await tempDir();
    const d = await cliDatabase(path.join(tmp.dir, 'db'));
    try {
      const people = await samplePeople();
      expect(people.pairs.size, 'the sample extracts hold people').toBeGreaterThan(0);
      // The check finds people as the extracts write them (e.g. the vendor file's "TAYLOR,Jess,,26-Oct-1954").
      for (const name of (await readdir(SAMPLES)).filter((n) => n.endsWith('.csv'))) {
        const firstRow = (await readFile(path.join(SAMPLES, name), 'utf8')).split('\n')[1] ?? '';
        if (/forename|first name/i.test((await readFile(path.join(SAMPLES, name), 'utf8')).split('\n')[0] ?? '')) {
          expect(() => expectNoSamplePeople(firstRow, name, people), name).toThrow();
        }
      }
      const logDir = path.join(tmp.dir, 'logs');
      const args = ['--db', d.dbArg, '--log-dir', logDir, 'run', '--extracts', SAMPLES, '--as-of', AS_OF, '--window', '2026-Q3', '--out', path.join(tmp.dir, 'out')];
      const human = await cli(args, { env: { TFCLAIMS_LOG_LEVEL: 'trace' } });
      // Again with --json: every file is recognised as loaded; the summary is printed.
      const json = await cli(['--json', ...args], { env: { TFCLAIMS_LOG_LEVEL: 'trace' } });
      for (const [name, r] of [
        ['run', human],
        ['run --json', json],
      ] as const) {
        expect([0, 3], `${name}: ${r.stderr}`).toContain(r.code);
        expectNoSamplePeople(r.stdout, `stdout of ${name}`, people);
        expectNoSamplePeople(r.stderr, `stderr of ${name}`, people);
      }
      expect(() => JSON.parse(json.stdout)).not.toThrow();
      const logs = await filesUnder(logDir);
      expect(logs).toHaveLength(2);
      for (const file of logs) expectNoSamplePeople(await readFile(file, 'utf8'), file, people);
    } finally {
      await d.drop();
      await tmp.remove();
    }
  });
});
