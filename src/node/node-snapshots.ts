// The node's snapshots: a leader's snapshot installed into the state machine, and
// local snapshots taken at a Ready boundary, written in the background and handed
// to the core between Readys once durable (the rules are background-snapshots.ts's;
// this class does the I/O around them). Also the applied state as a snapshot, for a
// backup. The Ready loop (raft-node.ts) calls in at fixed points; what this needs
// of the node comes in NodeSnapshotsDeps, so nothing here reaches back into it.
//
// Local snapshots and state digests are captured where the state is exactly
// that of their index and encoded in slices off the loop (snapshot-slicer.ts).
// A local snapshot due at the end of a Ready takes the latest digest's encoding
// when that one is recent enough to count as this period's snapshot (the node
// whose phase is 0 snapshots where every node digests): one serialization.
//
// WHY a digest captured during a Ready is queued for encoding only at its end:
// the Ready awaits its save after applying, and a LevelDB save completes in a
// later turn of the event loop, after the slicer's first slice of a digest
// queued at once had run; an encoding under way can no longer send its bytes to
// a snapshot file, so the snapshot due at the end of that Ready encoded the
// state a second time (test/node/sliced-snapshots.test.ts, saves that settle in
// a later turn).
import { RatifyError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RaftMetrics } from '../metrics.js';
import type { RaftCoreApi } from '../raft/api.js';
import type { SnapshotEncoding, StateMachine } from '../raft/state-machine.js';
import type { Snapshot, SnapshotBytes, SnapshotMeta } from '../raft/types.js';
import type { RaftStorage, SnapshotWriter } from '../storage/raft-storage.js';
import type { AppliedMembership } from './applied-membership.js';
import type { AppliedPosition } from './applied-position.js';
import { BackgroundSnapshots } from './background-snapshots.js';
import { stopRequested, takesCalls, type NodeLifecycle } from './node-lifecycle.js';
import type { PendingProposals } from './pending-proposals.js';
import { encodedAlready, SnapshotSlicer, type EncodedSnapshot } from './snapshot-slicer.js';
import type { StateDigests } from './state-digests.js';

export interface NodeSnapshotsDeps {
  readonly thresholdEntries: number;
  /** This node's offset within the threshold (snapshotPhaseEntries). */
  readonly phaseEntries: number;
  readonly storage: Pick<RaftStorage, 'snapshotWriter'>;
  readonly stateMachine: Pick<StateMachine, 'snapshot' | 'restore' | 'captureSnapshot'>;
  readonly core: Pick<RaftCoreApi, 'snapshotIndex' | 'compact'>;
  /** Moved by an installed snapshot; read for a local one. */
  readonly applied: AppliedPosition;
  readonly appliedMembers: AppliedMembership;
  readonly digests: StateDigests | null;
  readonly proposals: Pick<PendingProposals, 'rejectUpTo'>;
  readonly metrics: RaftMetrics | undefined;
  readonly log: Logger;
  /** Runs a core call; a throw there fails the node, and is rethrown as INTERNAL. */
  readonly guard: <T>(fn: () => T) => T;
  readonly lifecycle: () => NodeLifecycle;
  /** Whether a Ready is being processed: the core's log must not be compacted under it. */
  readonly readyInFlight: () => boolean;
  /** A storage error: the node fails. */
  readonly fail: (err: unknown) => void;
  /** Encoding work per event-loop turn (SLICE_MS_DEFAULT if absent). */
  readonly sliceMs?: number;
}

/** A state captured at an index, being encoded. */
interface Capture {
  readonly meta: SnapshotMeta;
  readonly encoded: Promise<EncodedSnapshot>;
}

/** A digest's state, captured at its index during a Ready and not queued for encoding yet. */
interface HeldDigest {
  readonly meta: SnapshotMeta;
  readonly encoding: SnapshotEncoding;
}

export class NodeSnapshots {
  private readonly background: BackgroundSnapshots;
  /** The encoding and then the background write of a local snapshot, for stop() to wait on. */
  private writing: Promise<void> | null = null;
  private readonly slicer: SnapshotSlicer;
  /** Digests captured in the Ready under way, oldest first; queued for encoding at its end (maybeTake). */
  private heldDigests: HeldDigest[] = [];

  constructor(private readonly deps: NodeSnapshotsDeps) {
    this.background = new BackgroundSnapshots(deps.thresholdEntries, deps.phaseEntries);
    this.slicer = new SnapshotSlicer(deps.sliceMs);
  }

  /**
   * Right after the state reached `index` (an entry applied, or a snapshot
   * installed), within a Ready, while the state machine holds exactly the state
   * at `index`: captures it for a digest if one is due there. The capture is
   * queued for encoding at the end of the Ready (maybeTake), and the digest
   * recorded once encoded.
   */
  appliedTo(index: number): void {
    const { digests } = this.deps;
    if (digests === null || !digests.due(index)) return;
    this.heldDigests.push({ meta: this.appliedMeta(), encoding: this.captureEncoding() });
  }

  /** Queues a held digest for encoding (only the sha256 is wanted unless a local snapshot joins it: maybeTake). */
  private queueDigest(held: HeldDigest, digests: StateDigests): Capture {
    const { log } = this.deps;
    const index = held.meta.index;
    const capture: Capture = { meta: held.meta, encoded: this.slicer.encode(index, () => held.encoding, null) };
    capture.encoded.then(
      (e) => digests.record({ index: e.index, sha256: e.sha256 }),
      (err: unknown) => {
        if (stopRequested(this.deps.lifecycle())) return;
        if (err instanceof RatifyError && err.code === 'TOO_MANY_PENDING') log.warn({ index, err }, 'skipped the state digest');
        else this.deps.fail(err);
      },
    );
    return capture;
  }

