// The chaos checker on fabricated histories: a consistent one passes every invariant, and
// each broken one fails exactly the invariant it breaks. This is what makes a green chaos
// run mean something.
import { describe, expect, it } from 'vitest';
import type { BankSnapshot, ChaosEvidence, CoordinatorTx } from '../../scripts/chaos/evidence.js';
import { checkInvariants, INVARIANTS, type InvariantName } from '../../scripts/chaos/invariants.js';
import { bank, consistentEvidence, coordinatorTx, transfer, transferCalls } from './fixtures.js';

function failing(e: ChaosEvidence): InvariantName[] {
  return checkInvariants(e)
    .filter((r) => !r.pass)
    .map((r) => r.name);
}

function violations(e: ChaosEvidence, name: InvariantName): readonly string[] {
  return checkInvariants(e).find((r) => r.name === name)!.violations;
}

/** Every node's listing with `id` replaced. */
function relist(e: ChaosEvidence, tx: CoordinatorTx, nodes = ['n1', 'n2', 'n3']): ChaosEvidence {
  const byNode = new Map([...e.coordinatorByNode].map(([n, l]) => [n, nodes.includes(n) ? new Map(l).set(tx.id, tx) : l]));
  return { ...e, coordinatorByNode: byNode };
}

function withBankAfter(e: ChaosEvidence, b: BankSnapshot): ChaosEvidence {
  return { ...e, banksAfter: e.banksAfter.map((x) => (x.bank === b.bank ? b : x)) };
}

