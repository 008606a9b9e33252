/**
 * `npm run bench [-- --scales 0.5,1 --db postgres://... --out bench/results]`
 *
 * The reference workload of shared/spec/benchmarks.md: `tfclaims synth` at bench scale
 * (5,000 attached families and ~1M residents per 1x), then, side by side on one PostgreSQL
 * server in the same run:
 *   - the floor: `psql \copy` of the same files into plain text tables, no validation;
 *   - tfclaims ingest of the same files (full validation, rejects), as `tfclaims run` does it
 *     (`run --stop-after ingest`);
 *   - the whole `tfclaims run` (ingest, match, evaluate, claim draft) on a fresh database, at the
 *     scales up to --match-up-to: its time against the floor (target <= 10x), seconds per
 *     stage, and the linkage figures (candidate pairs, pairs scored per second per core: scoring
 *     is single-threaded), and peak memory; then that run scored against the synthetic council's
 *     truth (bench/score-truth.ts, not timed): attached families exactly right (target >= 99%)
 *     and the claim draft's families right, wrongly claimed and missed;
 * with the ratio to the floor, peak resident memory of each tfclaims process, and growth between
 * scales. Prints a table and writes the same figures as JSON. Speed is judged as ratios measured
 * in one run, never as absolute times.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, writeFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { SOURCES } from '../src/ingest/sources.ts';

const { values: args } = parseArgs({
  options: {
    scales: { type: 'string', default: '1' },
    db: { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres' },
    out: { type: 'string', default: 'bench/results' },
    work: { type: 'string', default: path.join(os.tmpdir(), 'tfclaims-bench') },
    seed: { type: 'string', default: '1' },
    'match-up-to': { type: 'string', default: '1' },
  },
});

const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const BIN = path.join(ROOT, 'bin', 'tfclaims');
const FAMILIES_PER_SCALE = 5000;

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Run a command, returning wall seconds, exit code and output. */
async function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ seconds: number; code: number; stdout: string; stderr: string }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, code: code ?? -1, stdout, stderr });
    });
  });
}

async function fileRows(file: string): Promise<number> {
  const r = spawnSync('wc', ['-l', file], { encoding: 'utf8' });
  return Math.max(Number.parseInt(r.stdout, 10) - 1, 0);
}

interface ScaleResult {
  scale: number;
  families: number;
  files: Record<string, { rows: number; bytes: number }>;
  totalRows: number;
  synthSeconds: number;
  floorSeconds: number;
  floorRowsPerSecond: number;
  ingestSeconds: number;
  ingestRowsPerSecond: number;
  ingestVsFloor: number;
  ingestPeakRssMb: number;
  ingestExitCode: number;
  match?: {
    seconds: number;
    peakRssMb: number;
    records: number;
    candidatePairs: number;
    /** Pairs compared only to train m (a sample of same-birthday pairs). */
    trainingPairs: number;
    scoringSeconds: number;
    pairsPerSecondPerCore: number;
    people: number;
    families: number;
    exitCode: number;
  };
  /** The whole `tfclaims run` (ingest, match, evaluate, claim) on a fresh database. */
  endToEnd?: { seconds: number; vsFloor: number; stageSeconds: Record<string, number>; claimLines: number; peakRssMb: number; exitCode: number };
  /** The run scored against the synthetic council's truth (bench/score-truth.ts). */
  truth?: TruthScore;
}

interface TruthScore {
  families: { attached: number; exactlyRight: number; exactFraction: number };
  claims: { truthClaimable: number; claimed: number; right: number; wronglyClaimed: number; missed: number };
}

/** The first line of a file, read without loading the file (bench files run to gigabytes). */
async function firstLine(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    return text.slice(0, text.indexOf('\n'));
  } finally {
    await handle.close();
  }
}

