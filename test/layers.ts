// Which test files make up each layer (vitest.config.ts turns these into vitest projects;
// `npm run test:<layer>` runs one). A file belongs to exactly one layer: unit is everything
// the others do not claim, so a new test file is a unit test until it is listed here.
//
//   unit        in one process: pure code, fastify inject(), in-process clusters
//   sim         the seeded deterministic simulation of the Raft core and its harness
//   process     starts real OS processes: ratify nodes, banks, PostgreSQL, Chromium (needs dist/)
//   containers  the Docker chaos suite, run on its own (vitest.containers.config.ts)

export const SIM_TESTS: readonly string[] = ['test/raft/simulation.test.ts', 'test/sim/**/*.test.ts'];

export const PROCESS_TESTS: readonly string[] = [
  'test/bench/alloc-sampler.test.ts',
  'test/browser/dashboard.browser.test.ts',
  'test/chaos/process-chaos.test.ts',
  'test/chaos/postgres-chaos.test.ts',
  'test/containers/bank-records.test.ts',
  'test/failover/**/*.test.ts',
  'test/linearizability/stale-read.test.ts',
  'test/node/cli.test.ts',
  'test/node/graceful-stop.test.ts',
  'test/node/heap-flags.test.ts',
  'test/node/membership-multiprocess.test.ts',
  'test/node/multiprocess.test.ts',
  'test/node/node-footprint.test.ts',
  'test/node/tls-cluster.test.ts',
  'test/sdk/postgres-participant.test.ts',
  'test/transport/stream-connect.test.ts',
];

export const CONTAINER_TESTS: readonly string[] = ['test/containers/chaos.containers.test.ts'];

export const ALL_TESTS = 'test/**/*.test.ts';