describe('chaos invariants', () => {
  it('pass on a consistent history, and report each of them', () => {
    const results = checkInvariants(consistentEvidence());
    expect(results.map((r) => r.name)).toEqual(INVARIANTS.map((i) => i.name));
    expect(results.filter((r) => !r.pass)).toEqual([]);
  });

  it('atomicity FAILS when a transfer committed at bank A and aborted at bank B', () => {
    const e = consistentEvidence();
    // t1 applied at A only: B aborted it and never credited bob.
    const broken = withBankAfter(
      e,
      bank('B', { bob: 90 }, [
        { txId: 't1', state: 'aborted' },
        { txId: 't2', state: 'committed' },
      ]),
    );
    expect(failing(broken)).toContain('atomicity');
    expect(violations(broken, 'atomicity')).toEqual(['t1: committed at A but B=aborted']);
    // The API said committed, B's record says otherwise, and bob's money shows it.
    expect(failing(broken)).toContain('api-matches-participants');
    expect(failing(broken)).toContain('conservation');
  });

  it('atomicity FAILS when one bank committed and the other has no record at all', () => {
    const broken = withBankAfter(consistentEvidence(), bank('B', { bob: 90 }, [{ txId: 't2', state: 'committed' }]));
    expect(violations(broken, 'atomicity')).toEqual(['t1: committed at A but B=no record']);
  });

  it("atomicity FAILS when a bank's records could not be read, though its money adds up: there is no fallback to money", () => {
    const e = consistentEvidence();
    // Balances exactly as a consistent run leaves them; only B's records are missing.
    const unread = withBankAfter(e, { ...bank('B', { bob: 120 }, null), recordsNote: 'GET /participant-records: 401' });
    expect(failing(unread)).toEqual(['atomicity']);
    expect(violations(unread, 'atomicity')).toEqual(['B: participant records not read (GET /participant-records: 401)']);
    const none: ChaosEvidence = { ...e, banksAfter: [bank('A', { alice: 80 }, null), bank('B', { bob: 120 }, null)] };
    expect(violations(none, 'atomicity')).toEqual([
      'A: participant records not read (no reason given)',
      'B: participant records not read (no reason given)',
      'checked 0 participant records, below the floor of 1: this run proves nothing about it',
    ]);
  });

  it('atomicity FAILS two broken transfers whose money compensates, from the records', () => {
    const e = consistentEvidence();
    // t1 (30, committed) never credited bob at B; t4 (30, aborted) credited him anyway: bob's balance is right.
    const t4 = transfer('k4', 't4', 'aborted', ['A', 'alice'], ['B', 'bob'], 30);
    const broken: ChaosEvidence = {
      ...relist(
        { ...e, transfers: [...e.transfers, t4], history: [...e.history, ...transferCalls('k4', 't4', 'aborted', 300, 6)] },
        coordinatorTx('t4', 'aborted'),
      ),
      outage: { before: e.outage!.before, after: new Map([...e.outage!.after, ['t4', 'aborted']]) },
      banksAfter: [
        bank('A', { alice: 80 }, [...e.banksAfter[0]!.records!, { txId: 't4', state: 'aborted' }]),
        bank('B', { bob: 120 }, [
          { txId: 't1', state: 'aborted' },
          { txId: 't2', state: 'committed' },
          { txId: 't4', state: 'committed' },
        ]),
      ],
    };
    expect(failing(broken)).toEqual(['atomicity', 'api-matches-participants']);
    expect(violations(broken, 'atomicity')).toEqual(['t1: committed at A but B=aborted', 't4: committed at B but A=aborted']);
  });

  it('atomicity FAILS a transaction at a participant the evidence has no bank for', () => {
    const e = relist(consistentEvidence(), coordinatorTx('t2', 'committed', ['A', 'B', 'C']));
    expect(violations(e, 'atomicity')).toEqual(['t2: committed at A,B but C=no record']);
  });

  it('conservation FAILS when money appears, and on a negative balance', () => {
    const e = consistentEvidence();
    const made = { ...e, banksAfter: e.banksAfter.map((b) => (b.bank === 'A' ? bank('A', { alice: 81 }, b.records) : b)) };
    expect(failing(made)).toContain('conservation');
    expect(violations(made, 'conservation')[0]).toBe('total was 200, is 201 (+1)');
    const negative: ChaosEvidence = {
      ...e,
      banksBefore: [bank('A', { alice: 0 }, null), bank('B', { bob: 200 }, null)],
      banksAfter: [bank('A', { alice: -20 }, e.banksAfter[0]!.records), bank('B', { bob: 220 }, e.banksAfter[1]!.records)],
    };
    expect(violations(negative, 'conservation')).toEqual(['A/alice has a negative balance -20']);
  });

  it('nothing-in-doubt FAILS on an unfinished coordinator state, a prepared record, held funds, or an unknown outcome', () => {
    const e = consistentEvidence();
    expect(failing(relist(e, coordinatorTx('t1', 'committed', ['A', 'B'], 'committing'), ['n2']))).toEqual(['nothing-in-doubt']);
    const prepared = withBankAfter(e, bank('B', { bob: 120 }, [...e.banksAfter[1]!.records!, { txId: 't3', state: 'prepared' }]));
    expect(violations(prepared, 'nothing-in-doubt')).toEqual(['t3: B is still prepared']);
    const held = withBankAfter(e, bank('A', { alice: 80 }, e.banksAfter[0]!.records, { alice: 5 }));
    expect(violations(held, 'nothing-in-doubt')).toEqual(['A/alice: 5 still held by an undecided transfer']);
    const unknown = {
      ...transfer('k4', 'unused', 'aborted', ['A', 'alice'], ['B', 'bob'], 1),
      txIds: [],
      apiOutcome: null,
      error: 'UNREACHABLE',
    };
    expect(violations({ ...e, transfers: [...e.transfers, unknown] }, 'nothing-in-doubt')).toEqual([
      'k4: the client never learned an outcome (last error: UNREACHABLE)',
    ]);
  });

  it('api-matches-participants FAILS when the API reported an outcome the coordinator and banks did not apply', () => {
    const e = consistentEvidence();
    // The client was told t3 committed; everything else says aborted.
    const lied = { ...e, transfers: e.transfers.map((t) => (t.key === 'k3' ? { ...t, apiOutcome: 'committed' as const } : t)) };
    expect(failing(lied)).toEqual(['api-matches-participants']);
    expect(violations(lied, 'api-matches-participants')).toContain("t3 (k3): API said committed, A's record is aborted");
    // A resend that learns a different outcome than the first answer is a violation too.
    const flipped = { ...e, transfers: e.transfers.map((t) => (t.key === 'k1' ? { ...t, resolvedOutcome: 'aborted' as const } : t)) };
    expect(violations(flipped, 'api-matches-participants')).toEqual(['t1 (k1): API said committed, then aborted on resend']);
  });

  it('decisions-durable FAILS when an outcome changed or vanished across the outage, or the outage never ran', () => {
    const e = consistentEvidence();
    const after = new Map(e.outage!.after);
    after.set('t1', 'aborted');
    after.set('t2', 'missing');
    const lost = { ...e, outage: { before: e.outage!.before, after } };
    expect(failing(lost)).toEqual(['decisions-durable']);
    expect(violations(lost, 'decisions-durable')).toEqual([
      't1: committed before the outage, aborted after',
      't2: committed before the outage, missing after',
    ]);
    expect(violations({ ...e, outage: null }, 'decisions-durable')).toEqual(['the full-cluster kill and restart did not run']);
  });

  it('one-transaction-per-key FAILS when a retried key ran a second transaction', () => {
    const e = consistentEvidence();
    const twice = relist(
      { ...e, transfers: e.transfers.map((t) => (t.key === 'k3' ? { ...t, txIds: ['t3', 't9'] } : t)) },
      coordinatorTx('t9', 'aborted'),
    );
    expect(violations(twice, 'one-transaction-per-key')).toEqual(['k3 was answered as t3 and t9']);
    const orphan = relist(e, coordinatorTx('t8', 'aborted'));
    expect(violations(orphan, 'one-transaction-per-key')).toEqual(['t8 exists, but no answer to any transfer named it']);
  });

  it('nodes-agree FAILS on a split decision or a node that could not be listed', () => {
    const e = consistentEvidence();
    const split = relist(e, coordinatorTx('t2', 'aborted'), ['n3']);
    expect(violations(split, 'nodes-agree')).toEqual(['t2: n1=committed n2=committed n3=aborted']);
    expect(violations({ ...e, unlistedNodes: ['n2'] }, 'nodes-agree')).toEqual(['n2 could not be listed']);
  });

  it('single-leader-per-term FAILS when two nodes claimed the same term', () => {
    const e = { ...consistentEvidence(), leadersByTerm: new Map([[3, ['n1', 'n3']]]) };
    expect(failing(e)).toEqual(['single-leader-per-term']);
  });

  it('requests-accepted FAILS when the API refused a well-formed transfer', () => {
    const e = consistentEvidence();
    const refused = {
      ...transfer('k5', 'x', 'aborted', ['A', 'alice'], ['B', 'bob'], 1),
      txIds: [],
      apiOutcome: null,
      rejected: '409 IDEMPOTENCY_KEY_REUSED: ...',
    };
    expect(failing({ ...e, transfers: [...e.transfers, refused] })).toEqual(['requests-accepted']);
  });

  // ---- evidence floors: a run that checked nothing does not pass ----------------

  it('every invariant FAILS on an empty history (no transfers, no transactions, no records, no terms)', () => {
    const empty: ChaosEvidence = {
      transfers: [],
      coordinatorByNode: new Map([
        ['n1', new Map()],
        ['n2', new Map()],
      ]),
      unlistedNodes: [],
      banksBefore: [],
      banksAfter: [],
      outage: { before: new Map(), after: new Map() },
      leadersByTerm: new Map(),
      history: [],
    };
    expect(failing(empty)).toEqual(INVARIANTS.map((i) => i.name));
    for (const r of checkInvariants(empty)) expect(r.violations.join('\n')).toMatch(/below the floor/);
  });

  it('each floor is checked against the evidence it names, and a caller can raise it', () => {
    const e = consistentEvidence();
    const floors = { transactions: 4, rereadDecisions: 4, leaderTerms: 3, participantRecords: 6 };
    const below = checkInvariants(e, { floors })
      .filter((r) => !r.pass)
      .map((r) => r.name);
    // 3 transactions and transfers, 3 re-read decisions, 2 terms sampled, 5 participant records.
    expect(below).toEqual([
      'atomicity',
      'nothing-in-doubt',
      'api-matches-participants',
      'decisions-durable',
      'one-transaction-per-key',
      'nodes-agree',
      'single-leader-per-term',
      'requests-accepted',
    ]);
    expect(violations(e, 'decisions-durable')).toEqual([]);
    expect(
      checkInvariants(e, { floors: { ...floors, transactions: 3, rereadDecisions: 3, leaderTerms: 2, participantRecords: 5 } }).every(
        (r) => r.pass,
      ),
    ).toBe(true);
  });

  // ---- violation branches that no other test reaches --------------------------

  it('nothing-in-doubt FAILS when no node could list the transactions', () => {
    const e = { ...consistentEvidence(), coordinatorByNode: new Map(), unlistedNodes: ['n1', 'n2', 'n3'] };
    expect(violations(e, 'nothing-in-doubt')).toContain('no node could list the transactions');
  });

  it('nothing-in-doubt FAILS when a transfer the API named is listed by no node', () => {
    const e = consistentEvidence();
    const ghost = { ...transfer('k4', 't4', 'committed', ['A', 'alice'], ['B', 'bob'], 1), apiOutcome: null };
    expect(violations({ ...e, transfers: [...e.transfers, ghost] }, 'nothing-in-doubt')).toContain('t4 (k4): no node lists it');
  });

  it('api-matches-participants FAILS when the API said committed and a bank with records has no record of it', () => {
    const e = consistentEvidence();
    // B lost its record of t2 (but the money moved, so only the record check can see it).
    const lost = withBankAfter(e, bank('B', { bob: 120 }, [{ txId: 't1', state: 'committed' }]));
    expect(violations(lost, 'api-matches-participants')).toEqual(['t2 (k2): API said committed, B has no record of it']);
  });

  it('decisions-durable FAILS when an outcome the API reported during the run is lost after the outage', () => {
    const e = consistentEvidence();
    const outage = e.outage!;
    // t3 was not among the outcomes read before the outage, but the API reported it: it must read back too.
    const before = new Map([...outage.before].filter(([id]) => id !== 't3'));
    const after = new Map([...outage.after].filter(([id]) => id !== 't3'));
    expect(violations({ ...e, outage: { before, after } }, 'decisions-durable')).toEqual([
      't3 (k3): API reported aborted, after the outage not read',
    ]);
    expect(violations({ ...e, outage: { before, after: new Map([...after, ['t3', 'missing']]) } }, 'decisions-durable')).toEqual([
      't3 (k3): API reported aborted, after the outage missing',
    ]);
  });

  it('linearizable passes the recorded calls of a consistent run, with its numbers', () => {
    const r = checkInvariants(consistentEvidence()).find((x) => x.name === 'linearizable')!;
    expect(r.pass).toBe(true);
    expect(r.linearizability).toMatchObject({
      verdict: 'yes',
      operations: 6,
      byKind: { create: 3, get: 3 },
      pending: 0,
      partitions: 3,
      counterexample: null,
    });
    expect(r.checked).toMatch(/^6 operations \(0 unknown\) in 3 partitions, checked in \d+ ms$/);
  });

  it('linearizable FAILS when a read shows an outcome other than the one the API answered, and names the calls', () => {
    const e = consistentEvidence();
    // A reader saw t1 aborted after its create answered committed.
    const stale = {
      id: 99,
      client: 'r1',
      input: { op: 'get' as const, key: 'k1', id: 't1' },
      output: { kind: 'view' as const, id: 't1', state: 'aborted' as const, outcome: 'aborted' as const },
      callMs: 30,
      returnMs: 31,
    };
    const broken: ChaosEvidence = { ...e, history: [...e.history, stale] };
    expect(failing(broken)).toEqual(['linearizable']);
    expect(violations(broken, 'linearizable')).toEqual([
      // (The create with commit counts as two operations: its request and its answer.)
      '1 of 3 partitions are not linearizable; smallest failing sub-history of k1 (2 of its 4 operations):',
      '  [+0.0, +5.0 ms] r0  get k1 t1 -> t1 committed (outcome committed)',
      '  [+10.0, +11.0 ms] r1  get k1 t1 -> t1 aborted (outcome aborted)',
    ]);
  });

  it('linearizable says unknown, not yes and not FAIL, when the search is pruned', () => {
    const e = consistentEvidence();
    const many = Array.from({ length: 40 }, (_, i) => transferCalls('k9', 't9', 'committed', 1_000 + i * 30, 100 + 2 * i)).flat();
    const r = checkInvariants({ ...e, history: many }, { budget: { stepsMax: 5, timeMaxMs: 60_000 } }).find(
      (x) => x.name === 'linearizable',
    )!;
    expect(r.pass).toBe(true);
    expect(r.linearizability?.verdict).toBe('unknown');
    expect(r.checked).toMatch(/UNKNOWN: partition k9 \(\d+ operations\): search pruned after 5 steps \(stepsMax\)/);
  });
});