async function benchScale(scale: number, admin: pg.Client): Promise<ScaleResult> {
  const families = Math.max(1, Math.round(FAMILIES_PER_SCALE * scale));
  const dir = path.join(args.work, `scale-${scale}-seed-${args.seed}`);
  let synthSeconds = 0;
  if (!existsSync(path.join(dir, 'truth', 'truth.json'))) {
    process.stderr.write(`scale ${scale}: generating ${families} families into ${dir}\n`);
    const synth = await timed(NODE, [BIN, '--quiet', 'synth', '--out', dir, '--families', String(families), '--seed', args.seed]);
    if (synth.code !== 0) throw new Error(`synth failed:\n${synth.stderr}`);
    synthSeconds = synth.seconds;
  }
  const files: Record<string, { rows: number; bytes: number }> = {};
  for (const source of SOURCES) {
    const file = path.join(dir, `${source}.csv`);
    if (!existsSync(file)) continue;
    files[source] = { rows: await fileRows(file), bytes: (await stat(file)).size };
  }
  const totalRows = Object.values(files).reduce((n, f) => n + f.rows, 0);

  // The floor: psql \copy into plain text tables with the same columns, no validation.
  const floorDb = `tfclaims_bench_floor_${process.pid}`;
  await admin.query(`DROP DATABASE IF EXISTS ${floorDb}`);
  await admin.query(`CREATE DATABASE ${floorDb}`);
  const floorUrl = withDatabase(args.db, floorDb);
  const floorClient = new pg.Client({ connectionString: floorUrl });
  await floorClient.connect();
  for (const source of Object.keys(files)) {
    const header = (await firstLine(path.join(dir, `${source}.csv`))).split(',');
    await floorClient.query(`CREATE TABLE floor_${source} (${header.map((h) => `"${h.trim()}" text`).join(', ')})`);
  }
  await floorClient.end();
  const copyCommands = Object.keys(files).flatMap((source) => ['-c', `\\copy floor_${source} FROM '${path.join(dir, `${source}.csv`)}' WITH (FORMAT csv, HEADER true)`]);
  // Each timed step starts from a quiet server: no checkpoint of the previous load running under it.
  await admin.query('CHECKPOINT');
  const floor = await timed('psql', ['-q', '-v', 'ON_ERROR_STOP=1', floorUrl, ...copyCommands]);
  if (floor.code !== 0) throw new Error(`psql \\copy failed:\n${floor.stderr}`);
  await admin.query(`DROP DATABASE IF EXISTS ${floorDb}`);

  // tfclaims ingest of the same files, through `tfclaims run` (its ingest stage; later stages report themselves).
  const benchDb = `tfclaims_bench_${process.pid}`;
  await admin.query(`DROP DATABASE IF EXISTS ${benchDb}`);
  await admin.query(`CREATE DATABASE ${benchDb}`);
  const benchUrl = withDatabase(args.db, benchDb);
  // Migrate first so schema set-up is not counted as ingest.
  const migrate = await timed(NODE, [BIN, '--quiet', '--db', benchUrl, 'db', 'migrate']);
  if (migrate.code !== 0) throw new Error(`migrate failed:\n${migrate.stderr}`);
  const outDir = path.join(args.work, `out-${scale}`);
  await admin.query('CHECKPOINT');
  const ingest = await timed(NODE, [
    BIN, '--json', '--db', benchUrl, '--log-dir', path.join(args.work, 'logs'),
    'run', '--extracts', dir, '--as-of', '2026-10-31', '--window', 'BENCH', '--out', outDir, '--stop-after', 'ingest',
  ]);
  let peak = 0;
  try {
    peak = (JSON.parse(ingest.stdout) as { process?: { peakRssMb?: number } }).process?.peakRssMb ?? 0;
  } catch {
    process.stderr.write(ingest.stderr);
  }
  await admin.query(`DROP DATABASE IF EXISTS ${benchDb} WITH (FORCE)`);
  let match: ScaleResult['match'];
  let endToEnd: ScaleResult['endToEnd'];
  let truth: TruthScore | undefined;
  if (ingest.code === 0 && scale <= Number(args['match-up-to'])) {
    // The whole monthly job on a fresh database: every stage, as a council runs it.
    await admin.query(`CREATE DATABASE ${benchDb}`);
    const migrated = await timed(NODE, [BIN, '--quiet', '--db', benchUrl, 'db', 'migrate']);
    if (migrated.code !== 0) throw new Error(`migrate failed:\n${migrated.stderr}`);
    await admin.query('CHECKPOINT');
    const runOut = path.join(args.work, `out-run-${scale}`);
    const run = await timed(NODE, [
      BIN, '--json', '--db', benchUrl, '--log-dir', path.join(args.work, 'logs'),
      'run', '--extracts', dir, '--as-of', '2026-10-31', '--window', 'BENCH', '--out', runOut,
    ]);
    if (run.code === 0) {
      // Not timed: scoring against the truth reads every record of the council.
      const heapMb = Math.max(4096, Math.floor((os.totalmem() / 2 ** 20) * 0.6));
      const scored = await timed(NODE, [`--max-old-space-size=${heapMb}`, path.join(ROOT, 'bench', 'score-truth.ts'), benchUrl, dir, path.join(runOut, 'claim-BENCH.csv')]);
      if (scored.code === 0) truth = JSON.parse(scored.stdout) as TruthScore;
      else process.stderr.write(`scoring against the truth failed:\n${scored.stderr}`);
    }
    try {
      const r = JSON.parse(run.stdout) as {
        match: { people: { records: number; candidatePairs: number; trainingPairs?: number; scoringSeconds: number; scoringThreads?: number; persons: number }; families: { families: number } };
        seconds: Record<string, number>;
        claim?: { lines: number };
        process?: { peakRssMb?: number };
      };
      const m = r.match;
      match = {
        seconds: r.seconds.match ?? 0,
        peakRssMb: r.process?.peakRssMb ?? 0,
        records: m.people.records,
        candidatePairs: m.people.candidatePairs,
        trainingPairs: m.people.trainingPairs ?? 0,
        scoringSeconds: m.people.scoringSeconds,
        // Every pair compared counts: candidates and the training sample alike.
        // Per core: a first match on a large council scores on two threads (scoringThreads).
        pairsPerSecondPerCore: Math.round((m.people.candidatePairs + (m.people.trainingPairs ?? 0)) / m.people.scoringSeconds / (m.people.scoringThreads ?? 1)),
        people: m.people.persons,
        families: m.families.families,
        exitCode: run.code,
      };
      endToEnd = { seconds: run.seconds, vsFloor: run.seconds / floor.seconds, stageSeconds: r.seconds, claimLines: r.claim?.lines ?? 0, peakRssMb: r.process?.peakRssMb ?? 0, exitCode: run.code };
    } catch {
      process.stderr.write(run.stderr);
      endToEnd = { seconds: run.seconds, vsFloor: run.seconds / floor.seconds, stageSeconds: {}, claimLines: 0, peakRssMb: 0, exitCode: run.code };
    }
  }
  await admin.query(`DROP DATABASE IF EXISTS ${benchDb} WITH (FORCE)`);
  return {
    ...(endToEnd ? { endToEnd } : {}),
    ...(truth ? { truth } : {}),
    scale,
    families,
    files,
    totalRows,
    synthSeconds,
    floorSeconds: floor.seconds,
    floorRowsPerSecond: Math.round(totalRows / floor.seconds),
    ingestSeconds: ingest.seconds,
    ingestRowsPerSecond: Math.round(totalRows / ingest.seconds),
    ingestVsFloor: ingest.seconds / floor.seconds,
    ingestPeakRssMb: peak,
    ingestExitCode: ingest.code,
    ...(match ? { match } : {}),
  };
}

