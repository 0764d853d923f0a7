// Read barriers (ReadIndex, thesis §6.4) waiting for the core's answer and then for
// the local applied index to reach the confirmed read index.
import { RatifyError } from '../errors.js';

interface Reader {
  /** Set once the core confirmed leadership for this read. */
  readIndex: number | null;
  readonly resolve: () => void;
  readonly reject: (err: RatifyError) => void;
  readonly timer: NodeJS.Timeout;
}

export type ReadOutcome = 'ok' | 'timeout' | 'dropped' | 'shutdown';

export class PendingReads {
  private readonly readers = new Map<number, Reader>();
  private nextRequestId = 1;

  constructor(
    private readonly limit: number,
    private readonly onSettled: (outcome: ReadOutcome) => void = () => {},
  ) {}

  get size(): number {
    return this.readers.size;
  }

  hasRoom(): boolean {
    return this.readers.size < this.limit;
  }

  add(timeoutMs: number): { requestId: number; done: Promise<void> } {
    const requestId = this.nextRequestId++;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readers.delete(requestId);
        this.onSettled('timeout');
        reject(new RatifyError('TIMEOUT', `read barrier not confirmed within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.readers.set(requestId, { readIndex: null, resolve, reject, timer });
    });
    return { requestId, done };
  }

  confirmed(requestId: number, readIndex: number, appliedIndex: number): void {
    const r = this.readers.get(requestId);
    if (r === undefined) return; // timed out already
    r.readIndex = readIndex;
    if (readIndex <= appliedIndex) this.settle(requestId, r);
  }

  dropped(requestId: number, err: RatifyError, outcome: ReadOutcome = 'dropped'): void {
    const r = this.readers.get(requestId);
    if (r === undefined) return;
    this.readers.delete(requestId);
    clearTimeout(r.timer);
    this.onSettled(outcome);
    r.reject(err);
  }

  /** Serve every confirmed read whose index is now applied. */
  applied(appliedIndex: number): void {
    for (const [id, r] of [...this.readers]) {
      if (r.readIndex !== null && r.readIndex <= appliedIndex) this.settle(id, r);
    }
  }

  rejectAllShutdown(): void {
    this.rejectAll(new RatifyError('SHUTTING_DOWN', 'the node is stopping'), 'shutdown');
  }

  rejectAll(err: RatifyError, outcome: ReadOutcome = 'dropped'): void {
    for (const id of [...this.readers.keys()]) this.dropped(id, err, outcome);
  }

  private settle(id: number, r: Reader): void {
    this.readers.delete(id);
    clearTimeout(r.timer);
    this.onSettled('ok');
    r.resolve();
  }
}
