import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode, TfclaimsError } from '../errors.ts';
import { bulkWorkMem } from '../db/bulk-settings.ts';
import type { CommandReport } from './output.ts';
import { createFileLogger, safeError } from '../log/logger.ts';

// Each action loads its stage's modules when it runs, so `--help` and usage errors start fast.

/**
 * The command-line surface (cli-contract.md). This file only declares commands; each action
 * calls one typed function and hands its report to `report`. Errors reach `main`'s boundary.
 */

function stopAfterStage(value: string): 'ingest' | 'match' | 'evaluate' {
  if (value === 'ingest' || value === 'match' || value === 'evaluate') return value;
  throw new InvalidArgumentError('expected ingest, match or evaluate');
}

function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1, e.g. 0.05');
  return n;
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return Number(value);
}

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

interface GlobalFlags {
  db?: string;
  quiet?: boolean;
  json?: boolean;
  logDir?: string;
  operator?: string;
}

function report(result: CommandReport, flags: GlobalFlags): void {
  if (flags.json) {
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    process.stdout.write(`${JSON.stringify({ ...result.json, process: { peakRssMb } }, null, 2)}\n`);
  }
  if (!flags.quiet) for (const line of result.lines) process.stderr.write(`${line}\n`);
  process.exitCode = result.exitCode;
}

