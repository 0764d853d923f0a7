// Votes and acknowledgements on the fast path ride in the entry that closes
// their phase (decided, completed); only a phase that keeps waiting replicates
// them one by one, so the view shows how far a slow transaction got. Saving
// those entries matters: each one is a Raft round the leader's single write
// loop must carry, ahead of the decision of this and other transactions.

export class DeferredRecorder<T> {
  private buffered: T[] = [];
  private eager: boolean;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;

  private added = 0;

  /**
   * `expected`: items the phase waits for; the last one is never recorded on
   * its own, as the closing entry follows at once. `record` replicates one
   * item; it must not throw (errors are its own to log).
   */
  constructor(
    delayMs: number,
    private readonly expected: number,
    private readonly record: (item: T) => void,
  ) {
    this.eager = delayMs === 0;
    if (!this.eager) {
      this.timer = setTimeout(() => this.becomeEager(), delayMs);
      this.timer.unref();
    }
  }

  /** An item arrived: recorded now if the phase has been slow, else kept for the closing entry. */
  add(item: T): void {
    if (this.closed) return;
    this.added += 1;
    if (this.added >= this.expected) return;
    if (this.eager) this.record(item);
    else this.buffered.push(item);
  }

  /** The phase is known to be slow (a call failed): record what is buffered and every later item at once. */
  hurry(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.becomeEager();
  }

  /** The phase is over: its closing entry carries whatever was not recorded. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.buffered = [];
  }

  private becomeEager(): void {
    this.timer = null;
    if (this.closed || this.eager) return;
    this.eager = true;
    const items = this.buffered;
    this.buffered = [];
    for (const item of items) this.record(item);
  }
}
