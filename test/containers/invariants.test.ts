// The container suite's verdict (scenario-verdict.ts) on hand-made evidence shaped like what
// the container harness gathers: balances and each bank's participant records (read over
// HTTP, bank-records.ts), and an outage only in the kill-all scenario. The invariants
// themselves are the chaos library's, tested in test/chaos/invariants.test.ts; this proves
// the container suite's use of them can still fail, and that it waives no floor: records
// that could not be read fail the scenario. Runs without Docker.
import { describe, expect, it } from 'vitest';
import type { BankSnapshot, ChaosEvidence, Outcome, ParticipantRecord } from '../../scripts/chaos/evidence.js';
import { bank, consistentEvidence } from '../chaos/fixtures.js';
import { scenarioVerdict, verdictLines } from './scenario-verdict.js';

/** The fixture history as the container harness sees it: balances and records, no outage. */
function containerEvidence(): ChaosEvidence {
  return { ...consistentEvidence(), outage: null };
}

/** Balances after, and each bank's records; by default the consistent run's. */
function banksAfter(
  alice: number,
  bob: number,
  records: { a?: ParticipantRecord[] | null; b?: ParticipantRecord[] | null } = {},
): BankSnapshot[] {
  const e = consistentEvidence();
  return [
    bank('A', { alice }, records.a === undefined ? e.banksAfter[0]!.records : records.a),
    bank('B', { bob }, records.b === undefined ? e.banksAfter[1]!.records : records.b),
  ];
}

function failedNames(e: ChaosEvidence): string[] {
  return scenarioVerdict(e)
    .failed.map((r) => r.name)
    .sort();
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
    const before = new Map<string, Outcome>([
      ['t1', 'committed'],
      ['t3', 'aborted'],
    ]);
    const reread = (t1: Outcome | 'missing'): Map<string, Outcome | 'missing'> =>
      new Map([
        ['t1', t1],
        ['t2', 'committed'],
        ['t3', 'aborted'],
      ]);
    const intact = { ...containerEvidence(), outage: { before, after: reread('committed') } };
    expect(scenarioVerdict(intact).notApplicable).toEqual([]);
    expect(failedNames(intact)).toEqual([]);
    const lost = { ...intact, outage: { before, after: reread('missing') } };
    expect(failedNames(lost)).toEqual(['decisions-durable']);
  });

  it("FAILS when a bank's participant records could not be read, even with every balance right", () => {
    const e = { ...containerEvidence(), banksAfter: banksAfter(80, 120, { b: null }) };
    expect(failedNames(e)).toEqual(['atomicity']);
    const both = { ...containerEvidence(), banksAfter: banksAfter(80, 120, { a: null, b: null }) };
    expect(failedNames(both)).toEqual(['atomicity', 'nothing-in-doubt']);
    expect(verdictLines(scenarioVerdict(both)).join('\n')).toMatch(/checked 0 participant records, below the floor of 1/);
  });

  it('FAILS a committed transfer applied at one bank only', () => {
    // t1 (30) never reached bob: B aborted it; alice 80, bob 90 instead of 120.
    const e = {
      ...containerEvidence(),
      banksAfter: banksAfter(80, 90, {
        b: [
          { txId: 't1', state: 'aborted' },
          { txId: 't2', state: 'committed' },
        ],
      }),
    };
    expect(failedNames(e)).toEqual(['api-matches-participants', 'atomicity', 'conservation']);
  });

  it('FAILS an aborted transfer applied at both banks, though money is conserved', () => {
    // t3 (500, aborted) moved anyway: alice -420, bob 620, and both records say committed.
    const records = (r: readonly ParticipantRecord[] | null): ParticipantRecord[] => [
      ...(r ?? []).filter((x) => x.txId !== 't3'),
      { txId: 't3', state: 'committed' },
    ];
    const e0 = consistentEvidence();
    const e = {
      ...containerEvidence(),
      banksAfter: banksAfter(-420, 620, { a: records(e0.banksAfter[0]!.records), b: records(e0.banksAfter[1]!.records) }),
    };
    expect(failedNames(e)).toEqual(['api-matches-participants', 'conservation']);
    const v = scenarioVerdict(e);
    expect(v.failed.find((r) => r.name === 'conservation')!.violations).toEqual(['A/alice has a negative balance -420']);
  });

  it('FAILS split brain seen by the leader tracker, and prints the violation', () => {
    const e = { ...containerEvidence(), leadersByTerm: new Map([[3, ['n1', 'n2']]]) };
    expect(failedNames(e)).toEqual(['single-leader-per-term']);
    expect(verdictLines(scenarioVerdict(e)).join('\n')).toMatch(
      /FAIL {2}single-leader-per-term: .*1 violations\n {10}- term 3: n1 and n2 both claimed leadership/,
    );
  });

  it('FAILS a transfer whose client never learned its outcome, even after resending', () => {
    const e = containerEvidence();
    const unknown = { ...e.transfers[0]!, apiOutcome: null, resolvedOutcome: null, error: 'NO_LEADER (503) after 10 attempts' };
    expect(failedNames({ ...e, transfers: [unknown, ...e.transfers.slice(1)] })).toContain('nothing-in-doubt');
  });
});
