// The configuration a node acts on: the membership set by the last config entry
// in its log, committed or not (thesis §4.1: a config takes effect as soon as it
// is appended), reverting when a truncation removes that entry.
import type { ConfigAt, RaftLog } from './log.js';
import { assertValidMembers, isVoter, votersOf } from './membership.js';
import type { Entry, Member, NodeId } from './types.js';

/** Membership in effect after the last log entry, and the entry that set it. */
export interface CurrentConfig extends ConfigAt {
  /** Term of the entry at `index`, to notice when a truncation replaced it. */
  readonly term: number;
}

export class ConfigState {
  private current: CurrentConfig;
  private replaced: { readonly of: CurrentConfig; readonly members: readonly Member[] } | null = null;
  private votersCache: { readonly members: readonly Member[]; readonly voters: readonly NodeId[] } | null = null;

  constructor(
    private readonly log: RaftLog,
    /** Membership when neither a snapshot nor a config entry says otherwise. */
    private readonly bootstrapMembers: readonly Member[],
  ) {
    this.current = this.scan();
  }

  get members(): readonly Member[] {
    return this.current.members;
  }

  /** Index of the entry (or snapshot) that set the current config; 0 for bootstrap. */
  get index(): number {
    return this.current.index;
  }

  /** The current voters. Cached per membership: the leader asks on every acknowledgement. */
  voters(): readonly NodeId[] {
    const members = this.current.members;
    if (this.votersCache?.members !== members) this.votersCache = { members, voters: votersOf(members) };
    return this.votersCache.voters;
  }

  isVoter(id: NodeId): boolean {
    return isVoter(this.current.members, id);
  }

  /** The config set by the last config entry (or snapshot) in the log. */
  scan(): CurrentConfig {
    const at = this.log.lastConfig();
    if (at === null) return { index: 0, term: 0, members: this.bootstrapMembers };
    return { ...at, term: this.log.termAt(at.index) ?? 0 };
  }

  /** Members in effect as of `index` (for snapshots and the committed config). */
  membersAt(index: number): readonly Member[] {
    return this.log.configAt(index)?.members ?? this.bootstrapMembers;
  }

  /**
   * The config after a follower appended `appended` (maybe truncating first),
   * or null when it did not change. A truncated config entry reverts to the
   * one before it; a stale append re-sending an older config entry changes nothing.
   */
  afterAppend(appended: readonly Entry[]): CurrentConfig | null {
    let next: CurrentConfig | null = null;
    if (this.truncated()) {
      next = this.scan();
    } else {
      const e = appended.findLast((x) => x.kind === 'config');
      if (e?.kind === 'config' && e.index > this.current.index) next = { index: e.index, term: e.term, members: e.members };
    }
    if (next === null || (next.index === this.current.index && next.term === this.current.term)) return null;
    return next;
  }

  set(next: CurrentConfig): void {
    assertValidMembers(next.members);
    this.current = next;
  }

  /**
   * `id` may stand for election: a voter of the latest configuration, or, while
   * that one is not known to be committed, of the configuration it replaces
   * (which is committed: changes go one at a time). The second case is a leader
   * that removed itself and lost leadership before the removal committed: its
   * log may hold the only copy of C_new, and C_old's other voters cannot win
   * without its vote, which its longer log denies them (two voters deadlock for
   * good). It campaigns, counts votes and acks by C_new, and steps down once
   * C_new commits (thesis §4.2.2).
   */
  electable(id: NodeId): boolean {
    if (this.isVoter(id)) return true;
    if (this.current.index <= this.log.commitIndex) return false;
    return isVoter(this.replacedMembers(), id);
  }

  /** Members of the config the current one replaced; looked up once per config, not per call. */
  private replacedMembers(): readonly Member[] {
    const c = this.current;
    if (this.replaced?.of !== c) this.replaced = { of: c, members: c.index === 0 ? this.bootstrapMembers : this.membersAt(c.index - 1) };
    return this.replaced.members;
  }

  /** The entry that set the current config was overwritten (compaction keeps it valid). */
  private truncated(): boolean {
    const c = this.current;
    return c.index > this.log.lastIndex() || (c.index > this.log.snapshotIndex && !this.log.matchTerm(c.index, c.term));
  }
}
