// The chaos invariants, as pure functions over evidence gathered after the faults stopped:
// what the workload was told by the API, the coordinator's final view of each transaction,
// and what each bank participant holds (balances and holds per account, plus per-transaction
// records where the participant exposes them).
//
// Pure so that the checker itself is tested (invariants.test.ts) on hand-made evidence where
// each invariant is broken on purpose: a checker that cannot fail proves nothing.

export type Outcome = 'committed' | 'aborted';
export type ParticipantState = 'preparing' | 'prepared' | 'precommitted' | 'committed' | 'aborted';
export const TERMINAL_TX_STATES: readonly string[] = ['committed', 'aborted'];
const IN_DOUBT_PARTICIPANT_STATES: readonly ParticipantState[] = ['preparing', 'prepared', 'precommitted'];

/** One account change a transfer makes at one bank if it commits. */
export interface Leg {
  readonly bank: string;
  readonly account: string;
  readonly delta: number;
}

/** One logical transfer of the workload (one idempotency key), as the API reported it. */
export interface TransferRecord {
  readonly key: string;
  readonly legs: readonly Leg[];
  /** The transaction id of the last reply that named one. */
  txId: string | null;
  /** Every distinct transaction id any reply for this key named (must stay at most one). */
  readonly txIdsSeen: Set<string>;
  /** The outcome an API reply stated; null when no reply with an outcome ever arrived. */
  apiOutcome: Outcome | null;
  attempts: number;
  /** Set when the API refused the request with a 4xx: the workload or the API is wrong. */
  rejected: string | null;
  lastError: string | null;
}

/** The coordinator's final view of one transaction (GET /v1/transactions/{id}). */
export interface CoordinatorTx {
  readonly id: string;
  readonly state: string;
  readonly outcome: Outcome | null;
  readonly participants: ReadonlyArray<{ readonly name: string; readonly acknowledged: boolean }>;
}

/** One durable participant record at a bank (only where the participant lists them). */
export interface ParticipantRecord {
  readonly txId: string;
  readonly state: ParticipantState;
}

export interface AccountState {
  readonly balance: number;
  /** Funds held by prepared, undecided transactions. */
  readonly held: number;
}

export interface BankState {
  readonly name: string;
  readonly accounts: ReadonlyMap<string, AccountState>;
  /** Per-transaction records, or null where the participant does not expose them. */
  readonly records: readonly ParticipantRecord[] | null;
}

export interface ChaosEvidence {
  readonly transfers: readonly TransferRecord[];
  /** Keyed by transaction id: every transaction the API named or a node listed. */
  readonly coordinator: ReadonlyMap<string, CoordinatorTx | 'unknown'>;
  readonly banksBefore: readonly BankState[];
  readonly banksAfter: readonly BankState[];
  /** Outcomes read before a full-cluster kill; each must be unchanged after the restart. */
  readonly decidedBeforeOutage?: ReadonlyMap<string, Outcome>;
  /** Outcome of each transaction as listed by each node; they must all agree. */
  readonly outcomesByNode?: ReadonlyMap<string, ReadonlyMap<string, Outcome | null>>;
}

