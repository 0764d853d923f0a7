// The chaos invariants: pure checks over the evidence of one run (evidence.ts). Each
// returns PASS/FAIL with what it looked at and every violation it found; none of them
// does I/O, so each is tested on fabricated histories that break it on purpose
// (test/chaos/invariants.test.ts). A checker that cannot fail proves nothing, and
// neither does one that checked nothing: each invariant also FAILS when what it
// looked at falls below a floor (EvidenceFloors), so an empty history is not a pass.
import {
  FINISHED_TX_STATES,
  IN_DOUBT_STATES,
  type BankSnapshot,
  type ChaosEvidence,
  type CoordinatorTx,
  type KvEvidence,
  type Outcome,
  type ParticipantState,
  type TransferRecord,
} from './evidence.js';
import {
  checkKvHistory,
  checkTxHistory,
  linearizabilityLines,
  type LinearizabilityBudget,
  type LinearizabilitySummary,
} from './linearizability.js';

export const INVARIANTS = [
  { name: 'atomicity', title: 'atomicity across participants' },
  { name: 'conservation', title: 'conservation of money' },
  { name: 'nothing-in-doubt', title: 'nothing in doubt after the faults stop' },
  { name: 'api-matches-participants', title: 'API outcomes match what participants applied' },
  { name: 'decisions-durable', title: 'no decision lost after a full-cluster SIGKILL' },
  { name: 'one-transaction-per-key', title: 'one transaction per idempotency key' },
  { name: 'nodes-agree', title: 'every node reports the same outcomes' },
  { name: 'single-leader-per-term', title: 'at most one leader per term' },
  { name: 'requests-accepted', title: 'no well-formed transfer refused (4xx)' },
  { name: 'linearizable', title: 'every client call linearizable' },
] as const;
export type InvariantName = (typeof INVARIANTS)[number]['name'];

export interface InvariantResult {
  readonly name: InvariantName;
  readonly title: string;
  readonly pass: boolean;
  /** What was checked, e.g. "812 transactions, 2 banks". */
  readonly checked: string;
  readonly violations: readonly string[];
  /** The linearizability check's numbers and verdict (on the `linearizable` result only). */
  readonly linearizability?: LinearizabilitySummary;
}

/**
 * The least evidence each invariant must have looked at before its PASS means
 * anything. Every floor is at least 1 by default; a caller lowers one only where
 * that evidence cannot exist (and says so).
 */
export interface EvidenceFloors {
  /** Transactions (and transfers) an invariant over transactions must have checked. */
  readonly transactions: number;
  /** Decided outcomes read before the full-cluster outage and re-read after it. */
  readonly rereadDecisions: number;
  /** Terms in which the live sampling saw a leader. */
  readonly leaderTerms: number;
  /** Participant records read, over every bank. */
  readonly participantRecords: number;
}

export const DEFAULT_FLOORS: EvidenceFloors = { transactions: 1, rereadDecisions: 1, leaderTerms: 1, participantRecords: 1 };

type Check = (e: ChaosEvidence, v: FinalView, floors: EvidenceFloors) => { checked: string; violations: string[] };

/** Every invariant but linearizable, which also hands back its numbers for the report (below). */
const CHECKS: Record<Exclude<InvariantName, 'linearizable'>, Check> = {
  atomicity: checkAtomicity,
  conservation: checkConservation,
  'nothing-in-doubt': checkNothingInDoubt,
  'api-matches-participants': checkApiMatchesParticipants,
  'decisions-durable': checkDecisionsDurable,
  'one-transaction-per-key': checkOneTransactionPerKey,
  'nodes-agree': checkNodesAgree,
  'single-leader-per-term': checkSingleLeaderPerTerm,
  'requests-accepted': checkRequestsAccepted,
};

/** What a caller may tune: the evidence floors, and the linearizability search's budget. */
export interface CheckOptions {
  readonly floors?: EvidenceFloors;
  readonly budget?: LinearizabilityBudget;
}

