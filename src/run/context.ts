import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Logger } from 'pino';
import { openDatabase, resolveDatabaseTarget, type Database } from '../db/index.ts';
import { createFileLogger, safeError } from '../log/logger.ts';
import { silentProgress, terminalProgress, type ProgressReporter } from '../log/progress.ts';
import { TfclaimsError } from '../errors.ts';
import { recordRunEnd, recordRunStart } from '../audit/seal.ts';

/** Options every command that touches the database accepts. */
export interface CommonOptions {
  /** `--db`: postgres:// URL or pglite:PATH; else DATABASE_URL; else the embedded default. */
  db?: string;
  /** `--quiet`: no progress or human summary on stderr. */
  quiet?: boolean;
  /** `--json`: machine-readable summary on stdout; no progress bars. */
  json?: boolean;
  /** `--log-dir` / `--log-file`: where the structured log goes. */
  logDir?: string;
  logFile?: string;
  /** Who is running this (recorded with the run); defaults to the OS user. */
  operator?: string;
}

/** What a command's work gets: its run id, database, logger and progress reporter. */
export interface RunContext {
  runId: number;
  db: Database;
  logger: Logger;
  progress: ProgressReporter;
  logFile: string;
}

let cachedVersion: string | undefined;

/** The program version plus the git commit when running from a checkout. */
export function codeVersion(): string {
  if (cachedVersion) return cachedVersion;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: new URL('../../', import.meta.url),
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    // not a checkout (an installed package): the version alone identifies the code
  }
  cachedVersion = commit ? `${pkg.version}+${commit}` : pkg.version;
  return cachedVersion;
}

function operatorName(explicit: string | undefined): string {
  if (explicit) return explicit;
  if (process.env.TFCLAIMS_OPERATOR) return process.env.TFCLAIMS_OPERATOR;
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Result of a command body: its summary (counts and ids, recorded with the run) and exit code. */
export interface CommandOutcome<S> {
  summary: S;
  exitCode: number;
}

/**
 * Run a command as one recorded run: open (and migrate) the database, write `audit.run`
 * (committed at once, so an interrupted run is visible as never finished), do the work, then
 * write `audit.run_end` with the outcome. The database is closed whatever happens.
 */
export async function withRun<S>(
  command: string,
  args: unknown,
  common: CommonOptions,
  body: (ctx: RunContext) => Promise<CommandOutcome<S>>,
): Promise<CommandOutcome<S> & { runId: number; logFile: string }> {
  const { logger: rootLogger, file: logFile } = createFileLogger({ logDir: common.logDir, logFile: common.logFile, command });
  const progress = common.quiet || common.json ? silentProgress : terminalProgress();
  const target = resolveDatabaseTarget(common.db);
  const { db, migrations } = await openDatabase(target, rootLogger);
  try {
    // The start is recorded and sealed into the run chain in one transaction (src/audit/seal.ts).
    const started = await recordRunStart(db, { command, args: JSON.stringify(args), operator: operatorName(common.operator), codeVersion: codeVersion() });
    const run = { run_id: started.runId };
    const logger = rootLogger.child({ runId: run.run_id, command });
    logger.info({ database: db.description, kind: db.kind, migrationsApplied: migrations.applied, schema: migrations.current, seal: started.seal }, 'run started');
    const end = async (status: 'succeeded' | 'failed', exitCode: number, summary: unknown) => {
      // The end seal covers what the run loaded, wrote (recordOutput) and evaluated. Its hash in
      // this log is a copy outside the database: `tfclaims audit check-chain --expect-hash` checks it.
      const seal = await recordRunEnd(db, run.run_id, { status, exitCode, summary: JSON.stringify(summary ?? {}) });
      logger.info({ seal }, 'run sealed');
    };
    try {
      const outcome = await body({ runId: run.run_id, db, logger, progress, logFile });
      await end(outcome.exitCode === 0 ? 'succeeded' : 'failed', outcome.exitCode, outcome.summary);
      logger.info({ exitCode: outcome.exitCode }, 'run finished');
      return { ...outcome, runId: run.run_id, logFile };
    } catch (error) {
      const exitCode = error instanceof TfclaimsError ? error.exitCode : 1;
      const message = error instanceof TfclaimsError ? error.message : 'internal error (see the log file)';
      logger.error({ error: safeError(error) }, 'run failed');
      await end('failed', exitCode, { error: message }).catch((endError: unknown) => {
        logger.error({ error: safeError(endError) }, 'could not record the end of the run');
      });
      throw error;
    }
  } finally {
    await db.close();
  }
}