const scales = args.scales.split(',').map(Number).filter((n) => n > 0);
const admin = new pg.Client({ connectionString: args.db });
await admin.connect();
const results: ScaleResult[] = [];
// Warm up (server caches, Node's module compile cache) so the first scale is not measured cold.
{
  const warmDb = `tfclaims_bench_warm_${process.pid}`;
  await admin.query(`DROP DATABASE IF EXISTS ${warmDb}`);
  await admin.query(`CREATE DATABASE ${warmDb}`);
  await timed(NODE, [
    BIN, '--quiet', '--db', withDatabase(args.db, warmDb), '--log-dir', path.join(args.work, 'logs'),
    'run', '--extracts', path.join(ROOT, 'samples', 'extracts'), '--as-of', '2026-10-31', '--window', 'WARM', '--out', path.join(args.work, 'out-warm'),
  ]);
  await admin.query(`DROP DATABASE IF EXISTS ${warmDb} WITH (FORCE)`);
}
for (const scale of scales) {
  const r = await benchScale(scale, admin);
  results.push(r);
  process.stderr.write(`scale ${scale}: done\n`);
}
await admin.end();

const fmt = (n: number, d = 2) => n.toFixed(d);
const rows = [
  ['scale', 'rows', 'floor s', 'floor rows/s', 'ingest s', 'ingest rows/s', 'ingest/floor (target <= 2)', 'peak RSS MB (target < 1024)', 'exit'],
  ...results.map((r) => [
    String(r.scale), String(r.totalRows), fmt(r.floorSeconds), String(r.floorRowsPerSecond), fmt(r.ingestSeconds),
    String(r.ingestRowsPerSecond), fmt(r.ingestVsFloor), fmt(r.ingestPeakRssMb, 0), String(r.ingestExitCode),
  ]),
];
printTable(rows);
const matched = results.filter((r) => r.match);
if (matched.length > 0) {
  console.log('');
  printTable([
    ['scale', 'person records', 'candidate pairs', 'scoring s', 'pairs/s/core (target >= 250k)', 'match s', 'people', 'families', 'peak RSS MB', 'exit'],
    ...matched.map((r) => {
      const m = r.match!;
      return [String(r.scale), String(m.records), String(m.candidatePairs), fmt(m.scoringSeconds), String(m.pairsPerSecondPerCore), fmt(m.seconds), String(m.people), String(m.families), fmt(m.peakRssMb, 0), String(m.exitCode)];
    }),
  ]);
}

