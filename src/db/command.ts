import type { CommandReport } from '../cli/output.ts';
import { createFileLogger } from '../log/logger.ts';
import type { CommonOptions } from '../run/context.ts';
import { openDatabase, resolveDatabaseTarget } from './open.ts';

/** `tfclaims db migrate`: bring the schema up to date and report what was applied. */
export async function runMigrate(opts: CommonOptions): Promise<CommandReport> {
  const { logger, file } = createFileLogger({ logDir: opts.logDir, logFile: opts.logFile, command: 'db-migrate' });
  const { db, migrations } = await openDatabase(resolveDatabaseTarget(opts.db), logger);
  await db.close();
  const lines = [
    migrations.applied.length > 0
      ? `${db.description}: applied migration${migrations.applied.length > 1 ? 's' : ''} ${migrations.applied.join(', ')}; schema version ${migrations.current}`
      : `${db.description}: schema already up to date (version ${migrations.current})`,
    `log: ${file}`,
  ];
  return { exitCode: 0, lines, json: { database: db.description, ...migrations } };
}
