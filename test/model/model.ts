// The state of the model: one transaction, its replicated record, the
// coordinator processes (leaders), the network and the participants. A state
// is an immutable value; steps build new ones. keyOf() gives the canonical
// string the checker deduplicates on.
//
// What is abstracted, and why it is sound for the properties checked:
// - Raft is an atomic log (its own simulation, test/raft/simulation.test.ts,
//   checks it): committed entries in `hist`, proposals not yet committed in
//   `pending`, in log order. A pending entry commits in order, or is dropped
//   when its term is older than the newest leader's (that leader's log lacks
//   it); an entry proposed by a deposed leader never commits.
// - A leader acts on its own applied prefix (`view`), which may lag the log.
// - Time is the deadline (passed or not). Every other wait (resolve windows,
//   retry backoff, call timeouts, a participant's threePcTimeoutMs of failed
//   inquiries) is an event that may happen at any point, which includes every
//   timing a real run can produce: a participant's resolver that finds no node
//   reachable may act as if its whole window has passed.
// - A participant's crash is a restart at once: while it is down, calls wait
//   and its resolver does not run, which leaving them unscheduled covers; what
//   a crash adds is a prepare cut short (the record stays `preparing`) or an
//   answer never sent.
// - abandonAfterMs (presumed abort giving up on a participant that never voted
//   commit) is an event that may happen at any point of an abort's phase 2.
// - A call's timeout is its loss: a leader resends (or, in prepare, gives up)
//   only when neither the request nor its answer is in flight; a late copy is
//   a duplicate.
import type { CallPath, ParticipantTxRecord as SdkRecord } from '../../src/sdk/participant/types.js';
import type { TxCommand, VoteEntry } from '../../src/tx/commands.js';
import type { DeliverResult, PrepareResult } from '../../src/tx/participant-client.js';
import type { PrecommitAnswer } from '../../src/tx/protocol-rules.js';
import type { Protocol } from '../../src/tx/types.js';
import type { OneShotSpec } from '../../src/tx/one-shot.js';

export const TX_ID = 'tx';
export const CREATED_AT_MS = 0;
export const DEADLINE_MS = 1_000;
export const THREE_PC_TIMEOUT_MS = 30_000;
export const RESOLVE_AFTER_MS = 10_000;

/** How many of each fault the exploration may inject (0 turns a kind off). */
export interface Bounds {
  /** Messages lost (any message, any time; a leader's retry follows a loss). */
  readonly losses: number;
  readonly leaderCrashes: number;
  /** Leader pauses (a paused leader may resume as a deposed one once a newer one is elected). */
  readonly leaderPauses: number;
  /** New leaders (each in a new term). */
  readonly elections: number;
  /** Participant crashes (including one inside its prepare handler). */
  readonly participantCrashes: number;
  readonly duplicates: number;
  readonly clientAborts: number;
  /** A participant cut off from every coordinator node (calls to it and its inquiries fail). */
  readonly cuts: number;
  /** Every coordinator node paused at once (SIGSTOP). */
  readonly freezes: number;
}

/** No fault of any kind: the base the configurations add their bounds to, and the healed budget. */
export const NO_FAULTS: Bounds = {
  losses: 0,
  leaderCrashes: 0,
  leaderPauses: 0,
  elections: 0,
  participantCrashes: 0,
  duplicates: 0,
  clientAborts: 0,
  cuts: 0,
  freezes: 0,
};

export interface ModelConfig {
  readonly name: string;
  readonly protocol: Protocol;
  readonly participants: number;
  /** The last `abortVoters` participants may vote abort (each prepare branches); the others vote commit. */
  readonly abortVoters: number;
  readonly bounds: Bounds;
  /** Created with commit requested (the one-shot flow) rather than active, waiting for the client's commit. */
  readonly oneShot: boolean;
  /**
   * The one-shot flow with no created entry (2PC, src/tx/one-shot.ts): the
   * first leader prepares from memory and the decided entry is the first of
   * the transaction. Needs `oneShot`.
   */
  readonly noCreatedEntry?: boolean;
  /** The transaction's deadline may pass. */
  readonly deadline: boolean;
  /** Check termination (healing every fault leads every participant to finish). */
  readonly termination: boolean;
}

export interface Pending {
  readonly term: number;
  readonly cmd: TxCommand;
  readonly origin: 'run' | 'client' | 'sweep';
  readonly key: string;
}