export function checkInvariants(e: ChaosEvidence, opts: CheckOptions = {}): InvariantResult[] {
  const floors = opts.floors ?? DEFAULT_FLOORS;
  const view = finalView(e);
  return INVARIANTS.map(({ name, title }) => {
    if (name === 'linearizable') return linearizableResult(title, checkTxHistory(e.history, opts.budget), floors);
    const { checked, violations } = CHECKS[name](e, view, floors);
    return { name, title, pass: violations.length === 0, checked, violations };
  });
}

/**
 * A `--state-machine kv` run has no transactions, banks or participants: what applies is
 * one leader per term, and the linearizability of every put and get.
 */
export function checkKvInvariants(e: KvEvidence, opts: CheckOptions = {}): InvariantResult[] {
  const floors = opts.floors ?? DEFAULT_FLOORS;
  const title = (name: InvariantName): string => INVARIANTS.find((i) => i.name === name)!.title;
  const leaders = checkSingleLeaderPerTerm({ leadersByTerm: e.leadersByTerm }, null, floors);
  return [
    { name: 'single-leader-per-term', title: title('single-leader-per-term'), pass: leaders.violations.length === 0, ...leaders },
    linearizableResult(title('linearizable'), checkKvHistory(e.history, opts.budget), floors),
  ];
}

/**
 * Fails on a violation, and on a history below the floor of operations; a pruned search
 * ("unknown") says so in `checked` and passes (the tests that run chaos require "yes").
 */
export function linearizableResult(title: string, s: LinearizabilitySummary, floors: EvidenceFloors = DEFAULT_FLOORS): InvariantResult {
  const { checked, violations } = linearizabilityLines(s);
  violations.push(...belowFloor(s.operations - s.pending, floors.transactions, 'operations with a known outcome'));
  return { name: 'linearizable', title, pass: violations.length === 0 && s.verdict !== 'no', checked, violations, linearizability: s };
}

// ---- the merged final view ---------------------------------------------------

/** The coordinator's final word on each transaction, merged over the nodes that answered. */
interface FinalView {
  readonly txs: ReadonlyMap<string, CoordinatorTx>;
  /** tx id -> bank -> participant state, from the banks that expose records. */
  readonly records: ReadonlyMap<string, ReadonlyMap<string, ParticipantState>>;
  /** Banks whose records could be read. */
  readonly banksWithRecords: ReadonlySet<string>;
}

function finalView(e: ChaosEvidence): FinalView {
  const txs = new Map<string, CoordinatorTx>();
  for (const listing of e.coordinatorByNode.values()) {
    for (const [id, tx] of listing) {
      const seen = txs.get(id);
      // Prefer a view that knows the outcome; disagreement is nodes-agree's business.
      if (seen === undefined || (seen.outcome === null && tx.outcome !== null)) txs.set(id, tx);
    }
  }
  const records = new Map<string, Map<string, ParticipantState>>();
  const banksWithRecords = new Set<string>();
  for (const bank of e.banksAfter) {
    if (bank.records === null) continue;
    banksWithRecords.add(bank.bank);
    for (const r of bank.records) records.set(r.txId, (records.get(r.txId) ?? new Map()).set(bank.bank, r.state));
  }
  return { txs, records, banksWithRecords };
}

function outcomeOf(v: FinalView, t: TransferRecord): Outcome | null {
  const id = t.txIds.at(-1);
  return id === undefined ? null : (v.txs.get(id)?.outcome ?? null);
}

/** A violation when `count` of `what` is below `floor`: a check over too little evidence proves nothing. */
function belowFloor(count: number, floor: number, what: string): string[] {
  return count >= floor ? [] : [`checked ${count} ${what}, below the floor of ${floor}: this run proves nothing about it`];
}

/** Participant records read, over every bank (what the participantRecords floor counts). */
export function recordsRead(e: Pick<ChaosEvidence, 'banksAfter'>): number {
  return e.banksAfter.reduce((n, b) => n + (b.records?.length ?? 0), 0);
}

