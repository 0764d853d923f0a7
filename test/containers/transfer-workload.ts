// A bank-transfer workload against the coordinator API, run while faults are injected.
//
// Each transfer is one POST /v1/transactions with commit:true and its own Idempotency-Key.
// When a node fails to answer (killed, paused, cut off, no leader: 503) the same request,
// with the same key, goes to the next node, so a transfer is never run twice on purpose;
// the invariants check that it never ran twice by accident either. Bounded in count and in
// time per transfer; stops when told to.
import { isObject, requestJson, sleep, type HttpResult } from './http-json.js';
import type { Leg, Outcome, TransferRecord } from './invariants.js';

/** How a transfer is expressed as a transaction; supplied by the bank example's adapter. */
export interface TransferShape {
  readonly banks: readonly string[];
  /** The account changes a transfer of `amount` from bank `from` to bank `to` makes. */
  legs(from: string, to: string, amount: number): Leg[];
  /** The request's participants for those legs; `key` goes into payloads as a trace. */
  participants(key: string, legs: readonly Leg[]): unknown[];
}

export interface WorkloadOptions {
  readonly nodeUrls: () => readonly string[];
  readonly shape: TransferShape;
  readonly keyPrefix: string;
  readonly workers: number;
  readonly maxTransfers: number;
  /** The transaction's own deadline (timeoutMs in the request). */
  readonly txTimeoutMs: number;
  /** How long one HTTP attempt may take before the next node is tried. */
  readonly attemptTimeoutMs: number;
  /** How long one transfer keeps retrying before it is left with an unknown outcome. */
  readonly transferDeadlineMs: number;
  /** Pause between a worker's transfers, to leave CPU for the cluster on a 2-core box. */
  readonly pauseMs: number;
  readonly seed: number;
}

export class TransferWorkload {
  readonly transfers: TransferRecord[] = [];
  private stopping = false;
  private workers: Promise<void>[] = [];
  private nextIndex = 0;
  private random: () => number;

  constructor(private readonly o: WorkloadOptions) {
    this.random = mulberry32(o.seed);
  }

  start(): this {
    for (let w = 0; w < this.o.workers; w++) this.workers.push(this.worker(w));
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  count(outcome: Outcome): number {
    return this.transfers.filter((t) => t.apiOutcome === outcome).length;
  }

  /** Resolves once `more` further transfers have committed (or throws after timeoutMs). */
  async waitForCommits(more: number, timeoutMs: number): Promise<void> {
    const target = this.count('committed') + more;
    const deadline = Date.now() + timeoutMs;
    while (this.count('committed') < target) {
      if (Date.now() > deadline) {
        const last = this.transfers.slice(-3).map((t) => `${t.key}: ${t.lastError ?? t.apiOutcome}`);
        throw new Error(`workload made no progress: ${this.count('committed')}/${target} committed after ${timeoutMs} ms; last: ${last.join(' | ')}`);
      }
      await sleep(200);
    }
  }

  summary(): string {
    const unknown = this.transfers.filter((t) => t.apiOutcome === null).length;
    return `${this.transfers.length} transfers: ${this.count('committed')} committed, ${this.count('aborted')} aborted, ${unknown} unknown`;
  }

  private async worker(w: number): Promise<void> {
    while (!this.stopping && this.nextIndex < this.o.maxTransfers) {
      const i = this.nextIndex++;
      const [from, to] = this.pickBanks();
      const t: TransferRecord = {
        key: `${this.o.keyPrefix}-${i}`,
        legs: this.o.shape.legs(from, to, 1 + Math.floor(this.random() * 20)),
        txId: null,
        txIdsSeen: new Set<string>(),
        apiOutcome: null,
        attempts: 0,
        rejected: null,
        lastError: null,
      };
      this.transfers.push(t);
      await this.run(t, w);
      await sleep(this.o.pauseMs);
    }
  }

  private pickBanks(): [string, string] {
    const banks = this.o.shape.banks;
    const a = Math.floor(this.random() * banks.length);
    const b = (a + 1 + Math.floor(this.random() * (banks.length - 1))) % banks.length;
    return [banks[a]!, banks[b]!];
  }

  /** Sends the transfer, moving through the nodes with the same key until an outcome comes back. */
  private async run(t: TransferRecord, worker: number): Promise<void> {
    const body = transferRequest(this.o.shape, t, this.o.txTimeoutMs);
    const deadline = Date.now() + this.o.transferDeadlineMs;
    let nodeIndex = worker;
    while (Date.now() < deadline) {
      const urls = this.o.nodeUrls();
      const url = urls[nodeIndex % urls.length]!;
      t.attempts++;
      const r = await requestJson('POST', `${url}/v1/transactions`, {
        body,
        headers: { 'idempotency-key': t.key },
        timeoutMs: this.o.attemptTimeoutMs,
      });
      const verdict = this.judge(t, r);
      if (verdict === 'done') return;
      nodeIndex++;
      // After a failed round over all nodes, back off: there is probably no leader right now.
      await sleep(nodeIndex % urls.length === worker % urls.length ? 300 : 50);
      // A stopping workload still finishes the transfer it started: its outcome is evidence.
    }
  }

  private judge(t: TransferRecord, r: HttpResult): 'done' | 'retry' {
    if (r.kind === 'failure') {
      t.lastError = r.error;
      return 'retry';
    }
    if (r.status === 200 && isObject(r.body)) {
      if (typeof r.body['id'] === 'string') {
        t.txId = r.body['id'];
        t.txIdsSeen.add(r.body['id']);
      }
      const outcome = r.body['outcome'];
      if (outcome === 'committed' || outcome === 'aborted') {
        t.apiOutcome = outcome;
        return 'done';
      }
      t.lastError = `200 without an outcome (state ${String(r.body['state'])})`;
      return 'retry';
    }
    const code = isObject(r.body) && isObject(r.body['error']) ? String(r.body['error']['code']) : '';
    t.lastError = `${r.status} ${code}`;
    // 5xx, 429 and a leadership transfer (rolling restart): the cluster is failing over or
    // busy; the same key is safe to resend.
    if (r.status >= 500 || r.status === 429 || code === 'TRANSFER_IN_PROGRESS') return 'retry';
    t.rejected = `${r.status} ${code} ${JSON.stringify(r.body).slice(0, 200)}`;
    return 'done';
  }
}

/** The request body of a transfer; resending it with the same key must name the same transaction. */
export function transferRequest(shape: TransferShape, t: TransferRecord, txTimeoutMs: number): unknown {
  return { participants: shape.participants(t.key, t.legs), commit: true, timeoutMs: txTimeoutMs };
}

/** Small seeded PRNG so a failing run's workload can be replayed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
