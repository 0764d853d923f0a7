// The fault scheduler: every few seconds (a seeded gap) it draws a fault kind, a victim
// (the leader half of the time) and a duration, injects the fault through the target,
// and heals it when the duration is up. It keeps each node's condition, so at most a
// minority is down at once, except that now and then (quorumLossChance, with a cooldown)
// it allows a brief outage of a majority: the cluster must stall, then recover.
//
// A freeze is the one deliberate whole-cluster outage: every node paused at once
// (SIGSTOP), for longer than the banks' 3PC window, and only when every node is up. A
// precommitted bank then commits on its own while a prepared one waits (README "3PC"); when
// the nodes resume, the cluster must reach the same outcome.
import { addBack, removeMember } from './churn.js';
import { fetchStatus, type LeaderTracker } from './cluster-view.js';
import { sleep } from './http.js';
import type { FaultKind } from './options.js';
import type { Prng } from '../../src/util/random.js';
import type { ChaosTarget } from './target.js';

export type NodeCondition = 'up' | 'killed' | 'paused' | 'restarting' | 'partitioned' | 'churned';

export interface FaultEvent {
  readonly kind: FaultKind;
  readonly node: string;
  /** Whether the victim said it was the leader just before the fault. */
  readonly wasLeader: boolean;
  /**
   * When the fault was in place: after the kill/pause/disconnect command returned (the old
   * leader may still decide while a docker command is on its way), and when the restart
   * began (SIGTERM goes out at once).
   */
  atMs: number;
  readonly plannedMs: number;
  /** True when this fault left less than a majority up. */
  readonly quorumLost: boolean;
  healedAtMs: number | null;
  /** Set when the target failed to inject (or heal) it. */
  error: string | null;
  /** What a churn did: the removal's answers, whether the node knew, the re-addition. */
  note?: string;
}

export interface FaultSchedulerOptions {
  readonly target: ChaosTarget;
  readonly tracker: Pick<LeaderTracker, 'current'>;
  readonly rng: Prng;
  readonly kinds: readonly FaultKind[];
  readonly quorumLossChance: number;
  readonly gapMinMs: number;
  readonly gapMaxMs: number;
  /** How long a freeze lasts [min, max] ms (freezeRangeMs()). */
  readonly freezeMs: readonly [number, number];
  readonly log: (line: string) => void;
}

/** The victim of a freeze: every node. */
export const EVERY_NODE = 'all';

/** Durations per kind [min, max] ms. Pauses outlast the default election timeout (300-600 ms) several times. */
const DURATION_MS: Readonly<Record<Exclude<FaultKind, 'freeze'>, readonly [number, number]>> = {
  kill: [1_000, 5_000],
  pause: [1_500, 4_000],
  restart: [0, 0],
  partition: [2_000, 6_000],
  // How long the node stays out of the cluster before it is added back.
  churn: [2_000, 5_000],
};

/**
 * A freeze lasts 2-3 times the time a precommitted bank needs to commit on its own: its
 * quiet period, a full 3PC window of failed inquiries, and one round of inquiries (one
 * per node, each timing out). So the 3PC rule has surely applied when the nodes resume.
 */
export function freezeRangeMs(
  bank: { resolveAfterMs: number; threePcTimeoutMs: number; inquiryTimeoutMs: number },
  nodes: number,
): readonly [number, number] {
  const selfCommitMs = bank.resolveAfterMs + bank.threePcTimeoutMs + nodes * bank.inquiryTimeoutMs;
  return [2 * selfCommitMs, 3 * selfCommitMs];
}
/** A fault that takes the majority down is kept brief... */
const QUORUM_LOSS_MS: readonly [number, number] = [500, 2_000];
/** ... and rare: at most one per this long. */
const QUORUM_LOSS_COOLDOWN_MS = 15_000;
const CONDITION_OF: Readonly<Record<FaultKind, NodeCondition>> = {
  kill: 'killed',
  pause: 'paused',
  restart: 'restarting',
  partition: 'partitioned',
  churn: 'churned',
  freeze: 'paused',
};
/** Bound on each step of a churn (removal, learning of it, addition, promotion). */
const CHURN_STEP_TIMEOUT_MS = 30_000;

export class FaultScheduler {
  readonly events: FaultEvent[] = [];
  /** Faults drawn but not injected because they would have cost the quorum. */
  skipped = 0;
  private readonly conditions = new Map<string, NodeCondition>();
  private readonly healing = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private lastQuorumLossMs = -Infinity;
  /** Churned nodes whose data was wiped (they rejoin empty); the others come back with their data. */
  private readonly wiped = new Set<string>();
  private readonly startedMs = Date.now();

