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
  const timed = async <T>(
    kind: CallKind,
    req: { txId: string; participant: string; term: number },
    call: CallOptions,
    run: () => Promise<T>,
  ): Promise<T> => {
    opts.attempts.called(req.txId, req.participant, kind, req.term, opts.now());
    const t0 = performance.now();
    try {
      return await run();
    } finally {
      // A call cut short by us (term ended, a decision made elsewhere) says nothing about the participant.
      if (!call.signal.aborted) opts.metrics.participantCall(req.participant, kind, (performance.now() - t0) / 1000);
    }
  };
  return {
    prepare: (req, call) => timed('prepare', req, call, () => inner.prepare(req, call)),
    deliver: (kind, req, call) => timed(kind, req, call, () => inner.deliver(kind, req, call)),
    close: () => inner.close(),
  };
}
