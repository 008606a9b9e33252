import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { createFileLogger } from '../../src/log/logger.ts';
import { openPglite, openPostgres, migrate } from '../../src/db/index.ts';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Chooses the database the suite runs on: TEST_DATABASE_URL when set (CI: the machine's
 * server), else a PostgreSQL container when Docker is reachable, else embedded PGlite. Then
 * migrates one template that every test file clones.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    testDb: { kind: 'postgres'; adminUrl: string; template: string } | { kind: 'pglite'; tarball: string };
    pgliteTarball: string;
  }
}

async function dockerPostgres(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const { getContainerRuntimeClient } = await import('testcontainers');
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('docker did not answer')), 5000)),
    ]);
    const container = await new PostgreSqlContainer('postgres:16.4-alpine').start();
    return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
  } catch {
    return undefined;
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  const { logger } = createFileLogger({ logDir: path.join(os.tmpdir(), 'tfclaims-test-logs'), command: 'test-setup' });
  const cleanups: (() => Promise<void>)[] = [];

  // A migrated embedded database, always: the ingest suite also runs on PGlite.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tfclaims-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const lite = await openPglite({ memory: true });
  await migrate(lite, logger);
  const tarball = path.join(dir, 'template.tar');
  await writeFile(tarball, Buffer.from(await (await lite.dumpDataDir()).arrayBuffer()));
  await lite.close();
  project.provide('pgliteTarball', tarball);

  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    const docker = await dockerPostgres();
    if (docker) {
      adminUrl = docker.url;
      cleanups.push(docker.stop);
    }
  }
  if (adminUrl) {
    const template = `tfclaims_tpl_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${template}`);
    const db = openPostgres(withDatabase(adminUrl, template));
    await migrate(db, logger);
    await db.close();
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
      await c.end();
    });
    project.provide('testDb', { kind: 'postgres', adminUrl, template });
  } else {
    project.provide('testDb', { kind: 'pglite', tarball });
  }

  return async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
}