export type Run =
  | { readonly k: 'idle' }
  /** Waiting for its own proposal to commit (or be dropped). `mem`: a one-shot decided entry, the transaction still in memory. */
  | { readonly k: 'proposed'; readonly mem?: number }
  /** `mem`: preparing a one-shot transaction from memory, prepare sent in that term (no record in the log). */
  | { readonly k: 'prepare'; readonly votes: ReadonlyArray<VoteEntry | null>; readonly deadline: boolean; readonly mem?: number }
  | { readonly k: 'precommit'; readonly answers: ReadonlyArray<PrecommitAnswer | null>; readonly deadline: boolean }
  /** `abandoned`: participants this run gave up on (presumed abort, src/tx/abandon.ts). */
  | {
      readonly k: 'phase2';
      readonly call: 'commit' | 'abort';
      readonly waiting: readonly boolean[];
      readonly abandoned: readonly boolean[];
    };

/** The term a run's in-memory one-shot transaction was prepared in, or null when it holds none. */
export function memoryOf(run: Run): number | null {
  return (run.k === 'prepare' || run.k === 'proposed') && run.mem !== undefined ? run.mem : null;
}

/** The one-shot request of a configuration without a created entry. */
export function oneShotSpec(config: ModelConfig): OneShotSpec {
  return {
    txId: TX_ID,
    participants: names(config.participants).map((name) => ({ name, url: `http://${name}.invalid`, payload: null })),
    protocol: config.protocol,
    createdAt: CREATED_AT_MS,
    deadlineAt: DEADLINE_MS,
    idempotencyKey: 'key',
    requestHash: 'hash',
    principal: null,
  };
}

/** The call a run is waiting on answers to, or null when it waits on none. */
export function runCall(run: Run): CallPath | null {
  switch (run.k) {
    case 'prepare':
    case 'precommit':
      return run.k;
    case 'phase2':
      return run.call;
    default:
      return null;
  }
}

/** Whether the run still waits on participant `p`'s answer to its call. */
export function awaits(run: Run, p: number): boolean {
  switch (run.k) {
    case 'prepare':
      return run.votes[p] === null;
    case 'precommit':
      return run.answers[p] === null;
    case 'phase2':
      return run.waiting[p] === true;
    default:
      return false;
  }
}

export interface Leader {
  readonly term: number;
  readonly running: boolean;
  /** Index into hist: the last committed state this leader has applied. */
  readonly view: number;
  readonly run: Run;
}

export type Msg =
  | { readonly k: 'req'; readonly t: number; readonly p: number; readonly c: CallPath; readonly key: string }
  | {
      readonly k: 'rep';
      readonly t: number;
      readonly p: number;
      readonly c: CallPath;
      readonly r: PrepareResult | DeliverResult;
      readonly key: string;
    };

export interface Part {
  /** Durable. */
  readonly rec: SdkRecord | null;
  /** Durable highest term seen. */
  readonly hi: number;
  /** Cut off from every coordinator node: calls to it and its inquiries fail. */
  readonly cut: boolean;
}

export interface State {
  /** Committed record states (oracle ids), one per change; the last is the cluster's. */
  readonly hist: readonly number[];
  readonly pending: readonly Pending[];
  readonly leaders: readonly Leader[];
  /** Highest term any leader was elected in. */
  readonly term: number;
  readonly frozen: boolean;
  readonly deadlinePassed: boolean;
  readonly commitAsked: boolean;
  readonly msgs: readonly Msg[];
  readonly parts: readonly Part[];
  readonly budget: Bounds;
}

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

/** The participants' names: a, b, c... */
export function names(n: number): readonly string[] {
  return NAMES.slice(0, n);
}

export function createdCommand(config: ModelConfig): TxCommand {
  return {
    type: 'created',
    txId: TX_ID,
    participants: names(config.participants).map((name) => ({ name, url: `http://${name}.invalid`, payload: null })),
    protocol: config.protocol,
    createdAt: CREATED_AT_MS,
    deadlineAt: DEADLINE_MS,
    idempotencyKey: null,
    requestHash: null,
    commitRequested: config.oneShot,
    activeMax: 100,
  };
}

export function pending(term: number, cmd: TxCommand, origin: Pending['origin']): Pending {
  return { term, cmd, origin, key: `${term}${origin[0]}${intern(JSON.stringify(cmd))}` };
}

export function request(t: number, p: number, c: CallPath): Msg {
  return { k: 'req', t, p, c, key: `q${t}.${p}.${CALL_CODE[c]}` };
}

export function reply(t: number, p: number, c: CallPath, r: PrepareResult | DeliverResult): Msg {
  return { k: 'rep', t, p, c, r, key: `r${t}.${p}.${CALL_CODE[c]}.${intern(JSON.stringify(r))}` };
}

