// SCRATCH (review): small-cluster chaos using the sim harness. Not to be kept.
import { it } from 'vitest';
import { RaftCore } from '../../src/raft/raft.js';
import { Cluster, member } from '../sim/cluster.js';
import { settle } from '../sim/liveness.js';
import { Rng } from '../sim/rng.js';

function run(seed: number): void {
  const rng = new Rng(seed).fork('p');
  const voters = rng.pick([1, 2, 2, 3, 4]);
  const electionTicks = rng.range(3, 10);
  const cluster = new Cluster({
    seed, voters, maxNodes: voters + 4,
    raft: { electionTicks, heartbeatTicks: rng.range(1, Math.min(3, electionTicks - 1)), maxInflightAppends: rng.pick([1, 2, 4]), maxAppendBytes: rng.pick([1, 64, 1024]),
      snapshotChunkBytes: rng.pick([16, 512]), maxUncommittedEntries: rng.pick([4, 256]), preVote: rng.chance(0.5), checkQuorum: rng.chance(0.5) },
    faults: { dropRate: rng.pick([0, 0.1]), duplicateRate: rng.pick([0, 0.1]), delayMaxSteps: rng.pick([0, 8, 30]) },
    maxInFlight: 400, snapshotEveryEntries: rng.range(2, 20), drainProbability: rng.pick([0.5, 1]),
    coreFactory: (c, i) => new RaftCore(c, i), traceLines: Number(process.env.FZT ?? 0),
  });
  const r = new Rng(seed).fork('s');
  let p = 0;
  const leaders = () => cluster.alive().filter((n) => cluster.status(n.id).role === 'leader');
  for (let step = 0; step < 1500; step++) {
    const x = r.next() * 100;
    const alive = cluster.alive();
    const any = alive.length ? r.pick(alive).id : null;
    const ls = leaders();
    const L = ls.length ? r.pick(ls).id : null;
    if (x < 60) { for (let i = 0; i < 2; i++) cluster.deliverOne(); }
    else if (x < 75) cluster.tickAll(0.1);
    else if (x < 83) { if (L) cluster.propose(L, `s${seed}-${p++}`); }
    else if (x < 85) { if (any) cluster.readIndex(any); }
    else if (x < 87) { if (any) cluster.crash(any, r.pick(['now', 'afterPersist', 'afterSend'] as const)); }
    else if (x < 90) { const down = [...cluster.nodes.values()].filter((n) => !n.alive && !n.retired); if (down.length) cluster.restart(r.pick(down).id); }
    else if (x < 91) { const ids = [...cluster.nodes.values()].filter((n) => !n.retired).map((n) => n.id); const g: string[][] = [[], []]; for (const id of ids) g[r.int(2)]!.push(id); cluster.partition(g); }
    else if (x < 93) cluster.heal();
    else if (x < 97) {
      if (L) {
        const ms = cluster.status(L).members; const vs = ms.filter((m) => m.voter); const ln = ms.filter((m) => !m.voter);
        const c = r.next();
        if (ln.length && c < 0.5) cluster.confChange(L, { type: 'promote', id: r.pick(ln).id });
        else if (ln.length && c < 0.6) cluster.confChange(L, { type: 'remove', id: r.pick(ln).id });
        else if (vs.length > 1 && c < 0.8) cluster.confChange(L, { type: 'remove', id: r.pick(vs).id });
        else if (vs.length < 5) { const s = cluster.spawnSpare(); if (s) { const res = cluster.confChange(L, { type: 'addLearner', id: s.id, url: member(s.id, false).url }); if (!res.ok) cluster.discardSpare(s.id); } }
      }
    } else { if (L) { const vs = cluster.status(L).members.filter((m) => m.voter && m.id !== L); if (vs.length) cluster.transfer(L, r.pick(vs).id); } }
    cluster.endStep();
  }
  try { settle(cluster, 50 * electionTicks); } catch (e) {
    if (process.env.FZT) {
      console.log(cluster.trace.dump().join('\n'));
      for (const n of cluster.nodes.values()) if (n.alive) { const st = cluster.status(n.id); console.log(n.id, st.role, st.term, 'commit', st.commitIndex, 'last', st.lastIndex, JSON.stringify(st.members.map((m) => m.id + (m.voter ? '+' : '-'))), 'vote', st.hardState.vote); }
    }
    throw e;
  }
}

it('small clusters', { timeout: 1_200_000 }, () => {
  const n = Number(process.env.FZ ?? 500);
  const base = Number(process.env.FZB ?? 1);
  const fails: string[] = [];
  for (let s = base; s < base + n; s++) {
    try { run(s); } catch (e) { fails.push(`seed ${s}: ${(e as Error).message.slice(0, 400)}`); if (fails.length > 5) break; }
  }
  if (fails.length) throw new Error(fails.join('\n'));
});
