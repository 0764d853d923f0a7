// The interpreter of the Raft interaction scripts (interaction/): its file format
// and the ways a script must fail rather than pass quietly.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Args } from './interaction/args.js';
import { InteractionEnv } from './interaction/env.js';
import { type Directive, parseScript, renderScript } from './interaction/script.js';

function envWith(...lines: string[]): InteractionEnv {
  const env = new InteractionEnv();
  for (const l of lines) env.run(l);
  return env;
}

describe('script file format', () => {
  it('renders every script back byte for byte from what it records', () => {
    const dir = new URL('./testdata/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const source = readFileSync(new URL(f, dir), 'utf8');
      expect(renderScript(parseScript(source), new Map()), f).toBe(source);
    }
  });

  it('keeps comments and blank lines, and puts new output under its command', () => {
    const parts = parseScript('# intro\n\ncluster a\nstatus\n----\nstale\n\n# end\n');
    expect(parts.map((p) => p.kind)).toEqual(['text', 'text', 'directive', 'directive', 'text', 'text']);
    const [cluster, status] = parts.filter((p): p is Directive => p.kind === 'directive');
    expect(cluster?.recorded).toBeNull();
    expect(status?.recorded).toEqual(['stale']);
    expect(status?.line).toBe(4);
    const outputs = new Map<Directive, string[]>();
    if (cluster !== undefined && status !== undefined) {
      outputs.set(cluster, ['ok']);
      outputs.set(status, ['fresh 1', 'fresh 2']);
    }
    expect(renderScript(parts, outputs)).toBe('# intro\n\ncluster a\n----\nok\n\nstatus\n----\nfresh 1\nfresh 2\n\n# end\n');
  });

  it('refuses an output with a blank line, which would end its block early', () => {
    const parts = parseScript('status\n');
    const [d] = parts.filter((p): p is Directive => p.kind === 'directive');
    expect(() => renderScript(parts, new Map(d === undefined ? [] : [[d, ['a', '', 'b']]]))).toThrow(/blank line/);
  });
});

describe('arguments', () => {
  it('reads positionals, keys, lists and both kinds of quotes', () => {
    const a = new Args(`check a b applied=(x,y) in-flight-includes='a->b append entries=[2@1 "x y"]' note="two words"`);
    expect(a.command).toBe('check');
    expect(a.positional).toEqual(['a', 'b']);
    expect(a.get('applied')).toBe('(x,y)');
    expect(a.get('in-flight-includes')).toBe('a->b append entries=[2@1 "x y"]');
    expect(a.get('note')).toBe('two words');
    a.done();
  });

  it('names a key no command read', () => {
    const a = new Args('tick a n=2 typo=1');
    a.int('n', 1);
    expect(() => a.done()).toThrow(/does not take typo/);
  });
});

describe('commands fail loudly', () => {
  it('a check that does not hold fails with what it expected and what it got', () => {
    const env = envWith('cluster a b c', 'elect a log-level=none');
    expect(env.run('check a role=leader leaders=(a)')).toEqual(['ok']);
    expect(() => env.run('check b role=leader applied=(x)')).toThrow(
      /b role: expected leader, got follower\n\s+b applied: expected \(x\), got \(\)/,
    );
  });

  it('a check of nothing, an unknown key and an unknown command are errors', () => {
    const env = envWith('cluster a b c');
    expect(() => env.run('check a')).toThrow(/at least one key/);
    expect(() => env.run('check a rolee=leader')).toThrow(/unknown key rolee/);
    expect(() => env.run('campain a')).toThrow(/unknown command campain/);
    expect(() => env.run('tick a m=3')).toThrow(/does not take m/);
  });

  it('a refused proposal fails unless refused= names its reason', () => {
    const env = envWith('cluster a b c', 'elect a log-level=none');
    expect(() => env.run('propose b x')).toThrow(/refused NOT_LEADER/);
    expect(() => env.run('propose b x refused=TOO_MANY_PENDING')).toThrow(/expected TOO_MANY_PENDING/);
    expect(env.run('propose b x refused=NOT_LEADER')).toEqual(['b refused "x": NOT_LEADER (leader a)']);
    expect(() => env.run('propose a y refused=NOT_LEADER')).toThrow(/accepted, expected refused NOT_LEADER/);
  });

  it('a drop that matches nothing, and a misspelt message type, are errors', () => {
    const env = envWith('cluster a b c');
    expect(() => env.run('drop-msgs')).toThrow(/no message in flight matches/);
    expect(() => env.run('deliver-msgs type=apend')).toThrow(/not a Raft message type/);
  });

  it('log-level= holds for its command alone', () => {
    const env = envWith('cluster a b c');
    expect(env.run('campaign a')).toEqual(['a campaigns after 10 ticks: precandidate at term 0']);
    expect(env.run('process-ready a log-level=none')).toEqual(['ok']);
    expect(env.run('deliver-msgs b')).toEqual(['> b receiving messages', '  a->b preVote term=1 last=0@0']);
  });
});
