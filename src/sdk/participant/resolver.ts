// The background resolver: cooperative termination for in-doubt records, the 3PC
// timeout rule as its fallback (termination.ts says when and why), the
// recovery of prepares interrupted by a crash, and pruning of
// old finished records. It decides with the pure decideTermination() and acts
// through the participant core, under the same per-record lock as coordinator
// calls, so a late coordinator call and the resolver never both act on a record.
import { assertNever } from '../../util/assert-never.js';
import type { TxInquiry } from './inquiry.js';
import type { ResolvedOptions } from './options.js';
import { decideTermination } from './termination.js';
import type { CallSource, ParticipantTxRecord } from './types.js';

export interface ResolverHost {
  dueKeys(nowMs: number, max: number): string[];
  withDueRecord(key: string, fn: (record: ParticipantTxRecord) => Promise<void>): Promise<void>;
  postpone(key: string, ms: number): void;
  /**
   * Records whether an inquiry about `key` reached a coordinator node; returns
   * how long inquiries have reached none (null when this one did).
   */
  noteInquiry(key: string, reachedNode: boolean, nowMs: number): number | null;
  advance(
    record: ParticipantTxRecord,
    to: 'committed' | 'aborted',
    source: CallSource,
    term: number | null,
    reason?: string,
  ): Promise<unknown>;
  pruneFinished(nowMs: number, max: number): Promise<number>;
}

export interface ResolvePassReport {
  readonly examined: number;
  readonly committed: number;
  readonly aborted: number;
  readonly waiting: number;
  readonly failed: number;
  readonly pruned: number;
}

type Tally = { -readonly [K in keyof ResolvePassReport]: number };

/** Finished records forgotten per pass; pruning is background work and must stay small. */
const PRUNE_PER_PASS_MAX = 256;
const PASS_INTERVAL_MIN_MS = 5;
const PASS_INTERVAL_MAX_MS = 1_000;

export class Resolver {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<ResolvePassReport> | null = null;

  constructor(
    private readonly host: ResolverHost,
    private readonly inquiry: TxInquiry | null,
    private readonly o: ResolvedOptions,
  ) {}

  start(): void {
    if (this.timer !== null) return;
    // A few passes per quiet period, so a record is looked at soon after it is due.
    const quietMs = Math.min(this.o.resolveAfterMs, this.o.threePcTimeoutMs);
    const intervalMs = Math.min(PASS_INTERVAL_MAX_MS, Math.max(PASS_INTERVAL_MIN_MS, Math.floor(quietMs / 4)));
    this.timer = setInterval(() => {
      this.pass().catch((e: unknown) => this.o.logger.error({ err: e }, 'participant resolver pass failed'));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
    await this.inquiry?.close();
  }

  /** One pass; a pass already running is joined rather than overlapped. */
  pass(): Promise<ResolvePassReport> {
    this.running ??= this.runPass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runPass(): Promise<ResolvePassReport> {
    const tally: Tally = { examined: 0, committed: 0, aborted: 0, waiting: 0, failed: 0, pruned: 0 };
    const keys = this.host.dueKeys(this.o.now(), this.o.resolveBatchMax);
    await Promise.all(
      keys.map((key) =>
        this.host
          .withDueRecord(key, (record) => this.resolve(key, record, tally))
          .catch((e: unknown) => {
            // Reading the record or taking its lock failed; the record stays due for the next pass.
            this.o.logger.error({ err: e, key }, 'could not examine an in-doubt transaction');
            tally.failed++;
          }),
      ),
    );
    try {
      tally.pruned = await this.host.pruneFinished(this.o.now(), PRUNE_PER_PASS_MAX);
    } catch (e) {
      this.o.logger.warn({ err: e }, 'pruning finished participant records failed');
    }
    return tally;
  }

  private async resolve(key: string, record: ParticipantTxRecord, tally: Tally): Promise<void> {
    tally.examined++;
    const asked =
      record.state === 'preparing' || this.inquiry === null
        ? null
        : await this.inquiry.ask({ txId: record.txId, preparedTerm: record.preparedTerm ?? 0, preparedBy: record.preparedBy ?? null });
    const unreachableForMs = asked === null ? null : this.host.noteInquiry(key, asked.kind !== 'unreachable', this.o.now());
    const t = decideTermination(record, asked, {
      unreachableForMs,
      threePcTimeoutMs: this.o.threePcTimeoutMs,
      resolveAfterMs: this.o.resolveAfterMs,
    });
    const log = { txId: record.txId, participant: record.participant, state: record.state, protocol: record.protocol, why: t.why };
    try {
      switch (t.kind) {
        case 'commit':
          await this.host.advance(record, 'committed', t.source, null);
          tally.committed++;
          return;
        case 'abort':
          await this.host.advance(record, 'aborted', t.source, null, t.why);
          tally.aborted++;
          return;
        case 'wait':
          this.o.logger.warn(log, 'transaction still in doubt');
          this.host.postpone(key, t.retryAfterMs);
          tally.waiting++;
          return;
        default:
          assertNever(t);
      }
    } catch (e) {
      this.o.logger.error({ ...log, err: e }, 'resolving an in-doubt transaction failed; will retry');
      this.host.postpone(key, this.o.resolveAfterMs);
      tally.failed++;
    }
  }
}
