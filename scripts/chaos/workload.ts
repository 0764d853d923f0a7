// The transfer workload: `concurrency` workers, each running one bank transfer at a time
// with its own Idempotency-Key, and recording exactly what the API answered (outcome,
// transaction id, decision time) or the client error it ended in. A transfer runs one of
// three flows (evidence.ts, TransferFlow): one-shot through RatifyClient.run(), or
// interactive (create, then commit), and some interactive ones also send an abort that
// races the commit. The client retries failovers itself with the same key; a transfer
// that still ends in an error is "unknown", and resendUnknown() asks again with the same
// key once all is healed.
//
// Every call, and every GET of a view that `readers` send to random nodes while the
// transfers run, is recorded with its invocation and response times for the
// linearizability check (history()).
import { RatifyClient } from '../../src/sdk/client.js';
import { isRatifyClientError } from '../../src/sdk/client-error.js';
import { clientToken, trustedCa } from './http.js';
import type { TransactionView } from '../../src/sdk/client-types.js';
import type { Operation } from '../../test/linearizability/model.js';
import type { TxInput, TxOutput } from '../../test/linearizability/tx-model.js';
import type { BankBook } from './bank.js';
import type { Outcome, TransferFlow, TransferRecord } from './evidence.js';
import { HistoryRecorder } from './history.js';
import { sleep } from './http.js';
import type { WorkloadProtocol } from './options.js';
import type { Prng } from '../../src/util/random.js';
import { errorOutput, readView, viewOutput, type TxRecorder } from './tx-history.js';

export interface WorkloadOptions {
  readonly nodeUrls: readonly string[];
  readonly book: BankBook;
  readonly rng: Prng;
  readonly concurrency: number;
  readonly keyPrefix: string;
  readonly txTimeoutMs: number;
  /** Default `mix`. */
  readonly protocol?: WorkloadProtocol;
  /** With protocol `mix`: the share of 3PC transfers. */
  readonly threePcShare: number;
  readonly amountMax: number;
  readonly clientRetries: number;
  /** Share of transfers run interactively (create, then commit). */
  readonly interactiveShare: number;
  /** Of the interactive ones, the share that also send an abort racing the commit. */
  readonly abortShare: number;
  /** Loops that GET the views of recent transfers from random nodes. */
  readonly readers: number;
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
/** An abort that races a commit goes out up to this long after it. */
const ABORT_DELAY_MAX_MS = 30;
/** Readers pick among the transfers started most recently, so they see transactions move. */
const READ_RECENT = 32;
const READ_TIMEOUT_MS = 3_000;
const READ_PAUSE_MAX_MS = 40;
/** A node that is down refuses at once: a reader that hit one waits before its next read. */
const READ_PAUSE_AFTER_ERROR_MS = 200;

export class TransferWorkload {
  readonly transfers: TransferRecord[] = [];
  private readonly client: RatifyClient;
  private readonly recorder: TxRecorder = new HistoryRecorder();
  private stopping = false;
  private workers: Promise<void>[] = [];
  private next = 0;
  private counts = { committed: 0, aborted: 0, unknown: 0, rejected: 0, inFlight: 0 };

  constructor(private readonly o: WorkloadOptions) {
    // Per attempt: long enough for a decision (the client lengthens run() itself).
    const ca = trustedCa();
    const token = clientToken();
    this.client = new RatifyClient({
      ...(token === null ? {} : { token }),
      nodes: o.nodeUrls,
      retries: o.clientRetries,
      timeoutMs: 10_000,
      backoffBaseMs: 100,
      backoffMaxMs: 2_000,
      ...(ca === null ? {} : { tls: { ca } }),
    });
  }

