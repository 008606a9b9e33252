import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mainBackend } from '../support/db.ts';
import { person, tempDir, writeExtract } from '../support/files.ts';
import { cli, cliDatabase, ROOT, type CliDatabase } from './helpers.ts';
import { buildProgram, main, reportInternalError } from '../../src/cli/main.ts';
import { loadMigrations } from '../../src/db/index.ts';

/**
 * The command-line contract (shared/spec/cli-contract.md) through the real program in a child
 * process: help for every command, usage errors (exit 2),
 * --json and --quiet, and `ingest` and `run` of a small valid extract.
 */

/** The spec beside the project (present in the workspace, not necessarily in a CI clone). */
const CONTRACT = path.join(ROOT, '../shared/spec/cli-contract.md');
/** The contract's command table, copied into the repository. */
const CONTRACT_COPY = path.join(ROOT, 'test/cli/fixtures/cli-contract-commands.md');

function commandTableLines(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('| `tfclaims '));
}

/** The commands of the contract's table, each with the options its usage names. */
async function contractCommands(): Promise<{ words: string[]; options: string[]; positionals: string[] }[]> {
  const text = await readFile(CONTRACT_COPY, 'utf8');
  const commands: { words: string[]; options: string[]; positionals: string[] }[] = [];
  for (const line of text.split('\n')) {
    const cell = line.replace(/\\\|/g, '/').split('|')[1]?.trim();
    if (!cell?.startsWith('`tfclaims ')) continue;
    const usage = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).join(' ');
    const tokens = usage.replace(/^tfclaims /, '').replace(/[[\]()]/g, ' ').split(/\s+/).filter(Boolean);
    const words: string[] = [];
    for (const token of tokens) {
      if (!/^[a-z]+$/.test(token) || token === 'or') break;
      words.push(token);
    }
    commands.push({
      words,
      options: [...new Set(tokens.filter((tok) => tok.startsWith('--')))],
      positionals: tokens.filter((tok, i) => i >= words.length && /^[A-Z]+$/.test(tok) && !tokens[i - 1]!.startsWith('--')),
    });
  }
  return commands;
}

function findCommand(program: Command, words: string[]): Command {
  let command = program;
  for (const word of words) {
    const next = command.commands.find((c) => c.name() === word);
    if (!next) throw new Error(`no command "${words.join(' ')}"`);
    command = next;
  }
  return command;
}

/** The help text's "Commands:" section names this subcommand. */
function listsCommand(help: string, name: string): boolean {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return new RegExp(`^ {2}${name}\\b`, 'm').test(section);
}

/** The help text's "Options:" section has the option with a description on its line. */
function describesOption(help: string, option: string): boolean {
  const section = (help.split(/^Options:$/m)[1] ?? '').split(/^Commands:$/m)[0]!;
  return new RegExp(`^ {2}(?:-\\w, )?${option}(?: <[^>]+>)?\\s{2,}\\w`, 'm').test(section);
}

