// The end of every schedule: stop the chaos and require progress.
//
// Heal every partition, make the network reliable, restart every crashed member
// first (with two or four voters a quorum is all or all but one of them, so
// progress may need every one) and shut down nodes the settled configuration no
// longer contains (a real operator stops removed servers). Then, within a bounded number of ticks, a leader must
// exist, a fresh proposal must commit and be applied by every member (so every
// entry ever committed is applied everywhere: Durability), and a ReadIndex on the
// leader must be answered at or above that proposal.
import type { NodeId } from '../../src/raft/types.js';
import { Cluster } from './cluster.js';
import { RELIABLE } from './network.js';
import type { SimNode } from './sim-node.js';
import { violation } from './violation.js';

export interface LivenessResult {
  readonly ticks: number;
  readonly leaderId: NodeId;
  readonly index: number;
}

interface Pending {
  readonly data: string;
  readonly index: number;
  readonly term: number;
}

export function settle(cluster: Cluster, maxTicks: number): LivenessResult {
  cluster.heal();
  cluster.network.setFaults(RELIABLE);
  for (const n of cluster.nodes.values()) {
    n.armedCrash = null;
    if (!n.alive && !n.retired) cluster.restart(n.id);
  }
  let pending: Pending | null = null;
  let readId: { node: NodeId; requestId: number } | null = null;
  let attempt = 0;
  for (let tick = 1; tick <= maxTicks; tick++) {
    cluster.tickAll();
    cluster.quiesce();
    cluster.endStep();
    const leader = cluster.leader();
    if (leader === null) continue;
    const leaderTerm = cluster.status(leader.id).term;
    retireOutsiders(cluster, leader, leaderTerm);
    if (pending === null || lost(cluster, pending, leaderTerm)) {
      const data = `liveness-${attempt++}`;
      const r = cluster.propose(leader.id, data);
      pending = r.ok ? { data, index: r.index, term: r.term } : null;
      continue;
    }
    if (!appliedEverywhere(cluster, leader, pending)) continue;
    if (readId === null || readId.node !== leader.id || leader.droppedReads.has(readId.requestId)) {
      readId = { node: leader.id, requestId: cluster.readIndex(leader.id) };
      continue;
    }
    const readIndex = leader.readResults.get(readId.requestId);
    if (readIndex === undefined) continue;
    if (readIndex < pending.index) violation('read-linearizability', `final read on ${leader.id} got ${readIndex} < ${pending.index}`);
    return { ticks: tick, leaderId: leader.id, index: pending.index };
  }
  return violation('liveness', `no progress within ${maxTicks} ticks after healing: ${describe(cluster, pending)}`);
}

/**
 * Nodes outside the leader's config are gone for good once that config is
 * final: no term above the leader's exists anywhere (else a deposed leader
 * could be looking at a config a newer leader already replaced), the leader
 * applied an entry of its own term (so everything before it is committed, and
 * any other log's uncommitted config entry can never commit) and its latest
 * config is the applied one.
 */
function retireOutsiders(cluster: Cluster, leader: SimNode, leaderTerm: number): void {
  if (leader.sm.appliedTerm !== leaderTerm || !cluster.configSettled(leader)) return;
  const ids = new Set(leader.sm.members.map((m) => m.id));
  const outsiders = [...cluster.nodes.values()].filter((n) => !n.retired && !ids.has(n.id));
  if (outsiders.length === 0 || highestTerm(cluster) > leaderTerm) return;
  for (const n of outsiders) {
    cluster.log(`retire ${n.id} (not in settled config)`);
    n.retire();
  }
}

/**
 * The highest term of any node that may still act, or of any message in flight
 * that carries log entries (a retired node's last appends may still arrive).
 */
function highestTerm(cluster: Cluster): number {
  let max = 0;
  for (const n of cluster.nodes.values()) {
    if (n.retired) continue;
    max = Math.max(max, n.alive ? cluster.status(n.id).term : n.disk.hardState.term);
  }
  for (const m of cluster.network.peek()) {
    if (m.type === 'append' || m.type === 'snapshot') max = Math.max(max, m.term);
  }
  return max;
}

/** The proposal was overwritten, or its leader is gone before it committed. */
function lost(cluster: Cluster, p: Pending, leaderTerm: number): boolean {
  const applied = cluster.checker.appliedAt(p.index);
  if (applied !== undefined) return applied.fp !== Cluster.fingerprintOf(p.data) || applied.term !== p.term;
  return leaderTerm !== p.term;
}

function appliedEverywhere(cluster: Cluster, leader: SimNode, p: Pending): boolean {
  const applied = cluster.checker.appliedAt(p.index);
  if (applied === undefined || applied.fp !== Cluster.fingerprintOf(p.data)) return false;
  const target = Math.max(p.index, cluster.checker.maxCommittedIndex);
  return cluster.status(leader.id).members.every((m) => {
    const n = cluster.nodes.get(m.id);
    return n !== undefined && n.alive && n.sm.appliedIndex >= target;
  });
}

function describe(cluster: Cluster, p: Pending | null): string {
  const nodes = [...cluster.nodes.values()].map((n) => {
    if (n.retired) return `${n.id}:retired`;
    if (!n.alive) return `${n.id}:down`;
    const st = cluster.status(n.id);
    return `${n.id}:${st.role}/t${st.term} commit=${st.commitIndex} applied=${n.sm.appliedIndex} last=${st.lastIndex}`;
  });
  const proposal = p === null ? 'none accepted' : `${p.data}@${p.index}/${p.term}`;
  return `proposal ${proposal}; maxCommitted=${cluster.checker.maxCommittedIndex}; ${nodes.join('; ')}`;
}
