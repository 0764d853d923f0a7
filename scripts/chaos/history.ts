// Records client operations for the linearizability check (test/linearizability): what
// each call asked, what it answered, and when it was invoked and answered, on this
// process's monotonic clock (performance.now(); wall-clock time can step). An answer that
// never came, or that leaves the outcome open, is recorded as unknown: it may have taken
// effect at any time after the call, or never.
import type { Operation } from '../../test/linearizability/model.js';

export class HistoryRecorder<I, O> {
  private readonly done: Operation<I, O>[] = [];
  private readonly open = new Map<number, Omit<Operation<I, O>, 'output' | 'returnMs'>>();
  private nextId = 0;

  /** Call just before the request goes out; call the result once the answer is in. */
  begin(client: string, input: I): (output: O | null) => void {
    const id = this.nextId++;
    this.open.set(id, { id, client, input, callMs: performance.now() });
    return (output) => {
      const returnMs = performance.now();
      const op = this.open.get(id);
      if (op === undefined) return;
      this.open.delete(id);
      this.done.push({ ...op, output, returnMs: output === null ? Infinity : returnMs });
    };
  }

  /** Wraps one call: its value becomes the answer through `answer`, a throw through `failure`. */
  async record<T>(
    client: string,
    input: I,
    call: () => Promise<T>,
    answer: (v: T) => O | null,
    failure: (e: unknown) => O | null,
  ): Promise<T> {
    const end = this.begin(client, input);
    try {
      const v = await call();
      end(answer(v));
      return v;
    } catch (e) {
      end(failure(e));
      throw e;
    }
  }

  /** Every operation so far; those still waiting for an answer count as unknown. */
  history(): Operation<I, O>[] {
    const open = [...this.open.values()].map((op) => ({ ...op, output: null, returnMs: Infinity }));
    return [...this.done, ...open].sort((a, b) => a.id - b.id);
  }

  get size(): number {
    return this.done.length + this.open.size;
  }
}