/** Build the program (exported so tests can check the help text). */
export function buildProgram(): Command {
  const program = new Command('tfclaims')
    .description(
      'Troubled Families / Supporting Families payment-by-results claims: ingest council extracts into PostgreSQL,\n' +
        'link people and families, decide outcomes under the outcomes plan, and write claim files with an audit trail.',
    )
    .addOption(new Option('--db <url>', 'database: postgres://USER@HOST:PORT/DB for a server, pglite:FOLDER for the embedded one').env('DATABASE_URL'))
    .option('--quiet', 'no progress or summary on stderr (errors are still shown)')
    .option('--json', 'print a machine-readable summary on stdout')
    .option('--log-dir <dir>', 'folder for the per-run structured log', './.tfclaims/logs')
    .option('--operator <name>', 'who is running this, recorded with the run (default: your login name)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Database: with no --db and no DATABASE_URL, an embedded PostgreSQL is kept in ./.tfclaims/db.
Every command brings the schema up to date itself.

Exit codes: 0 success; 1 the job failed; 2 bad usage or configuration; 3 input rejected.

Environment: TFCLAIMS_OPERATOR stands in for --operator; TFCLAIMS_LOG_LEVEL sets the run log's
level (default info); TFCLAIMS_WORK_MEM caps each sort or hash of the match and rules
stages on the database server (default 512MB; docs/run.md).

Examples:
  tfclaims synth --out demo --families 30 --seed 1
  tfclaims run --extracts demo --as-of 2026-10-31 --window 2026-Q3 --out out
  tfclaims ingest offending police.csv --mapping police.mapping.yaml --out out
  tfclaims --db postgres://root@127.0.0.1:5432/tfclaims db migrate`,
    );
  const flags = () => program.opts<GlobalFlags>();

  program
    .command('run')
    .description('the monthly job end to end: ingest every extract found in DIR, match, evaluate, and draft the claim')
    .requiredOption('--extracts <dir>', 'folder holding attendance.csv, offending.csv, employment.csv, social_care.csv, attachments.csv, evidence.csv (each optional; NAME.mapping.yaml beside a file is its column mapping)')
    .requiredOption('--as-of <date>', 'reference date and claim cut-off, YYYY-MM-DD')
    .requiredOption('--window <id>', 'claim window id, e.g. 2026-Q3')
    .requiredOption('--out <dir>', 'folder for claim files, reports and rejects.csv')
    .option('--plan <file>', 'outcomes plan: a YAML or JSON file, or a built-in id (phase2-london-core, phase1-2012, supporting-families-2022)', 'phase2-london-core')
    .option('--max-reject-fraction <f>', 'largest share of a file\'s rows that may be rejected before the file fails (default: the mapping\'s max_reject_fraction, else 0.05)', fraction)
    .option('--stop-after <stage>', 'stop after this stage: ingest (load and check the extracts only), match (people and families) or evaluate', stopAfterStage)
    .option('--full-match', 'relink every record and retrain the linkage model (default: after the first run, only records new or changed since the last match run)')
    .addHelpText(
      'after',
      `
Stages, in order:
  ingest   every extract found in DIR, in one transaction: if any file fails, nothing from the run is loaded
  match    people linked across the extracts and grouped into families, in one transaction;
           OUT/families.csv traces every record to its person and family
  evaluate identification and outcomes of every family as of --as-of under the plan, with evidence;
           OUT/eligible-unattached.csv lists families that qualify but are not attached
  claim    the claim draft for --window: OUT/claim-<window>.csv and claim-<window>-summary.json
           (no personal data); a window already submitted is left as it is
A failed stage leaves the database as that stage found it; running the same month again never
loads a file twice or claims a family twice. Then: tfclaims audit sample, audit verify and
claim finalise (docs/claims.md).`,
    )
    .action(async (o: { extracts: string; asOf: string; window: string; out: string; plan?: string; maxRejectFraction?: number; stopAfter?: 'ingest' | 'match' | 'evaluate'; fullMatch?: boolean }) => {
      const { runPipeline } = await import('../run/pipeline.ts');
      report(await runPipeline({ ...flags(), ...o }), flags());
    });

  program
    .command('ingest')
    .description('load one extract into the database, with validation and rejects')
    .argument('<source>', 'attendance | offending | employment | social_care | attachments | evidence')
    .argument('<file>', 'the CSV file')
    .option('--mapping <file>', 'column mapping (YAML or JSON) for a file whose headers, dates or codes differ from the canonical extract')
    .option('--out <dir>', 'write rejects.csv (owner-only: it holds personal data) into this folder')
    .option('--max-reject-fraction <f>', 'largest share of rows that may be rejected before the file fails (default: the mapping\'s max_reject_fraction, else 0.05)', fraction)
    .addHelpText(
      'after',
      `
Loading identical content again loads nothing. A newer file for the same source replaces the
previous one (its rows are kept, marked superseded). Exit 3 when the file is not a usable CSV
or too many rows are rejected; the database is then left as it was.`,
    )
    .action(async (source: string, file: string, o: { mapping?: string; out?: string; maxRejectFraction?: number }) => {
      const { runIngest } = await import('../ingest/command.ts');
      report(await runIngest({ ...flags(), source, file, ...o }), flags());
    });

  program
    .command('match')
    .description('link the person records of the current extracts into people, and people into families')
    .option('--threshold <p>', 'match probability at or above which a scored pair is a link', fraction, 0.5)
    .option('--out <dir>', 'write families.csv (family_id,case_ref,person_id,source,record_id) into this folder')
    .option('--full', 'relink every record and retrain the model, instead of only the records new or changed since the last match run')
    .option('--as-of <date>', 'the month\'s reference date (YYYY-MM-DD), as run --as-of: a family membership that ends in this run ends on the extracts\' data date, never after this date (default: the data date)')
    .addHelpText(
      'after',
      `
Deterministic links first (one source's records with the same person id), then the unsupervised
Fellegi-Sunter model over candidate pairs from several blocking rules. Links never join two
different person ids of one source, or dates of birth that cannot be one date mistyped. People keep
their person_id from run to run; merges and splits are recorded in core.person_change. Pairs with
probability 0.2-0.8 go to the clerical review queue (tfclaims review list).

Incremental: after the first run, only profiles (groups of identical records) that are new or
whose fields changed are scored, against everyone, with the model the last full run trained;
unchanged records stay with their people and their scored pairs are carried forward. A month in
which half the records are new or changed is relinked in full; --full forces it.

Families: everyone on one programme register case_ref is that family, whatever address other
systems hold; others are grouped by social care case group and by sharing a home (same UPRN, else
the same address and postcode however written) over overlapping periods. Family ids are stable
from run to run (a register family keeps its case_ref's id); membership history is kept in
core.family_member, merges and splits in core.family_change.

People and families are one transaction: a failure changes nothing.`,
    )
    .action(async (o: { threshold: number; out?: string; full?: boolean; asOf?: string }) => {
      const { runMatch } = await import('../link/command.ts');
      report(
        await runMatch({
          ...flags(),
          threshold: o.threshold,
          ...(o.out === undefined ? {} : { out: o.out }),
          ...(o.full ? { full: true } : {}),
          ...(o.asOf === undefined ? {} : { asOf: o.asOf }),
        }),
        flags(),
      );
    });

  // Clerical review and explain-match (issue 3): src/link/review.ts and src/link/explain.ts.
  const review = program.command('review').description('the clerical review queue of uncertain record pairs, and reviewers\' decisions');
  review
    .command('list')
    .description('pairs of the latest match run in the review band with no decision yet, least certain first')
    .option('--limit <n>', 'show at most this many pairs', positiveInt, 20)
    .addOption(new Option('--sort <order>', 'uncertainty: nearest probability 0.5 first; probability: most probable first').choices(['uncertainty', 'probability']).default('uncertainty'))
    .option('--show-records', 'also print the two records\' person fields (PERSONAL DATA: names, dates of birth, addresses)')
    .addHelpText(
      'after',
      `
Each pair has an id made of the two records' own ids, e.g.
  attendance:ATT00000012~offending:OCC00000034
which names the same pair in every later run: decide on it with \`tfclaims review decide\`.
For each pair: its probability, total match weight and, per comparison, the level it fell in
(e.g. "forename: jaro-winkler >= 0.92") and that level's weight, then the prior. The listing
holds no names, dates of birth or addresses unless you add --show-records, which prints the
two records side by side on stdout (never in the log); do not paste that output into tickets.
The listing goes to stdout; --json prints it as JSON instead.

The queue is what \`tfclaims match\` counts: pairs with probability inside the review band
(default 0.2-0.8), whether left unlinked, linked (awaiting confirmation) or refused by a guard.

Examples:
  tfclaims review list --limit 5
  tfclaims review list --limit 1 --show-records`,
    )
    .action(async (o: { limit: number; sort: 'uncertainty' | 'probability'; showRecords?: boolean }) => {
      const { runReviewList } = await import('../link/review.ts');
      report(await runReviewList({ ...flags(), ...o }), flags());
    });
  review
    .command('decide')
    .description('record a reviewer\'s decision on a pair: same person or different people; every later match obeys it')
    .argument('<pair>', 'pair id from `review list`, SOURCE:RECORD_ID~SOURCE:RECORD_ID (either order)')
    .argument('<decision>', 'same (one person) | different (not one person)')
    .requiredOption('--by <name>', 'who decided (recorded with the decision)')
    .option('--note <text>', 'why, e.g. "school confirmed the change of surname" (stored with the decision, never logged)')
    .addHelpText(
      'after',
      `
Both records must be among the current records. Nothing changes until the next \`tfclaims match\`,
which then obeys the decision in this and every later run: "same" joins the two records' people
(unless they hold different person ids of one source, or dates of birth that cannot be one date
mistyped), "different" keeps them apart and splits a person that holds both. A later decision on
the same pair replaces an earlier one. The command says what the next match will do.

Examples:
  tfclaims review decide attendance:ATT00000012~offending:OCC00000034 same --by "J. Smith"
  tfclaims review decide offending:OCC00000034~attendance:ATT00000012 different --by "J. Smith" --note "different school"`,
    )
    .action(async (pair: string, decision: string, o: { by: string; note?: string }) => {
      const { runReviewDecide } = await import('../link/review.ts');
      report(await runReviewDecide({ ...flags(), pair, decision, ...o }), flags());
    });
  program
    .command('explain-match')
    .description('why the linkage model scores two person records as it does: each comparison\'s level and weight, and the total')
    .argument('<record_a>', 'a record as SOURCE:RECORD_ID, e.g. attendance:ATT00000012')
    .argument('<record_b>', 'the other record, e.g. offending:OCC00000034')
    .option('--show-records', 'also print the values compared (PERSONAL DATA: names, dates of birth, postcodes)')
    .addHelpText(
      'after',
      `
Recomputes the comparison of the two records (as they are in the current extracts) with the
model of the latest \`tfclaims match\` run and prints, per comparison (forename, surname, dob,
location, sex): the level the pair falls in, its m (how often true matches agree so) and u (how
often random pairs do), and its match weight log2(m/u); then the prior weight, the total match
weight and the probability. Also: what the model makes of it at the run's thresholds, whether
any blocking rule makes them a candidate pair, what the run stored for the pair, whether they
are one person now, and the latest review decision. No personal data unless --show-records.
Run \`tfclaims match\` first. SOURCE is attendance, offending, employment, social_care or attachments.

Examples:
  tfclaims explain-match attendance:ATT00000012 offending:OCC00000034
  tfclaims --json explain-match attendance:ATT00000012 offending:OCC00000034`,
    )
    .action(async (recordA: string, recordB: string, o: { showRecords?: boolean }) => {
      const { runExplainMatch } = await import('../link/explain.ts');
      report(await runExplainMatch({ ...flags(), recordA, recordB, ...o }), flags());
    });
  program
    .command('evaluate')
    .description('identification and outcome results for every family as of a date, with evidence')
    .requiredOption('--as-of <date>', 'reference date (the claim cut-off T), YYYY-MM-DD')
    .option('--plan <file>', 'outcomes plan: a YAML or JSON file, or a built-in id (phase2-london-core, phase1-2012, supporting-families-2022)', 'phase2-london-core')
    .option('--out <dir>', 'write eligible-unattached.csv (families meeting identification but not attached) into this folder')
    .addHelpText(
      'after',
      `
Evaluates the families built by \`tfclaims match\`, in one transaction:
  identification  problems of every family over the plan's window; for an attached family, the
                  problems at entry are frozen at attached_on (data and keyworker assessment)
  progress        significant and sustained progress against every problem at entry, as of --as-of
  employment      continuous employment of an adult who was on out-of-work benefits
Every rule writes an evidence row (measured value, threshold, result, the source records used, plan
id and hash); the same inputs and plan give the same evidence (its sha256 is printed).
Then: tfclaims explain --case-ref REF shows why one family is or is not claimable.`,
    )
    .action(async (o: { asOf: string; plan: string; out?: string }) => {
      const { runEvaluate } = await import('../rules/command.ts');
      report(await runEvaluate({ ...flags(), asOf: o.asOf, plan: o.plan, ...(o.out === undefined ? {} : { out: o.out }) }), flags());
    });
  program
    .command('explain')
    .description('why a family is or is not claimable: members, problems at entry, every rule with its measured value, threshold, result and records, and the verdict')
    .option('--case-ref <ref>', 'the family by its programme register case reference, e.g. EH-100007')
    .option('--family <id>', 'the family by its family_id (as in families.csv)')
    .option('--as-of <date>', 'explain the latest evaluation as of this date, YYYY-MM-DD (default: the latest evaluation)')
    .option('--show-records', 'also print the source rows\' person fields and notes (PERSONAL DATA: names, dates of birth, addresses)')
    .addHelpText(
      'after',
      `
Reads what a rules evaluation stored (run \`tfclaims evaluate --as-of DATE\` first) and prints, in
plain language: the family (id, case_ref, attached on), the evaluation (id, as-of date, plan id,
version and sha256); its members (person ids, adult or child and age on the attachment and as-of
dates, basis of membership); the problems at entry and where each came from (a data rule, the
keyworker's assessment, or both); every rule with what it asks, the measured value against its
threshold and its result, keyed phase/problem/rule_index as in core.rule_evidence; the records
behind each rule as SOURCE:RECORD_ID with the extract file and line; the verdict for each route
(significant and sustained progress, continuous employment) and the overall claimable verdict
with route and amount; and the children's tiers of support.

No names, dates of birth or addresses unless you add --show-records, which prints the source rows'
person fields on stdout only (never in the log); do not paste that output into tickets. The
explanation goes to stdout; --json prints it as one JSON object instead.

Examples:
  tfclaims explain --case-ref EH-100007
  tfclaims explain --family 12 --as-of 2026-10-31
  tfclaims --json explain --case-ref EH-100007`,
    )
    .action(async (o: { caseRef?: string; family?: string; asOf?: string; showRecords?: boolean }) => {
      const { runExplain } = await import('../rules/explain.ts');
      report(await runExplain({ ...flags(), ...o }), flags());
    });

  // Claims and internal audit (issue 5, items 1-3): src/claims/, docs/claims.md.
  const claim = program.command('claim').description('claim drafts, submission and withdrawals');
  claim
    .command('draft')
    .description('draft the claim for a window: claim-<window>.csv and claim-<window>-summary.json (what run does as its last step)')
    .requiredOption('--window <id>', 'claim window id, e.g. 2026-Q3')
    .requiredOption('--as-of <date>', 'the cut-off date T, YYYY-MM-DD')
    .requiredOption('--out <dir>', 'folder for the claim files')
    .option('--plan <file>', 'outcomes plan: a YAML or JSON file, or a built-in id', 'phase2-london-core')
    .addHelpText(
      'after',
      `
Evaluates the rules as of --as-of (one transaction with the draft), takes every family claimable
by them, leaves out every family already in a submitted claim (any window, any route), and
writes claim-<window>.csv (window,family_id,case_ref,route,attached_on,outcome_date,
problems_at_entry,amount_gbp; no personal data; spreadsheet-safe) and its summary. Files are
written under a temporary name and renamed, so they are whole or absent. Drafting again
replaces the draft; a window already submitted is refused. See docs/claims.md.`,
    )
    .action(async (o: { window: string; asOf: string; out: string; plan: string }) => {
      const { runClaimDraft } = await import('../claims/command.ts');
      report(await runClaimDraft({ ...flags(), ...o }), flags());
    });
  claim
    .command('finalise')
    .description('submit the window\'s draft once its audit sample is verified; fills the ledger')
    .requiredOption('--window <id>', 'claim window id')
    .option('--out <dir>', 'folder for the submitted claim files (default: where the draft was written)')
    .addHelpText(
      'after',
      `
Refuses, naming what is missing, until every sampled line has a verification; lines whose latest
verification failed drop out; more than 5% of the sample failing blocks the whole claim until
re-verified. In one transaction: the submitted claim and the ledger (a family is claimed at most
once, ever, enforced by the database); then claim-<window>.csv and its summary (status
submitted) replace the draft's. A submitted claim never changes.`,
    )
    .action(async (o: { window: string; out?: string }) => {
      const { runClaimFinalise } = await import('../claims/command.ts');
      report(await runClaimFinalise({ ...flags(), ...o }), flags());
    });
  claim
    .command('withdraw')
    .description('withdraw a line of a submitted claim: a new record with a reason, never an edit')
    .requiredOption('--window <id>', 'claim window id')
    .requiredOption('--case-ref <ref>', 'the line\'s case_ref')
    .requiredOption('--reason <text>', 'why the line is withdrawn')
    .requiredOption('--by <name>', 'who withdraws it')
    .action(async (o: { window: string; caseRef: string; reason: string; by: string }) => {
      const { runClaimWithdraw } = await import('../claims/command.ts');
      report(await runClaimWithdraw({ ...flags(), ...o }), flags());
    });

  const audit = program.command('audit').description('internal audit sample and verification; the run chain');
  audit
    .command('sample')
    .description('draw the reproducible internal audit sample of the window\'s draft and write evidence packs')
    .requiredOption('--window <id>', 'claim window id')
    .option('--seed <n>', 'random seed, a whole number (default: drawn at random and recorded)')
    .option('--fraction <f>', 'share of lines to sample, more than 0 and at most 1 (default 0.1; at least one line)', fraction)
    .option('--out <dir>', 'folder for audit-<window>-PERSONAL/ (default: where the draft was written)')
    .addHelpText(
      'after',
      `
Lines are ordered by sha256("<seed>:<case_ref>") and the first ceil(fraction x lines) taken, so
the same seed and draft lines give the same sample (docs/claims.md shows how to redraw it in SQL).
The sample stands for the draft's lines: running again returns it (and rewrites the packs);
another seed or fraction for the same lines is refused. Evidence packs hold PERSONAL DATA
(members, source rows): owner-only files in OUT/audit-<window>-PERSONAL/.`,
    )
    .action(async (o: { window: string; seed?: string; fraction?: number; out?: string }) => {
      const { runAuditSample } = await import('../claims/command.ts');
      report(await runAuditSample({ ...flags(), ...o }), flags());
    });
  audit
    .command('verify')
    .description('record a check of a sampled line (append-only; the latest check of a line counts)')
    .requiredOption('--window <id>', 'claim window id')
    .requiredOption('--case-ref <ref>', 'the sampled line\'s case_ref')
    .requiredOption('--result <result>', 'pass | fail', (v: string) => {
      if (v !== 'pass' && v !== 'fail') throw new InvalidArgumentError('expected pass or fail');
      return v;
    })
    .requiredOption('--by <name>', 'who checked it')
    .option('--note <text>', 'what was found')
    .action(async (o: { window: string; caseRef: string; result: 'pass' | 'fail'; by: string; note?: string }) => {
      const { runAuditVerify } = await import('../claims/command.ts');
      report(await runAuditVerify({ ...flags(), ...o }), flags());
    });

  program
    .command('synth')
    .description('write synthetic extracts with known ground truth, for demos, tests and benchmarks')
    .requiredOption('--out <dir>', 'folder to write the six extracts and truth/ into')
    .requiredOption('--families <n>', 'attached (programme) families', positiveInt)
    .requiredOption('--seed <s>', 'random seed: the same seed and options give identical files', wholeNumber)
    .option('--population <n>', 'residents in all (default: 200 per attached family)', positiveInt)
    .option('--as-of <date>', 'the date the truth is stated for, YYYY-MM-DD', '2026-10-31')
    .option('--exported-source <source>', 'write this source with vendor headers plus its column mapping (offending)')
    .option('--invalid-rate <f>', "share of ordinary residents' rows made invalid on purpose, listed in truth/rejects.csv", fraction, 0.003)
    .addHelpText(
      'after',
      '\nWrites DIR/{attendance,offending,employment,social_care,attachments,evidence}.csv and DIR/truth/.\n' +
        'Scale: --families 5000 is the benchmark council (about a million residents). No database is used.\n' +
        'See docs/synth.md for the scenarios, the truth files and the noise.',
    )
    .action(async (o: { out: string; families: number; seed: number; population?: number; asOf: string; exportedSource?: string; invalidRate: number }) => {
      const { runSynthCommand } = await import('../synth/command.ts');
      report(await runSynthCommand({ ...flags(), ...o }), flags());
    });

  program
    .command('linkage-eval')
    .description('score the record-linkage model against public ground truth (FEBRL4 link, FEBRL1 dedupe); no database')
    .option('--febrl <dir>', 'folder holding dataset1.csv, dataset4a.csv, dataset4b.csv (default: the copy shipped in test/fixtures/febrl)')
    .option('--synth <dir>', 'also score person linkage on a folder written by tfclaims synth, against its truth/')
    .option('--threshold <p>', 'match probability at or above which a pair is a link', fraction, 0.5)
    .addHelpText('after', '\nUnsupervised: u from random pairs, m by EM, no labels. Prints precision, recall and F1; --json adds the\nmatch-weight histogram and every comparison level with its m and u.')
    .action(async (o: { febrl?: string; synth?: string; threshold: number }) => {
      const { runLinkageEval } = await import('../link/command.ts');
      report(await runLinkageEval(o), flags());
    });

  // Tamper evidence (issue 5, src/audit/): `audit check-chain`. Found by name, so this block
  // does not depend on how the claims work declares the `audit` group.
  const auditGroup = program.commands.find((c) => c.name() === 'audit') ?? program.command('audit').description('internal audit');
  auditGroup
    .command('check-chain')
    .description('recompute every run seal from the stored records; name the first broken record (exit 0 intact, 1 broken)')
    .option('--expect-hash <sha256>', 'a seal hash recorded earlier (from a run\'s log or a previous check) that must still be in the chain')
    .addHelpText(
      'after',
      `
Every run is sealed when it starts and when it ends: hash = sha256(previous seal's hash ||
canonical JSON of what the seal covers: command, arguments, operator, code version, start and
end, status, exit code, summary, the files the run loaded and wrote with their hashes, its rules
evaluations with their plan and evidence hashes). check-chain rebuilds each seal's content from
the records as they are now, recomputes every hash and link, and lists each difference, naming
the run and the field (e.g. "run 12 (seal 23, end): inputs[0].sha256 differs").

It only reads (a tfclaims_auditor login can run it) and does not migrate the database. The last
line gives the chain's head hash: keep it outside the database, and pass it back later with
--expect-hash to prove nothing was cut from the end. See docs/auditors.md to recompute a seal by hand.

Examples:
  tfclaims audit check-chain
  tfclaims --json audit check-chain --expect-hash 3f0c...e9`,
    )
    .action(async (o: { expectHash?: string }) => {
      const { runCheckChain } = await import('../audit/check.ts');
      report(await runCheckChain({ ...flags(), ...o }), flags());
    });

  const db = program.command('db').description('database housekeeping');
  db.command('migrate')
    .description('bring the schema up to date and do nothing else (every command does this itself)')
    .action(async () => {
      const { runMigrate } = await import('../db/command.ts');
      report(await runMigrate(flags()), flags());
    });
  db.command('roles')
    .description('create the tfclaims_auditor, tfclaims_finance and tfclaims_pipeline roles (if missing) and set this database\'s grants (a server only)')
    .addHelpText(
      'after',
      `
  tfclaims_auditor   reads the audit trail and the auditors' views; no raw.* or core.* personal data
  tfclaims_finance   the run chain only, until the claims views exist
  tfclaims_pipeline  reads and writes raw and core, reads and appends to audit; no superuser
The roles cannot log in: make people and services members (GRANT tfclaims_auditor TO jane).
Run it as the login that owns the tfclaims tables, with CREATEROLE; on each database and again
after every upgrade. The embedded database has no roles (exit 2). See docs/auditors.md.`,
    )
    .action(async () => {
      const { runDbRoles } = await import('../audit/roles.ts');
      report(await runDbRoles(flags()), flags());
    });

  return program;
}