export const INVARIANTS = [
  'atomicity',
  'conservation',
  'nothing-in-doubt',
  'api-matches-participants',
  'one-transaction-per-key',
  'decisions-durable',
  'nodes-agree',
  'requests-accepted',
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

export interface Violation {
  readonly invariant: InvariantName;
  readonly detail: string;
}

export function checkInvariants(e: ChaosEvidence): Violation[] {
  return [
    ...checkAtomicity(e),
    ...checkConservation(e),
    ...checkNothingInDoubt(e),
    ...checkApiMatchesParticipants(e),
    ...checkOneTransactionPerKey(e),
    ...checkDecisionsDurable(e),
    ...checkNodesAgree(e),
    ...checkRequestsAccepted(e),
  ];
}

function finalOutcome(e: ChaosEvidence, t: TransferRecord): Outcome | null {
  if (t.txId === null) return null;
  const tx = e.coordinator.get(t.txId);
  return tx === undefined || tx === 'unknown' ? null : tx.outcome;
}

function accountTotal(bank: BankState): number {
  let sum = 0;
  for (const a of bank.accounts.values()) sum += a.balance;
  return sum;
}

/**
 * Each committed transfer applied at every bank, each aborted one at none. Checked on money:
 * at every account, balance after - balance before must equal the sum of the legs of the
 * transfers the coordinator committed. A transfer applied at one bank only leaves the other
 * bank's account off by its amount. Per-transaction records sharpen this where available.
 */
export function checkAtomicity(e: ChaosEvidence): Violation[] {
  const out: Violation[] = [];
  const expected = new Map<string, number>();
  for (const t of e.transfers) {
    if (finalOutcome(e, t) !== 'committed') continue;
    for (const leg of t.legs) expected.set(`${leg.bank}/${leg.account}`, (expected.get(`${leg.bank}/${leg.account}`) ?? 0) + leg.delta);
  }
  for (const after of e.banksAfter) {
    const before = e.banksBefore.find((b) => b.name === after.name);
    for (const [account, state] of after.accounts) {
      const moved = state.balance - (before?.accounts.get(account)?.balance ?? 0);
      const committed = expected.get(`${after.name}/${account}`) ?? 0;
      if (moved !== committed) {
        out.push({ invariant: 'atomicity', detail: `bank ${after.name} account ${account}: balance moved ${moved}, committed transfers account for ${committed}` });
      }
    }
  }
  for (const [txId, states] of recordsByTx(e.banksAfter)) {
    const committedAt = [...states].filter(([, s]) => s === 'committed').map(([b]) => b);
    const notCommitted = [...states].filter(([, s]) => s !== 'committed').map(([b, s]) => `${b}=${s}`);
    if (committedAt.length > 0 && notCommitted.length > 0) {
      out.push({ invariant: 'atomicity', detail: `${txId}: committed at ${committedAt.join(',')} but ${notCommitted.join(',')}` });
    }
  }
  return out;
}

/** Money is neither made nor lost across all banks. */
export function checkConservation(e: ChaosEvidence): Violation[] {
  const before = e.banksBefore.reduce((s, b) => s + accountTotal(b), 0);
  const after = e.banksAfter.reduce((s, b) => s + accountTotal(b), 0);
  return before === after ? [] : [{ invariant: 'conservation', detail: `total was ${before}, is ${after}` }];
}

/** After the faults stop, every transaction is finished at the coordinator and every bank. */
export function checkNothingInDoubt(e: ChaosEvidence): Violation[] {
  const out: Violation[] = [];
  for (const [id, tx] of e.coordinator) {
    if (tx === 'unknown') out.push({ invariant: 'nothing-in-doubt', detail: `${id}: the coordinator could not be asked about it` });
    else if (!TERMINAL_TX_STATES.includes(tx.state)) out.push({ invariant: 'nothing-in-doubt', detail: `${id}: coordinator state ${tx.state}` });
  }
  for (const bank of e.banksAfter) {
    for (const [account, state] of bank.accounts) {
      if (state.held !== 0) out.push({ invariant: 'nothing-in-doubt', detail: `bank ${bank.name} account ${account}: ${state.held} still held by undecided transactions` });
    }
    for (const r of bank.records ?? []) {
      if (IN_DOUBT_PARTICIPANT_STATES.includes(r.state)) out.push({ invariant: 'nothing-in-doubt', detail: `${r.txId}: ${bank.name} is still ${r.state}` });
    }
  }
  for (const t of e.transfers) {
    if (t.rejected === null && t.apiOutcome === null) out.push({ invariant: 'nothing-in-doubt', detail: `${t.key}: the client never learned an outcome` });
  }
  return out;
}

/**
 * Every outcome the API stated is the coordinator's final one (which atomicity ties to the
 * banks' money), and, where records exist, each participant's record agrees with it.
 */
export function checkApiMatchesParticipants(e: ChaosEvidence): Violation[] {
  const out: Violation[] = [];
  for (const t of e.transfers) {
    if (t.apiOutcome === null) continue;
    const final = finalOutcome(e, t);
    if (final !== t.apiOutcome) {
      out.push({ invariant: 'api-matches-participants', detail: `${String(t.txId)} (${t.key}): API said ${t.apiOutcome}, coordinator says ${String(final)}` });
    }
  }
  const byTx = recordsByTx(e.banksAfter);
  for (const [id, tx] of e.coordinator) {
    if (tx === 'unknown' || tx.outcome === null || !byTx.has(id)) continue;
    for (const [bank, state] of byTx.get(id)!) {
      const agrees = tx.outcome === 'committed' ? state === 'committed' : state !== 'committed';
      if (!agrees) out.push({ invariant: 'api-matches-participants', detail: `${id}: outcome ${tx.outcome} but ${bank} is ${state}` });
    }
  }
  return out;
}

/**
 * A retried request (same idempotency key) never ran a second transaction: no key was
 * answered with two ids, and the coordinator knows no transaction that no reply named.
 */
export function checkOneTransactionPerKey(e: ChaosEvidence): Violation[] {
  const out: Violation[] = [];
  const named = new Set<string>();
  for (const t of e.transfers) {
    for (const id of t.txIdsSeen) named.add(id);
    if (t.txIdsSeen.size > 1) out.push({ invariant: 'one-transaction-per-key', detail: `${t.key} was answered as ${[...t.txIdsSeen].join(', ')}` });
  }
  for (const id of e.coordinator.keys()) {
    if (!named.has(id)) out.push({ invariant: 'one-transaction-per-key', detail: `${id} exists but no reply to any key named it` });
  }
  return out;
}

/** No decision is lost or changed by a full-cluster kill and restart. */
export function checkDecisionsDurable(e: ChaosEvidence): Violation[] {
  const out: Violation[] = [];
  for (const [id, before] of e.decidedBeforeOutage ?? []) {
    const tx = e.coordinator.get(id);
    const now = tx === undefined ? 'missing' : tx === 'unknown' ? 'unknown' : String(tx.outcome);
    if (now !== before) out.push({ invariant: 'decisions-durable', detail: `${id}: ${before} before the outage, ${now} after` });
  }
  return out;
}

/** Every node lists the same outcome for every transaction (no split-brain decision). */
export function checkNodesAgree(e: ChaosEvidence): Violation[] {
  const perTx = new Map<string, Map<string, Outcome | null>>();
  for (const [node, outcomes] of e.outcomesByNode ?? []) {
    for (const [id, outcome] of outcomes) perTx.set(id, (perTx.get(id) ?? new Map()).set(node, outcome));
  }
  return [...perTx]
    .filter(([, byNode]) => new Set(byNode.values()).size > 1)
    .map(([id, byNode]) => ({ invariant: 'nodes-agree' as const, detail: `${id}: ${[...byNode].map(([n, o]) => `${n}=${String(o)}`).join(' ')}` }));
}

/** The API never refused a well-formed transfer (a 4xx here is a bug in the API or the test). */
export function checkRequestsAccepted(e: ChaosEvidence): Violation[] {
  return e.transfers.filter((t) => t.rejected !== null).map((t) => ({ invariant: 'requests-accepted' as const, detail: `${t.key}: ${String(t.rejected)}` }));
}

function recordsByTx(banks: readonly BankState[]): Map<string, Map<string, ParticipantState>> {
  const byTx = new Map<string, Map<string, ParticipantState>>();
  for (const bank of banks) {
    for (const r of bank.records ?? []) byTx.set(r.txId, (byTx.get(r.txId) ?? new Map()).set(bank.name, r.state));
  }
  return byTx;
}

/** One line per invariant with its result, for the scenario's printed report. */
export function summarize(violations: readonly Violation[]): string[] {
  return INVARIANTS.map((name) => {
    const mine = violations.filter((v) => v.invariant === name);
    return mine.length === 0 ? `  ok    ${name}` : `  FAIL  ${name}: ${mine.length} (${mine.slice(0, 3).map((v) => v.detail).join('; ')})`;
  });
}
