import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import YAML from 'yaml';
import { ConfigError } from '../errors.ts';
import { formatZodIssues } from '../config/zod-errors.ts';
import { DATE_FORMATS } from './dates.ts';
import { SOURCES, columnNames, type SourceName } from './sources.ts';

/**
 * A column mapping: how one council system's export of a source differs from the canonical
 * extract (header names, date layout, enum spellings, delimiter, encoding). YAML or JSON.
 */
export const ColumnMappingSchema = z
  .object({
    source: z.enum(SOURCES).optional().describe('which extract this mapping is for; when given it must match the source being loaded'),
    date_format: z
      .enum(DATE_FORMATS)
      .default('auto')
      .describe('layout of every date column: auto (YYYY-MM-DD or DD/MM/YYYY), or one fixed layout such as DD-MMM-YYYY'),
    delimiter: z.enum([',', ';', '\t', '|']).default(',').describe('field separator of the file'),
    encoding: z.enum(['utf-8', 'windows-1252']).default('utf-8').describe('text encoding of the file; windows-1252 for older Excel "CSV" exports'),
    columns: z
      .record(z.string().min(1), z.string().min(1))
      .default({})
      .describe('source header -> canonical column; headers not listed are matched to canonical names as they are'),
    values: z
      .record(z.string(), z.record(z.string(), z.string()))
      .default({})
      .describe('per canonical column, source value -> canonical value (e.g. event_type: {"Crime - Proven": proven_offence}); matched case-insensitively'),
    max_reject_fraction: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('largest share of rows that may be rejected before the whole file fails (default 0.05)'),
  })
  .strict()
  .describe('column mapping for one extract');

export type ColumnMapping = z.infer<typeof ColumnMappingSchema>;

/** The mapping's value recodes per canonical column, keyed by the given value trimmed and lower-cased (how cells are looked up). */
export function recodeMaps(mapping: ColumnMapping | undefined): Record<string, Map<string, string>> {
  const recode: Record<string, Map<string, string>> = {};
  for (const [column, values] of Object.entries(mapping?.values ?? {})) {
    recode[column] = new Map(Object.entries(values).map(([from, to]) => [from.trim().toLowerCase(), to]));
  }
  return recode;
}

/** A loaded mapping with where it came from and its hash (recorded with the file it loaded). */
export interface LoadedMapping {
  path: string;
  sha256: string;
  mapping: ColumnMapping;
}

/** Check a parsed mapping against the source it is used for: every target must be a canonical column. */
export function checkMappingForSource(mapping: ColumnMapping, source: SourceName): string[] {
  const problems: string[] = [];
  const canonical = columnNames(source);
  if (mapping.source !== undefined && mapping.source !== source) {
    problems.push(`mapping.source: this mapping is for ${mapping.source}, not ${source}`);
  }
  for (const [header, target] of Object.entries(mapping.columns)) {
    if (!canonical.includes(target)) {
      problems.push(`mapping.columns.${header}: "${target}" is not a column of ${source} (expected one of ${canonical.join(', ')})`);
    }
  }
  const targets = Object.values(mapping.columns);
  for (const target of new Set(targets)) {
    if (targets.filter((t) => t === target).length > 1) problems.push(`mapping.columns: more than one header maps to ${target}`);
  }
  for (const column of Object.keys(mapping.values)) {
    if (!canonical.includes(column)) problems.push(`mapping.values.${column}: not a column of ${source}`);
  }
  return problems;
}

/** Read, parse and validate a mapping file (YAML or JSON) for `source`. Fails with ConfigError naming every problem. */
export async function loadMapping(path: string, source: SourceName): Promise<LoadedMapping> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read column mapping ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      cause: error,
      hint: 'check the --mapping path',
    });
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (error) {
    throw new ConfigError(`column mapping ${path} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  const result = ColumnMappingSchema.safeParse(parsed ?? {});
  const problems = result.success ? checkMappingForSource(result.data, source) : formatZodIssues('mapping', result.error);
  if (!result.success || problems.length > 0) {
    throw new ConfigError(`column mapping ${path} is invalid:\n  ${problems.join('\n  ')}`, {
      hint: 'fix the mapping file; see docs/ingest.md for its format',
    });
  }
  return { path, sha256: createHash('sha256').update(text).digest('hex'), mapping: result.data };
}
