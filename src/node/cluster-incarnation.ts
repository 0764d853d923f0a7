// The cluster's incarnation: a random id made once, when a cluster is first
// bootstrapped, and replicated like any decision. Participants keep their term
// fence per (cluster id, incarnation) (src/sdk/participant/fence.ts): terms
// restart at 1 when a cluster is rebuilt from empty data, and two clusters may
// share a participant, so a term alone does not say whose it is.
//
// How it is made: the first leader of a cluster, once its term's no-op is
// applied, finds no incarnation and proposes one entry holding a random id.
// The first such entry in the log wins on every node (a leader that lost its
// proposal to a crash, and the next leader's own, may both commit; the later
// one changes nothing), so every node applies the same incarnation at the same
// index. A node that joins (--join) learns it from the log or from a snapshot,
// and a restart restores it with the snapshot or replays it from the log.
//
// Safety: no participant call leaves without the incarnation (the participant
// client waits for it), so every call a leader of this incarnation makes
// carries it. Within one incarnation the Raft term orders leaders as before: a
// deposed leader has a lower term than its successor, whose calls raised the
// participant's fence for this same (cluster id, incarnation), so it is fenced.
// A cluster rebuilt from empty data makes a new incarnation and starts a fence
// of its own instead of being refused by the old cluster's higher terms.
//
// This wraps the application state machine rather than adding a command to it:
// the transaction table's commands and snapshot format stay as they are. The
// entry and the snapshot envelope start with bytes no transaction command or
// table snapshot (MessagePack maps, or JSON in old versions) starts with.
import { randomBytes } from 'node:crypto';
import type { AppliedEntry, SnapshotEncoding, StateMachine } from '../raft/state-machine.js';
import { INCARNATION_PATTERN } from '../sdk/participant/signature.js';
import type { ClusterCaller } from '../tx/participant-client.js';
import { abortReason, onAbort } from '../util/abort-registry.js';
import type { ReplicatedLog } from './replicated-log.js';
import { encodedAlready, prefixedEncoding } from './snapshot-slicer.js';

const ENTRY_MAGIC = Buffer.from('ratify.incarnation\u0000', 'latin1');
const SNAPSHOT_MAGIC = Buffer.from('ratify.incarnation.snapshot\u0000', 'latin1');
/** How long a leader waits between attempts to replicate the incarnation. */
const RETRY_MS = 1_000;

export function newIncarnation(): string {
  return randomBytes(16).toString('hex');
}

export function encodeIncarnationEntry(incarnation: string): Uint8Array {
  return new Uint8Array(Buffer.concat([ENTRY_MAGIC, Buffer.from(incarnation, 'latin1')]));
}

/** The incarnation of an incarnation entry; null for any other entry. */
export function decodeIncarnationEntry(data: Uint8Array): string | null {
  if (!startsWith(data, ENTRY_MAGIC)) return null;
  const incarnation = Buffer.from(data.subarray(ENTRY_MAGIC.length)).toString('latin1');
  return INCARNATION_PATTERN.test(incarnation) ? incarnation : null;
}

/** A state machine plus the cluster's incarnation, in its snapshots too. */
export class IncarnatedStateMachine implements StateMachine {
  private current: string | null = null;
  private readonly listeners = new Set<(incarnation: string) => void>();

  constructor(private readonly inner: StateMachine) {}

  incarnation(): string | null {
    return this.current;
  }