function total(banks: readonly BankSnapshot[]): number {
  let sum = 0;
  for (const b of banks) for (const a of b.accounts.values()) sum += a.balance;
  return sum;
}

// ---- the checks --------------------------------------------------------------

/**
 * No transaction committed at one participant and aborted (or never prepared) at another,
 * read from the participants' own durable records. A bank whose records could not be read
 * fails it: money cannot stand in, since two compensating broken transfers balance out.
 */
function checkAtomicity(e: ChaosEvidence, v: FinalView, floors: EvidenceFloors): { checked: string; violations: string[] } {
  const unread = e.banksAfter.filter((b) => b.records === null);
  const violations = unread.map((b) => `${b.bank}: participant records not read (${b.recordsNote ?? 'no reason given'})`);
  let checkedTxs = 0;
  for (const [id, tx] of v.txs) {
    if (tx.participants.length >= 2) checkedTxs++;
    // A participant the evidence has no bank for at all counts as "no record".
    const enlisted = tx.participants.filter((b) => !unread.some((u) => u.bank === b));
    if (enlisted.length < 2) continue;
    const states = enlisted.map((b) => [b, v.records.get(id)?.get(b) ?? 'no record'] as const);
    const committedAt = states.filter(([, s]) => s === 'committed').map(([b]) => b);
    if (committedAt.length > 0 && committedAt.length < states.length) {
      violations.push(
        `${id}: committed at ${committedAt.join(',')} but ${states
          .filter(([, s]) => s !== 'committed')
          .map(([b, s]) => `${b}=${s}`)
          .join(',')}`,
      );
    }
  }
  violations.push(...belowFloor(checkedTxs, floors.transactions, 'multi-bank transactions'));
  violations.push(...belowFloor(recordsRead(e), floors.participantRecords, 'participant records'));
  return { checked: `${checkedTxs} multi-bank transactions, ${recordsRead(e)} participant records`, violations };
}

/** Money is neither made nor lost, and no account goes negative. */
function checkConservation(e: ChaosEvidence): { checked: string; violations: string[] } {
  const before = total(e.banksBefore);
  const after = total(e.banksAfter);
  const violations = before === after ? [] : [`total was ${before}, is ${after} (${after - before > 0 ? '+' : ''}${after - before})`];
  for (const b of e.banksAfter) {
    for (const [name, a] of b.accounts) if (a.balance < 0) violations.push(`${b.bank}/${name} has a negative balance ${a.balance}`);
  }
  const accounts = e.banksAfter.reduce((n, b) => n + b.accounts.size, 0);
  violations.push(...belowFloor(accounts, 1, 'accounts'));
  return { checked: `total ${before} -> ${after} over ${accounts} accounts`, violations };
}

/**
 * Once the faults stop, every transaction is finished at the coordinator (on every node)
 * and at every participant (no record still preparing/prepared/precommitted, no funds
 * held), and every client that got an error learns its outcome by resending.
 */
function checkNothingInDoubt(e: ChaosEvidence, v: FinalView, floors: EvidenceFloors): { checked: string; violations: string[] } {
  const violations: string[] = [];
  if (e.coordinatorByNode.size === 0) violations.push('no node could list the transactions');
  for (const [node, listing] of e.coordinatorByNode) {
    for (const tx of listing.values())
      if (!FINISHED_TX_STATES.includes(tx.state)) violations.push(`${tx.id}: ${node} lists it as ${tx.state}`);
  }
  for (const t of e.transfers) {
    const id = t.txIds.at(-1);
    if (id !== undefined && !v.txs.has(id) && e.coordinatorByNode.size > 0) violations.push(`${id} (${t.key}): no node lists it`);
  }
  let records = 0;
  for (const b of e.banksAfter) {
    for (const [name, a] of b.accounts)
      if (a.held !== 0) violations.push(`${b.bank}/${name}: ${a.held} still held by an undecided transfer`);
    for (const r of b.records ?? []) {
      records++;
      if (IN_DOUBT_STATES.includes(r.state)) violations.push(`${r.txId}: ${b.bank} is still ${r.state}`);
    }
  }
  for (const t of e.transfers) {
    if (t.rejected === null && t.apiOutcome === null && t.resolvedOutcome === null) {
      violations.push(`${t.key}: the client never learned an outcome (last error: ${t.error ?? 'none'})`);
    }
  }
  violations.push(
    ...belowFloor(v.txs.size, floors.transactions, 'transactions'),
    ...belowFloor(records, floors.participantRecords, 'participant records'),
  );
  return {
    checked: `${v.txs.size} transactions on ${e.coordinatorByNode.size} nodes, ${records} participant records, ${e.transfers.length} transfers`,
    violations,
  };
}

