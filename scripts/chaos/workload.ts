// The transfer workload: `concurrency` workers, each running one bank transfer at a time
// through RatifyClient.run() with its own Idempotency-Key, and recording exactly what the
// API answered (outcome, transaction id, decision time) or the client error it ended in.
// The client retries failovers itself with the same key; a transfer that still ends in an
// error is "unknown", and resendUnknown() asks again with the same key once all is healed.
import { RatifyClient } from '../../src/sdk/client.js';
import { isRatifyClientError } from '../../src/sdk/client-error.js';
import type { TransactionView } from '../../src/sdk/client-types.js';
import type { BankBook } from './bank.js';
import type { Outcome, TransferRecord } from './evidence.js';
import { sleep } from './http.js';
import type { WorkloadProtocol } from './options.js';
import type { SeededRandom } from './rng.js';

export interface WorkloadOptions {
  readonly nodeUrls: readonly string[];
  readonly book: BankBook;
  readonly rng: SeededRandom;
  readonly concurrency: number;
  readonly keyPrefix: string;
  readonly txTimeoutMs: number;
  /** Default `mix`. */
  readonly protocol?: WorkloadProtocol;
  /** With protocol `mix`: the share of 3PC transfers. */
  readonly threePcShare: number;
  readonly amountMax: number;
  readonly clientRetries: number;
}

export interface WorkloadCounts {
  readonly attempted: number;
  readonly committed: number;
  readonly aborted: number;
  readonly unknown: number;
  readonly rejected: number;
  readonly inFlight: number;
}

/** After an error, a worker waits this long before its next transfer (the client already backed off). */
const AFTER_ERROR_PAUSE_MS = 200;

export class TransferWorkload {
  readonly transfers: TransferRecord[] = [];
  private readonly client: RatifyClient;
  private stopping = false;
  private workers: Promise<void>[] = [];
  private next = 0;
  private counts = { committed: 0, aborted: 0, unknown: 0, rejected: 0, inFlight: 0 };

  constructor(private readonly o: WorkloadOptions) {
    // Per attempt: long enough for a decision (the client lengthens run() itself).
    this.client = new RatifyClient({ nodes: o.nodeUrls, retries: o.clientRetries, timeoutMs: 10_000, backoffBaseMs: 100, backoffMaxMs: 2_000 });
  }

  start(): this {
    for (let w = 0; w < this.o.concurrency; w++) this.workers.push(this.worker());
    return this;
  }

  /** No new transfers; resolves once those in flight have answered (bounded by the client's timeouts). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  async close(): Promise<void> {
    this.stopping = true;
    await this.client.close();
  }

  snapshot(): WorkloadCounts {
    return { attempted: this.transfers.length, ...this.counts };
  }

  /**
   * Resends every transfer that ended in an error, same key and body, until the API
   * names its outcome or `timeoutMs` passes: the one transaction that key names must come
   * back (or run now, if the first attempts never reached the cluster).
   */
  async resendUnknown(timeoutMs: number): Promise<number> {
    const pending = this.transfers.filter((t) => t.apiOutcome === null && t.rejected === null);
    const deadline = Date.now() + timeoutMs;
    let resolved = 0;
    const queue = [...pending];
    const one = async (): Promise<void> => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
        while (t.resolvedOutcome === null && Date.now() < deadline) {
          try {
            const view = await this.send(t);
            t.txIds.push(view.id);
            if (view.outcome !== null) t.resolvedOutcome = view.outcome;
          } catch (e) {
            t.error = `on resend: ${describe(e)}`;
            await sleep(500);
          }
        }
        if (t.resolvedOutcome !== null) resolved++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, pending.length) }, one));
    return resolved;
  }

  private async worker(): Promise<void> {
    while (!this.stopping) {
      const t = this.newTransfer();
      this.counts.inFlight++;
      try {
        this.record(t, await this.send(t));
      } catch (e) {
        this.recordError(t, e);
      } finally {
        t.endedAtMs = Date.now();
        this.counts.inFlight--;
      }
      if (t.apiOutcome === null) await sleep(AFTER_ERROR_PAUSE_MS);
    }
  }

  private newTransfer(): TransferRecord {
    const legs = this.o.book.randomLegs(this.o.rng, this.o.amountMax);
    const t: TransferRecord = {
      key: `${this.o.keyPrefix}-${this.next++}`,
      legs,
      protocol: this.protocolOf(this.o.rng.chance(this.o.threePcShare)),
      startedAtMs: Date.now(),
      endedAtMs: null,
      txIds: [],
      apiOutcome: null,
      decidedAtMs: null,
      error: null,
      rejected: null,
      resolvedOutcome: null,
    };
    this.transfers.push(t);
    return t;
  }

  /** The draw is made whatever the mode, so a seed fixes the same transfers (amounts, legs) in each. */
  private protocolOf(drewThreePc: boolean): '2pc' | '3pc' {
    const protocol = this.o.protocol ?? 'mix';
    if (protocol === 'mix') return drewThreePc ? '3pc' : '2pc';
    return protocol;
  }

  /** The same body every time for a key: the API hashes it against the Idempotency-Key. */
  private send(t: TransferRecord): Promise<TransactionView> {
    return this.client.run({
      participants: this.o.book.participants(t.key, t.legs),
      protocol: t.protocol,
      timeoutMs: this.o.txTimeoutMs,
      idempotencyKey: t.key,
    });
  }

  private record(t: TransferRecord, view: TransactionView): void {
    t.txIds.push(view.id);
    if (view.outcome === null) {
      t.error = `answered without an outcome (state ${view.state})`;
      this.counts.unknown++;
      return;
    }
    t.apiOutcome = view.outcome;
    t.decidedAtMs = view.decidedAt === undefined ? null : Date.parse(view.decidedAt);
    this.counts[view.outcome === 'committed' ? 'committed' : 'aborted']++;
  }

  private recordError(t: TransferRecord, e: unknown): void {
    // A 4xx other than back-pressure or a leadership hand-over means the API refused a
    // well-formed transfer: a bug in the API (or in this workload), never "unknown".
    if (isRatifyClientError(e) && e.status >= 400 && e.status < 500 && e.status !== 429 && e.code !== 'TRANSFER_IN_PROGRESS') {
      t.rejected = `${e.status} ${e.code}: ${e.message}`;
      this.counts.rejected++;
      return;
    }
    t.error = describe(e);
    this.counts.unknown++;
  }
}

export function countOutcome(transfers: readonly TransferRecord[], o: Outcome): number {
  return transfers.filter((t) => t.apiOutcome === o).length;
}

function describe(e: unknown): string {
  if (isRatifyClientError(e)) return `${e.code} (${e.status}) after ${e.attempts} attempts: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
