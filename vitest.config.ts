import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Each file gets its own database cloned from a migrated template, so files run in parallel.
    pool: 'forks',
    // Vitest's default is one fork fewer than the cores: one fork on a two-core CI machine, and
    // the files ran one after another. Much of a file's time is PostgreSQL's or a child CLI's, so
    // a fork per core: the suite 434 -> 350 s on two cores.
    poolOptions: { forks: { maxForks: Math.max(2, availableParallelism()), minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
