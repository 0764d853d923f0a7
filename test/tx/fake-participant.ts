// A participant service for tests: a real fastify server on 127.0.0.1 (port 0)
// speaking the participant protocol, recording every call it receives, with
// votes, failures and delays set per call kind.
import Fastify, { type FastifyInstance } from 'fastify';

export type CallKind = 'prepare' | 'precommit' | 'commit' | 'abort';
export const CALL_KINDS: readonly CallKind[] = ['prepare', 'precommit', 'commit', 'abort'];

/**
 * ok: answer normally. down: drop the connection without answering (like a
 * crashed process). error: HTTP 500. hang: never answer (until close()).
 * already-aborted: 409 TX_ALREADY_ABORTED, as the participant SDK refuses a
 * precommit or commit after aborting on its own.
 */
export type Mode = 'ok' | 'down' | 'error' | 'hang' | 'already-aborted';

export interface RecordedCall {
  readonly kind: CallKind;
  readonly txId: string;
  readonly participant: string;
  /** From the X-Ratify-Term header. */
  readonly headerTerm: number | null;
  readonly body: Record<string, unknown>;
  readonly mode: Mode;
  /** 'fenced' when refused for carrying a term older than one already seen. */
  readonly answer: 'answered' | 'failed' | 'fenced';
  /** When it arrived (Date.now()). */
  readonly atMs: number;
}

export type VoteAnswer = { vote: 'commit' } | { vote: 'abort'; reason?: string } | Record<string, unknown>;

export interface FakeParticipantOptions {
  /** Refuse (409) calls whose term is lower than the highest term seen, as a fencing participant does. */
  readonly fenceByTerm?: boolean;
}

export class FakeParticipant {
  readonly calls: RecordedCall[] = [];
  readonly modes: Record<CallKind, Mode> = { prepare: 'ok', precommit: 'ok', commit: 'ok', abort: 'ok' };
  readonly delaysMs: Record<CallKind, number> = { prepare: 0, precommit: 0, commit: 0, abort: 0 };
  /** Prepare's answer; a function can decide per transaction. */
  vote: VoteAnswer | ((txId: string) => VoteAnswer) = { vote: 'commit' };
  /** The 2xx body of precommit, commit and abort in mode ok. */
  readonly ackBodies: Record<Exclude<CallKind, 'prepare'>, Record<string, unknown>> = {
    precommit: { ok: true },
    commit: { ok: true },
    abort: { ok: true },
  };
  highestTerm = 0;
  /** Runs as each call arrives, before it is answered (e.g. to check what the coordinator's log holds by then). */
  onCall: ((call: RecordedCall) => void) | null = null;
  private readonly hanging = new Set<() => void>();
  private port = 0;

  private constructor(
    private app: FastifyInstance,
    private readonly options: FakeParticipantOptions,
  ) {}

  static async start(options: FakeParticipantOptions = {}): Promise<FakeParticipant> {
    const p = new FakeParticipant(Fastify({ logger: false, forceCloseConnections: true }), options);
    await p.listen(0);
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Set the mode of one call kind, or of all of them. */
  setMode(mode: Mode, kinds: readonly CallKind[] = CALL_KINDS): void {
    for (const k of kinds) this.modes[k] = mode;
  }

  callsOf(kind?: CallKind, txId?: string): RecordedCall[] {
    return this.calls.filter((c) => (kind === undefined || c.kind === kind) && (txId === undefined || c.txId === txId));
  }

  /** Calls that got a 2xx answer. */
  answered(kind?: CallKind, txId?: string): RecordedCall[] {
    return this.callsOf(kind, txId).filter((c) => c.answer === 'answered');
  }

  /** Stops listening: connections are refused until revive(). */
  async kill(): Promise<void> {
    this.releaseHanging();
    await this.app.close();
  }

  /** Listens again on the same port. */
  async revive(): Promise<void> {
    this.app = Fastify({ logger: false, forceCloseConnections: true });
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    this.releaseHanging();
    await this.app.close();
  }

  /** Answers every hanging call (503), e.g. after switching its mode back to ok. */
  releaseHanging(): void {
    for (const release of this.hanging) release();
    this.hanging.clear();
  }

  private async listen(port: number): Promise<void> {
    for (const kind of CALL_KINDS) {
      this.app.post(`/${kind}`, async (req, reply) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const headerTerm = Number(req.headers['x-ratify-term']);
        const term = Number.isFinite(headerTerm) ? headerTerm : null;
        const mode = this.modes[kind];
        const record = (answer: RecordedCall['answer']): void => {
          const call: RecordedCall = {
            kind,
            txId: String(body.txId),
            participant: String(body.participant),
            headerTerm: term,
            body,
            mode,
            answer,
            atMs: Date.now(),
          };
          this.calls.push(call);
          this.onCall?.(call);
        };
        if (this.delaysMs[kind] > 0) await new Promise((r) => setTimeout(r, this.delaysMs[kind]));
        if (this.options.fenceByTerm === true && term !== null) {
          if (term < this.highestTerm) {
            record('fenced');
            return reply.code(409).send({ error: 'stale term' });
          }
          this.highestTerm = term;
        }
        switch (mode) {
          case 'down':
            record('failed');
            reply.hijack();
            req.raw.socket.destroy();
            return;
          case 'error':
            record('failed');
            return reply.code(500).send({ error: 'injected failure' });
          case 'hang':
            record('failed');
            await new Promise<void>((resolve) => this.hanging.add(resolve));
            return reply.code(503).send({ error: 'released' });
          case 'already-aborted':
            record('failed');
            return reply.code(409).send({ error: { code: 'TX_ALREADY_ABORTED', message: `${kind} after aborting on its own` } });
          case 'ok':
            record('answered');
            if (kind !== 'prepare') return this.ackBodies[kind];
            return typeof this.vote === 'function' ? this.vote(String(body.txId)) : this.vote;
        }
      });
    }
    await this.app.listen({ host: '127.0.0.1', port });
    const address = this.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('fake participant has no TCP address');
    this.port = address.port;
  }
}
