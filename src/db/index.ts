export type { Database, DbSession, DatabaseKind } from './types.ts';
export type { Schema } from './schema.ts';
export { openDatabase, openTarget, resolveDatabaseTarget, DEFAULT_PGLITE_DIR, type DatabaseTarget } from './open.ts';
export { migrate, loadMigrations, MIGRATIONS_DIR, MIGRATION_LOCK_KEY, type MigrationReport } from './migrate.ts';
export { openPostgres, redactUrl } from './pg.ts';
export { openPglite } from './pglite.ts';
export { SqlState, sqlStateOf } from './sqlstate.ts';
