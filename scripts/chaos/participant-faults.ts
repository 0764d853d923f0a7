// Participant faults (--kill-participants): every few seconds (a seeded gap) one
// participant process is SIGKILLed and started again after a seeded pause, beside the
// node faults of faults.ts. A participant must lose nothing to it: its records (and,
// with PostgreSQL, its prepared transactions) are durable before it answers, and the
// coordinator retries every call until it is acknowledged.
import { sleep } from './http.js';
import type { Prng } from '../../src/util/random.js';
import type { ChaosTarget } from './target.js';

export interface ParticipantKillerOptions {
  readonly target: ChaosTarget;
  readonly rng: Prng;
  readonly log: (line: string) => void;
}

/** Gap between two kills, and how long a killed participant stays down, in ms. */
const GAP_MS: readonly [number, number] = [3_000, 8_000];
const DOWN_MS: readonly [number, number] = [300, 3_000];

export class ParticipantKiller {
  kills = 0;
  failed = 0;
  private readonly stopping = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private readonly startedMs = Date.now();

  constructor(private readonly o: ParticipantKillerOptions) {}

  start(): this {
    const { target } = this.o;
    if (target.killParticipant === undefined || target.reviveParticipant === undefined)
      throw new Error(`the ${target.kind} target cannot kill participants`);
    this.loop = this.run();
    return this;
  }

  /** No more kills; a participant that is down is started again before this resolves. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { rng, target } = this.o;
    while (!this.stopping.signal.aborted) {
      await sleep(rng.int(GAP_MS[0], GAP_MS[1]), this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      const victim = rng.pick(target.banks).name;
      const downMs = rng.int(DOWN_MS[0], DOWN_MS[1]);
      this.o.log(
        `[${((Date.now() - this.startedMs) / 1000).toFixed(1)}s] fault: SIGKILL participant ${victim} for ${(downMs / 1000).toFixed(1)} s`,
      );
      try {
        await target.killParticipant!(victim);
        this.kills++;
        // Healing is not cut short by stop(): the participant comes back either way.
        await sleep(downMs);
        await target.reviveParticipant!(victim);
      } catch (e) {
        this.failed++;
        this.o.log(`participant fault on ${victim} failed: ${(e as Error).message}`);
      }
    }
  }
}