  /** The meta of the state now: the applied index and term, and the applied members. */
  private appliedMeta(): SnapshotMeta {
    const { applied, appliedMembers } = this.deps;
    return { index: applied.index, term: applied.term, members: appliedMembers.members };
  }

  /** The state now (at the applied index), captured and queued for encoding; its bytes go to `sink`, if any. */
  private capture(sink: SnapshotWriter | null, meta = this.appliedMeta()): Capture {
    return { meta, encoded: this.slicer.encode(meta.index, () => this.captureEncoding(), sink) };
  }

  /** The state now, captured for encoding (cheap: references; see StateMachine.captureSnapshot). */
  private captureEncoding(): SnapshotEncoding {
    const { stateMachine } = this.deps;
    return stateMachine.captureSnapshot !== undefined ? stateMachine.captureSnapshot() : encodedAlready(stateMachine.snapshot());
  }

  /** The applied state as a snapshot, taken now. Between two inputs the state machine holds exactly the state at the applied index. */
  ofAppliedState(): Snapshot {
    return { meta: this.appliedMeta(), data: this.deps.stateMachine.snapshot() };
  }

  /** A snapshot from the leader, persisted in this Ready: the state machine jumps to it. */
  install(s: Snapshot): void {
    const { applied, stateMachine, appliedMembers, proposals, metrics, log } = this.deps;
    applied.assertAhead(s.meta);
    stateMachine.restore(s.data);
    applied.restored(s.meta);
    appliedMembers.apply(s.meta.members);
    this.appliedTo(applied.index);
    proposals.rejectUpTo(s.meta.index);
    metrics?.snapshotsInstalled.inc();
    log.info({ snapshotIndex: s.meta.index, snapshotTerm: s.meta.term, bytes: s.data.length }, 'installed snapshot from leader');
  }

  /**
   * At the end of a Ready: queues the digests it captured, and starts a local
   * snapshot when one is due (see background-snapshots.ts).
   */
  maybeTake(): void {
    const held = this.heldDigests;
    this.heldDigests = [];
    const { digests } = this.deps;
    let shared: Capture | null = null;
    if (digests !== null) for (const h of held) shared = this.queueDigest(h, digests);
    // The newest digest's encoding has not started (it starts in a later turn), so a snapshot can still take its bytes.
    if (this.writing !== null) return;
    const coreSnapshotIndex = this.deps.core.snapshotIndex();
    if (!this.background.due(this.deps.applied.index, coreSnapshotIndex)) return;
    // Captured here, at a Ready boundary, so the bytes are exactly the state at the applied index;
    // or at the index of a digest captured in this Ready, if that alone would have been due.
    let take: { readonly capture: Capture; readonly writer: SnapshotWriter } | null = null;
    if (shared !== null && this.background.due(shared.meta.index, coreSnapshotIndex)) {
      const writer = this.deps.storage.snapshotWriter(shared.meta);
      const encoded = this.slicer.writeInto(shared.meta.index, writer);
      if (encoded !== null) take = { capture: { meta: shared.meta, encoded }, writer };
      else void writer.abort(); // nothing written yet: a no-op, said for the writer's sake
    }
    if (take === null) {
      const meta = this.appliedMeta();
      const writer = this.deps.storage.snapshotWriter(meta);
      take = { capture: this.capture(writer, meta), writer };
    }
    this.background.started({ meta: take.capture.meta });
    this.writing = this.encodeAndStore(take.capture, take.writer).finally(() => {
      this.writing = null;
    });
  }

  /**
   * At stop: abandons the encodings under way (a digest or snapshot not encoded
   * yet is not taken) and waits for a snapshot write in flight.
   */
  async settle(): Promise<void> {
    await this.slicer.abandon();
    await this.writing;
  }

  /** Waits for the encoding to have sent every byte to `writer`, then commits it: durable, and the log compacted. */
  private async encodeAndStore(capture: Capture, writer: SnapshotWriter): Promise<void> {
    try {
      await capture.encoded;
    } catch (err) {
      this.background.abandoned();
      await writer.abort();
      if (stopRequested(this.deps.lifecycle())) return;
      // Too many encodings queued: the next Ready tries again. A failed file write or a throw of snapshot() fails the node.
      if (err instanceof RatifyError && err.code === 'TOO_MANY_PENDING') this.deps.log.warn({ err }, 'deferred a local snapshot');
      else this.deps.fail(err);
      return;
    }
    if (!takesCalls(this.deps.lifecycle())) {
      this.background.abandoned();
      await writer.abort();
      return;
    }
    let stored: SnapshotBytes;
    try {
      stored = await writer.commit();
    } catch (err) {
      this.background.abandoned();
      if (!stopRequested(this.deps.lifecycle())) this.deps.fail(err);
      return;
    }
    // The core keeps what the storage gave back: a reader over the file.
    this.background.written(stored);
    // With no Ready in flight the core takes it now; else the loop hands it over after that Ready.
    if (!this.deps.readyInFlight()) this.handOver();
  }

  /** Between Readys: gives the core the durable local snapshot, if there is one, so it compacts its log. */
  handOver(): void {
    if (!takesCalls(this.deps.lifecycle())) return;
    const { core, guard, metrics, log } = this.deps;
    const snapshot = this.background.takeDurable(core.snapshotIndex());
    if (snapshot === null) return;
    try {
      guard(() => core.compact(snapshot.meta, snapshot.data));
    } catch {
      return; // guard() already failed the node
    }
    metrics?.snapshotsTaken.inc();
    log.info({ snapshotIndex: snapshot.meta.index, bytes: snapshot.data.byteLength }, 'took snapshot and compacted the log');
  }
}
