// Cluster membership: who votes, who only learns, and which single-server
// changes (thesis §4.1) are allowed. A configuration is a complete member list;
// the log derives the current one from its last config entry (see log.ts).
import { assert } from './assert.js';
import type { ConfChange, Member, NodeId } from './types.js';

export function votersOf(members: readonly Member[]): NodeId[] {
  return members.filter((m) => m.voter).map((m) => m.id);
}

export function findMember(members: readonly Member[], id: NodeId): Member | undefined {
  return members.find((m) => m.id === id);
}

export function isVoter(members: readonly Member[], id: NodeId): boolean {
  return findMember(members, id)?.voter === true;
}

/** Programmer-error check on a configuration the core is about to adopt. */
export function assertValidMembers(members: readonly Member[]): void {
  const ids = new Set(members.map((m) => m.id));
  assert(ids.size === members.length, () => `duplicate member ids in ${JSON.stringify(members)}`);
}

export type ConfChangeResult = { readonly ok: true; readonly members: readonly Member[] } | { readonly ok: false; readonly why: string };

/**
 * Applies one single-server change to `members`. Each change moves the voter
 * set by at most one server, so any majority of the old and the new
 * configuration overlap (thesis §4.1) and no joint consensus is needed.
 */
export function applyConfChange(members: readonly Member[], change: ConfChange): ConfChangeResult {
  const existing = findMember(members, change.id);
  switch (change.type) {
    case 'addLearner':
      if (change.id.length === 0) return { ok: false, why: 'member id must not be empty' };
      if (existing) return { ok: false, why: `${change.id} is already a member` };
      return { ok: true, members: [...members, { id: change.id, url: change.url, voter: false }] };
    case 'promote':
      if (!existing) return { ok: false, why: `${change.id} is not a member` };
      if (existing.voter) return { ok: false, why: `${change.id} is already a voter` };
      return { ok: true, members: members.map((m) => (m.id === change.id ? { ...m, voter: true } : m)) };
    case 'remove': {
      if (!existing) return { ok: false, why: `${change.id} is not a member` };
      const next = members.filter((m) => m.id !== change.id);
      if (votersOf(next).length === 0) return { ok: false, why: `removing ${change.id} would leave no voter` };
      return { ok: true, members: next };
    }
  }
}

/** Same ids, urls and voter flags in the same order. */
export function sameMembers(a: readonly Member[], b: readonly Member[]): boolean {
  return a.length === b.length && a.every((m, i) => m.id === b[i]?.id && m.url === b[i]?.url && m.voter === b[i]?.voter);
}
