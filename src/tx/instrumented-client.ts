// A ParticipantClient that times every call (ratify_tx_participant_call_seconds)
// and records it as an attempt (participant-attempts.ts), around the real one.
// Wrapping the client, rather than the protocol run, sees every call whatever
// phase or path makes it.
import type { TxMetrics, CallKind } from './metrics.js';
import type { ParticipantAttempts } from './participant-attempts.js';
import type { CallOptions, ParticipantClient } from './participant-client.js';

export interface InstrumentOptions {
  readonly metrics: TxMetrics;
  readonly attempts: ParticipantAttempts;
  /** Wall clock (ms) for the attempt times the view shows. */
  readonly now: () => number;
}

export function instrumentParticipantClient(inner: ParticipantClient, opts: InstrumentOptions): ParticipantClient {
  // Not async: an async wrapper adds a promise and a suspended frame to every call.
  // The caller gets the inner call's own promise; the timing rides on one reaction to it.
  const timed = <T>(
    kind: CallKind,
    req: { txId: string; participant: string; term: number },
    call: CallOptions,
    run: () => Promise<T>,
  ): Promise<T> => {
    opts.attempts.called(req.txId, req.participant, kind, req.term, opts.now());
    const t0 = performance.now();
    const observe = (): void => {
      // A call cut short by us (term ended, a decision made elsewhere) says nothing about the participant.
      if (!call.signal.aborted) opts.metrics.participantCall(req.participant, kind, (performance.now() - t0) / 1000);
    };
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
