// When the browser tests may skip: never in CI, so that a green run always means the
// dashboard was tested in a real browser.
import { describe, expect, it } from 'vitest';
import { browserRequired, probeBrowser } from './browser-support.js';

describe('browser test support', () => {
  it('is required under CI=true or RATIFY_BROWSER_REQUIRED=1, optional only in a local run', () => {
    expect(browserRequired({ CI: 'true' })).toBe(true);
    expect(browserRequired({ RATIFY_BROWSER_REQUIRED: '1' })).toBe(true);
    expect(browserRequired({})).toBe(false);
    expect(browserRequired({ CI: 'false' })).toBe(false);
  });

  it('a missing Chromium is a reason to skip locally and a failure under CI, and says how to install it', () => {
    const env = { RATIFY_CHROMIUM: '/nonexistent/chromium' };
    expect(probeBrowser(env)).toEqual({
      kind: 'unavailable',
      required: false,
      reason: expect.stringContaining('apt-get install -y chromium'),
    });
    expect(probeBrowser({ ...env, CI: 'true' })).toMatchObject({ kind: 'unavailable', required: true });
    expect(probeBrowser({ CI: 'true', RATIFY_SKIP_BROWSER_TESTS: '1' })).toEqual({
      kind: 'unavailable',
      required: true,
      reason: 'RATIFY_SKIP_BROWSER_TESTS=1',
    });
  });

  it('finds an executable it is pointed at', () => {
    expect(probeBrowser({ RATIFY_CHROMIUM: process.execPath })).toEqual({ kind: 'ready', executablePath: process.execPath });
  });
});
