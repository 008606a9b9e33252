import type { ColumnType, Generated } from 'kysely';

/** A column the database fills in (identity, default) and that is read back as `T`. */
type Auto<T> = ColumnType<T, T | undefined, never>;
type Json = unknown;

export interface MigrationTable {
  version: number;
  name: string;
  sha256: string;
  applied_at: Auto<Date>;
}

export interface RunTable {
  run_id: Generated<number>;
  command: string;
  args: ColumnType<Json, string, never>;
  operator: string;
  code_version: string;
  started_at: Auto<Date>;
}

export interface RunEndTable {
  run_id: number;
  finished_at: Auto<Date>;
  status: 'succeeded' | 'failed';
  exit_code: number;
  summary: ColumnType<Json, string, never>;
}

export interface InputFileTable {
  file_id: Generated<number>;
  run_id: number;
  source: string;
  file_name: string;
  sha256: string;
  size_bytes: number;
  rows_read: number;
  rows_loaded: number;
  rows_rejected: number;
  mapping: ColumnType<Json | null, string | null, never>;
  mapping_sha256: string | null;
  started_at: ColumnType<Date, Date, never>;
  loaded_at: Auto<Date>;
}

export interface FileSupersessionTable {
  file_id: number;
  superseded_by: number;
  run_id: number;
  superseded_at: Auto<Date>;
  reason: string;
}

export interface RejectTable {
  reject_id: Generated<number>;
  file_id: number;
  run_id: number;
  source: string;
  line: number;
  column_name: string | null;
  value: string | null;
  reason: string;
}

/** Every table the pipeline queries with kysely, by `schema.table`. */
export interface Schema {
  'tfclaims_meta.migration': MigrationTable;
  'audit.run': RunTable;
  'audit.run_end': RunEndTable;
  'audit.input_file': InputFileTable;
  'audit.current_file': InputFileTable;
  'audit.file_supersession': FileSupersessionTable;
  'audit.reject': RejectTable;
}