/** The one error boundary: typed errors become a message and an exit code; anything else is an internal error. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  // Every level (`claim draft`, `db migrate` too): else commander exits 1 itself on their usage errors.
  const overrideExit = (command: Command): void => {
    command.exitOverride();
    for (const sub of command.commands) overrideExit(sub);
  };
  overrideExit(program);
  // Settings read from the environment are checked before any command touches the database.
  program.hook('preAction', () => {
    bulkWorkMem();
  });
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return ExitCode.ok;
      // `commander.help` is also help shown for a missing (sub)command (`tfclaims`, `tfclaims claim`): bad usage.
      if (error.code === 'commander.help' && error.exitCode === 0) return ExitCode.ok;
      return ExitCode.usage;
    }
    if (error instanceof TfclaimsError) {
      process.stderr.write(`tfclaims: ${error.message}\n`);
      if (error.hint) process.stderr.write(`  what to do: ${error.hint}\n`);
      return error.exitCode;
    }
    return reportInternalError(error, program.opts<GlobalFlags>().logDir, argv[2]);
  }
}

/**
 * An error no command expected: its stack goes to a log file of its own (the command's log may
 * not exist yet), and stderr gets the error's type and where to look, never its message (which
 * may quote data).
 */
export function reportInternalError(error: unknown, logDir: string | undefined, command: string | undefined): number {
  const code = (error as { code?: unknown }).code;
  let where = "the run's log file under the log folder";
  try {
    const { logger, file } = createFileLogger({ logDir, command: 'internal-error' });
    logger.fatal({ command, err: safeError(error) }, 'internal error');
    where = file;
  } catch {
    // Nowhere to write: the message below still says what happened.
  }
  process.stderr.write(
    `tfclaims: internal error${typeof code === 'string' ? ` (${code})` : ''}: ${(error as Error).name}\n  what to do: see ${where} (it holds the stack trace), and report it\n`,
  );
  if (process.env.TFCLAIMS_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
  return ExitCode.jobFailed;
}
