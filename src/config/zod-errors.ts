import type { z } from 'zod';

/**
 * One line per problem, each naming the path from `root`, e.g.
 * `plan.problems.education.window_months: expected a number, received string`.
 */
export function formatZodIssues(root: string, error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.reduce<string>(
      (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : `${acc}.${String(key)}`),
      root,
    );
    return `${path}: ${issue.message}`;
  });
}
