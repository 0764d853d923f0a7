// A real participant service for the failover suites: a node:http server on
// 127.0.0.1 (port 0) in front of the participant SDK (createParticipant with a
// LevelDB store in a temp dir). The SDK does the protocol work (dedupe, durable
// records, term fencing); this wrapper only adds what the tests need to see and
// steer it:
//
// - every HTTP call is recorded with its term and the SDK's answer;
// - every call of the user's handlers is counted (dedupe is visible as counts);
// - a Hold parks matching calls BEFORE they reach the SDK, so a test can kill
//   the leader at an exact protocol point, then release them (a late, delayed
//   delivery the SDK must dedupe or fence) or drop them;
// - crash()/restart() stop the whole participant (server and SDK) and bring it
//   back on the same port from the same LevelDB directory;
// - a Refusal fails matching calls before they reach the SDK (an answer of 503,
//   or a reset connection), for as long as the test wants;
// - with gateInquiries, the SDK's cooperative termination reaches the cluster
//   through TcpGates (tcp-gate.ts) that cutInquiries() cuts: together with a
//   Refusal of every call, the participant is cut off both ways.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParticipant, LevelParticipantStore, type Participant, type ParticipantOptions } from '../../src/sdk/participant/index.js';
import { recordKey } from '../../src/sdk/participant/record.js';
import type { CallPath, ParticipantLogger, ParticipantTx, ParticipantTxRecord, ParticipantVote } from '../../src/sdk/participant/types.js';
import { waitUntil } from '../helpers/wait.js';
import { TcpGate } from './tcp-gate.js';

export type HandlerKind = 'prepare' | 'precommit' | 'commit' | 'abort';

export interface CallRecord {
  readonly seq: number;
  readonly path: CallPath;
  readonly txId: string;
  readonly term: number;
  /** Highest term the SDK had seen just before handling the call. */
  readonly highestTermBefore: number;
  /**
   * 'held' calls were parked first; 'replay' ones were re-sent by the test;
   * 'duplicate' ones copied by the wrapper; 'refused' ones never reached the SDK.
   */
  readonly via: 'direct' | 'held' | 'replay' | 'duplicate' | 'refused';
  readonly status: number;
  /** The SDK's answer. */
  readonly body: unknown;
  /** The request body as received. */
  readonly request: unknown;
}

export interface HandlerCall {
  readonly kind: HandlerKind;
  readonly txId: string;
  readonly term: number | null;
  readonly source: ParticipantTx['source'];
}

export interface ArrivedCall {
  readonly path: CallPath;
  readonly txId: string;
  readonly term: number;
}

export interface Hold {
  /** Resolves with the first call parked. */
  readonly arrived: Promise<ArrivedCall>;
  /** Calls parked so far. */
  parked(): readonly ArrivedCall[];
  /**
   * Stops holding and hands every parked call to the SDK (answers go back if the
   * caller still listens): in arrival order, or one at a time newest first.
   */
  release(order?: 'arrival' | 'newest-first'): Promise<CallRecord[]>;
  /** Stops holding and drops every parked call without an answer (its connection is destroyed). */
  drop(): void;
}

export interface GatedParticipantOptions {
  readonly name: string;
  readonly coordinatorUrls?: readonly string[];
  /** Vote per transaction; default commit. */
  readonly vote?: (txId: string) => ParticipantVote;
  /** Hand every call to the SDK twice at once (a duplicated delivery). */
  readonly duplicate?: boolean;
  /** SDK timing options (the defaults are the SDK's). */
  readonly sdk?: Partial<Pick<ParticipantOptions, 'threePcTimeoutMs' | 'resolveAfterMs' | 'inquiryTimeoutMs'>>;
  /** Route cooperative termination through gates that cutInquiries() can cut. */
  readonly gateInquiries?: boolean;
}

export interface Refusal {
  /** Calls refused so far. */
  count(): number;
  /** Lets matching calls through again. */
  stop(): void;
}

interface Parked {
  readonly call: ArrivedCall;
  readonly body: unknown;
  readonly headers: IncomingMessage['headers'];
  readonly res: ServerResponse;
}

interface RefusalRule {
  readonly match: (c: ArrivedCall) => boolean;
  readonly how: 'unavailable' | 'reset';
  active: boolean;
  refused: number;
}

interface HoldRule {
  readonly match: (c: ArrivedCall) => boolean;
  readonly parked: Parked[];
  active: boolean;
  onArrive: ((c: ArrivedCall) => void) | null;
}

const BODY_BYTES_MAX = 1024 * 1024;
const LOG_LINES_MAX = 500;

export class GatedParticipant {
  readonly calls: CallRecord[] = [];
  readonly handlerCalls: HandlerCall[] = [];
  /** The SDK's warnings and errors (bounded), for failure messages. */
  readonly logs: string[] = [];
  private readonly holds: HoldRule[] = [];
  private readonly refusals: RefusalRule[] = [];
  private gates: TcpGate[] = [];
  private participant: Participant;
  private store: LevelParticipantStore;
  private server: Server;
  private port = 0;
  private seq = 0;