  constructor(private readonly o: FaultSchedulerOptions) {
    for (const n of o.target.nodes) this.conditions.set(n.id, 'up');
  }

  start(): this {
    if (this.o.kinds.length > 0) this.loop = this.run();
    return this;
  }

  /** Stops injecting, heals every node now (pending heals fire at once), and waits for it. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    while (this.healing.size > 0) await Promise.all([...this.healing]);
  }

  down(): string[] {
    return [...this.conditions].filter(([, c]) => c !== 'up').map(([id, c]) => `${id}:${c}`);
  }

  countBy(kind: FaultKind): number {
    return this.events.filter((e) => e.kind === kind && e.error === null).length;
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      await sleep(this.o.rng.int(this.o.gapMinMs, this.o.gapMaxMs), this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      await this.injectOne();
    }
  }

  private async injectOne(): Promise<void> {
    const { rng, tracker } = this.o;
    // Draw everything first, so the seed fixes the same sequence whichever branch runs.
    const kind = rng.pick(this.o.kinds);
    const preferLeader = rng.chance(0.5);
    const victimRoll = rng.next();
    const quorumRoll = rng.next();
    const [min, max] = kind === 'freeze' ? this.o.freezeMs : DURATION_MS[kind];
    const normalMs = rng.int(min, max);
    const briefMs = rng.int(QUORUM_LOSS_MS[0], QUORUM_LOSS_MS[1]);

    const ids = [...this.conditions.keys()];
    const up = ids.filter((id) => this.conditions.get(id) === 'up');
    if (up.length === 0) return;
    const leader = tracker.current();
    if (kind === 'freeze') {
      // Only from a whole cluster: a freeze on top of another fault would be a longer majority outage than intended.
      if (up.length < ids.length) {
        this.skipped++;
        return;
      }
      await this.inject({
        kind,
        node: EVERY_NODE,
        wasLeader: leader !== null,
        atMs: Date.now(),
        plannedMs: normalMs,
        quorumLost: true,
        healedAtMs: null,
        error: null,
      });
      return;
    }
    const victim = preferLeader && leader !== null && up.includes(leader) ? leader : up[Math.floor(victimRoll * up.length)]!;
    const quorumLost = ids.length - up.length + 1 > Math.floor((ids.length - 1) / 2);
    if (quorumLost) {
      const cooled = Date.now() - this.lastQuorumLossMs > QUORUM_LOSS_COOLDOWN_MS;
      if (!cooled || quorumRoll >= this.o.quorumLossChance) {
        this.skipped++;
        return;
      }
      this.lastQuorumLossMs = Date.now();
    }
    const url = this.o.target.nodes.find((n) => n.id === victim)!.url;
    const wasLeader = (await fetchStatus(url, 500))?.role === 'leader';
    const plannedMs = kind === 'restart' ? 0 : quorumLost ? briefMs : normalMs;
    await this.inject({ kind, node: victim, wasLeader, atMs: Date.now(), plannedMs, quorumLost, healedAtMs: null, error: null });
  }

  private async inject(e: FaultEvent): Promise<void> {
    this.events.push(e);
    for (const id of this.victims(e)) this.conditions.set(id, CONDITION_OF[e.kind]);
    const what = `${e.kind} ${e.node}${e.wasLeader ? ' (leader)' : ''}${e.kind === 'restart' ? '' : ` for ${(e.plannedMs / 1000).toFixed(1)} s`}${e.quorumLost ? ', majority down' : ''}`;
    this.o.log(`[${this.elapsed()}] fault: ${what}`);
    try {
      if (e.kind === 'kill') await this.o.target.kill(e.node);
      else if (e.kind === 'pause') await this.o.target.pause(e.node);
      else if (e.kind === 'partition') await this.o.target.disconnect(e.node);
      else if (e.kind === 'churn') await this.churnOut(e);
      else if (e.kind === 'freeze') await Promise.all(this.victims(e).map((id) => this.o.target.pause(id)));
      if (e.kind !== 'restart') e.atMs = Date.now();
    } catch (err) {
      e.error = `inject: ${(err as Error).message}`;
      this.o.log(`[${this.elapsed()}] fault ${e.kind} ${e.node} failed: ${e.error}`);
    }
    const heal = this.heal(e).finally(() => this.healing.delete(heal));
    this.healing.add(heal);
  }

  private async heal(e: FaultEvent): Promise<void> {
    await sleep(e.plannedMs, this.stopping.signal);
    try {
      switch (e.kind) {
        case 'kill':
          await this.o.target.revive(e.node);
          break;
        case 'pause':
          await this.o.target.resume(e.node);
          break;
        case 'restart':
          await this.o.target.restart(e.node);
          break;
        case 'partition':
          await this.o.target.reconnect(e.node);
          break;
        case 'churn':
          await this.churnIn(e);
          break;
        case 'freeze':
          await Promise.all(this.victims(e).map((id) => this.o.target.resume(id)));
          break;
      }
    } catch (err) {
      e.error = `${e.error ?? ''}heal: ${(err as Error).message}`;
      this.o.log(`[${this.elapsed()}] healing ${e.kind} ${e.node} failed: ${(err as Error).message}`);
    }
    e.healedAtMs = Date.now();
    for (const id of this.victims(e)) this.conditions.set(id, 'up');
  }

  private victims(e: FaultEvent): string[] {
    return e.node === EVERY_NODE ? [...this.conditions.keys()] : [e.node];
  }

  /**
   * Removes the node over the admin API; wipes it only once it says it was removed
   * (a committed removal: see churn.ts), else stops it with its data.
   */
  private async churnOut(e: FaultEvent): Promise<void> {
    const removal = await removeMember(this.churnContext(), e.node);
    e.note = `DELETE answered ${removal.answers.join(',') || 'nothing'}; the node ${removal.nodeKnew ? 'reported removed: true' : 'never reported removed'}`;
    this.o.log(`[${this.elapsed()}] churn ${e.node}: out (${e.note})`);
    if (removal.nodeKnew) {
      await this.o.target.wipe(e.node);
      this.wiped.add(e.node);
    } else {
      await this.o.target.kill(e.node);
    }
    if (!removal.committed) throw new Error(`the removal of ${e.node} did not commit within ${CHURN_STEP_TIMEOUT_MS} ms (${e.note})`);
  }

