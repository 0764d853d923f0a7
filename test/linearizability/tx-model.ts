// The sequential specification of one transaction as the API shows it (README
// "Transaction API"; src/tx/operations.ts and routes.ts). A history is partitioned by
// the client's Idempotency-Key: every create with that key names the same transaction,
// and the commits, aborts and GETs of the id it answered belong to it.
//
//   POST /v1/transactions (key)  201 view: the transaction, created if the key is new
//                                (a replay answers the existing one, in its current state);
//                                with commit: true, 200 once the decision is durable
//   POST .../{id}/commit         200 view once the decision is durable, whatever it is;
//                                404 TX_NOT_FOUND if there is no such transaction
//   POST .../{id}/abort          200 view with outcome aborted (deciding abort unless a
//                                decision exists); 409 TX_ALREADY_COMMITTED if the
//                                decision was commit, 409 TX_PRECOMMITTED if it is a
//                                precommitted 3PC transaction; 404 TX_NOT_FOUND
//   GET  .../{id}                200 view: state and outcome now; 404 TX_NOT_FOUND
//
// A view's outcome is committed in precommitted/committing/committed (a precommitted 3PC
// transaction can only commit), aborted in aborting/aborted, null before: it appears
// once fixed and never changes.
//
// The coordinator also moves a transaction by itself, with no client call: it decides
// abort at the deadline (from active or while preparing, never once precommitted), votes come in (preparing to
// precommitted in 3PC, or straight to a decision in 2PC), and phase 2 finishes
// (committing to committed, aborting to aborted). These internal transitions may happen
// any number of times before any operation; the model is nondeterministic in them. A
// client's commit request is the only way out of active other than abort.
//
// A commit (and a create with commit: true) is not one atomic step: its request takes
// effect (active to preparing) at one moment, and its answer reads the decision later;
// a GET in between sees preparing. So expand() makes two operations of it: the request,
// which may take effect at any time after the call (it must have, if the answer shows a
// decision only it could lead to), and the `decision` it answered, read at one moment
// within the call. Abort is one step: its decision is its effect.
import { canTransition, fixedOutcome } from '../../src/tx/transitions.js';
import type { Model, Operation } from './model.js';

export type TxPhase = 'active' | 'preparing' | 'precommitted' | 'committing' | 'aborting' | 'committed' | 'aborted';
export type TxOutcome = 'committed' | 'aborted';
export type TxProtocol = '2pc' | '3pc';

export type TxInput =
  | { readonly op: 'create'; readonly key: string; readonly protocol: TxProtocol; readonly commit: boolean; readonly requestOnly?: true }
  | { readonly op: 'commit'; readonly key: string; readonly id: string; readonly requestOnly?: true }
  | { readonly op: 'abort'; readonly key: string; readonly id: string }
  | { readonly op: 'get'; readonly key: string; readonly id: string }
  /** The answer of a commit (or of a create with commit: true), made by expand(). */
  | { readonly op: 'decision'; readonly key: string; readonly id: string; readonly of: 'commit' | 'create' };

export type TxOutput =
  | { readonly kind: 'view'; readonly id: string; readonly state: TxPhase; readonly outcome: TxOutcome | null }
  | { readonly kind: 'error'; readonly status: number; readonly code: string };

export interface TxRecordState {
  /** null: created by a call whose answer was lost; the first answer naming an id binds it. */
  readonly id: string | null;
  readonly protocol: TxProtocol;
  readonly phase: TxPhase;
}

/** null: no transaction with this key exists yet. */
export type TxModelState = TxRecordState | null;
export type TxOperation = Operation<TxInput, TxOutput>;

const PHASES: readonly TxPhase[] = ['active', 'preparing', 'precommitted', 'committing', 'aborting', 'committed', 'aborted'];

/**
 * The coordinator's own moves (no client call causes them): the real transition table
 * (src/tx/transitions.ts) without the one edge only a client takes (active -> preparing,
 * its commit request), and without precommitted in 2PC.
 */
const INTERNAL: Readonly<Record<TxProtocol, Readonly<Record<TxPhase, readonly TxPhase[]>>>> = {
  '2pc': internalMoves('2pc'),
  '3pc': internalMoves('3pc'),
};

function internalMoves(protocol: TxProtocol): Record<TxPhase, TxPhase[]> {
  const moves = {} as Record<TxPhase, TxPhase[]>;
  for (const from of PHASES) {
    moves[from] = PHASES.filter(
      (to) => canTransition(from, to) && !(from === 'active' && to === 'preparing') && (protocol === '3pc' || to !== 'precommitted'),
    );
  }
  return moves;
}

export const txModel: Model<TxModelState, TxInput, TxOutput> = {
  name: 'transaction per idempotency key',
  init: () => null,
  step(s, input, output) {
    switch (input.op) {
      case 'create':
        return create(s, input, output);
      case 'commit':
        return commit(s, input.id, output);
      case 'abort':
        return abort(s, input.id, output);
      case 'get':
        return get(s, input.id, output);
      case 'decision':
        return decision(s, input.id, output);
      default:
        return assertNever(input);
    }
  },
  expand,
  stateKey: (s) => (s === null ? '-' : `${s.id ?? '?'}/${s.protocol}/${s.phase}`),
  partition: (input) => input.key,
  readOnly: (input) => input.op === 'get' || input.op === 'decision',
  describe: (input, output) =>
    'requestOnly' in input
      ? `${describeInput(input)}: its request (takes effect once, at any time after the call)`
      : `${describeInput(input)} -> ${describeOutput(output)}`,
};