/**
 * Every outcome the API reported is the coordinator's final one and what each participant
 * applied: its record says committed exactly when the outcome is commit, and every
 * account moved by exactly the sum of the committed transfers' legs.
 */
function checkApiMatchesParticipants(e: ChaosEvidence, v: FinalView, floors: EvidenceFloors): { checked: string; violations: string[] } {
  const violations: string[] = [];
  let reported = 0;
  for (const t of e.transfers) {
    const said = t.apiOutcome ?? t.resolvedOutcome;
    if (said === null) continue;
    reported++;
    const id = t.txIds.at(-1)!;
    const final = outcomeOf(v, t);
    if (final !== said) violations.push(`${id} (${t.key}): API said ${said}, the coordinator's final outcome is ${String(final)}`);
    if (t.apiOutcome !== null && t.resolvedOutcome !== null && t.apiOutcome !== t.resolvedOutcome) {
      violations.push(`${id} (${t.key}): API said ${t.apiOutcome}, then ${t.resolvedOutcome} on resend`);
    }
    for (const [bank, state] of v.records.get(id) ?? []) {
      const agrees = said === 'committed' ? state === 'committed' : state !== 'committed';
      if (!agrees) violations.push(`${id} (${t.key}): API said ${said}, ${bank}'s record is ${state}`);
    }
    if (said === 'committed') {
      const banks = new Set(t.legs.map((l) => l.bank));
      for (const bank of banks) {
        if (v.banksWithRecords.has(bank) && v.records.get(id)?.get(bank) === undefined)
          violations.push(`${id} (${t.key}): API said committed, ${bank} has no record of it`);
      }
    }
  }
  violations.push(...moneyMismatches(e, v));
  violations.push(...belowFloor(reported, floors.transactions, 'reported outcomes'));
  return {
    checked: `${reported} reported outcomes, ${e.banksAfter.reduce((n, b) => n + b.accounts.size, 0)} account balances`,
    violations,
  };
}

/** At each account: balance after - before = sum of the committed transfers' legs. */
function moneyMismatches(e: ChaosEvidence, v: FinalView): string[] {
  const expected = new Map<string, number>();
  for (const t of e.transfers) {
    if (outcomeOf(v, t) !== 'committed') continue;
    for (const l of t.legs) expected.set(`${l.bank}/${l.account}`, (expected.get(`${l.bank}/${l.account}`) ?? 0) + l.delta);
  }
  const out: string[] = [];
  for (const after of e.banksAfter) {
    const before = e.banksBefore.find((b) => b.bank === after.bank);
    for (const [account, state] of after.accounts) {
      const moved = state.balance - (before?.accounts.get(account)?.balance ?? 0);
      const committed = expected.get(`${after.bank}/${account}`) ?? 0;
      if (moved !== committed)
        out.push(`${after.bank}/${account}: balance moved by ${moved}, committed transfers account for ${committed}`);
    }
  }
  return out;
}

/**
 * After SIGKILL of every node and a restart, every outcome read before is read again
 * unchanged, and so is every outcome the API reported during the run.
 */
