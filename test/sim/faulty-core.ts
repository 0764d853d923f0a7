// Deliberately broken cores, wrapping a real one, to prove the checkers can fail.
// Each wrapper changes what one node's Readys say and hands the untouched Ready
// back to the real core in advance(), so only the harness sees the lie.
import type { CoreStatus, RaftCoreApi } from '../../src/raft/api.js';
import type { LocalState } from '../../src/raft/plausibility.js';
import type { ConfChange, Member, Message, NodeId, ProposeResult, Ready, SnapshotBytes, SnapshotMeta } from '../../src/raft/types.js';
import type { CoreFactory } from './sim-node.js';

export type ReadyRewrite = (rd: Ready) => Ready;

class RewritingCore implements RaftCoreApi {
  private readonly originals = new WeakMap<Ready, Ready>();

  constructor(
    private readonly inner: RaftCoreApi,
    private readonly rewrite: ReadyRewrite,
  ) {}

  tick(): void {
    this.inner.tick();
  }
  step(msg: Message): void {
    this.inner.step(msg);
  }
  propose(data: Uint8Array): ProposeResult {
    return this.inner.propose(data);
  }
  proposeConfChange(change: ConfChange): ProposeResult {
    return this.inner.proposeConfChange(change);
  }
  readIndex(requestId: number): void {
    this.inner.readIndex(requestId);
  }
  transferLeadership(to: NodeId): ProposeResult {
    return this.inner.transferLeadership(to);
  }
  hasReady(): boolean {
    return this.inner.hasReady();
  }
  ready(): Ready {
    const original = this.inner.ready();
    const changed = this.rewrite(original);
    this.originals.set(changed, original);
    return changed;
  }
  advance(ready: Ready): void {
    this.inner.advance(this.originals.get(ready) ?? ready);
  }
  takeHeartbeats(): Message[] {
    return this.inner.takeHeartbeats();
  }
  compact(meta: SnapshotMeta, data: SnapshotBytes): void {
    this.inner.compact(meta, data);
  }
  snapshotStored(meta: SnapshotMeta, data: SnapshotBytes): void {
    this.inner.snapshotStored(meta, data);
  }
  status(): CoreStatus {
    return this.inner.status();
  }
  snapshotIndex(): number {
    return this.inner.snapshotIndex();
  }
  members(): readonly Member[] {
    return this.inner.members();
  }
  localState(): LocalState {
    return this.inner.localState();
  }
}

/**
 * A factory whose node `target` rewrites every Ready. `makeRewrite` runs once per
 * core instance, so a stateful rewrite behaves the same when a seed is replayed.
 */
export function faultyFactory(real: CoreFactory, target: NodeId, makeRewrite: () => ReadyRewrite): CoreFactory {
  return (config, initial) => {
    const core = real(config, initial);
    return config.id === target ? new RewritingCore(core, makeRewrite()) : core;
  };
}

/**
 * Claims to accept removing the last voter, as a core without that guard would
 * (the real core still refuses it underneath and appends nothing).
 */
class LastVoterRemovingCore extends RewritingCore {
  constructor(inner: RaftCoreApi) {
    super(inner, (rd) => rd);
  }

  override proposeConfChange(change: ConfChange): ProposeResult {
    const r = super.proposeConfChange(change);
    if (r.ok || r.reason !== 'INVALID_CONFIG_CHANGE' || change.type !== 'remove') return r;
    const st = this.status();
    const voters = st.members.filter((m) => m.voter);
    if (voters.length !== 1 || voters[0]?.id !== change.id) return r;
    return { ok: true, index: st.lastIndex + 1, term: st.term };
  }
}

export function lastVoterRemovingFactory(real: CoreFactory): CoreFactory {
  return (config, initial) => new LastVoterRemovingCore(real(config, initial));
}

/**
 * Reports itself leader as soon as it is a candidate, as a core that counted
 * its own vote as a quorum would: two candidates of one term, each with its
 * vote for itself on disk, are then two leaders of that term.
 */
class EagerLeaderCore extends RewritingCore {
  constructor(inner: RaftCoreApi) {
    super(inner, (rd) => (rd.softState?.role === 'candidate' ? { ...rd, softState: { ...rd.softState, role: 'leader' } } : rd));
  }

  override status(): CoreStatus {
    const st = super.status();
    return st.role === 'candidate' ? { ...st, role: 'leader' } : st;
  }
}

export function eagerLeaderFactory(real: CoreFactory): CoreFactory {
  return (config, initial) => new EagerLeaderCore(real(config, initial));
}

const corrupt = new TextEncoder().encode('CORRUPTED');

/** Applies a different payload than the log holds for the first normal entry it applies. */
export function corruptFirstApplied(): ReadyRewrite {
  let done = false;
  return (rd) => {
    if (done) return rd;
    const i = rd.committedEntries.findIndex((e) => e.kind === 'normal');
    if (i < 0) return rd;
    done = true;
    const committedEntries = rd.committedEntries.map((e, k) => (k === i && e.kind === 'normal' ? { ...e, data: corrupt } : e));
    return { ...rd, committedEntries };
  };
}

/** Persists a different payload for every normal entry it stores (a diverging log). */
export function corruptStoredEntries(): ReadyRewrite {
  return (rd) => ({ ...rd, entries: rd.entries.map((e) => (e.kind === 'normal' ? { ...e, data: corrupt } : e)) });
}

/** Never persists its vote. */
export function forgetVotes(): ReadyRewrite {
  return (rd) => (rd.hardState === null ? rd : { ...rd, hardState: { ...rd.hardState, vote: null } });
}

/** Answers every read with index 0 (a stale read). */
export function staleReads(): ReadyRewrite {
  return (rd) => ({ ...rd, readStates: rd.readStates.map((rs) => ({ ...rs, readIndex: 0 })) });
}

/**
 * Throws from step() on node `target` whenever `throwsOn` holds for the message: a core
 * with a programmer error on some input. The harness must report it as `core-threw`
 * (SimNode.guard), naming the node and the call, not crash or pass.
 */
class ThrowingCore extends RewritingCore {
  constructor(
    inner: RaftCoreApi,
    private readonly throwsOn: (msg: Message) => boolean,
  ) {
    super(inner, (rd) => rd);
  }

  override step(msg: Message): void {
    if (this.throwsOn(msg)) throw new Error(`injected fault: ${msg.type} from ${msg.from} in term ${msg.term}`);
    super.step(msg);
  }
}

export function throwingFactory(real: CoreFactory, target: NodeId, throwsOn: (msg: Message) => boolean): CoreFactory {
  return (config, initial) => {
    const core = real(config, initial);
    return config.id === target ? new ThrowingCore(core, throwsOn) : core;
  };
}