  private async churnIn(e: FaultEvent): Promise<void> {
    if (this.wiped.delete(e.node)) await this.o.target.rejoin(e.node);
    else await this.o.target.revive(e.node);
    const url = this.o.target.nodes.find((n) => n.id === e.node)!.url;
    const back = await addBack(this.churnContext(), e.node, url);
    if (back.kind === 'failed') throw new Error(back.why);
    e.note = `${e.note ?? ''}; added back and promoted`;
    this.o.log(`[${this.elapsed()}] churn ${e.node}: back as a voter`);
  }

  /** Churn steps run to the end even while the scheduler stops: a half-removed node is no state to leave. */
  private churnContext(): { nodes: ChaosTarget['nodes']; stepTimeoutMs: number; signal: AbortSignal } {
    return { nodes: this.o.target.nodes, stepTimeoutMs: CHURN_STEP_TIMEOUT_MS, signal: new AbortController().signal };
  }

  private elapsed(): string {
    return `${((Date.now() - this.startedMs) / 1000).toFixed(1)}s`;
  }
}

export interface FailoverStats {
  /** One sample per leader fault: ms from the fault to the next transfer committed after it. */
  readonly samplesMs: readonly number[];
  readonly leaderFaults: number;
  /** Leader faults after which no transfer committed before the run ended. */
  readonly unobserved: number;
  readonly p50Ms: number | null;
  readonly maxMs: number | null;
}

/**
 * Failover time of each fault that hit the leader: from the fault to the first answer of a
 * transfer committed by a decision made after it (decidedAt >= fault time; an answer that
 * arrives later for a decision made before the fault does not count).
 */
export function failoverStats(
  events: readonly FaultEvent[],
  transfers: readonly { apiOutcome: string | null; endedAtMs: number | null; decidedAtMs: number | null }[],
): FailoverStats {
  const commits = transfers
    .filter((t) => t.apiOutcome === 'committed' && t.endedAtMs !== null)
    .map((t) => ({ endedAtMs: t.endedAtMs!, decidedAtMs: t.decidedAtMs ?? t.endedAtMs! }));
  const samples: number[] = [];
  let leaderFaults = 0;
  for (const e of events) {
    if (!e.wasLeader || e.error !== null) continue;
    leaderFaults++;
    let first = Infinity;
    for (const c of commits) if (c.decidedAtMs >= e.atMs && c.endedAtMs < first) first = c.endedAtMs;
    if (first !== Infinity) samples.push(first - e.atMs);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samplesMs: samples,
    leaderFaults,
    unobserved: leaderFaults - samples.length,
    p50Ms: sorted.length === 0 ? null : sorted[Math.ceil(sorted.length / 2) - 1]!,
    maxMs: sorted.length === 0 ? null : sorted[sorted.length - 1]!,
  };
}