describe('help', () => {
  it.skipIf(!existsSync(CONTRACT))('the copy of the contract\'s command table matches shared/spec/cli-contract.md', async () => {
    expect(commandTableLines(await readFile(CONTRACT_COPY, 'utf8'))).toEqual(commandTableLines(await readFile(CONTRACT, 'utf8')));
  });

  it('the contract lists the commands this test expects to check', async () => {
    const commands = await contractCommands();
    expect(commands.map((c) => c.words.join(' '))).toEqual(
      expect.arrayContaining(['run', 'ingest', 'match', 'evaluate', 'claim draft', 'claim finalise', 'audit sample', 'audit verify', 'explain', 'synth']),
    );
    expect(commands.find((c) => c.words.join(' ') === 'audit verify')!.options).toEqual(['--window', '--case-ref', '--result', '--by', '--note']);
    expect(commands.find((c) => c.words.join(' ') === 'explain')!.options).toEqual(['--case-ref', '--family']);
    expect(commands.find((c) => c.words.join(' ') === 'ingest')!.positionals).toEqual(['SOURCE', 'FILE']);
  });

  it('`tfclaims --help` lists every command of the contract and the global options, exit 0', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const help = result.stdout;
    for (const { words } of await contractCommands()) expect(listsCommand(help, words[0]!), words[0]).toBe(true);
    expect(listsCommand(help, 'db')).toBe(true);
    for (const option of ['--db', '--quiet', '--json', '--log-dir', '--operator']) expect(describesOption(help, option), option).toBe(true);
    expect(help).toMatch(/Exit codes: 0 success; 1 the job failed; 2 bad usage or configuration; 3 input rejected/);
    expect(help).toContain('DATABASE_URL');
  });

  it('`tfclaims COMMAND --help` describes each command of the contract, its arguments and every option it names', async () => {
    const program = buildProgram();
    for (const { words, options, positionals } of await contractCommands()) {
      const command = findCommand(program, words);
      const help = command.helpInformation();
      const name = words.join(' ');
      expect(help, name).toMatch(new RegExp(`^Usage: tfclaims ${name}\\b`, 'm'));
      expect(command.description().length, name).toBeGreaterThan(10);
      for (const option of options) expect(describesOption(help, option), `${name} ${option}`).toBe(true);
      for (const positional of positionals) expect(help, `${name} ${positional}`).toContain(`<${positional.toLowerCase()}>`);
    }
    // Groups list their subcommands.
    expect(listsCommand(findCommand(program, ['claim']).helpInformation(), 'draft')).toBe(true);
    expect(listsCommand(findCommand(program, ['claim']).helpInformation(), 'finalise')).toBe(true);
    expect(listsCommand(findCommand(program, ['audit']).helpInformation(), 'sample')).toBe(true);
    expect(listsCommand(findCommand(program, ['audit']).helpInformation(), 'verify')).toBe(true);
    expect(listsCommand(findCommand(program, ['db']).helpInformation(), 'migrate')).toBe(true);
  });

  it('prints command help: `run --help`, `claim draft --help`, `help ingest`', async () => {
    const [run, draft, ingest] = await Promise.all([cli(['run', '--help']), mainInProcess(['claim', 'draft', '--help']), cli(['help', 'ingest'])]);
    for (const r of [run, draft, ingest]) expect(r.code, r.stderr).toBe(0);
    for (const option of ['--extracts', '--as-of', '--window', '--out', '--plan', '--max-reject-fraction']) {
      expect(describesOption(run.stdout, option), option).toBe(true);
    }
    expect(run.stdout).toContain('claims a family twice');
    for (const option of ['--window', '--as-of', '--out']) expect(describesOption(draft.stdout, option), option).toBe(true);
    expect(ingest.stdout).toMatch(/^Usage: tfclaims ingest \[options\] <source> <file>/m);
    expect(ingest.stdout).toMatch(/attendance \| offending \| employment \| social_care \|\s+attachments \| evidence/);
  });
});

/**
 * `main` in this process, with its stdout and stderr captured: the same boundary as the child
 * process, for the many usage cases that never reach a database (a child costs most of a second).
 */
async function mainInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  const savedExitCode = process.exitCode;
  process.stdout.write = ((chunk: string | Uint8Array) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'tfclaims', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    process.exitCode = savedExitCode;
  }
}

