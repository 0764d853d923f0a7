// Serializes work per key: calls for one (txId, participant) run one at a time,
// so a retried prepare never races the first one into the user's handler, and
// the background resolver never races a coordinator call. Different keys run in
// parallel. The queue per key is bounded.
import { RatifyError } from '../../errors.js';

interface Slot {
  tail: Promise<unknown>;
  waiting: number;
}

export class KeyedLock {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly waitersPerKeyMax: number) {}

  isHeld(key: string): boolean {
    return this.slots.has(key);
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const slot = this.slots.get(key) ?? { tail: Promise.resolve(), waiting: 0 };
    if (slot.waiting >= this.waitersPerKeyMax) {
      return Promise.reject(new RatifyError('TOO_MANY_PENDING', `more than ${this.waitersPerKeyMax} calls queued for one transaction`));
    }
    slot.waiting++;
    const result = slot.tail.then(fn, fn);
    slot.tail = result.then(
      () => this.release(key, slot),
      () => this.release(key, slot),
    );
    this.slots.set(key, slot);
    return result;
  }

  /** Resolves once every queued call has finished. */
  async idle(): Promise<void> {
    while (this.slots.size > 0) await Promise.all([...this.slots.values()].map((s) => s.tail));
  }

  private release(key: string, slot: Slot): void {
    slot.waiting--;
    if (slot.waiting === 0 && this.slots.get(key) === slot) this.slots.delete(key);
  }
}
