// PostgreSQL for tests: the throwaway servers of examples/postgres/local-postgres.ts,
// and a describe() that skips (and says why) where PostgreSQL is not installed, except
// under CI=true, where a missing PostgreSQL is a failure: .ci/run installs it.
import { describe, it } from 'vitest';
import { findPostgres } from '../../examples/postgres/local-postgres.js';

export const postgresAvailability = findPostgres();

export function describePostgres(name: string, fn: () => void): void {
  if (postgresAvailability.ok) {
    describe(name, fn);
    return;
  }
  const reason = postgresAvailability.reason;
  if (process.env['CI'] === 'true') {
    describe(name, () => {
      it('needs PostgreSQL (required under CI=true)', () => {
        throw new Error(`PostgreSQL is required under CI=true: ${reason}`);
      });
    });
    return;
  }
  process.stderr.write(`SKIPPED ${name}: ${reason}\n`);
  describe.skip(name, fn);
}
