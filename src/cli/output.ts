/** What a command reports: human lines for stderr, a JSON summary for `--json`, and its exit code. */
export interface CommandReport {
  exitCode: number;
  /** Lines for a person (stderr). Ids and counts only. */
  lines: string[];
  /** Machine-readable summary printed on stdout with `--json`. */
  json: Record<string, unknown>;
}
