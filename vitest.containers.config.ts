import { defineConfig } from 'vitest/config';

// The container chaos suite (testcontainers). It skips, saying why, when no Docker
// engine or no ratify:local image is available; .ci/run prepares both.
export default defineConfig({
  test: {
    include: ['test/containers/chaos.containers.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    maxWorkers: 1,
    reporters: ['default'],
  },
});
