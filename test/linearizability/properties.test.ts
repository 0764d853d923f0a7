// Property tests: histories made from a real sequential execution of the specification,
// with every operation's interval stretched at random around the moment it took effect
// (so operations overlap at random) and some answers lost, are linearizable by
// construction, and the checker must say so. Mutating one read so that no order explains
// it must make the checker say no.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory } from './check.js';
import { kvModel, type KvOperation } from './kv-model.js';
import { outcomeOf, txModel, type TxOperation, type TxOutput, type TxPhase, type TxProtocol } from './tx-model.js';

const RUNS = 150;
/** Moments of effect are this far apart; intervals stretch up to 3 gaps either side. */
const GAP_MS = 10;

interface Step {
  readonly action: number;
  readonly before: number;
  readonly after: number;
  /** 0: the answer was lost. */
  readonly lost: number;
}
const steps = (max: number): fc.Arbitrary<Step[]> =>
  fc.array(fc.record({ action: fc.nat(99), before: fc.nat(3 * GAP_MS), after: fc.nat(3 * GAP_MS), lost: fc.nat(9) }), {
    minLength: 1,
    maxLength: max,
  });

// ---- KV ------------------------------------------------------------------------

/** A sequential run on three keys: puts of unique values (indexes in order), gets of the current value. */
function kvRun(plan: readonly Step[]): KvOperation[] {
  const values = new Map<string, string>();
  return plan.map((s, i) => {
    const key = ['x', 'y', 'z'][s.action % 3]!;
    const at = (i + 1) * GAP_MS;
    const lost = s.lost === 0;
    const base = { id: i, client: `c${i % 4}`, callMs: at - s.before, returnMs: lost ? Infinity : at + s.after };
    if (s.action % 2 === 0) {
      // A lost put took effect (or not) at its moment; either way the history stays linearizable.
      const value = `v${i}`;
      if (!lost || s.action % 4 === 0) values.set(key, value);
      return { ...base, input: { op: 'put', key, value }, output: lost ? null : { op: 'put', index: i + 1 } };
    }
    return { ...base, input: { op: 'get', key }, output: lost ? null : { op: 'get', value: values.get(key) ?? null } };
  });
}

/** A get that began after a put of the same key ended, which began after another put ended: it cannot return the older value. */
function staleCandidate(h: readonly KvOperation[]): { read: number; value: string } | null {
  for (const g of h) {
    if (g.input.op !== 'get' || g.output === null) continue;
    const puts = h.filter(
      (p): p is KvOperation & { input: { op: 'put'; value: string } } =>
        p.input.op === 'put' && p.input.key === g.input.key && p.output !== null,
    );
    for (const newer of puts) {
      if (!(newer.returnMs < g.callMs)) continue;
      const older = puts.find((p) => p.returnMs < newer.callMs);
      if (older !== undefined) return { read: g.id, value: older.input.value };
    }
  }
  return null;
}

