// Requests that wait for a transaction to reach some state (a commit request
// waits for the decision). One table listener fans out by txId, so a busy
// table does not call every waiter on every apply.
import { RatifyError } from '../errors.js';
import type { TxRecord, TxStateMachine } from './types.js';

interface Waiter {
  readonly until: (tx: TxRecord | null) => boolean;
  readonly resolve: (tx: TxRecord | null) => void;
  readonly reject: (e: RatifyError) => void;
  readonly timer: NodeJS.Timeout;
}

export class TxWaiters {
  private readonly byTx = new Map<string, Set<Waiter>>();
  private readonly unsubscribe: () => void;
  /** Set by close(): a wait that starts afterwards would otherwise hold shutdown until its timeout. */
  private closed = false;

  constructor(private readonly sm: TxStateMachine) {
    this.unsubscribe = sm.onChange((txId) => this.changed(txId));
  }

  /** Resolves with the transaction once `until` holds (null: it is gone); rejects with TIMEOUT. */
  waitFor(txId: string, until: (tx: TxRecord | null) => boolean, timeoutMs: number, timeoutMessage: string): Promise<TxRecord | null> {
    const now = this.sm.get(txId);
    if (until(now)) return Promise.resolve(now);
    if (this.closed)
      return Promise.reject(new RatifyError('SHUTTING_DOWN', `the node is stopping; transaction ${txId} may still be decided`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.remove(txId, waiter);
        reject(new RatifyError('TIMEOUT', timeoutMessage));
      }, timeoutMs);
      const waiter: Waiter = { until, resolve, reject, timer };
      const set = this.byTx.get(txId) ?? new Set<Waiter>();
      set.add(waiter);
      this.byTx.set(txId, set);
    });
  }

  /** The node is stopping: nobody will be answered by waiting longer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const [txId, set] of this.byTx) {
      for (const w of set) {
        clearTimeout(w.timer);
        w.reject(new RatifyError('SHUTTING_DOWN', `the node is stopping; transaction ${txId} may still be decided`));
      }
    }
    this.byTx.clear();
  }

  private changed(txId: string): void {
    const set = this.byTx.get(txId);
    if (set === undefined) return;
    const tx = this.sm.get(txId);
    for (const w of set) {
      if (!w.until(tx)) continue;
      this.remove(txId, w);
      w.resolve(tx);
    }
  }

  private remove(txId: string, w: Waiter): void {
    clearTimeout(w.timer);
    const set = this.byTx.get(txId);
    set?.delete(w);
    if (set?.size === 0) this.byTx.delete(txId);
  }
}
