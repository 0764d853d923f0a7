// When the container suite may skip: never in CI, so that a green CI run always means the
// container scenarios ran (a skip there once left the suite off without anyone noticing).
import { describe, expect, it } from 'vitest';
import { containersRequired, probeContainerSupport } from './container-support.js';

describe('container suite support', () => {
  it('is required under CI=true or RATIFY_CONTAINERS_REQUIRED=1, optional only in a local run', () => {
    expect(containersRequired({ CI: 'true' })).toBe(true);
    expect(containersRequired({ RATIFY_CONTAINERS_REQUIRED: '1' })).toBe(true);
    expect(containersRequired({})).toBe(false);
    expect(containersRequired({ CI: 'false' })).toBe(false);
  });

  it('turns RATIFY_SKIP_CONTAINER_TESTS into a failure, not a skip, under CI', async () => {
    expect(await probeContainerSupport({ CI: 'true', RATIFY_SKIP_CONTAINER_TESTS: '1' })).toEqual({
      kind: 'unavailable',
      reason: 'RATIFY_SKIP_CONTAINER_TESTS=1',
      required: true,
    });
    expect(await probeContainerSupport({ RATIFY_SKIP_CONTAINER_TESTS: '1' })).toMatchObject({ kind: 'unavailable', required: false });
  });
});
