import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';

/** Default folder of per-run log files. */
export const DEFAULT_LOG_DIR = './.tfclaims/logs';

/**
 * Keys whose values are personal data. Code never logs them; this is the second line of
 * defence should a record ever be passed to a logger by mistake.
 */
const PERSONAL_KEYS = ['forename', 'surname', 'middle_names', 'dob', 'address', 'postcode', 'name', 'value', 'cells', 'record'];
// Three levels deep and inside arrays of records: `{ file: { row: { forename } } }`, `{ rows: [{ forename }] }`.
const REDACT_PATHS = PERSONAL_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*[*].${k}`, `*.*[*].${k}`]);

/** A logger writing structured JSON lines to a per-run file (created owner-only). */
export function createFileLogger(opts: { logDir?: string; logFile?: string; command: string; level?: string }): {
  logger: Logger;
  file: string;
} {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = opts.logFile ?? path.join(opts.logDir ?? DEFAULT_LOG_DIR, `${stamp}-${opts.command.replace(/\s+/g, '-')}-${process.pid}.log`);
  mkdirSync(path.dirname(file), { recursive: true });
  closeSync(openSync(file, 'a', 0o600));
  const destination = pino.destination({ dest: file, sync: true, mkdir: true });
  const logger = pino(
    {
      level: opts.level ?? process.env.TFCLAIMS_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[personal data removed]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
  return { logger, file };
}

/** A logger that discards everything (library use, unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * An error as it may be logged: its type, SQLSTATE and stack frames, but not its message when it
 * comes from outside this program (a database error's message can quote a data value).
 */
export function safeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const code = (error as { code?: unknown }).code;
  // Only the `at ...` lines: the stack starts with the message, which may run over several lines.
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n');
  const ours = error.constructor.name.endsWith('Error') && 'exitCode' in error;
  return {
    type: error.constructor.name,
    ...(typeof code === 'string' ? { code } : {}),
    ...(ours ? { message: error.message } : {}),
    stack: frames,
    ...(error.cause !== undefined ? { cause: safeError(error.cause) } : {}),
  };
}
