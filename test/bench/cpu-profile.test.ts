import { describe, expect, it } from 'vitest';
import { formatProfileSummary, summarizeProfile, type CpuProfile } from '../../scripts/bench/cpu-profile.js';

// root -> main -> (encode, fsync); main -> idle sample at root level
const profile: CpuProfile = {
  startTime: 0,
  endTime: 10_000,
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 5] },
    { id: 2, callFrame: { functionName: 'main', url: 'file:///repo/dist/src/a.js', lineNumber: 9 }, children: [3, 4] },
    { id: 3, callFrame: { functionName: 'encode', url: 'file:///repo/node_modules/msgpackr/pack.js', lineNumber: 0 } },
    { id: 4, callFrame: { functionName: '', url: 'file:///repo/dist/src/a.js', lineNumber: 20 } },
    { id: 5, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
  ],
  samples: [3, 3, 4, 2, 5, 5, 5, 5],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('summarizeProfile', () => {
  it('charges self time to the sampled frame and total time to every frame on its stack', () => {
    const s = summarizeProfile(profile, '/repo');
    expect(s.wallMs).toBe(10);
    expect(s.busyMs).toBe(4);
    const byName = Object.fromEntries(s.frames.map((f) => [f.frame, f]));
    expect(byName['encode node_modules/msgpackr/pack.js:1']).toEqual({
      frame: 'encode node_modules/msgpackr/pack.js:1',
      selfMs: 2,
      totalMs: 2,
    });
    expect(byName['main dist/src/a.js:10']).toMatchObject({ selfMs: 1, totalMs: 4 });
    expect(byName['(anonymous) dist/src/a.js:21']).toMatchObject({ selfMs: 1, totalMs: 1 });
    expect(s.frames[0]?.frame).toBe('(idle)');
  });

  it('prints busy frames as shares of busy time, leaving out idle', () => {
    const text = formatProfileSummary('n1', summarizeProfile(profile, '/repo'), 2);
    const lines = text.split('\n');
    expect(lines[0]).toBe('n1: busy 0.0 s of 0.0 s sampled');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(' 50.0% self');
    expect(lines[1]).toContain('encode');
    expect(text).not.toContain('(idle)');
  });
});