const CALL_CODE: Readonly<Record<CallPath, string>> = { prepare: 'p', precommit: 'c', commit: 'C', abort: 'A' };
const STATE_CODE: Readonly<Record<SdkRecord['state'], string>> = {
  preparing: 'g',
  prepared: 'p',
  precommitted: 'c',
  committed: 'C',
  aborted: 'A',
};

const interned = new Map<string, number>();

/**
 * A small number for a long string (a command, an answer, a reason), so state
 * keys stay short: memory, and the time to hash them, are what bound the
 * exploration. The table only grows; its size is the number of distinct
 * strings, a few hundred.
 */
export function intern(s: string): number {
  let id = interned.get(s);
  if (id === undefined) {
    id = interned.size;
    interned.set(s, id);
  }
  return id;
}

/** Adds to the multiset, keeping it sorted so equal multisets have equal keys. */
export function addMsg(msgs: readonly Msg[], m: Msg): Msg[] {
  const out = [...msgs, m];
  out.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return out;
}

export function removeMsgAt(msgs: readonly Msg[], i: number): Msg[] {
  return [...msgs.slice(0, i), ...msgs.slice(i + 1)];
}

export function replaceAt<T>(xs: readonly T[], i: number, x: T): T[] {
  const out = [...xs];
  out[i] = x;
  return out;
}

export function describeMsg(m: Msg, who: readonly string[]): string {
  const name = who[m.p] ?? String(m.p);
  if (m.k === 'req') return `the ${m.c} call to ${name} (term ${m.t})`;
  const r = m.r;
  const said = r.kind === 'vote' ? `vote ${r.vote}` : r.kind === 'ack' ? `ack${r.state === null ? '' : ` ${r.state}`}` : r.error;
  return `${name}'s answer to the term-${m.t} ${m.c} (${said})`;
}

/**
 * The canonical key of a state. States are immutable and steps share every
 * part they leave alone, so the key of each part is cached on its object.
 */
/**
 * The canonical key of a state. States are immutable and steps share every
 * array they leave alone, so each array's key is cached on it.
 */
export function keyOf(s: State): string {
  const b = s.budget;
  return [
    cached(s.hist, () => s.hist.join(',')),
    cached(s.pending, () => s.pending.map((p) => p.key).join(';')),
    cached(s.leaders, () => s.leaders.map((l) => `${l.term}${l.running ? 'r' : 'p'}${l.view}${runKey(l.run)}`).join(';')),
    `${s.term}${s.frozen ? 'F' : ''}${s.deadlinePassed ? 'D' : ''}${s.commitAsked ? 'C' : ''}`,
    cached(s.msgs, () => s.msgs.map((m) => m.key).join(';')),
    cached(s.parts, () => s.parts.map(partKey).join(';')),
    `${b.losses}${b.leaderCrashes}${b.leaderPauses}${b.elections}${b.participantCrashes}${b.duplicates}${b.clientAborts}${b.cuts}${b.freezes}`,
  ].join('|');
}

/**
 * The key rides on the array as a named property: array copies (spread, slice,
 * filter, map: how steps derive new arrays) never carry it over, so a changed
 * array never shows a stale key. (A WeakMap, or defineProperty on every
 * object, cost more than they saved.)
 */
function cached(arr: readonly unknown[], make: () => string): string {
  const holder = arr as unknown as { modelKey?: string };
  return (holder.modelKey ??= make());
}

function runKey(run: Run): string {
  switch (run.k) {
    case 'idle':
      return 'i';
    case 'proposed':
      return `w${run.mem ?? ''}`;
    case 'prepare':
      return `P${run.mem === undefined ? '' : `m${run.mem}`}${run.deadline ? 'd' : ''}${run.votes.map((v) => (v === null ? '' : intern(JSON.stringify(v)))).join(',')}`;
    case 'precommit':
      return `C${run.deadline ? 'd' : ''}${run.answers.map((a) => (a === null ? '' : a[0])).join('')}`;
    case 'phase2':
      return `${run.call}${run.waiting.map((w, i) => (w ? 1 : run.abandoned[i] === true ? 'x' : 0)).join('')}`;
  }
}

function partKey(p: Part): string {
  const r = p.rec;
  // The protocol is left out: every record in doubt has the configuration's.
  const rec =
    r === null ? '-' : `${STATE_CODE[r.state]}${r.vote?.[0] ?? '-'}${r.reason === null ? '' : intern(r.reason)}.${r.preparedTerm ?? ''}`;
  return `${rec}:${p.hi}${p.cut ? 'c' : ''}`;
}
