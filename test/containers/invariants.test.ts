// The container suite's verdict (scenario-verdict.ts) on hand-made evidence shaped like what
// the container harness gathers: banks in containers expose no participant records, so
// atomicity rests on money, and only the kill-all scenario has an outage to check. The
// invariants themselves are the chaos library's, tested in test/chaos/invariants.test.ts;
// this proves the container suite's use of them can still fail. Runs without Docker.
import { describe, expect, it } from 'vitest';
import type { BankSnapshot, ChaosEvidence, Outcome } from '../../scripts/chaos/evidence.js';
import { bank, consistentEvidence } from '../chaos/fixtures.js';
import { scenarioVerdict, verdictLines } from './scenario-verdict.js';

/** The fixture history as the container harness sees it: balances only, no outage. */
function containerEvidence(): ChaosEvidence {
  const e = consistentEvidence();
  return { ...e, banksAfter: e.banksAfter.map((b) => ({ ...b, records: null })), outage: null };
}

function banksAfter(alice: number, bob: number): BankSnapshot[] {
  return [bank('A', { alice }, null), bank('B', { bob }, null)];
}

function failedNames(e: ChaosEvidence): string[] {
  return scenarioVerdict(e).failed.map((r) => r.name).sort();
}

describe('container scenario verdict', () => {
  it('passes a consistent history; decisions-durable does not apply without an outage', () => {
    const v = scenarioVerdict(containerEvidence());
    expect(v.failed).toEqual([]);
    expect(v.notApplicable).toEqual(['decisions-durable']);
    expect(v.results.map((r) => r.name)).not.toContain('decisions-durable');
    expect(v.results.length).toBeGreaterThanOrEqual(8);
    const lines = verdictLines(v);
    expect(lines.filter((l) => l.startsWith('  ok')).length).toBe(v.results.length);
    expect(lines.at(-1)).toMatch(/n\/a {3}decisions-durable/);
  });

  it('checks decisions-durable once the scenario had an outage, and FAILS a lost decision', () => {
    // t1 and t3 read before the outage; t2 only reported by the API: all three read again.
    const before = new Map<string, Outcome>([['t1', 'committed'], ['t3', 'aborted']]);
    const reread = (t1: Outcome | 'missing'): Map<string, Outcome | 'missing'> => new Map([['t1', t1], ['t2', 'committed'], ['t3', 'aborted']]);
    const intact = { ...containerEvidence(), outage: { before, after: reread('committed') } };
    expect(scenarioVerdict(intact).notApplicable).toEqual([]);
    expect(failedNames(intact)).toEqual([]);
    const lost = { ...intact, outage: { before, after: reread('missing') } };
    expect(failedNames(lost)).toEqual(['decisions-durable']);
  });

  it('FAILS a committed transfer applied at one bank only, from money alone', () => {
    // t1 (30) never reached bob: alice 80, bob 90 instead of 120.
    const e = { ...containerEvidence(), banksAfter: banksAfter(80, 90) };
    expect(failedNames(e)).toEqual(['api-matches-participants', 'atomicity', 'conservation']);
  });

  it('FAILS an aborted transfer applied at both banks, though money is conserved', () => {
    // t3 (500, aborted) moved anyway: alice -420, bob 620.
    const e = { ...containerEvidence(), banksAfter: banksAfter(-420, 620) };
    expect(failedNames(e)).toEqual(['api-matches-participants', 'atomicity', 'conservation']);
    const v = scenarioVerdict(e);
    expect(v.failed.find((r) => r.name === 'conservation')!.violations).toEqual(['A/alice has a negative balance -420']);
  });

  it('FAILS split brain seen by the leader tracker, and prints the violation', () => {
    const e = { ...containerEvidence(), leadersByTerm: new Map([[3, ['n1', 'n2']]]) };
    expect(failedNames(e)).toEqual(['single-leader-per-term']);
    expect(verdictLines(scenarioVerdict(e)).join('\n')).toMatch(/FAIL {2}single-leader-per-term: .*1 violations\n {10}- term 3: n1 and n2 both claimed leadership/);
  });

  it('FAILS a transfer whose client never learned its outcome, even after resending', () => {
    const e = containerEvidence();
    const unknown = { ...e.transfers[0]!, apiOutcome: null, resolvedOutcome: null, error: 'NO_LEADER (503) after 10 attempts' };
    expect(failedNames({ ...e, transfers: [unknown, ...e.transfers.slice(1)] })).toContain('nothing-in-doubt');
  });
});