function checkDecisionsDurable(e: ChaosEvidence, _v: FinalView, floors: EvidenceFloors): { checked: string; violations: string[] } {
  if (e.outage === null) return { checked: 'not run', violations: ['the full-cluster kill and restart did not run'] };
  const { before, after } = e.outage;
  const violations: string[] = [];
  for (const [id, outcome] of before) {
    const now = after.get(id);
    if (now !== outcome) violations.push(`${id}: ${outcome} before the outage, ${now === undefined ? 'not read' : String(now)} after`);
  }
  let reported = 0;
  for (const t of e.transfers) {
    const id = t.txIds.at(-1);
    if (t.apiOutcome === null || id === undefined || before.has(id)) continue;
    reported++;
    const now = after.get(id);
    if (now !== t.apiOutcome)
      violations.push(`${id} (${t.key}): API reported ${t.apiOutcome}, after the outage ${now === undefined ? 'not read' : String(now)}`);
  }
  violations.push(...belowFloor(before.size, floors.rereadDecisions, 'decided outcomes re-read after the outage'));
  return { checked: `${before.size} decided outcomes re-read${reported > 0 ? `, plus ${reported} reported ones` : ''}`, violations };
}

/** A retried request (same key) never ran a second transaction. */
function checkOneTransactionPerKey(e: ChaosEvidence, v: FinalView, floors: EvidenceFloors): { checked: string; violations: string[] } {
  const violations: string[] = [];
  const named = new Set<string>();
  for (const t of e.transfers) {
    for (const id of t.txIds) named.add(id);
    if (new Set(t.txIds).size > 1) violations.push(`${t.key} was answered as ${[...new Set(t.txIds)].join(' and ')}`);
  }
  for (const id of v.txs.keys()) if (!named.has(id)) violations.push(`${id} exists, but no answer to any transfer named it`);
  violations.push(...belowFloor(e.transfers.length, floors.transactions, 'transfers'));
  return { checked: `${e.transfers.length} keys, ${v.txs.size} transactions`, violations };
}

/** Every node that answered lists the same outcome for every transaction (no split-brain decision). */
function checkNodesAgree(e: ChaosEvidence, v: FinalView, floors: EvidenceFloors): { checked: string; violations: string[] } {
  const violations = e.unlistedNodes.map((n) => `${n} could not be listed`);
  for (const id of v.txs.keys()) {
    const byNode = [...e.coordinatorByNode].map(
      ([node, listing]) => [node, listing.has(id) ? String(listing.get(id)!.outcome) : 'missing'] as const,
    );
    if (new Set(byNode.map(([, o]) => o)).size > 1) violations.push(`${id}: ${byNode.map(([n, o]) => `${n}=${o}`).join(' ')}`);
  }
  violations.push(
    ...belowFloor(v.txs.size, floors.transactions, 'transactions'),
    ...belowFloor(e.coordinatorByNode.size, 2, 'node listings to compare'),
  );
  return { checked: `${v.txs.size} transactions on ${e.coordinatorByNode.size} nodes`, violations };
}

function checkSingleLeaderPerTerm(
  e: Pick<ChaosEvidence, 'leadersByTerm'>,
  _v: unknown,
  floors: EvidenceFloors,
): { checked: string; violations: string[] } {
  const violations = [...e.leadersByTerm]
    .filter(([, ls]) => new Set(ls).size > 1)
    .map(([term, ls]) => `term ${term}: ${[...new Set(ls)].sort().join(' and ')} both claimed leadership`);
  violations.push(...belowFloor(e.leadersByTerm.size, floors.leaderTerms, 'terms with a leader sampled'));
  return { checked: `${e.leadersByTerm.size} terms observed`, violations };
}

function checkRequestsAccepted(e: ChaosEvidence, _v: FinalView, floors: EvidenceFloors): { checked: string; violations: string[] } {
  const violations = e.transfers.filter((t) => t.rejected !== null).map((t) => `${t.key}: ${t.rejected!}`);
  violations.push(...belowFloor(e.transfers.length, floors.transactions, 'transfers'));
  return { checked: `${e.transfers.length} transfers`, violations };
}
