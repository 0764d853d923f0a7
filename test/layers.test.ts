// The layer lists name files that exist: a renamed or moved test would otherwise drop out
// of its layer silently (into unit, or out of every layer if it matched a glob only).
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONTAINER_TESTS, PROCESS_TESTS, SIM_TESTS } from './layers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('test layers', () => {
  it('every file a layer names exists, and every glob starts in a directory that exists', () => {
    const missing = [...SIM_TESTS, ...PROCESS_TESTS, ...CONTAINER_TESTS].filter((entry) => {
      const fixed = entry.includes('*') ? dirname(`${entry.slice(0, entry.indexOf('*'))}x`) : entry;
      return !existsSync(`${ROOT}/${fixed}`);
    });
    expect(missing).toEqual([]);
  });
});
