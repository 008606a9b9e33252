import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobError } from '../errors.ts';

const LOCK_FILE = 'tfclaims.lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take an exclusive lock on a folder by creating `tfclaims.lock` holding this process id. A lock
 * left by a process that no longer exists is taken over. Waits up to `waitMs` for a live holder.
 * Returns the function that releases it.
 */
export async function acquireDirectoryLock(dir: string, opts: { waitMs: number }): Promise<() => Promise<void>> {
  const lockPath = path.join(dir, LOCK_FILE);
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new JobError(`cannot lock the embedded database folder ${dir}: ${(error as Error).message}`, {
          cause: error,
          hint: 'check that the folder is writable, or pass --db with another location',
        });
      }
    }
    const holder = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
    if (!Number.isFinite(holder) || !isAlive(holder)) {
      await rm(lockPath, { force: true });
      continue;
    }
    if (holder === process.pid) {
      // Same process: waiting cannot help (the lock is not re-entrant), so say so at once.
      throw new JobError(`the embedded database at ${dir} is already open in this process`, {
        hint: 'close the open Database before opening the same folder again, or share the one that is open',
      });
    }
    if (Date.now() >= deadline) {
      throw new JobError(`the embedded database at ${dir} is in use by another tfclaims process (pid ${holder})`, {
        hint: 'wait for that run to finish and try again; for runs at the same time use a PostgreSQL server (--db postgres://...)',
      });
    }
    await sleep(200);
  }
}
