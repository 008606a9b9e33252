import cliProgress from 'cli-progress';

/** A unit of long work whose advance is shown to a person (never carries personal data). */
export interface ProgressTask {
  /** Add `n` done units. */
  tick(n: number): void;
  /** Set the total once it becomes known (for example after a file's size is read). */
  setTotal(total: number): void;
  /** Finish the task, leaving a final line on screen. */
  done(): void;
  /** Stop showing the task without a final line (it failed; the error says why). */
  cancel(): void;
}

/** Starts progress tasks. Implementations: a terminal bar on stderr, or nothing (`--quiet`, `--json`, tests). */
export interface ProgressReporter {
  /** Begin a task. `label` is an id or a stage name, never personal data; `unit` names what is counted. */
  start(label: string, opts?: { total?: number; unit?: string }): ProgressTask;
  /** Print one human line on stderr (a stage finished, a count). Not logged: callers log separately. */
  say(line: string): void;
}

const silentTask: ProgressTask = { tick() {}, setTotal() {}, done() {}, cancel() {} };

/** A reporter that shows nothing: for `--quiet`, `--json` and library use. */
export const silentProgress: ProgressReporter = {
  start: () => silentTask,
  say: () => {},
};

/**
 * A reporter that draws bars with rows, rate and ETA on stderr. On a stream that is not a
 * terminal (CI, redirected output) it prints one line per task at the end instead of redrawing.
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const interactive = Boolean(stream.isTTY);
  return {
    say(line) {
      stream.write(`${line}\n`);
    },
    start(label, opts = {}) {
      const unit = opts.unit ?? 'rows';
      const startedAt = Date.now();
      let value = 0;
      let total = opts.total ?? 0;
      const bar = interactive
        ? new cliProgress.SingleBar(
            {
              stream,
              format: `${label.padEnd(22)} {bar} {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
              hideCursor: true,
              etaBuffer: 50,
              fps: 5,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      bar?.start(total || 1, 0, { rate: 0 });
      return {
        tick(n) {
          value += n;
          const seconds = Math.max((Date.now() - startedAt) / 1000, 0.001);
          if (bar) {
            if (total < value) bar.setTotal(value);
            bar.update(value, { rate: Math.round(value / seconds) });
          }
        },
        setTotal(t) {
          total = t;
          bar?.setTotal(Math.max(t, value));
        },
        cancel() {
          bar?.stop();
        },
        done() {
          const seconds = Math.max((Date.now() - startedAt) / 1000, 0.001);
          if (bar) {
            bar.setTotal(value);
            bar.update(value, { rate: Math.round(value / seconds) });
            bar.stop();
          } else {
            stream.write(`${label}: ${value} ${unit} in ${seconds.toFixed(1)}s (${Math.round(value / seconds)}/s)\n`);
          }
        },
      };
    },
  };
}