  start(): this {
    for (let w = 0; w < this.o.concurrency; w++) this.workers.push(this.worker(`w${w}`));
    for (let r = 0; r < this.o.readers; r++) this.workers.push(this.reader(`r${r}`, this.o.rng.fork(`reader-${r}`)));
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

  /** Every call recorded so far (calls still waiting count as unknown). */
  history(): Operation<TxInput, TxOutput>[] {
    return this.recorder.history();
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
            const view = await this.decide(t, 'resend');
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

  private async worker(name: string): Promise<void> {
    while (!this.stopping) {
      const t = this.newTransfer();
      this.counts.inFlight++;
      try {
        await this.execute(t, name);
      } catch (e) {
        this.recordError(t, e);
      } finally {
        t.endedAtMs = Date.now();
        this.counts.inFlight--;
      }
      if (t.apiOutcome === null) await sleep(AFTER_ERROR_PAUSE_MS);
    }
  }

  private async execute(t: TransferRecord, client: string): Promise<void> {
    if (t.flow !== 'abort-race') return this.record(t, await this.decide(t, client));
    const id = await this.created(t, client);
    const commit = this.commit(t, id, client);
    const abort = sleep(this.o.rng.int(0, ABORT_DELAY_MAX_MS)).then(() => this.abort(t, id, client));
    const [c, a] = await Promise.allSettled([commit, abort]);
    if (a.status === 'rejected' && !isAlreadyCommitted(a.reason)) this.noteRefusal(t, a.reason);
    if (c.status === 'fulfilled') return this.record(t, c.value);
    // The commit's answer was lost; the abort's still names the outcome.
    if (a.status === 'fulfilled') return this.record(t, a.value);
    if (isAlreadyCommitted(a.reason)) return this.recordOutcome(t, 'committed', null);
    throw c.reason;
  }

  /** Runs the transfer's flow up to its decision: one call for one-shot, create (unless known) then commit otherwise. */
  private async decide(t: TransferRecord, client: string): Promise<TransactionView> {
    if (t.flow === 'one-shot') return this.oneShot(t, client);
    return this.commit(t, t.txIds[0] ?? (await this.created(t, client)), client);
  }

  /** The same body every time for a key: the API hashes it against the Idempotency-Key. */
  private oneShot(t: TransferRecord, client: string): Promise<TransactionView> {
    const input: TxInput = { op: 'create', key: t.key, protocol: t.protocol, commit: true };
    const body = {
      participants: this.o.book.participants(t.key, t.legs),
      protocol: t.protocol,
      timeoutMs: this.o.txTimeoutMs,
      idempotencyKey: t.key,
    };
    return this.recorder.record(client, input, () => this.client.run(body), viewOutput, errorOutput);
  }

  private async created(t: TransferRecord, client: string): Promise<string> {
    const input: TxInput = { op: 'create', key: t.key, protocol: t.protocol, commit: false };
    const body = {
      participants: this.o.book.participants(t.key, t.legs),
      protocol: t.protocol,
      timeoutMs: this.o.txTimeoutMs,
      idempotencyKey: t.key,
    };
    const view = await this.recorder.record(client, input, () => this.client.createTransaction(body), viewOutput, errorOutput);
    if (!t.txIds.includes(view.id)) t.txIds.push(view.id);
    return view.id;
  }

  private commit(t: TransferRecord, id: string, client: string): Promise<TransactionView> {
    return this.recorder.record(client, { op: 'commit', key: t.key, id }, () => this.client.commit(id), viewOutput, errorOutput);
  }

  private abort(t: TransferRecord, id: string, client: string): Promise<TransactionView> {
    return this.recorder.record(`${client}-abort`, { op: 'abort', key: t.key, id }, () => this.client.abort(id), viewOutput, errorOutput);
  }

  /** GETs recent transactions' views from random nodes (followers included), recorded. */
  private async reader(name: string, rng: Prng): Promise<void> {
    while (!this.stopping) {
      const recent = this.transfers.slice(-READ_RECENT).filter((t) => t.txIds.length > 0);
      let answered = true;
      if (recent.length > 0) {
        const t = rng.pick(recent);
        answered = await readView(this.recorder, name, rng.pick(this.o.nodeUrls), t.key, t.txIds[0]!, READ_TIMEOUT_MS);
      }
      await sleep(answered ? rng.int(0, READ_PAUSE_MAX_MS) : READ_PAUSE_AFTER_ERROR_MS);
    }
  }

  private newTransfer(): TransferRecord {
    const legs = this.o.book.randomLegs(this.o.rng, this.o.amountMax);
    const t: TransferRecord = {
      key: `${this.o.keyPrefix}-${this.next++}`,
      legs,
      protocol: this.protocolOf(this.o.rng.chance(this.o.threePcShare)),
      flow: this.drawFlow(),
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

  private drawFlow(): TransferFlow {
    if (!this.o.rng.chance(this.o.interactiveShare)) return 'one-shot';
    return this.o.rng.chance(this.o.abortShare) ? 'abort-race' : 'interactive';
  }

  private record(t: TransferRecord, view: TransactionView): void {
    if (!t.txIds.includes(view.id)) t.txIds.push(view.id);
    if (view.outcome === null) {
      t.error = `answered without an outcome (state ${view.state})`;
      this.counts.unknown++;
      return;
    }
    this.recordOutcome(t, view.outcome, view.decidedAt === undefined ? null : Date.parse(view.decidedAt));
  }

  private recordOutcome(t: TransferRecord, outcome: Outcome, decidedAtMs: number | null): void {
    t.apiOutcome = outcome;
    t.decidedAtMs = decidedAtMs;
    this.counts[outcome === 'committed' ? 'committed' : 'aborted']++;
  }

  private recordError(t: TransferRecord, e: unknown): void {
    if (this.noteRefusal(t, e)) return;
    t.error = describe(e);
    this.counts.unknown++;
  }

  /**
   * A 4xx other than back-pressure or a leadership hand-over means the API refused a
   * well-formed request: a bug in the API (or in this workload), never "unknown".
   */
  private noteRefusal(t: TransferRecord, e: unknown): boolean {
    if (!(isRatifyClientError(e) && e.status >= 400 && e.status < 500 && e.status !== 429 && e.code !== 'TRANSFER_IN_PROGRESS'))
      return false;
    if (t.rejected === null) this.counts.rejected++;
    t.rejected = `${e.status} ${e.code}: ${e.message}`;
    return true;
  }
}

/** An abort refused because the outcome is commit: decided, or (3PC) precommitted, which can only commit. */
function isAlreadyCommitted(e: unknown): boolean {
  return isRatifyClientError(e, 'TX_ALREADY_COMMITTED') || isRatifyClientError(e, 'TX_PRECOMMITTED');
}

export function countOutcome(transfers: readonly TransferRecord[], o: Outcome): number {
  return transfers.filter((t) => t.apiOutcome === o).length;
}

function describe(e: unknown): string {
  if (isRatifyClientError(e)) return `${e.code} (${e.status}) after ${e.attempts} attempts: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
