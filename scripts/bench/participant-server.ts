// Fast HTTP participants for the transaction phase: they vote commit at once
// and acknowledge every commit/abort, recording when each commit arrived so the
// benchmark can report "time until every participant has acknowledged".
//
// They speak the participant protocol (README, "Participant protocol"): JSON POSTs to {url}/prepare,
// /precommit, /commit and /abort with a body carrying `txId`, and its batch
// extension {url}/batch, as the participant SDK does.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isCallPath } from '../../src/sdk/participant/decode.js';
import type { CallPath } from '../../src/sdk/participant/types.js';

/** Per transaction: which participants acknowledged commit (bit i = participant i), and when the last did. */
interface AckState {
  mask: number;
  lastNs: bigint;
}

export interface AckDrain {
  /** txId → hrtime (ns, as a decimal string for IPC) when the last participant acknowledged. */
  readonly complete: ReadonlyArray<readonly [string, string]>;
  /** Transactions some but not all participants have acknowledged so far. */
  readonly partial: number;
  readonly aborts: number;
  readonly prepares: number;
}

const BODY_BYTES_MAX = 64 * 1024;
/** A bound on the ack table; far above what a benchmark phase can produce between drains. */
const TRACKED_TX_MAX = 2_000_000;

export class ParticipantFleet {
  private readonly acks = new Map<string, AckState>();
  private readonly servers: Server[] = [];
  private aborts = 0;
  private prepares = 0;

  constructor(private readonly count: number) {
    if (!Number.isInteger(count) || count < 1 || count > 30) {
      throw new RangeError(`participant count (${count}) must be between 1 and 30`);
    }
  }

  async listen(): Promise<string[]> {
    const urls: string[] = [];
    for (let i = 0; i < this.count; i++) {
      const server = createServer((req, res) => this.handle(i, req, res));
      // Longer than undici's default keep-alive, so the coordinator's pool never races a server-side close.
      server.keepAliveTimeout = 65_000;
      this.servers.push(server);
      urls.push(await listen(server));
    }
    return urls;
  }

  /** Hands over completed acknowledgements and forgets them; partial ones stay. */
  drain(): AckDrain {
    const complete: Array<readonly [string, string]> = [];
    const full = (1 << this.count) - 1;
    for (const [txId, state] of this.acks) {
      if (state.mask === full) {
        complete.push([txId, state.lastNs.toString()]);
        this.acks.delete(txId);
      }
    }
    const result = { complete, partial: this.acks.size, aborts: this.aborts, prepares: this.prepares };
    return result;
  }

  reset(): void {
    this.acks.clear();
    this.aborts = 0;
    this.prepares = 0;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map((s) => {
        s.closeAllConnections();
        return new Promise<void>((resolve) => s.close(() => resolve()));
      }),
    );
  }

  private handle(index: number, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes <= BODY_BYTES_MAX) chunks.push(c);
    });
    req.on('end', () => {
      const arrivedNs = process.hrtime.bigint();
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method !== 'POST') return reply(res, 405, '{"error":"POST only"}');
      if (bytes > BODY_BYTES_MAX) return reply(res, 413, '{"error":"body too large"}');
      if (path.endsWith('/batch')) return this.batch(index, Buffer.concat(chunks), arrivedNs, res);
      const call = path.slice(path.lastIndexOf('/') + 1);
      if (!isCallPath(call)) return reply(res, 404, '{"error":"unknown path"}');
      const answer = this.answer(index, call, parseBody(Buffer.concat(chunks)), arrivedNs);
      return reply(res, answer.status, answer.body);
    });
  }

  /** The participant protocol's batch extension: one answer per call, in order. */
  private batch(index: number, body: Buffer, arrivedNs: bigint, res: ServerResponse): void {
    const calls = (parseBody(body) as { calls?: unknown } | null)?.calls;
    if (!Array.isArray(calls) || calls.length === 0) return reply(res, 400, '{"error":"calls must be a non-empty array"}');
    const results = calls.map((c: { call?: unknown; body?: unknown }) => {
      const answer =
        typeof c.call === 'string' && isCallPath(c.call)
          ? this.answer(index, c.call, c.body, arrivedNs)
          : { status: 400, body: '{"error":"unknown call"}' };
      return `{"status":${answer.status},"body":${answer.body}}`;
    });
    reply(res, 200, `{"results":[${results.join(',')}]}`);
  }

  private answer(index: number, call: CallPath, body: unknown, arrivedNs: bigint): { status: number; body: string } {
    switch (call) {
      case 'prepare':
        this.prepares += 1;
        return { status: 200, body: '{"vote":"commit"}' };
      case 'commit':
        this.recordCommit(index, txIdOf(body), arrivedNs);
        return { status: 200, body: '{}' };
      case 'abort':
        this.aborts += 1;
        return { status: 200, body: '{}' };
      case 'precommit':
        return { status: 200, body: '{}' };
    }
  }

  private recordCommit(index: number, txId: string | null, arrivedNs: bigint): void {
    if (txId === null) return;
    const state = this.acks.get(txId);
    if (state === undefined) {
      if (this.acks.size >= TRACKED_TX_MAX) return;
      this.acks.set(txId, { mask: 1 << index, lastNs: arrivedNs });
      return;
    }
    // A retried commit (after a failover) must not move the first acknowledgement time.
    if ((state.mask & (1 << index)) !== 0) return;
    state.mask |= 1 << index;
    if (arrivedNs > state.lastNs) state.lastNs = arrivedNs;
  }
}

function parseBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

function txIdOf(body: unknown): string | null {
  const txId = (body as { txId?: unknown } | null)?.txId;
  return typeof txId === 'string' ? txId : null;
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
      else resolve(`http://127.0.0.1:${address.port}`);
    });
  });
}