  /** Calls `listener` once the incarnation is known (at once if it is); returns an unsubscribe. */
  onIncarnation(listener: (incarnation: string) => void): () => void {
    if (this.current !== null) {
      listener(this.current);
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply(entry: AppliedEntry): unknown {
    if (!startsWith(entry.data, ENTRY_MAGIC)) return this.inner.apply(entry);
    const incarnation = decodeIncarnationEntry(entry.data);
    // The first valid one wins; a malformed or later one changes nothing, on every node alike.
    if (incarnation !== null && this.current === null) this.set(incarnation);
    return { incarnation: this.current };
  }

  snapshot(): Uint8Array {
    const inner = this.inner.snapshot();
    if (this.current === null) return inner;
    return new Uint8Array(Buffer.concat([this.envelope(this.current), inner]));
  }

  /** snapshot()'s bytes, encoded in slices (snapshot-slicer.ts): the envelope, then the inner state machine's. */
  captureSnapshot(): SnapshotEncoding {
    const inner = this.inner.captureSnapshot?.() ?? encodedAlready(this.inner.snapshot());
    return this.current === null ? inner : prefixedEncoding(this.envelope(this.current), inner);
  }

  private envelope(incarnation: string): Buffer {
    return Buffer.concat([SNAPSHOT_MAGIC, Buffer.from([incarnation.length]), Buffer.from(incarnation, 'latin1')]);
  }

  restore(data: Uint8Array): void {
    const { incarnation, inner } = splitSnapshot(data);
    this.inner.restore(inner);
    // A snapshot replaces the whole state: one taken before the incarnation entry has none.
    this.current = null;
    if (incarnation !== null) this.set(incarnation);
  }

  checkSnapshot(data: Uint8Array): string | null {
    let split: { incarnation: string | null; inner: Uint8Array };
    try {
      split = splitSnapshot(data);
    } catch (e) {
      return (e as Error).message;
    }
    return this.inner.checkSnapshot?.(split.inner) ?? null;
  }

  private set(incarnation: string): void {
    this.current = incarnation;
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const l of listeners) l(incarnation);
  }
}

/** The envelope's incarnation and the inner snapshot; a snapshot without the envelope is all inner. */
function splitSnapshot(data: Uint8Array): { incarnation: string | null; inner: Uint8Array } {
  if (!startsWith(data, SNAPSHOT_MAGIC)) return { incarnation: null, inner: data };
  const length = data[SNAPSHOT_MAGIC.length] ?? 0;
  const start = SNAPSHOT_MAGIC.length + 1;
  const incarnation = Buffer.from(data.subarray(start, start + length)).toString('latin1');
  if (!INCARNATION_PATTERN.test(incarnation)) throw new Error('snapshot holds a malformed cluster incarnation');
  return { incarnation, inner: data.subarray(start + length) };
}

function startsWith(data: Uint8Array, prefix: Buffer): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/**
 * Proposes an incarnation whenever this node leads (its term's no-op applied)
 * and the applied state has none, retrying while it leads. Returns a stop.
 */
export function replicateIncarnation(log: ReplicatedLog, sm: IncarnatedStateMachine, onError: (e: unknown) => void): () => void {
  let timer: NodeJS.Timeout | null = null;
  let leadingTerm: number | null = null;
  const attempt = (term: number): void => {
    timer = null;
    if (leadingTerm !== term || sm.incarnation() !== null) return;
    log
      .propose(encodeIncarnationEntry(newIncarnation()))
      .catch(onError)
      .finally(() => {
        if (leadingTerm === term && sm.incarnation() === null) timer = setTimeout(() => attempt(term), RETRY_MS).unref();
      });
  };
  const unsubscribe = log.onLeadership((event) => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    leadingTerm = event.isLeader ? event.term : null;
    if (leadingTerm !== null) attempt(leadingTerm);
  });
  const status = log.status();
  if (status.role === 'leader') {
    leadingTerm = status.term;
    attempt(status.term);
  }
  return () => {
    unsubscribe();
    leadingTerm = null;
    if (timer !== null) clearTimeout(timer);
  };
}

/** The participant client's view of the cluster (participant-client.ts ClusterCaller). */
export function clusterCaller(clusterId: string, sm: IncarnatedStateMachine): ClusterCaller {
  return {
    clusterId,
    known: () => sm.incarnation(),
    incarnation(signal, timeoutMs) {
      const known = sm.incarnation();
      if (known !== null) return Promise.resolve(known);
      return new Promise<string>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          unregister();
          unsubscribe();
        };
        const cancelled = (reason: Error): void => {
          done();
          reject(reason);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`the cluster's incarnation was not replicated within ${timeoutMs} ms`));
        }, timeoutMs);
        const unsubscribe = sm.onIncarnation((incarnation) => {
          done();
          resolve(incarnation);
        });
        const unregister = signal.aborted ? () => false : onAbort(signal, cancelled);
        if (signal.aborted) cancelled(abortReason(signal));
      });
    },
  };
}