/** The view's outcome in a phase: the real rule (fixedOutcome), with the decision the phase implies. */
export function outcomeOf(phase: TxPhase): TxOutcome | null {
  const decision =
    phase === 'committing' || phase === 'committed' ? 'commit' : phase === 'aborting' || phase === 'aborted' ? 'abort' : null;
  return fixedOutcome({ state: phase, decision });
}

/**
 * A commit, or a create with commit: true, that answered a view: its request (its answer
 * unknown here: it may take effect any time after the call) and the decision it read.
 */
function expand(op: TxOperation): TxOperation[] {
  const { input, output } = op;
  const twoSteps = input.op === 'commit' || (input.op === 'create' && input.commit);
  if (!twoSteps || output === null || output.kind !== 'view') return [op];
  return [
    { ...op, input: { ...input, requestOnly: true }, output: null, returnMs: Infinity },
    { ...op, input: { op: 'decision', key: input.key, id: output.id, of: input.op } },
  ];
}

function create(s: TxModelState, input: Extract<TxInput, { op: 'create' }>, out: TxOutput | null): TxModelState[] {
  if (out !== null && (out.kind !== 'view' || input.commit)) return [];
  // A new key creates the transaction; a replay finds it as the coordinator has moved it since.
  const found = s === null ? [{ id: null, protocol: input.protocol, phase: 'active' as const }] : closure(s);
  const requested = found.map((t) => (input.commit ? requestCommit(t) : t));
  return out === null ? requested : requested.flatMap((t) => answered(t, out));
}

function commit(s: TxModelState, id: string, out: TxOutput | null): TxModelState[] {
  if (!exists(s, id)) return out === null || isError(out, 'TX_NOT_FOUND') ? [s] : [];
  // A commit that answered a view was expanded into its request and its decision.
  return out === null ? closure(s).map(requestCommit) : [];
}

/** The answer of a commit: the transaction is decided, and in the state shown. */
function decision(s: TxModelState, id: string, out: TxOutput | null): TxModelState[] {
  if (out === null) return [s];
  if (!exists(s, id) || out.kind !== 'view' || out.outcome === null) return [];
  return closure(s).flatMap((t) => answered(t, out));
}

function abort(s: TxModelState, id: string, out: TxOutput | null): TxModelState[] {
  if (!exists(s, id)) return out === null || isError(out, 'TX_NOT_FOUND') ? [s] : [];
  return closure(s).flatMap((t): TxModelState[] => {
    const outcome = outcomeOf(t.phase);
    // A precommitted transaction's outcome is commit already: its abort is refused with its own code.
    const refusal = t.phase === 'precommitted' ? 'TX_PRECOMMITTED' : 'TX_ALREADY_COMMITTED';
    if (outcome === 'committed') return out === null || isError(out, refusal) ? [t] : [];
    const aborted: TxRecordState = outcome === 'aborted' ? t : { ...t, phase: 'aborting' };
    if (out === null) return [aborted];
    return out.kind === 'view' ? answered(aborted, out) : [];
  });
}

function get(s: TxModelState, id: string, out: TxOutput | null): TxModelState[] {
  if (!exists(s, id)) return out === null || isError(out, 'TX_NOT_FOUND') ? [s] : [];
  if (out === null) return [s];
  return out.kind === 'view' ? closure(s).flatMap((t) => answered(t, out)) : [];
}

/** The transaction `id` is in `s` (an id still unbound may be it). */
function exists(s: TxModelState, id: string): s is TxRecordState {
  return s !== null && (s.id === null || s.id === id);
}

function requestCommit(t: TxRecordState): TxRecordState {
  return t.phase === 'active' ? { ...t, phase: 'preparing' } : t;
}

/**
 * The states reachable from `t` by the coordinator's own moves in which a view answer
 * matches `out` (phase and outcome, and the id, which binds an unbound one).
 */
function answered(t: TxRecordState, out: Extract<TxOutput, { kind: 'view' }>): TxRecordState[] {
  if (t.id !== null && t.id !== out.id) return [];
  if (out.outcome !== outcomeOf(out.state)) return [];
  return closure(t)
    .filter((u) => u.phase === out.state)
    .map((u) => ({ ...u, id: out.id }));
}

/** `t` and every state the coordinator can move it to by itself. */
function closure(t: TxRecordState): TxRecordState[] {
  const out: TxRecordState[] = [t];
  for (let i = 0; i < out.length; i++) {
    for (const phase of INTERNAL[t.protocol][out[i]!.phase]) if (!out.some((u) => u.phase === phase)) out.push({ ...t, phase });
  }
  return out;
}

function isError(out: TxOutput, code: string): boolean {
  return out.kind === 'error' && out.code === code;
}

function describeInput(input: TxInput): string {
  switch (input.op) {
    case 'create':
      return `create ${input.key} (${input.protocol}${input.commit ? ', commit' : ''})`;
    case 'commit':
    case 'abort':
    case 'get':
      return `${input.op} ${input.key} ${input.id}`;
    case 'decision':
      return `${input.of === 'create' ? `create ${input.key} (commit)` : `commit ${input.key} ${input.id}`}: its answer`;
    default:
      return assertNever(input);
  }
}

function describeOutput(out: TxOutput | null): string {
  if (out === null) return '? (unknown)';
  if (out.kind === 'error') return `${out.status} ${out.code}`;
  return `${out.id} ${out.state} (outcome ${out.outcome ?? 'null'})`;
}

function assertNever(x: never): never {
  throw new Error(`unexpected transaction operation ${JSON.stringify(x)}`);
}