describe('kv histories from a sequential run with random overlaps', () => {
  it('are linearizable', () => {
    fc.assert(
      fc.property(steps(60), (plan) => {
        expect(checkHistory(kvModel, kvRun(plan)).verdict).toBe('yes');
      }),
      { numRuns: RUNS },
    );
  });

  it('are not, once a read returns a value that was overwritten before it began', () => {
    fc.assert(
      fc.property(steps(60), (plan) => {
        const h = kvRun(plan);
        const c = staleCandidate(h);
        fc.pre(c !== null);
        const mutated = h.map((o) => (o.id === c!.read ? { ...o, output: { op: 'get' as const, value: c!.value } } : o));
        const r = checkHistory(kvModel, mutated);
        expect(r.verdict).toBe('no');
        expect(r.counterexample!.operations.some((o) => o.id === c!.read)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('are not, once a read returns a value nobody wrote', () => {
    fc.assert(
      fc.property(steps(60), fc.nat(), (plan, pick) => {
        const h = kvRun(plan);
        const reads = h.filter((o) => o.input.op === 'get' && o.output !== null);
        fc.pre(reads.length > 0);
        const target = reads[pick % reads.length]!;
        const mutated = h.map((o) => (o === target ? { ...o, output: { op: 'get' as const, value: 'ghost' } } : o));
        expect(checkHistory(kvModel, mutated).verdict).toBe('no');
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- transactions ---------------------------------------------------------------

const INTERNAL: Record<TxProtocol, Record<TxPhase, TxPhase[]>> = {
  '2pc': {
    active: ['aborting'],
    preparing: ['committing', 'aborting'],
    precommitted: [],
    committing: ['committed'],
    aborting: ['aborted'],
    committed: [],
    aborted: [],
  },
  '3pc': {
    active: ['aborting'],
    preparing: ['precommitted', 'aborting'],
    precommitted: ['committing'],
    committing: ['committed'],
    aborting: ['aborted'],
    committed: [],
    aborted: [],
  },
};

/**
 * One transaction run sequentially: creates (plain or with commit), commits, aborts,
 * GETs, and the coordinator's own moves, in the order the plan draws them. A commit's
 * request takes effect at its moment; its answer comes at a later moment, once decided.
 */
function txRun(plan: readonly Step[], protocol: TxProtocol): TxOperation[] {
  const ops: TxOperation[] = [];
  let phase: TxPhase | null = null;
  let at = 0;
  const waiting: { op: TxOperation; step: Step }[] = [];
  const view = (): TxOutput => ({ kind: 'view', id: 'T', state: phase!, outcome: outcomeOf(phase!) });
  const add = (s: Step, input: TxOperation['input'], output: TxOutput | null): void => {
    const lost = s.lost === 0;
    ops.push({
      id: ops.length,
      client: `c${ops.length % 3}`,
      input,
      output: lost ? null : output,
      callMs: at - s.before,
      returnMs: lost ? Infinity : at + s.after,
    });
  };
  const answerDecided = (force: boolean): void => {
    for (const w of [...waiting]) {
      if (phase === null || outcomeOf(phase) === null || (!force && w.step.action % 2 === 0)) continue;
      waiting.splice(waiting.indexOf(w), 1);
      at += GAP_MS;
      const lost = w.step.lost === 0;
      ops.push({ ...w.op, output: lost ? null : view(), returnMs: lost ? Infinity : at + w.step.after });
    }
  };
  const request = (): void => {
    if (phase === 'active') phase = 'preparing';
  };
  for (const s of plan) {
    at += GAP_MS;
    const choice = s.action % 10;
    if (choice <= 1 || phase === null) {
      const commit = choice === 1 || (phase === null && s.action % 3 === 0);
      phase ??= 'active';
      if (commit) {
        request();
        waiting.push({
          op: {
            id: ops.length + 1_000 + waiting.length,
            client: 'c',
            input: { op: 'create', key: 'k', protocol, commit: true },
            output: null,
            callMs: at - s.before,
            returnMs: Infinity,
          },
          step: s,
        });
      } else {
        add(s, { op: 'create', key: 'k', protocol, commit: false }, view());
      }
    } else if (choice === 2) {
      request();
      waiting.push({
        op: {
          id: ops.length + 1_000 + waiting.length,
          client: 'c',
          input: { op: 'commit', key: 'k', id: 'T' },
          output: null,
          callMs: at - s.before,
          returnMs: Infinity,
        },
        step: s,
      });
    } else if (choice === 3) {
      const outcome = outcomeOf(phase);
      if (outcome === null) phase = 'aborting';
      const refusal = phase === 'precommitted' ? 'TX_PRECOMMITTED' : 'TX_ALREADY_COMMITTED';
      add(s, { op: 'abort', key: 'k', id: 'T' }, outcome === 'committed' ? { kind: 'error', status: 409, code: refusal } : view());
    } else if (choice <= 6) {
      add(s, { op: 'get', key: 'k', id: 'T' }, view());
    } else {
      const next: TxPhase[] = INTERNAL[protocol][phase];
      if (next.length > 0) phase = next[s.action % next.length]!;
    }
    answerDecided(false);
  }
  // The coordinator decides whatever is still open (abort, as at a deadline), and every commit answers.
  if (waiting.length > 0 && phase !== null && outcomeOf(phase) === null) phase = 'aborting';
  answerDecided(true);
  return ops.map((o, i) => ({ ...o, id: i }));
}

const protocols = fc.constantFrom<TxProtocol>('2pc', '3pc');

/** The finished state of the other outcome. */
function flipped(out: Extract<TxOutput, { kind: 'view' }>): TxOutput {
  const state: TxPhase = out.outcome === 'committed' ? 'aborted' : 'committed';
  return { ...out, state, outcome: outcomeOf(state) };
}

function observesDecision(o: TxOperation): boolean {
  if (o.output === null) return false;
  return o.output.kind === 'error' ? o.output.code === 'TX_ALREADY_COMMITTED' : o.output.outcome !== null;
}

describe('transaction histories from a sequential run with random overlaps', () => {
  it('are linearizable', () => {
    fc.assert(
      fc.property(steps(30), protocols, (plan, protocol) => {
        const r = checkHistory(txModel, txRun(plan, protocol));
        expect(r.verdict).toBe('yes');
      }),
      { numRuns: RUNS },
    );
  });

  it('are not, once a read shows the other outcome than another answer did', () => {
    fc.assert(
      fc.property(steps(30), protocols, fc.nat(), (plan, protocol, pick) => {
        const h = txRun(plan, protocol);
        const reads = h.filter((o) => o.input.op === 'get' && observesDecision(o));
        fc.pre(reads.length > 0 && h.filter(observesDecision).length >= 2);
        const target = reads[pick % reads.length]!;
        const mutated = h.map((o) => (o === target && o.output?.kind === 'view' ? { ...o, output: flipped(o.output) } : o));
        expect(checkHistory(txModel, mutated).verdict).toBe('no');
      }),
      { numRuns: RUNS },
    );
  });
});
