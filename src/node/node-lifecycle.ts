// The life of a RaftNode (raft-node.ts) as one state, and the only edges between
// states. Pure: the node asks here what a call may do, and moves on an event.
//
// new -> running (start) -> stopped (stop), and a failure from new or running.
// A failed node can still be stopped, and a node can fail while stop() drains
// its last Ready: both end in `stopped` with the failure kept, because the two
// facts matter for different things. Stopped: waiters are told SHUTTING_DOWN
// and a later snapshot write error is no longer a failure. Failed: the latest
// commit index is not written at stop, and no second failure is reported.
// Neither a stopped nor a failed node ever runs again.
import { assertNever } from '../util/assert-never.js';

export type NodeLifecycle =
  /** Opened: no ticks and no inbound messages yet; calls are taken and wait for start(). */
  | { readonly kind: 'new' }
  /** start() ran: ticking, taking messages, running Readys. */
  | { readonly kind: 'running' }
  /** A bug surfaced (core or state machine threw, storage failed); nothing is served. */
  | { readonly kind: 'failed'; readonly error: unknown }
  /** stop() ran (its drain may still be under way); `failure`: the node failed before or during it. */
  | { readonly kind: 'stopped'; readonly failure: { readonly error: unknown } | null };

export const NEW_NODE: NodeLifecycle = { kind: 'new' };
const RUNNING: NodeLifecycle = { kind: 'running' };

/** start(): only a new node starts; anything else stays as it is (start is idempotent). */
export function started(l: NodeLifecycle): NodeLifecycle {
  switch (l.kind) {
    case 'new':
      return RUNNING;
    case 'running':
    case 'failed':
    case 'stopped':
      return l;
    default:
      return assertNever(l);
  }
}

/** stop(): any node that was not stopped yet stops, keeping a failure. Returns `l` itself when already stopped. */
export function stopped(l: NodeLifecycle): NodeLifecycle {
  switch (l.kind) {
    case 'new':
    case 'running':
      return { kind: 'stopped', failure: null };
    case 'failed':
      return { kind: 'stopped', failure: { error: l.error } };
    case 'stopped':
      return l;
    default:
      return assertNever(l);
  }
}

/** A failure: the first one counts. Returns `l` itself when the node had already failed. */
export function failed(l: NodeLifecycle, error: unknown): NodeLifecycle {
  switch (l.kind) {
    case 'new':
    case 'running':
      return { kind: 'failed', error };
    case 'failed':
      return l;
    case 'stopped':
      return l.failure === null ? { kind: 'stopped', failure: { error } } : l;
    default:
      return assertNever(l);
  }
}

/** Calls (propose, reads, membership changes, snapshot hand-over) are taken: not stopped, not failed. */
export function takesCalls(l: NodeLifecycle): boolean {
  switch (l.kind) {
    case 'new':
    case 'running':
      return true;
    case 'failed':
    case 'stopped':
      return false;
    default:
      return assertNever(l);
  }
}

/** Whether stop() was called. */
export function stopRequested(l: NodeLifecycle): boolean {
  return l.kind === 'stopped';
}

/** Whether a failure was reported, before or after a stop. */
export function hasFailed(l: NodeLifecycle): boolean {
  switch (l.kind) {
    case 'new':
    case 'running':
      return false;
    case 'failed':
      return true;
    case 'stopped':
      return l.failure !== null;
    default:
      return assertNever(l);
  }
}
