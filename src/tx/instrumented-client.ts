// What every participant call records: it is timed (ratify_tx_participant_call_seconds)
// and counted as an attempt (participant-attempts.ts). One CallObserver holds
// both. The HTTP client calls it from inside its own call object
// (participant-client.ts); any other ParticipantClient (tests inject fakes) gets
// it through instrumentParticipantClient, a wrapper around the real one. Either
// way every call is seen, whatever phase or path makes it.
import type { TxMetrics, CallKind } from './metrics.js';
import type { ParticipantAttempts } from './participant-attempts.js';
import type { CallOptions, ParticipantClient } from './participant-client.js';

export interface InstrumentOptions {
  readonly metrics: TxMetrics;
  readonly attempts: ParticipantAttempts;
  /** Wall clock (ms) for the attempt times the view shows. */
  readonly now: () => number;
}

/** Who is called about what. */
export interface CallSubject {
  readonly txId: string;
  readonly participant: string;
  readonly term: number;
}

/** Told of each call as it goes out and as it ends. Neither method may throw. */
export interface CallObserver {
  started(kind: CallKind, req: CallSubject): void;
  /** `seconds` since started; `cancelled`: cut short by us (term ended, a decision made elsewhere). */
  ended(kind: CallKind, req: CallSubject, seconds: number, cancelled: boolean): void;
}

export function callObserver(opts: InstrumentOptions): CallObserver {
  return {
    started: (kind, req) => opts.attempts.called(req.txId, req.participant, kind, req.term, opts.now()),
    // A call cut short by us says nothing about the participant.
    ended: (kind, req, seconds, cancelled) => {
      if (!cancelled) opts.metrics.participantCall(req.participant, kind, seconds);
    },
  };
}

/** `inner` with every call reported to `observer` (for clients that do not take one themselves). */
export function instrumentParticipantClient(inner: ParticipantClient, observer: CallObserver): ParticipantClient {
  // Not async: an async wrapper adds a promise and a suspended frame to every call.
  // The caller gets the inner call's own promise; the timing rides on one reaction to it.
  const timed = <T>(kind: CallKind, req: CallSubject, call: CallOptions, run: () => Promise<T>): Promise<T> => {
    observer.started(kind, req);
    const t0 = performance.now();
    const observe = (): void => observer.ended(kind, req, (performance.now() - t0) / 1000, call.signal.aborted);
    const result = run();
    // Rejections stay the caller's to handle (on `result`); this branch only observes them.
    result.then(observe, observe);
    return result;
  };
  return {
    prepare: (req, call) => timed('prepare', req, call, () => inner.prepare(req, call)),
    deliver: (kind, req, call) => timed(kind, req, call, () => inner.deliver(kind, req, call)),
    close: () => inner.close(),
  };
}
