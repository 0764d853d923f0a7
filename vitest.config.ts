import { defineConfig } from 'vitest/config';
import { ALL_TESTS, CONTAINER_TESTS, PROCESS_TESTS, SIM_TESTS } from './test/layers.js';

// One vitest run over every layer but the containers (test/layers.ts says which file is
// where); `--project unit|sim|process` runs one layer (npm run test:unit, ...). The
// projects extend this root config; include and exclude live only in the projects, since
// extending would concatenate the root's lists into theirs.
export default defineConfig({
  test: {
    // Multi-process tests start real nodes; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Process-heavy suites contend for 2 cores; cap parallel files so timing-based
    // liveness (elections, retries) stays realistic. Global: it spans every project.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      // The container chaos suite runs on its own (vitest.containers.config.ts): it is
      // CPU-heavy, and beside the multi-process tests it would distort their elections.
      {
        extends: true,
        test: { name: 'unit', include: [ALL_TESTS], exclude: [...CONTAINER_TESTS, ...SIM_TESTS, ...PROCESS_TESTS, 'node_modules/**'] },
      },
      { extends: true, test: { name: 'sim', include: [...SIM_TESTS] } },
      { extends: true, test: { name: 'process', include: [...PROCESS_TESTS] } },
    ],
  },
});
