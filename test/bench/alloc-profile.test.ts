import { describe, expect, it } from 'vitest';
import { type AllocProfile, formatAllocSummary, NO_OWNER, summarizeAllocProfile } from '../../scripts/bench/alloc-profile.js';

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });

// (root) -> handler (Ratify) -> pack (msgpackr) ; handler allocates itself too ; (root) -> parser (node) on its own.
const profile: AllocProfile = {
  head: {
    callFrame: frame('(root)', ''),
    selfSize: 0,
    children: [
      {
        callFrame: frame('handler', 'file:///repo/dist/src/kv/routes.js', 18),
        selfSize: 100,
        children: [{ callFrame: frame('pack', 'file:///repo/node_modules/msgpackr/pack.js', 250), selfSize: 300, children: [] }],
      },
      { callFrame: frame('parserOnIncoming', 'node:_http_server', 1024), selfSize: 600, children: [] },
      { callFrame: frame('pack', 'file:///repo/node_modules/msgpackr/pack.js', 250), selfSize: 50, children: [] },
      // The sampler taking its profile: left out, with everything it called.
      {
        callFrame: frame('write', 'file:///repo/dist/scripts/bench/alloc-sampler.js', 29),
        selfSize: 5,
        children: [{ callFrame: frame('#onMessage', 'node:inspector', 80), selfSize: 5000, children: [] }],
      },
    ],
  },
};

describe('summarizeAllocProfile', () => {
  it('adds up the bytes by allocating frame and by the deepest Ratify frame on the stack', () => {
    const s = summarizeAllocProfile(profile, '/repo');
    expect(s.totalBytes).toBe(1050);
    expect(s.samplerBytes).toBe(5005);
    expect(s.self).toEqual([
      { frame: 'parserOnIncoming node:_http_server:1025', bytes: 600 },
      { frame: 'pack node_modules/msgpackr/pack.js:251', bytes: 350 },
      { frame: 'handler dist/src/kv/routes.js:19', bytes: 100 },
    ]);
    // msgpackr's 300 bytes under the handler are the handler's; the 50 outside any Ratify frame are not.
    expect(s.owners).toEqual([
      { frame: NO_OWNER, bytes: 650 },
      { frame: 'handler dist/src/kv/routes.js:19', bytes: 400 },
    ]);
  });

  it('names CommonJS frames (absolute paths) relative to the repository, like ES module URLs', () => {
    const cjs: AllocProfile = {
      head: { callFrame: frame('addNames', '/repo/node_modules/ajv/dist/index.js', 636), selfSize: 8, children: [] },
    };
    expect(summarizeAllocProfile(cjs, '/repo').self).toEqual([{ frame: 'addNames node_modules/ajv/dist/index.js:637', bytes: 8 }]);
  });

  it('walks a stack deeper than the call stack could recurse', () => {
    let node: AllocProfile['head'] = {
      callFrame: frame('leaf', 'file:///repo/dist/src/x.js'),
      selfSize: 7,
      children: [] as AllocProfile['head'][],
    };
    for (let i = 0; i < 50_000; i++) node = { callFrame: frame(`f${i % 3}`, 'node:internal/x'), selfSize: 0, children: [node] };
    expect(summarizeAllocProfile({ head: node }, '/repo').totalBytes).toBe(7);
  });

  it('prints shares of the total both ways', () => {
    const text = formatAllocSummary('n1', summarizeAllocProfile(profile, '/repo'), 2);
    expect(text).toContain("n1: 0.0 MiB allocated (sampled), collected objects included (the sampler's own 0.0 MiB left out)");
    expect(text).toContain(' 57.1%  parserOnIncoming node:_http_server:1025');
    expect(text).toContain(' 38.1%  handler dist/src/kv/routes.js:19');
    expect(text).not.toContain('  9.5%  handler'); // only the top 2 per list
  });
});
