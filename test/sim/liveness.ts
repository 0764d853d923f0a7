// The end of every schedule: stop the chaos and require progress.
//
// Heal every partition, make the network reliable, restart every crashed member
// first (with two or four voters a quorum is all or all but one of them, so
// progress may need every one). Then, within a bounded number of ticks, a leader
// must exist, a fresh proposal must commit and be applied by every member (so
// every entry ever committed is applied everywhere: Durability), a ReadIndex on
// the leader must be answered at or above that proposal, and every node the
// settled configuration no longer contains must be out: one that knows it was
// removed is stopped (by Cluster.endStep, as an operator would), and one that
// would still campaign must find out from a peer that applied its removal
// (MEMBER_REMOVED) rather than campaign forever.
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
    if (unawareOutsiders(cluster, leader).length > 0) continue;
    return { ticks: tick, leaderId: leader.id, index: pending.index };
  }
  const leader = cluster.leader();
  const stuck = leader === null ? [] : unawareOutsiders(cluster, leader);
  if (stuck.length > 0) {
    const who = stuck.map(
      (n) => `${n.id} (${cluster.status(n.id).role}/t${cluster.status(n.id).term}; applied its removal: ${tellers(cluster, n).join(',')})`,
    );
    return violation(
      'liveness',
      `removed node(s) never learned they were removed, and campaign on: ${who.join('; ')}; ${describe(cluster, pending)}`,
    );
  }
  return violation('liveness', `no progress within ${maxTicks} ticks after healing: ${describe(cluster, pending)}`);
}

/** Live nodes outside the leader's configuration that have not stopped yet. */
function unawareOutsiders(cluster: Cluster, leader: SimNode): SimNode[] {
  const ids = new Set(cluster.status(leader.id).members.map((m) => m.id));
  return [...cluster.nodes.values()].filter((n) => n.alive && !ids.has(n.id));
}

/**
 * The nodes that can tell `n` it was removed: live voters of n's own latest
 * configuration (those it campaigns to) that applied its removal.
 */
function tellers(cluster: Cluster, n: SimNode): NodeId[] {
  return cluster
    .status(n.id)
    .members.filter((m) => m.voter && m.id !== n.id)
    .filter((m) => {
      const p = cluster.nodes.get(m.id);
      return p?.alive && p.membership.removed.has(n.id);
    })
    .map((m) => m.id);
}

/**
 * Nodes outside the leader's config are gone for good once that config is
 * final: no member is in a term above the leader's (else a deposed leader could
 * be looking at a config a newer leader already replaced; the newest leader is
 * the one cluster.leader() returns), the leader applied an entry of its own
 * term (so everything before it is committed, and any other log's uncommitted
 * config entry can never commit) and its latest config is the applied one.
 *
 * Such an outsider is stopped here only if it would never campaign (a learner
 * in its own eyes) or if no peer can tell it it was removed (none of the voters
 * it campaigns to applied its removal: they restarted since, or left too).
 * Otherwise it must learn it from a refusal and stop by itself.
 */
function retireOutsiders(cluster: Cluster, leader: SimNode, leaderTerm: number): void {
  if (leader.sm.appliedTerm !== leaderTerm || !cluster.configSettled(leader)) return;
  const ids = new Set(leader.membership.members.map((m) => m.id));
  const outsiders = [...cluster.nodes.values()].filter((n) => !n.retired && !ids.has(n.id));
  if (outsiders.length === 0 || highestMemberTerm(cluster, ids) > leaderTerm) return;
  for (const n of outsiders) {
    if (n.alive && cluster.status(n.id).role !== 'learner' && tellers(cluster, n).length > 0) continue;
    cluster.log(`retire ${n.id} (not in settled config, ${n.alive ? 'nobody can tell it' : 'down'})`);
    n.retire();
  }
}

/**
 * The highest term of any member that may still act, or of any message in
 * flight that carries log entries (a retired node's last appends may still arrive).
 */
function highestMemberTerm(cluster: Cluster, members: ReadonlySet<NodeId>): number {
  let max = 0;
  for (const n of cluster.nodes.values()) {
    if (n.retired || !members.has(n.id)) continue;
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
    return n?.alive && n.sm.appliedIndex >= target;
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
