// The transaction protocol's model checker in CI (checker.ts says how it works,
// configurations.ts what each configuration covers and why its bounds suffice).
//
// 1. Every configuration passes with the real rules: atomicity, validity,
//    decision stability and fencing after every step, and termination after
//    healing from every reachable state.
//    The one-shot configurations (no created entry: prepare from memory, one
//    decided entry) are among them.
// 2. It catches the rules before issue 11 in both scenarios of the issue, each
//    with its shortest trace, and catches the other broken variants of
//    faulty-rules.ts: it can fail. For the one-shot path: a leader answering
//    TX_NOT_FOUND before its read barrier, and one proposing its decided entry
//    after a term change under an apply() that does not check the term.
//
//   npx vitest run test/model                       # the CI configurations
//   MODEL_DEEP=1 npx vitest run test/model          # plus the deep ones (minutes)
import { describe, expect, it } from 'vitest';
import { checkModel, type CheckReport } from './checker.js';
import { CI_CONFIGS, DEEP_CONFIGS, ONE_SHOT_CONFIGS, SCENARIOS } from './configurations.js';
import {
  noReadBarrierRules,
  oldCoordinatorRules,
  oldParticipantRules,
  oldRules,
  oneShotAcrossTermsRules,
  stubbornParticipantRules,
  unfencedParticipantRules,
} from './faulty-rules.js';
import type { ModelConfig } from './model.js';
import { realRules } from './rules.js';

const realApply = realRules.apply;

const deep = process.env['MODEL_DEEP'] === '1';

function line(r: CheckReport): string {
  const verdict = r.violation === null ? 'OK' : `${r.violation.kind.toUpperCase()} VIOLATION`;
  return `model ${r.config} [${r.rules}]: ${r.states} states, ${r.transitions} transitions, ${r.healedStates} healed states, depth ${r.depth}, ${(r.elapsedMs / 1000).toFixed(1)} s (cpu ${(r.cpuMs / 1000).toFixed(1)} s): ${verdict}`;
}

function describeViolation(r: CheckReport): string {
  if (r.violation === null) return 'no violation';
  return [
    `${r.violation.kind}: ${r.violation.message}`,
    ...r.violation.trace.map((step, i) => `  ${String(i + 1).padStart(2)}. ${step}`),
  ].join('\n');
}

function run(config: ModelConfig, rules = realRules): CheckReport {
  const r = checkModel(config, rules);
  console.log(line(r));
  if (r.violation !== null) console.log(describeViolation(r));
  return r;
}

describe('the transaction protocol, every interleaving (real rules)', () => {
  for (const config of [...CI_CONFIGS, ...ONE_SHOT_CONFIGS, ...(deep ? DEEP_CONFIGS : [])]) {
    it(`${config.name}: no violation, and every state can finish once healed`, { timeout: 600_000 }, () => {
      const r = run(config);
      expect(r.violation, describeViolation(r)).toBeNull();
      expect(r.states).toBeGreaterThan(100);
    });
  }
});

describe('the checker catches broken rules', () => {
  it('issue 11, scenario 1: the whole cluster freezes mid-precommit; the old participant rule aborts b, the old coordinator rule aborts', () => {
    const r = run(SCENARIOS.freeze, oldRules);
    expect(r.violation?.kind, describeViolation(r)).toBe('atomicity');
    const trace = r.violation!.trace.join('\n');
    expect(trace).toMatch(/every coordinator node is paused/);
    expect(trace).toMatch(/a's resolver[^:]*: commit \(timeout\)/);
    expect(trace).toMatch(/b's resolver[^:]*: abort \(timeout\)/);
    // The old participant rule alone breaks it too: a prepared participant aborts on its own
    // while the outcome is already commit (fixed at precommitted).
    const participantOnly = run(SCENARIOS.freeze, oldParticipantRules);
    expect(participantOnly.violation?.kind, describeViolation(participantOnly)).toBe('decision-stability');
    expect(participantOnly.violation!.trace.join('\n')).toMatch(/resolver[^:]*: abort \(timeout\)/);
  });

  it('issue 11, scenario 2: a participant cut off after precommit commits on its timeout, the old coordinator aborts at the deadline', () => {
    const r = run(SCENARIOS.cutOff, oldCoordinatorRules);
    expect(r.violation?.kind, describeViolation(r)).toBe('decision-stability');
    const trace = r.violation!.trace.join('\n');
    expect(trace).toMatch(/is cut off from every coordinator node/);
    expect(trace).toMatch(/a's resolver[^:]*: commit \(timeout\)/);
    expect(trace).toMatch(/the deadline cuts precommit short \(decide abort/);
  });

  it('the same two scenarios pass with the real rules', () => {
    for (const config of [SCENARIOS.freeze, SCENARIOS.cutOff]) expect(run(config).violation, config.name).toBeNull();
  });

  it('a client abort of a precommitted transaction would split it too (old apply), and the real apply refuses it', () => {
    const r = run(SCENARIOS.clientAbort, oldCoordinatorRules);
    expect(r.violation, describeViolation(r)).not.toBeNull();
    expect(r.violation!.trace.join('\n')).toMatch(/the client asks to abort/);
    expect(run(SCENARIOS.clientAbort).violation).toBeNull();
  });

  it("fencing: a participant SDK without the term fence acts on a deposed leader's call", () => {
    const r = run(SCENARIOS.fencing, unfencedParticipantRules);
    expect(r.violation?.kind, describeViolation(r)).toBe('fencing');
  });

  it('termination: a participant that refuses abort after voting commit never lets the transaction finish', () => {
    const r = run(SCENARIOS.stubborn, stubbornParticipantRules);
    expect(r.violation?.kind, describeViolation(r)).toBe('termination');
  });

  it('one-shot: a new leader that answers TX_NOT_FOUND before its read barrier lets a participant abort what then commits', () => {
    const r = run(SCENARIOS.oneShotCrash, noReadBarrierRules);
    expect(r.violation?.kind, describeViolation(r)).toBe('decision-stability');
    const trace = r.violation!.trace.join('\n');
    expect(trace).toMatch(/leader t1 crashes/);
    expect(trace).toMatch(/resolver: abort \(resolver\): the cluster has no such transaction/);
    expect(trace).toMatch(/entry committed: decided commit/);
    expect(run(SCENARIOS.oneShotCrash).violation).toBeNull();
  });

  it('one-shot: a leader that proposes its decided entry after a term change splits the outcome when apply() does not check the term', () => {
    const r = run(SCENARIOS.oneShotPause, oneShotAcrossTermsRules);
    expect(r.violation, describeViolation(r)).not.toBeNull();
    const trace = r.violation!.trace.join('\n');
    expect(trace).toMatch(/re-elected in term 3, its one-shot transaction still in memory/);
    expect(trace).toMatch(/the cluster has no such transaction/);
    expect(['atomicity', 'decision-stability']).toContain(r.violation!.kind);
    // The real driver drops it on the term change.
    expect(run(SCENARIOS.oneShotPause).violation).toBeNull();
    // The real apply() alone keeps it safe: it refuses the entry of the wrong term. What is left is
    // liveness (participants prepared by the refused attempt wait for a newer term), which the drop avoids.
    const applyOnly = run(SCENARIOS.oneShotPause, { ...oneShotAcrossTermsRules, name: 'kept across terms, real apply', apply: realApply });
    expect(applyOnly.violation?.kind ?? 'none').toBe('termination');
  });
});
