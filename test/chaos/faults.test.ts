// The fault scheduler against a fake target: it keeps a quorum unless it drew a brief
// majority outage (at most one per cooldown), and stop() heals every node it touched.
import { describe, expect, it } from 'vitest';
import type { BankEndpoint } from '../../scripts/chaos/bank.js';
import { EVERY_NODE, FaultScheduler, freezeRangeMs } from '../../scripts/chaos/faults.js';
import type { FaultKind } from '../../scripts/chaos/options.js';
import { Prng } from '../../src/util/random.js';
import type { ChaosTarget, NodeEndpoint, RecordsResult } from '../../scripts/chaos/target.js';

/** Records which nodes are down; the URLs refuse connections (port 1), so nobody says "leader". */
class FakeTarget implements ChaosTarget {
  readonly kind = 'local' as const;
  readonly nodes: NodeEndpoint[] = ['n1', 'n2', 'n3'].map((id) => ({ id, url: 'http://127.0.0.1:1' }));
  readonly banks: BankEndpoint[] = [];
  readonly down = new Set<string>();
  maxDown = 0;
  majorityOutages = 0;
  readonly calls: string[] = [];

  private fault(what: string, id: string): void {
    this.calls.push(`${what} ${id}`);
    if (this.down.has(id)) throw new Error(`${id} is already down`);
    this.down.add(id);
    this.maxDown = Math.max(this.maxDown, this.down.size);
    if (this.down.size >= 2) this.majorityOutages++;
  }

  private heal(what: string, id: string): void {
    this.calls.push(`${what} ${id}`);
    this.down.delete(id);
  }

  async setUp(): Promise<void> {}
  async kill(id: string): Promise<void> {
    this.fault('kill', id);
  }
  async revive(id: string): Promise<void> {
    this.heal('revive', id);
  }
  async pause(id: string): Promise<void> {
    this.fault('pause', id);
  }
  async resume(id: string): Promise<void> {
    this.heal('resume', id);
  }
  async restart(id: string): Promise<void> {
    this.fault('restart', id);
    await new Promise((r) => setTimeout(r, 50));
    this.heal('restarted', id);
  }
  async wipe(id: string): Promise<void> {
    this.fault('wipe', id);
  }
  async rejoin(id: string): Promise<void> {
    this.heal('rejoin', id);
  }
  async disconnect(id: string): Promise<void> {
    this.fault('disconnect', id);
  }
  async reconnect(id: string): Promise<void> {
    this.heal('reconnect', id);
  }
  async readParticipantRecords(): Promise<Map<string, RecordsResult>> {
    return new Map();
  }
  logsHint(): string {
    return '';
  }
  async tearDown(): Promise<void> {}
}

async function runFor(
  ms: number,
  kinds: FaultKind[],
  quorumLossChance: number,
  seed: number,
  freezeMs: readonly [number, number] = [100, 200],
): Promise<{ target: FakeTarget; scheduler: FaultScheduler }> {
  const target = new FakeTarget();
  const scheduler = new FaultScheduler({
    target,
    tracker: { current: () => 'n1' },
    rng: new Prng(seed),
    kinds,
    quorumLossChance,
    gapMinMs: 5,
    gapMaxMs: 20,
    freezeMs,
    log: () => undefined,
  }).start();
  await new Promise((r) => setTimeout(r, ms));
  await scheduler.stop();
  return { target, scheduler };
}

describe('FaultScheduler', () => {
  it('never takes a majority down when quorum loss is not allowed, and heals everything on stop', async () => {
    const { target, scheduler } = await runFor(1_500, ['kill', 'pause', 'partition'], 0, 3);
    expect(scheduler.events.length).toBeGreaterThan(0);
    expect(target.maxDown).toBe(1);
    expect(target.down.size).toBe(0);
    expect(scheduler.down()).toEqual([]);
    expect(scheduler.skipped).toBeGreaterThan(0);
    expect(scheduler.events.every((e) => e.healedAtMs !== null && e.error === null)).toBe(true);
  });

  it('allows a brief majority outage when drawn, at most once per cooldown', async () => {
    const { target, scheduler } = await runFor(1_500, ['kill', 'pause'], 1, 5);
    expect(target.maxDown).toBe(2);
    expect(scheduler.events.filter((e) => e.quorumLost)).toHaveLength(1);
    expect(target.down.size).toBe(0);
  });

  it('draws the same faults from the same seed (victims depend on who is up)', async () => {
    const kinds = async (seed: number) => (await runFor(300, ['kill', 'pause', 'restart'], 0, seed)).scheduler.events.map((e) => e.kind);
    const a = await kinds(11);
    const b = await kinds(11);
    const n = Math.min(a.length, b.length);
    expect(n).toBeGreaterThan(0);
    expect(a.slice(0, n)).toEqual(b.slice(0, n));
  });

  it('a freeze pauses every node at once, only from a whole cluster, and resumes them all', async () => {
    const { target, scheduler } = await runFor(1_500, ['freeze', 'pause'], 0, 7, [60, 120]);
    const freezes = scheduler.events.filter((e) => e.kind === 'freeze');
    expect(freezes.length).toBeGreaterThan(0);
    expect(freezes.every((e) => e.node === EVERY_NODE && e.quorumLost && e.wasLeader && e.error === null)).toBe(true);
    expect(target.maxDown).toBe(3);
    // Every freeze paused the three nodes together (the fake refuses a pause of a node already down).
    const paused = target.calls.filter((c) => c.startsWith('pause'));
    expect(paused.length).toBeGreaterThanOrEqual(3 * freezes.length);
    expect(scheduler.skipped).toBeGreaterThan(0); // drawn while a pause was on: skipped
    expect(target.down.size).toBe(0);
    expect(scheduler.down()).toEqual([]);
  });

  it('a freeze outlasts what a precommitted bank needs to commit on its own, 2-3 times over', () => {
    // quiet 1 s + 3PC window 2 s + one inquiry per node at 0.5 s each
    expect(freezeRangeMs({ resolveAfterMs: 1_000, threePcTimeoutMs: 2_000, inquiryTimeoutMs: 500 }, 3)).toEqual([9_000, 13_500]);
  });
});
