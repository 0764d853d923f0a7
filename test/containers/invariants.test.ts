// The chaos invariant checker on hand-made evidence: clean evidence passes, and each
// invariant catches the violation it exists for. Runs everywhere (no Docker needed).
import { describe, expect, it } from 'vitest';
import {
  checkInvariants,
  summarize,
  type AccountState,
  type BankState,
  type ChaosEvidence,
  type CoordinatorTx,
  type InvariantName,
  type Outcome,
  type ParticipantRecord,
  type TransferRecord,
} from './invariants.js';

/** alice@A pays bob@B `amount`. */
function transfer(key: string, txId: string | null, apiOutcome: Outcome | null, amount = 5): TransferRecord {
  return {
    key,
    legs: [
      { bank: 'A', account: 'alice', delta: -amount },
      { bank: 'B', account: 'bob', delta: amount },
    ],
    txId,
    txIdsSeen: new Set(txId === null ? [] : [txId]),
    apiOutcome,
    attempts: 1,
    rejected: null,
    lastError: null,
  };
}

function tx(id: string, outcome: Outcome | null, state: string = outcome ?? 'preparing'): CoordinatorTx {
  return { id, state, outcome, participants: [{ name: 'A', acknowledged: true }, { name: 'B', acknowledged: true }] };
}

function bank(name: string, account: string, balance: number, held = 0, records: ParticipantRecord[] | null = null): BankState {
  return { name, accounts: new Map<string, AccountState>([[account, { balance, held }]]), records };
}

/** t1 committed (alice -5, bob +5), t2 aborted: consistent everywhere. */
function cleanEvidence(): ChaosEvidence {
  return {
    transfers: [transfer('k1', 't1', 'committed'), transfer('k2', 't2', 'aborted', 7)],
    coordinator: new Map([
      ['t1', tx('t1', 'committed')],
      ['t2', tx('t2', 'aborted')],
    ]),
    banksBefore: [bank('A', 'alice', 100), bank('B', 'bob', 100)],
    banksAfter: [bank('A', 'alice', 95), bank('B', 'bob', 105)],
    decidedBeforeOutage: new Map([['t1', 'committed']]),
    outcomesByNode: new Map<string, Map<string, Outcome | null>>([
      ['n1', new Map([['t1', 'committed']])],
      ['n2', new Map([['t1', 'committed']])],
    ]),
  };
}

function broken(e: ChaosEvidence): InvariantName[] {
  return [...new Set(checkInvariants(e).map((v) => v.invariant))].sort();
}

describe('chaos invariant checker', () => {
  it('accepts consistent evidence', () => {
    expect(checkInvariants(cleanEvidence())).toEqual([]);
    expect(summarize([]).every((l) => l.startsWith('  ok'))).toBe(true);
  });

  it('catches a committed transfer applied at one bank only (money: the other account is off)', () => {
    const e = cleanEvidence();
    // B never applied t1: alice paid, bob did not receive. Money is not conserved either.
    expect(broken({ ...e, banksAfter: [bank('A', 'alice', 95), bank('B', 'bob', 100)] })).toEqual(['atomicity', 'conservation']);
  });

  it('catches an aborted transfer applied at both banks (conserved, but not what was decided)', () => {
    const e = cleanEvidence();
    expect(broken({ ...e, banksAfter: [bank('A', 'alice', 88), bank('B', 'bob', 112)] })).toEqual(['atomicity']);
  });

  it('catches split per-transaction records where a participant lists them', () => {
    const e = cleanEvidence();
    const after = [bank('A', 'alice', 95, 0, [{ txId: 't1', state: 'committed' }]), bank('B', 'bob', 105, 0, [{ txId: 't1', state: 'aborted' }])];
    expect(broken({ ...e, banksAfter: after })).toEqual(['api-matches-participants', 'atomicity']);
  });

  it('catches money made from nothing', () => {
    const e = cleanEvidence();
    expect(broken({ ...e, banksAfter: [bank('A', 'alice', 95), bank('B', 'bob', 106)] })).toEqual(['atomicity', 'conservation']);
  });

  it('catches a transaction left in doubt at the coordinator, at a bank, or at the client', () => {
    const e = cleanEvidence();
    expect(broken({ ...e, coordinator: new Map(e.coordinator).set('t1', tx('t1', 'committed', 'committing')) })).toEqual(['nothing-in-doubt']);
    expect(broken({ ...e, banksAfter: [bank('A', 'alice', 95, 3), bank('B', 'bob', 105)] })).toEqual(['nothing-in-doubt']);
    const unresolved = { ...transfer('k3', null, null) };
    expect(broken({ ...e, transfers: [...e.transfers, unresolved] })).toEqual(['nothing-in-doubt']);
  });

  it('catches an API outcome that differs from the final one', () => {
    const e = cleanEvidence();
    expect(broken({ ...e, transfers: [e.transfers[0]!, transfer('k2', 't2', 'committed', 7)] })).toEqual(['api-matches-participants']);
  });

  it('catches one idempotency key that ran two transactions', () => {
    const e = cleanEvidence();
    const twice = transfer('k1', 't1', 'committed');
    twice.txIdsSeen.add('t9');
    expect(broken({ ...e, transfers: [twice, e.transfers[1]!] })).toEqual(['one-transaction-per-key']);
    const stray = new Map(e.coordinator).set('t8', tx('t8', 'aborted'));
    expect(broken({ ...e, coordinator: stray })).toEqual(['one-transaction-per-key']);
  });

  it('catches a decision lost across a full-cluster restart', () => {
    const e = cleanEvidence();
    expect(broken({ ...e, decidedBeforeOutage: new Map([['t2', 'committed']]) })).toEqual(['decisions-durable']);
  });

  it('catches two nodes listing different outcomes', () => {
    const e = cleanEvidence();
    const outcomesByNode = new Map<string, Map<string, Outcome | null>>([
      ['n1', new Map([['t1', 'committed']])],
      ['n2', new Map([['t1', 'aborted']])],
    ]);
    expect(broken({ ...e, outcomesByNode })).toEqual(['nodes-agree']);
  });

  it('catches a transfer the API refused', () => {
    const e = cleanEvidence();
    const refused = { ...transfer('k5', null, null), rejected: '400 VALIDATION_FAILED' };
    expect(broken({ ...e, transfers: [...e.transfers, refused] })).toEqual(['requests-accepted']);
    expect(summarize(checkInvariants({ ...e, transfers: [...e.transfers, refused] })).join('\n')).toMatch(/FAIL {2}requests-accepted: 1/);
  });
});
