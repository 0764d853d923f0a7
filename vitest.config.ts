import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The container chaos suite runs on its own (vitest.containers.config.ts): it is
    // CPU-heavy, and beside the multi-process tests it would distort their elections.
    exclude: ['test/containers/chaos.containers.test.ts', 'node_modules/**'],
    // Multi-process tests start real nodes; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Process-heavy suites contend for 2 cores; cap parallel files so timing-based
    // liveness (elections, retries) stays realistic.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
