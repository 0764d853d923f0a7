// Keeps README.md's error-code table and src/errors.ts in step: every code a
// client can receive must be documented, and the doc must not list codes that
// no longer exist.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';

function documentedCodes(): Map<string, number> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('### Error codes');
  expect(start, 'README.md needs an "### Error codes" section').toBeGreaterThan(-1);
  const section = readme.slice(start, readme.indexOf('\n## ', start) === -1 ? undefined : readme.indexOf('\n## ', start));
  const codes = new Map<string, number>();
  for (const m of section.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)) {
    codes.set(m[1]!, Number(m[2]));
  }
  return codes;
}

describe('README error-code table', () => {
  it('lists every code in src/errors.ts with its HTTP status, and nothing else', () => {
    const documented = documentedCodes();
    const expected = new Map(Object.entries(ERROR_CODES).map(([code, v]) => [code, v.status as number]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(expected));
  });
});
