// A small, consistent chaos history built by hand: two banks, three transfers (two
// committed across banks, one aborted), every node agreeing, the outage re-read intact.
// Each test breaks one thing in a copy of it and expects exactly that invariant to fail.
import type {
  BankSnapshot,
  ChaosEvidence,
  CoordinatorTx,
  Outcome,
  ParticipantRecord,
  TransferRecord,
} from '../../scripts/chaos/evidence.js';
import type { TxOperation, TxOutput } from '../linearizability/tx-model.js';

export function transfer(
  key: string,
  txId: string,
  outcome: Outcome,
  from: [string, string],
  to: [string, string],
  amount: number,
): TransferRecord {
  return {
    key,
    legs: [
      { bank: from[0], account: from[1], delta: -amount },
      { bank: to[0], account: to[1], delta: amount },
    ],
    protocol: '2pc',
    flow: 'one-shot',
    startedAtMs: 1_000,
    endedAtMs: 2_000,
    txIds: [txId],
    apiOutcome: outcome,
    decidedAtMs: 1_500,
    error: null,
    rejected: null,
    resolvedOutcome: null,
  };
}

export function coordinatorTx(id: string, outcome: Outcome, participants = ['A', 'B'], state: string = outcome): CoordinatorTx {
  return { id, state, outcome, createdAtMs: 1_000, participants };
}

export function bank(
  name: string,
  balances: Record<string, number>,
  records: readonly ParticipantRecord[] | null,
  held: Record<string, number> = {},
): BankSnapshot {
  return { bank: name, accounts: new Map(Object.entries(balances).map(([a, b]) => [a, { balance: b, held: held[a] ?? 0 }])), records };
}

/**
 * The calls a client made for a one-shot transfer, as the workload records them: the
 * create with commit, answered with the decision, then a reader's GET of the finished view.
 */
export function transferCalls(key: string, txId: string, outcome: Outcome, startMs: number, firstId: number): TxOperation[] {
  const view = (state: 'committing' | 'aborting' | Outcome): TxOutput => ({ kind: 'view', id: txId, state, outcome });
  return [
    {
      id: firstId,
      client: 'w0',
      input: { op: 'create', key, protocol: '2pc', commit: true },
      output: view(outcome === 'committed' ? 'committing' : 'aborting'),
      callMs: startMs,
      returnMs: startMs + 10,
    },
    {
      id: firstId + 1,
      client: 'r0',
      input: { op: 'get', key, id: txId },
      output: view(outcome),
      callMs: startMs + 20,
      returnMs: startMs + 25,
    },
  ];
}

/** t1: alice@A -> bob@B 30 committed; t2: bob@B -> alice@A 10 committed; t3: alice@A -> bob@B 500 aborted. */
export function consistentEvidence(): ChaosEvidence {
  const transfers = [
    transfer('k1', 't1', 'committed', ['A', 'alice'], ['B', 'bob'], 30),
    transfer('k2', 't2', 'committed', ['B', 'bob'], ['A', 'alice'], 10),
    transfer('k3', 't3', 'aborted', ['A', 'alice'], ['B', 'bob'], 500),
  ];
  const listing = (): Map<string, CoordinatorTx> =>
    new Map([
      ['t1', coordinatorTx('t1', 'committed')],
      ['t2', coordinatorTx('t2', 'committed')],
      ['t3', coordinatorTx('t3', 'aborted')],
    ]);
  return {
    transfers,
    coordinatorByNode: new Map([
      ['n1', listing()],
      ['n2', listing()],
      ['n3', listing()],
    ]),
    unlistedNodes: [],
    banksBefore: [bank('A', { alice: 100 }, null), bank('B', { bob: 100 }, null)],
    banksAfter: [
      bank('A', { alice: 80 }, [
        { txId: 't1', state: 'committed' },
        { txId: 't2', state: 'committed' },
        { txId: 't3', state: 'aborted' },
      ]),
      bank('B', { bob: 120 }, [
        { txId: 't1', state: 'committed' },
        { txId: 't2', state: 'committed' },
      ]),
    ],
    outage: {
      before: new Map<string, Outcome>([
        ['t1', 'committed'],
        ['t2', 'committed'],
        ['t3', 'aborted'],
      ]),
      after: new Map<string, Outcome>([
        ['t1', 'committed'],
        ['t2', 'committed'],
        ['t3', 'aborted'],
      ]),
    },
    leadersByTerm: new Map([
      [1, ['n1']],
      [2, ['n2']],
    ]),
    history: [
      ...transferCalls('k1', 't1', 'committed', 0, 0),
      ...transferCalls('k2', 't2', 'committed', 100, 2),
      ...transferCalls('k3', 't3', 'aborted', 200, 4),
    ],
  };
}