const USAGE_ERRORS: [string, string[], RegExp][] = [
  ['an unknown global option', ['--bogus', 'db', 'migrate'], /error: unknown option '--bogus'/],
  ['an unknown option of a command', ['ingest', 'offending', 'x.csv', '--bogus'], /error: unknown option '--bogus'/],
  ['a missing argument', ['ingest', 'offending'], /error: missing required argument 'file'/],
  ['a missing required option', ['run', '--extracts', 'x', '--window', 'w', '--out', 'o'], /error: required option '--as-of <date>' not specified/],
  ['an unknown command', ['frobnicate'], /error: unknown command 'frobnicate'/],
  ['an option value out of range', ['ingest', 'offending', 'x.csv', '--max-reject-fraction', '1.5'], /--max-reject-fraction.*expected a number from 0 to 1/],
  ['a bad whole number', ['synth', '--out', 'x', '--families', '0', '--seed', '1'], /--families.*expected a whole number of 1 or more/],
  ['an unknown option of a nested command', ['db', 'migrate', '--bogus'], /error: unknown option '--bogus'/],
  ['a missing required option of a nested command', ['claim', 'draft', '--as-of', '2026-10-31', '--out', 'o'], /error: required option '--window <id>' not specified/],
  ['a missing required option of another nested command', ['audit', 'verify', '--window', 'w'], /error: required option '--case-ref <ref>' not specified/],
  ['a group without its subcommand', ['claim'], /Usage: tfclaims claim/],
  ['an unknown subcommand of a group', ['audit', 'frob'], /error: unknown command 'frob'/],
  ['no command at all', [], /Usage: tfclaims/],
];



