/**
 * Typed errors thrown by commands. The one boundary in `src/cli/main.ts` turns them into a
 * message on stderr and an exit code (see cli-contract.md). Messages carry file names, line
 * numbers, ids and counts, never names, dates of birth or addresses.
 */

/** Exit codes of the command-line contract. */
export const ExitCode = {
  ok: 0,
  jobFailed: 1,
  usage: 2,
  inputRejected: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base of every error the CLI knows how to report. `hint` says what the user should do. */
export class TfclaimsError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  constructor(message: string, opts: { exitCode: ExitCode; hint?: string; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode;
    this.hint = opts.hint;
  }
}

/** Bad command-line usage: an unknown option value, a missing argument. Exit 2. */
export class UsageError extends TfclaimsError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { exitCode: ExitCode.usage, ...opts });
  }
}

/** A configuration file (column mapping, outcomes plan) is missing or invalid. Exit 2. */
export class ConfigError extends TfclaimsError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { exitCode: ExitCode.usage, ...opts });
  }
}

/**
 * An input file cannot be loaded: not a CSV of the expected kind, or more rows rejected than the
 * allowed fraction. Exit 3. The database is left as it was before the file.
 */
export class InputRejectedError extends TfclaimsError {
  readonly file: string;
  constructor(file: string, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { exitCode: ExitCode.inputRejected, ...opts });
    this.file = file;
  }
}

/** The job could not complete (database unreachable, a lock not obtained, an internal fault). Exit 1. */
export class JobError extends TfclaimsError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { exitCode: ExitCode.jobFailed, ...opts });
  }
}
