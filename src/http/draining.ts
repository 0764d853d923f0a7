// Draining the HTTP side of a stopping node.
//
// fastify's close() waits for every open connection. A stopping node must not wait
// on its clients: a commit request can wait for a decision for as long as the
// transaction's deadline, a forwarded request for as long as the leader takes, and
// a keep-alive client that keeps sending keeps its connection busy. So, once
// draining begins:
//   - new client requests are answered 503 SHUTTING_DOWN at once;
//   - every response closes its connection (Connection: close);
//   - peer Raft traffic still flows (exempt), so entries already proposed can commit
//     while the transaction layer and the Raft node stop;
// and when the node has stopped, answerPending() answers whatever is still waiting
// with SHUTTING_DOWN, so a client gets a reply rather than a cut connection.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { noteRejection } from './error-handler.js';

export class Draining {
  private draining = false;
  private readonly pending = new Set<FastifyReply>();
  private readonly onBeginListeners: (() => void)[] = [];

  get active(): boolean {
    return this.draining;
  }

  /** Called once, when draining begins (abort in-flight forwards, ...). */
  onBegin(listener: () => void): void {
    this.onBeginListeners.push(listener);
  }

  begin(): void {
    if (this.draining) return;
    this.draining = true;
    for (const l of this.onBeginListeners) l();
  }

  /** Answer every request still waiting with 503 SHUTTING_DOWN; returns how many there were. */
  answerPending(): number {
    let answered = 0;
    for (const reply of [...this.pending]) {
      this.pending.delete(reply);
      if (reply.sent || reply.raw.headersSent) continue;
      answered++;
      void sendShuttingDown(reply.request, reply);
    }
    return answered;
  }

  /** Hooks on the root instance, before any route is registered. `exempt` requests are served normally while draining. */
  install(app: FastifyInstance, exempt: (request: FastifyRequest) => boolean): void {
    // Callback-style hooks, like every hook a request passes (auth, cluster identity,
    // audit, transaction visibility): an async hook costs a promise and a microtask
    // turn per request (scripts/bench/results/README.md, "Fewer promises per request").
    app.addHook('onRequest', (request, reply, done) => {
      if (this.draining && !exempt(request)) {
        // Answered here: the chain stops (done is not called).
        sendShuttingDown(request, reply);
        return;
      }
      this.pending.add(reply);
      // 'close' fires once the response is written or the connection is gone.
      reply.raw.once('close', () => this.pending.delete(reply));
      done();
    });
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (this.draining) void reply.header('connection', 'close');
      done(null, payload);
    });
  }
}

function sendShuttingDown(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const e = new RatifyError('SHUTTING_DOWN', 'the node is stopping; retry on another node');
  noteRejection(request, e);
  return reply.code(e.status).header('connection', 'close').header('retry-after', '1').send(e.toJSON());
}
