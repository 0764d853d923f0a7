// The leader's completions, proposed together and, where it can, in the same
// Raft batch as the next decision.
//
// WHY: a transaction's `completed` entry is proposed when its participants
// acknowledge the decision, which at concurrency 1 is just when the next
// transaction's prepare ends and its `decided` entry is proposed. One Ready is
// written at a time (src/node/raft-node.ts), so that decided entry waited for
// the whole storage write of the completion, on the leader and on the
// followers: measured on the 3-node loopback benchmark, more than half of the
// one-shot decided proposals found the leader saving a completed entry. Nothing
// waits for a completion (the client's answer goes out at the decision), so the
// queue holds it back and proposes it in the same synchronous turn as the next
// decision (flushBeforeDecision): one Ready, one write, one fsync for both.
// Under load it also puts many completions into one entry.
//
// What holds a completion back is bounded: `delayMs` (the timer proposes the
// queue when no decision came), `itemsMax` and `bytesMax` (a full queue goes at
// once). Until it is applied the transaction stays decided and unfinished,
// exactly as while a `completed` entry is in flight: it counts against
// maxStuckTransactions, a new leader drives phase 2 again (participants answer
// a repeated commit or abort the same), and retention starts at completedAt,
// which is stamped when the acknowledgements were in, as before.
import { RatifyError } from '../errors.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import { type CompletedCommand, COMPLETIONS_PER_ENTRY_MAX, type TxCommand } from './commands.js';
import { proposeTx } from './proposer.js';
import { isBatchApplyResult } from './state-machine.js';
import type { ApplyResult } from './types.js';

export interface CompletionQueueOptions {
  /** How long a completion may wait for a decision to go with; then it is proposed on its own. */
  readonly delayMs: number;
  /** Completions per entry: a queue this long is proposed at once. At most COMPLETIONS_PER_ENTRY_MAX. */
  readonly itemsMax: number;
  /** Estimated bytes of the queued completions past which they are proposed at once. */
  readonly bytesMax: number;
  readonly proposeTimeoutMs: number;
}

/** A completion holds its transaction unfinished for at most 10 ms beyond its acknowledgements when no decision comes. */
export const COMPLETION_QUEUE_DEFAULTS = {
  delayMs: 10,
  itemsMax: 256,
  bytesMax: 64 * 1024,
} as const;

interface Waiting {
  readonly cmd: CompletedCommand;
  readonly resolve: (result: ApplyResult) => void;
  readonly reject: (err: unknown) => void;
}

export class CompletionQueue {
  private items: Waiting[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly log: ReplicatedLog,
    private readonly opts: CompletionQueueOptions,
  ) {
    if (opts.itemsMax < 1 || opts.itemsMax > COMPLETIONS_PER_ENTRY_MAX) {
      throw new RangeError(`itemsMax must be 1..${COMPLETIONS_PER_ENTRY_MAX}, got ${opts.itemsMax}`);
    }
  }

  /** Resolves with apply()'s result for this completion once the entry carrying it is applied (rejects as proposeTx does). */
  complete(cmd: CompletedCommand): Promise<ApplyResult> {
    if (this.closed) return Promise.reject(closedError());
    return new Promise<ApplyResult>((resolve, reject) => {
      this.items.push({ cmd, resolve, reject });
      this.bytes += estimateBytes(cmd);
      if (this.items.length >= this.opts.itemsMax || this.bytes >= this.opts.bytesMax) this.flush();
      else if (this.timer === null) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.flush();
        }, this.opts.delayMs);
        this.timer.unref();
      }
    });
  }

  /**
   * Proposes what is queued now. Called right before a decision entry is
   * proposed, in the same synchronous turn: both land in the same Ready and
   * are written with one fsync.
   */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.items.length === 0) return;
    const batch = this.items;
    this.items = [];
    this.bytes = 0;
    proposeTx(this.log, batchCommand(batch.map((w) => w.cmd)), this.opts.proposeTimeoutMs).then(
      (result) => settle(batch, result),
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }

  /** The term ended: queued completions are not proposed (a later leader drives phase 2 again); entries already proposed settle on their own. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.items;
    this.items = [];
    this.bytes = 0;
    for (const w of batch) w.reject(closedError());
  }

  /** Completions waiting to be proposed. */
  get size(): number {
    return this.items.length;
  }
}

/** One completion keeps its own `completed` entry (what older nodes apply too); several share a completedBatch. */
export function batchCommand(completions: readonly CompletedCommand[]): TxCommand {
  if (completions.length === 1) return completions[0]!;
  return { type: 'completedBatch', completions };
}

function settle(batch: readonly Waiting[], result: ApplyResult): void {
  if (batch.length === 1) {
    batch[0]!.resolve(result);
    return;
  }
  if (!isBatchApplyResult(result) || result.items.length !== batch.length) {
    // A refused entry as a whole (malformed) or a result that does not match: each completion learns it.
    const failed: ApplyResult = result.ok
      ? { ok: false, code: 'INTERNAL', message: 'the completedBatch entry applied without a result per completion', tx: null }
      : result;
    for (const w of batch) w.resolve(failed);
    return;
  }
  batch.forEach((w, i) => w.resolve(result.items[i]!));
}

/** An upper bound of the completion's encoded size (3 bytes per UTF-16 unit, field names, numbers). */
function estimateBytes(cmd: CompletedCommand): number {
  const names = [...(cmd.acknowledged ?? []), ...(cmd.abandoned ?? [])];
  return 96 + 3 * cmd.txId.length + names.reduce((sum, n) => sum + 5 + 3 * n.length, 0);
}

function closedError(): RatifyError {
  return new RatifyError(
    'LEADERSHIP_LOST',
    'leadership ended before the completion was proposed; the next leader completes the transaction',
  );
}