  private constructor(
    private readonly o: GatedParticipantOptions,
    private readonly dir: string,
    gates: TcpGate[],
  ) {
    this.gates = gates;
    this.store = new LevelParticipantStore(join(dir, 'db'));
    this.participant = this.newParticipant();
    this.server = this.newServer();
  }

  static async start(o: GatedParticipantOptions): Promise<GatedParticipant> {
    const dir = mkdtempSync(join(tmpdir(), `ratify-participant-${o.name}-`));
    const gates = o.gateInquiries === true ? await Promise.all((o.coordinatorUrls ?? []).map((u) => TcpGate.start(u))) : [];
    const p = new GatedParticipant(o, dir, gates);
    try {
      await p.participant.start();
      await p.listen(0);
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  }

  get name(): string {
    return this.o.name;
  }

  /** Base URL to enlist: the coordinator POSTs to {url}/prepare and so on. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  spec(payload?: unknown): { name: string; url: string; payload?: unknown } {
    return payload === undefined ? { name: this.name, url: this.url } : { name: this.name, url: this.url, payload };
  }

  highestTerm(): number {
    return this.participant.highestTerm();
  }

  handlerCount(kind: HandlerKind, txId: string): number {
    return this.handlerCalls.filter((h) => h.kind === kind && h.txId === txId).length;
  }

  callsOf(txId?: string, path?: CallPath): CallRecord[] {
    return this.calls.filter((c) => (txId === undefined || c.txId === txId) && (path === undefined || c.path === path));
  }

  /** Transaction ids this participant has heard of (over HTTP, parked calls included). */
  txIdsSeen(): Set<string> {
    const held = this.holds.flatMap((h) => h.parked.map((p) => p.call.txId));
    return new Set([...this.calls.map((c) => c.txId), ...held]);
  }

  /** The durable record the SDK keeps for `txId` under this participant's name. */
  record(txId: string): Promise<ParticipantTxRecord | undefined> {
    return this.store.get(recordKey(txId, this.name));
  }

  /** Waits until the SDK has answered `path` for some transaction with a 2xx. */
  async answered(path: CallPath, txId?: string): Promise<CallRecord> {
    return waitUntil(() => this.calls.find((c) => c.path === path && (txId === undefined || c.txId === txId) && c.status < 300), {
      timeoutMs: 30_000,
      what: `${this.name} to answer ${path}`,
    });
  }

  /** Parks every call matching `match` from now until release() or drop(). */
  hold(match: (c: ArrivedCall) => boolean): Hold {
    const rule: HoldRule = { match, parked: [], active: true, onArrive: null };
    const arrived = new Promise<ArrivedCall>((resolve) => {
      rule.onArrive = resolve;
    });
    this.holds.push(rule);
    return {
      arrived,
      parked: () => rule.parked.map((p) => p.call),
      release: async (order = 'arrival') => {
        rule.active = false;
        const parked = rule.parked.splice(0);
        if (order === 'arrival') return Promise.all(parked.map((p) => this.deliver(p.call, p.body, p.headers, p.res, 'held')));
        const out: CallRecord[] = [];
        for (const p of parked.reverse()) out.push(await this.deliver(p.call, p.body, p.headers, p.res, 'held'));
        return out;
      },
      drop: () => {
        rule.active = false;
        for (const p of rule.parked.splice(0)) p.res.destroy();
      },
    };
  }

  /**
   * Fails every call matching `match` before it reaches the SDK, from now until
   * stop(): with 503 (the service is up but cannot act) or by resetting the
   * connection (it is unreachable).
   */
  refuse(match: (c: ArrivedCall) => boolean, how: RefusalRule['how'] = 'unavailable'): Refusal {
    const rule: RefusalRule = { match, how, active: true, refused: 0 };
    this.refusals.push(rule);
    return {
      count: () => rule.refused,
      stop: () => {
        rule.active = false;
      },
    };
  }

  /** Cooperative termination reaches no node from now on (needs gateInquiries). */
  cutInquiries(): void {
    if (this.gates.length === 0) throw new Error(`${this.name} was started without gateInquiries`);
    for (const g of this.gates) g.cut();
  }

  restoreInquiries(): void {
    for (const g of this.gates) g.restore();
  }

  /** Re-sends every recorded call of `txId` (reversed order by default) straight to the SDK. */
  async replay(txId: string, order: 'reversed' | 'same' = 'reversed'): Promise<CallRecord[]> {
    const originals = this.callsOf(txId).filter((c) => c.via !== 'replay' && c.via !== 'duplicate');
    const list = order === 'reversed' ? [...originals].reverse() : originals;
    const out: CallRecord[] = [];
    for (const c of list) out.push(await this.handleAndRecord(c.path, c.request, { 'x-ratify-term': String(c.term) }, 'replay'));
    return out;
  }

  /** A crash as the coordinator sees it: connections refused, parked calls dropped, the SDK closed. */
  async crash(): Promise<void> {
    for (const rule of this.holds) {
      rule.active = false;
      for (const p of rule.parked.splice(0)) p.res.destroy();
    }
    await this.closeServer();
    await this.participant.close();
  }

  /** Back on the same port, from the same LevelDB directory. */
  async restart(): Promise<void> {
    this.store = new LevelParticipantStore(join(this.dir, 'db'));
    this.participant = this.newParticipant();
    await this.participant.start();
    this.server = this.newServer();
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    for (const rule of this.holds) {
      rule.active = false;
      for (const p of rule.parked.splice(0)) p.res.destroy();
    }
    await this.closeServer().catch(() => undefined);
    await this.participant.close().catch(() => undefined);
    await Promise.all(this.gates.map((g) => g.close().catch(() => undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private newParticipant(): Participant {
    const count = (kind: HandlerKind) => async (tx: ParticipantTx) => {
      this.handlerCalls.push({ kind, txId: tx.txId, term: tx.term, source: tx.source });
    };
    return createParticipant({
      name: this.o.name,
      store: this.store,
      coordinatorUrls: this.gates.length > 0 ? this.gates.map((g) => g.url) : (this.o.coordinatorUrls ?? []),
      ...this.o.sdk,
      logger: this.logger(),
      handlers: {
        prepare: async (tx) => {
          this.handlerCalls.push({ kind: 'prepare', txId: tx.txId, term: tx.term, source: tx.source });
          return this.o.vote?.(tx.txId) ?? { vote: 'commit' };
        },
        precommit: count('precommit'),
        commit: count('commit'),
        abort: count('abort'),
      },
    });
  }

  private logger(): ParticipantLogger {
    const keep =
      (level: string) =>
      (obj: object, msg: string): void => {
        this.logs.push(`${level} ${msg} ${JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? v.message : v))}`);
        if (this.logs.length > LOG_LINES_MAX) this.logs.shift();
      };
    return { error: keep('error'), warn: keep('warn'), info: () => undefined, debug: () => undefined };
  }

  private newServer(): Server {
    return createServer((req, res) => {
      void this.serve(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').replace(/^\/+/, '').split('?')[0] ?? '';
    if (req.method !== 'POST' || !isCallPath(path)) {
      req.resume();
      res.writeHead(404).end();
      return;
    }
    const body = await readJson(req);
    const o = (body ?? {}) as { txId?: unknown; term?: unknown };
    const call: ArrivedCall = { path, txId: String(o.txId), term: typeof o.term === 'number' ? o.term : -1 };
    const refusal = this.refusals.find((r) => r.active && r.match(call));
    if (refusal !== undefined) {
      refusal.refused++;
      this.calls.push({
        seq: this.seq++,
        path,
        txId: call.txId,
        term: call.term,
        highestTermBefore: this.participant.highestTerm(),
        via: 'refused',
        status: 503,
        body: null,
        request: body,
      });
      if (refusal.how === 'reset') res.destroy();
      else
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'refused by the test' } }));
      return;
    }
    const rule = this.holds.find((h) => h.active && h.match(call));
    if (rule !== undefined) {
      rule.parked.push({ call, body, headers: req.headers, res });
      rule.onArrive?.(call);
      return;
    }
    await this.deliver(call, body, req.headers, res, 'direct');
  }

  private async deliver(
    call: ArrivedCall,
    body: unknown,
    headers: IncomingMessage['headers'],
    res: ServerResponse,
    via: CallRecord['via'],
  ): Promise<CallRecord> {
    const first = this.handleAndRecord(call.path, body, headers, via);
    if (this.o.duplicate === true) void this.handleAndRecord(call.path, body, headers, 'duplicate');
    const rec = await first;
    if (!res.destroyed && !res.headersSent) {
      const text = JSON.stringify(rec.body);
      res.writeHead(rec.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    }
    return rec;
  }

  private async handleAndRecord(
    path: CallPath,
    body: unknown,
    headers: IncomingMessage['headers'],
    via: CallRecord['via'],
  ): Promise<CallRecord> {
    const o = (body ?? {}) as { txId?: unknown; term?: unknown };
    const highestTermBefore = this.participant.highestTerm();
    const seq = this.seq++;
    const result = await this.participant.handle(path, body, headers);
    const rec: CallRecord = {
      seq,
      path,
      txId: String(o.txId),
      term: typeof o.term === 'number' ? o.term : -1,
      highestTermBefore,
      via,
      status: result.status,
      body: result.body,
      request: body,
    };
    this.calls.push(rec);
    return rec;
  }

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('participant has no TCP address');
    this.port = addr.port;
  }

  private async closeServer(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

/** The error code of an SDK reply body (`{error: {code}}`), if it has one. */
export function errorCode(body: unknown): string | undefined {
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code : undefined;
}

function isCallPath(s: string): s is CallPath {
  return s === 'prepare' || s === 'precommit' || s === 'commit' || s === 'abort';
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > BODY_BYTES_MAX) throw new Error('body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}
