// How long a failed Raft stream waits before it is reopened: doubling from a
// floor to a cap, back to the floor once the peer acknowledges again. While it
// waits, messages to the peer are dropped (peer-stream.ts says why). Pure, with
// the unit left to the caller: the stream counts milliseconds, the seeded
// simulation (test/sim/network.ts) counts its steps with the same rule.
export class StreamBackoff {
  private nextDelay: number;

  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    if (!(min > 0 && max >= min)) throw new Error(`backoff bounds (${min}, ${max}) must satisfy 0 < min <= max`);
    this.nextDelay = min;
  }

  /** A failure: the delay to wait now; the next failure waits twice as long, up to the cap. */
  failed(): number {
    const d = this.nextDelay;
    this.nextDelay = Math.min(this.max, d * 2);
    return d;
  }

  /** The peer acknowledged: the next failure waits the floor again. */
  acked(): void {
    this.nextDelay = this.min;
  }
}