const ended = results.filter((r) => r.endToEnd);
if (ended.length > 0) {
  console.log('');
  printTable([
    ['scale', 'run s', 'run/floor (target <= 10)', 'ingest s', 'match s', 'evaluate s', 'claim s', 'claim lines', 'peak RSS MB', 'exit'],
    ...ended.map((r) => {
      const e = r.endToEnd!;
      const st = (k: string) => fmt(e.stageSeconds[k] ?? 0);
      return [String(r.scale), fmt(e.seconds), fmt(e.vsFloor), st('ingest'), st('match'), st('evaluate'), st('claim'), String(e.claimLines), fmt(e.peakRssMb, 0), String(e.exitCode)];
    }),
  ]);
}

const scored = results.filter((r) => r.truth);
if (scored.length > 0) {
  console.log('');
  printTable([
    ['scale', 'attached families exactly right (target >= 99%)', 'claimed', 'claimable (truth)', 'right', 'wrongly claimed', 'missed'],
    ...scored.map((r) => {
      const { families: f, claims: c } = r.truth!;
      return [String(r.scale), `${f.exactlyRight} of ${f.attached} (${fmt(f.exactFraction * 100, 2)}%)`, String(c.claimed), String(c.truthClaimable), String(c.right), String(c.wronglyClaimed), String(c.missed)];
    }),
  ]);
}

function printTable(table: string[][]): void {
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) console.log(row.map((c, i) => c.padStart(widths[i]!)).join('  '));
}
const growth: Record<string, unknown> = {};
for (let i = 1; i < results.length; i++) {
  const a = results[i - 1]!;
  const b = results[i]!;
  const key = `${a.scale}->${b.scale}`;
  growth[key] = { inputRatio: b.totalRows / a.totalRows, timeRatio: b.ingestSeconds / a.ingestSeconds, rssGrowth: b.ingestPeakRssMb / a.ingestPeakRssMb - 1 };
  console.log(`growth ${key}: input x${fmt(b.totalRows / a.totalRows)}, ingest time x${fmt(b.ingestSeconds / a.ingestSeconds)}, peak RSS ${fmt((b.ingestPeakRssMb / a.ingestPeakRssMb - 1) * 100, 1)}%`);
}
await mkdir(args.out, { recursive: true });
const file = path.join(args.out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(file, JSON.stringify({ when: new Date().toISOString(), machine: { cpus: os.cpus().length, memGb: Math.round(os.totalmem() / 2 ** 30) }, results, growth }, null, 2));
console.log(`figures written to ${file}`);