describe('usage errors', () => {
  it('the program exits 2 with the error and a pointer to --help for bad usage or a plan it cannot read', async () => {
    const [unknown, missing, nested, badPlan] = await Promise.all([
      cli(['ingest', 'offending', 'x.csv', '--bogus']),
      cli(['ingest', 'offending']),
      cli(['claim', 'draft', '--as-of', '2026-10-31']),
      cli(['evaluate', '--as-of', '2026-10-31', '--plan', 'no-such-plan.yaml', '--quiet']),
    ]);
    for (const r of [unknown, missing, nested]) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(unknown.stderr).toBe("error: unknown option '--bogus'\n(run with --help for usage)\n");
    expect(missing.stderr).toBe("error: missing required argument 'file'\n(run with --help for usage)\n");
    expect(nested.stderr).toBe("error: required option '--window <id>' not specified\n(run with --help for usage)\n");
    expect(badPlan.code, badPlan.stderr).toBe(2);
    expect(badPlan.stderr).toMatch(/no-such-plan\.yaml/);
  });

  it.each(USAGE_ERRORS)('%s exits 2', async (_name, args, message) => {
    const result = await mainInProcess(args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

});

describe(`ingest and run on ${mainBackend()}`, () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let d: CliDatabase;
  let logDir: string;
  const opts = () => ['--db', d.dbArg, '--log-dir', logDir];
  const event = (n: number, o: Record<string, string> = {}) => ({ ...person(n), event_date: '2025-03-01', event_type: 'asb_incident', ...o });
  const spell = (n: number) => ({ ...person(n), spell_type: 'employment', start_date: '2024-01-01' });

  beforeAll(async () => {
    tmp = await tempDir();
    logDir = path.join(tmp.dir, 'logs');
    d = await cliDatabase(path.join(tmp.dir, 'db'));
  });
  afterAll(async () => {
    await d?.drop();
    await tmp?.remove();
  });

  it('`ingest` loads a small valid extract: exit 0, counts on stderr, rows in the database, the run recorded', async () => {
    const file = await writeExtract(tmp.dir, 'offending', [event(1), event(2), event(3)], { name: 'valid.csv' });
    const result = await cli([...opts(), '--operator', 'cli-test', 'ingest', 'offending', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    const fileId = Number(/offending +\S+valid\.csv: file #(\d+), 3 of 3 rows loaded, 0 rejected$/m.exec(result.stderr)?.[1]);
    const runId = Number(/^run #(\d+); log: /m.exec(result.stderr)?.[1]);
    expect(fileId).toBeGreaterThan(0);
    const stored = await d.withDb(async (db) => ({
      rows: (await sql<{ record_id: string }>`SELECT record_id FROM raw.offending WHERE file_id = ${fileId} ORDER BY line`.execute(db.kysely)).rows,
      run: (await sql<{ command: string; operator: string; status: string; exit_code: number }>`
        SELECT command, operator, status, exit_code FROM audit.run_status WHERE run_id = ${runId}`.execute(db.kysely)).rows,
    }));
    expect(stored.rows.map((r) => r.record_id)).toEqual(['R1', 'R2', 'R3']);
    expect(stored.run).toEqual([{ command: 'ingest', operator: 'cli-test', status: 'succeeded', exit_code: 0 }]);
  });

  it('`--json` prints one parseable JSON summary on stdout, with the peak memory', async () => {
    const file = await writeExtract(tmp.dir, 'offending', [event(10), event(11, { dob: '2011-02-30' })], { name: 'json.csv' });
    const result = await cli([...opts(), '--json', 'ingest', 'offending', file, '--max-reject-fraction', '0.5']);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as Record<string, any>;
    expect(summary).toMatchObject({ rowsRead: 2, rowsLoaded: 1, rowsRejected: 1 });
    expect(typeof summary.runId).toBe('number');
    expect(summary.files).toEqual([expect.objectContaining({ source: 'offending', file, status: 'loaded', rejectsByKind: { 'dob: not a real date': 1 } })]);
    expect(summary.process.peakRssMb).toBeGreaterThan(10);
    expect(Number.isInteger(summary.process.peakRssMb)).toBe(true);
    // stderr still has the human lines unless --quiet
    expect(result.stderr).toMatch(/1 of 2 rows loaded, 1 rejected/);

  });

  it('`--quiet` prints nothing on stderr when all goes well, and still shows errors', async () => {
    const file = await writeExtract(tmp.dir, 'offending', [event(20)], { name: 'quiet.csv' });
    const quiet = await cli([...opts(), '--quiet', 'ingest', 'offending', file]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe('');

    const quietJson = await cli([...opts(), '--quiet', '--json', 'db', 'migrate']);
    expect(quietJson.code).toBe(0);
    expect(quietJson.stderr).toBe('');
    expect(JSON.parse(quietJson.stdout)).toMatchObject({ applied: [], current: (await loadMigrations()).at(-1)!.version, process: { peakRssMb: expect.any(Number) } });

    const failing = await mainInProcess([...opts(), '--quiet', 'ingest', 'offences', file]);
    expect(failing.code).toBe(2);
    expect(failing.stderr).toContain('unknown source "offences"');
  });

  it('`run` ingests the extracts in a folder, links people and families, evaluates and drafts the claim', async () => {
    const extracts = path.join(tmp.dir, 'extracts');
    await mkdir(extracts);
    await writeExtract(extracts, 'offending', [event(30), event(31)]);
    await writeExtract(extracts, 'employment', [spell(30)]);
    const out = path.join(tmp.dir, 'out');
    const result = await cli([...opts(), 'run', '--extracts', extracts, '--as-of', '2026-10-31', '--window', '2026-Q3', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/offending +\S+offending\.csv: file #\d+, 2 of 2 rows loaded, 0 rejected/);
    expect(result.stderr).toMatch(/employment +\S+employment\.csv: file #\d+, 1 of 1 rows loaded, 0 rejected/);
    expect(result.stderr).toMatch(/^match: 3 person records \(\d+ distinct profiles\) linked into \d+ people \(\d+ new\)$/m);
    expect(result.stderr).toMatch(/^families: \d+ people in \d+ families \(0 attached, \d+ new\)/m);
    expect(result.stderr).toMatch(/families\.csv: 3 records placed in families$/m);
    expect((await readFile(path.join(out, 'families.csv'), 'utf8')).split('\n')[0]).toBe('family_id,case_ref,person_id,source,record_id');
    expect(result.stderr).toMatch(/^evaluate: as of 2026-10-31 under plan phase2-london-core v\d+ \(sha256 [0-9a-f]{12}\), evaluation #\d+$/m);
    expect((await readFile(path.join(out, 'eligible-unattached.csv'), 'utf8')).split('\n')[0]).toBe('family_id,person_id,problems');
    expect(result.stderr).toMatch(/^claim draft for window 2026-Q3 \(claim \d+, cut-off 2026-10-31/m);
    expect((await readFile(path.join(out, 'claim-2026-Q3.csv'), 'utf8')).split('\n')[0]).toBe('window,family_id,case_ref,route,attached_on,outcome_date,problems_at_entry,amount_gbp');
    expect(result.stderr).toMatch(/^run #\d+ finished; outputs in /m);
    // `match` alone links what is loaded, again: the same people and families.
    const matched = await cli([...opts(), 'match', '--out', path.join(tmp.dir, 'out-match')]);
    expect(matched.code, matched.stderr).toBe(0);
    expect(matched.stderr).toMatch(/^match: 3 person records \(\d+ distinct profiles\) linked into \d+ people \(0 new\)$/m);
    expect(matched.stderr).toMatch(/^families: .*\(0 attached, 0 new\); 0 memberships began and 0 ended/m);
    expect(await readFile(path.join(tmp.dir, 'out-match', 'families.csv'), 'utf8')).toBe(await readFile(path.join(out, 'families.csv'), 'utf8'));

    // Again with --json: the same files are recognised (nothing loaded twice), stages in the summary.
    const again = await cli([...opts(), '--json', '--quiet', 'run', '--extracts', extracts, '--as-of', '2026-10-31', '--window', '2026-Q3', '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toBe('');
    const summary = JSON.parse(again.stdout) as Record<string, any>;
    expect(summary).toMatchObject({
      asOf: '2026-10-31',
      window: '2026-Q3',
      stages: [],
      claim: { window: '2026-Q3', status: 'draft' },
      ingest: { rowsLoaded: 0 },
      match: { people: { records: 3, newPersons: 0 }, families: { newFamilies: 0 } },
      familiesCsv: { rows: 3 },
      evaluation: { asOf: '2026-10-31', planId: 'phase2-london-core', attachedFamilies: 0 },
      seconds: { ingest: expect.any(Number), match: expect.any(Number), evaluate: expect.any(Number), claim: expect.any(Number) },
    });
    expect(summary.ingest.files.map((f: { status: string }) => f.status)).toEqual(['offending', 'employment'].map(() => 'unchanged'));
  });

  it('`run --stop-after ingest` loads the extracts and links nobody; --stop-after accepts only the stages it names', async () => {
    const extracts = path.join(tmp.dir, 'extracts-stop');
    await mkdir(extracts);
    await writeExtract(extracts, 'offending', [event(50)]);
    const out = path.join(tmp.dir, 'out-stop');
    const stopped = await cli([...opts(), '--json', '--quiet', 'run', '--extracts', extracts, '--as-of', '2026-10-31', '--window', 'STOP', '--out', out, '--stop-after', 'ingest']);
    expect(stopped.code, stopped.stderr).toBe(0);
    const summary = JSON.parse(stopped.stdout) as Record<string, any>;
    expect(summary.ingest.rowsLoaded).toBe(1);
    expect(summary.match).toBeUndefined();
    expect(summary.stages).toEqual([{ stage: 'match', status: 'skipped (--stop-after ingest)' }]);
    expect(existsSync(path.join(out, 'families.csv'))).toBe(false);
    const bad = await cli([...opts(), 'run', '--extracts', extracts, '--as-of', '2026-10-31', '--window', 'STOP', '--out', out, '--stop-after', 'claim']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected ingest, match or evaluate/);
  });

  it('`run` refuses bad usage with exit 2 before touching the database', async () => {
    const extracts = path.join(tmp.dir, 'extracts-usage');
    await mkdir(extracts);
    const empty = path.join(tmp.dir, 'extracts-empty');
    await mkdir(empty);
    await writeExtract(extracts, 'offending', [event(40)]);
    const base = ['--window', '2026-Q3', '--out', path.join(tmp.dir, 'out-usage')];
    const cases: [string[], RegExp][] = [
      [['--extracts', extracts, '--as-of', '2026-02-30', ...base], /--as-of 2026-02-30 is not a real date/],
      [['--extracts', extracts, '--as-of', '31/10/2026', ...base], /--as-of 31\/10\/2026 is not a real date in YYYY-MM-DD form/],
      [['--extracts', extracts, '--as-of', '2026-10-31', '--window', 'Q3 2026', '--out', 'o'], /--window Q3 2026 is not a valid window id/],
      [['--extracts', extracts, '--as-of', '2026-10-31', '--plan', 'plan.yaml', ...base], /cannot read outcomes plan plan\.yaml/],
      [['--extracts', empty, '--as-of', '2026-10-31', ...base], /no extracts found in/],
      [['--extracts', path.join(tmp.dir, 'nowhere'), '--as-of', '2026-10-31', ...base], /is not a folder/],
    ];
    const countRuns = () => d.withDb(async (db) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit.run WHERE command = 'run'`.execute(db.kysely)).rows[0]!.n);
    const runsBefore = await countRuns();
    const results = [];
    for (const [args] of cases) results.push(await mainInProcess([...opts(), 'run', ...args]));
    for (const [i, result] of results.entries()) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(cases[i]![1]);
      expect(result.stderr).toMatch(/what to do: /);
    }
    // A setting from the environment that is not a size: refused the same way.
    const badEnv = await cli([...opts(), 'run', '--extracts', extracts, '--as-of', '2026-10-31', ...base], { env: { TFCLAIMS_WORK_MEM: 'lots' } });
    expect(badEnv.code, badEnv.stderr).toBe(2);
    expect(badEnv.stderr).toMatch(/TFCLAIMS_WORK_MEM="lots" is not a memory size/);
    expect(badEnv.stderr).toMatch(/what to do: give a whole number with kB, MB or GB/);
    expect(await countRuns()).toBe(runsBefore); // none of them became a run
  });
});

describe('errors nobody expected, and bad output folders', () => {
  it('an internal error writes its stack to a log file, and stderr names that file but not the message', async () => {
    const tmp = await tempDir();
    const writes: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = reportInternalError(Object.assign(new TypeError('Zebediah Quillfeather cannot be read'), { code: 'EX_TEST' }), tmp.dir, 'synth');
    } finally {
      process.stderr.write = write;
    }
    try {
      expect(code).toBe(1);
      const stderr = writes.join('');
      expect(stderr).toMatch(/^tfclaims: internal error \(EX_TEST\): TypeError\n/);
      expect(stderr).not.toContain('Zebediah');
      const file = /see (\S+) \(it holds the stack trace\)/.exec(stderr)?.[1];
      expect(file && path.dirname(file)).toBe(tmp.dir);
      const log = await readFile(file!, 'utf8');
      expect(log).toContain('"msg":"internal error"');
      expect(log).toMatch(/"stack":"\s+at /);
      expect(log).not.toContain('Zebediah');
    } finally {
      await tmp.remove();
    }
  });

  it('synth into a folder it cannot create says so (exit 2), not an internal error', async () => {
    const tmp = await tempDir();
    try {
      await writeFile(path.join(tmp.dir, 'a-file'), 'x');
      const result = await cli(['--log-dir', path.join(tmp.dir, 'logs'), 'synth', '--out', path.join(tmp.dir, 'a-file', 'council'), '--families', '2', '--seed', '1']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^tfclaims: cannot write the synthetic council to .*a-file\/council: ENOTDIR\n  what to do: give --out a folder you can write to/);
    } finally {
      await tmp.remove();
    }
  });

  it('linkage-eval --synth on a folder without truth/ says what to give (exit 2)', async () => {
    const tmp = await tempDir();
    try {
      const result = await cli(['--log-dir', path.join(tmp.dir, 'logs'), 'linkage-eval', '--synth', tmp.dir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('has no truth/records.csv');
      expect(result.stderr).toContain('give a folder written by tfclaims synth');
    } finally {
      await tmp.remove();
    }
  });
});
