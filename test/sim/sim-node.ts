// One simulated Ratify node: a RaftCore, its synced disk, the list state machine,
// and a driver that obeys the Ready contract exactly like src/node/ does:
//   0. take a Ready (the core may keep receiving input while it is persisted),
//   1. persist snapshot + entries + hardState (one synced batch),
//   2. hand messages to the network,
//   3. restore the snapshot, apply committed entries, report read states,
//   4. advance(), then maybe take a local snapshot and compact.
// A crash before 1 loses the batch; one can also be armed to hit between 1 and 2
// or between 2 and 3. Either way only the disk survives.
import type { RaftCoreApi } from '../../src/raft/api.js';
import type { InitialState, Member, NodeId, RaftConfig, Ready, Snapshot } from '../../src/raft/types.js';
import { SimDisk } from './disk.js';
import type { InvariantChecker } from './invariants.js';
import type { SimNetwork } from './network.js';
import { ListStateMachine, fingerprint } from './state-machine.js';
import { SimViolation, violation } from './violation.js';

export type CoreFactory = (config: RaftConfig, initial: InitialState) => RaftCoreApi;

/** Where an armed crash hits inside the next Ready. */
export type CrashPoint = 'afterPersist' | 'afterSend';

export interface SimNodeEnv {
  readonly checker: InvariantChecker;
  readonly network: SimNetwork;
  readonly now: () => number;
  readonly coreFactory: CoreFactory;
  /** Config for one incarnation (each restart gets a fresh random stream). */
  readonly configFor: (id: NodeId, incarnation: number) => RaftConfig;
  readonly bootstrapMembers: readonly Member[];
  /** Take a local snapshot once this many entries are applied past the last one. */
  readonly snapshotEveryEntries: number;
}

export class SimNode {
  readonly disk = new SimDisk();
  private coreRef: RaftCoreApi | null = null;
  sm: ListStateMachine;
  incarnation = 0;
  /** Removed from the cluster and shut down for good (ids are never reused). */
  retired = false;
  armedCrash: CrashPoint | null = null;
  /** The Ready being persisted, and the node's term when it was taken. */
  private outstanding: { readonly rd: Ready; readonly term: number } | null = null;
  /** requestId -> readIndex of answered reads, and refused ones; lost on crash like any memory. */
  readonly readResults = new Map<number, number>();
  readonly droppedReads = new Set<number>();
  /** This node has been in an applied configuration (bootstrap members count). */
  private wasMember: boolean;
  /** Applied a config without itself after being a member: removed, the cluster shuts it down. */
  retiredByConfig = false;
  snapshotsTaken = 0;
  snapshotsInstalled = 0;

  constructor(
    readonly id: NodeId,
    private readonly env: SimNodeEnv,
  ) {
    this.sm = new ListStateMachine(env.bootstrapMembers);
    this.wasMember = env.bootstrapMembers.some((m) => m.id === id);
  }

  get alive(): boolean {
    return this.coreRef !== null;
  }

  get core(): RaftCoreApi {
    if (this.coreRef === null) throw new Error(`harness bug: ${this.id} is down`);
    return this.coreRef;
  }

  /** Boot (or reboot) from exactly what is on disk. */
  start(): void {
    if (this.alive || this.retired) throw new Error(`harness bug: start ${this.id} (alive=${this.alive}, retired=${this.retired})`);
    this.incarnation++;
    this.armedCrash = null;
    const initial = this.disk.load(this.env.bootstrapMembers);
    this.sm = new ListStateMachine(this.env.bootstrapMembers);
    // Membership is re-learned from the replay: a new node re-applies configs older than its own addition.
    this.wasMember = this.env.bootstrapMembers.some((m) => m.id === this.id);
    this.retiredByConfig = false;
    const snap = initial.snapshot;
    if (snap !== null) {
      const records = this.sm.restore(snap.data, snap.meta.index, snap.meta.term, snap.meta.members);
      this.env.checker.onSnapshotRestored(this.id, records, initial.hardState.term);
      this.noteMembership(snap.meta.members);
    }
    this.coreRef = this.guard('constructor', () => this.env.coreFactory(this.env.configFor(this.id, this.incarnation), initial));
  }

  /** Lose everything that is not on disk. */
  crash(): void {
    this.coreRef = null;
    this.armedCrash = null;
    this.outstanding = null;
    this.readResults.clear();
    this.droppedReads.clear();
  }

  retire(): void {
    this.crash();
    this.retired = true;
  }

  /** Run a core call; a throw from the core is a finding, not a harness error. */
  guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SimViolation) throw e;
      const err = e instanceof Error ? (e.stack ?? e.message) : String(e);
      return violation('core-threw', `${this.id} ${what}: ${err}`);
    }
  }

  /** Finish the outstanding Ready, then process Readys until none is left (or the node crashed). */
  drain(): void {
    if (this.outstanding !== null) this.finishReady();
    while (this.alive && this.guard('hasReady', () => this.core.hasReady())) {
      this.takeReady();
      this.finishReady();
    }
  }

  /** Something is waiting: a Ready being persisted, or one the core has to hand out. */
  busy(): boolean {
    return this.alive && (this.outstanding !== null || this.guard('hasReady', () => this.core.hasReady()));
  }

  /**
   * Take a Ready and start "persisting" it. Until finishReady() the core keeps
   * running (ticks, messages, proposals), as it does while the real driver awaits
   * its fsync; a crash in between loses the whole batch.
   */
  takeReady(): void {
    if (this.outstanding !== null || !this.guard('hasReady', () => this.core.hasReady())) return;
    const rd = this.guard('ready', () => this.core.ready());
    const status = this.guard('status', () => this.core.status());
    if (rd.softState?.role === 'leader') this.env.checker.onLeaderObserved(this.id, rd.softState.term);
    if (status.role === 'leader') this.env.checker.onLeaderObserved(this.id, status.term);
    this.outstanding = { rd, term: status.term };
  }

  /** The fsync completed: send, apply, advance, maybe compact. */
  finishReady(): void {
    const pending = this.outstanding;
    if (pending === null) return;
    const { rd, term } = pending;
    this.persist(rd);
    if (this.armedCrash === 'afterPersist') return this.crash();
    this.send(rd);
    if (this.armedCrash === 'afterSend') return this.crash();
    this.applyReady(rd, term);
    this.outstanding = null;
    this.guard('advance', () => this.core.advance(rd));
    this.maybeCompact();
  }

  /** Memory log equals the synced log: no Ready outstanding and nothing unstable. */
  inSync(): boolean {
    return this.alive && this.outstanding === null && !this.guard('hasReady', () => this.core.hasReady());
  }

  private persist(rd: Ready): void {
    if (rd.snapshot === null && rd.entries.length === 0 && rd.hardState === null) return;
    const prev = this.disk.hardState;
    const removed = this.disk.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot });
    this.env.checker.onPersisted(this.id, this.disk, prev, rd.entries, removed);
  }

  private send(rd: Ready): void {
    for (const msg of rd.messages) {
      this.env.checker.onSend(this.id, msg, this.disk);
      this.env.network.send(msg, this.env.now());
    }
  }

  private applyReady(rd: Ready, term: number): void {
    const checker = this.env.checker;
    if (rd.snapshot !== null) this.restore(rd.snapshot, term);
    for (const e of rd.committedEntries) {
      const stored = e.index > this.disk.snapshotIndex ? this.disk.entryAt(e.index) : undefined;
      if (stored === undefined || stored.term !== e.term || fingerprint(stored) !== fingerprint(e)) {
        violation('state-machine-safety', `${this.id} applies ${e.index}/${e.term} (${fingerprint(e)}) which is not the entry in its synced log`);
      }
      checker.onApplied(this.id, this.sm.apply(e), term);
      if (e.kind === 'config') this.noteMembership(e.members);
    }
    for (const rs of rd.readStates) {
      checker.onReadState(this.id, rs);
      this.readResults.set(rs.requestId, rs.readIndex);
    }
    for (const id of rd.droppedReads) {
      checker.onReadDropped(this.id, id);
      this.droppedReads.add(id);
    }
    // Bounded: schedules issue reads forever and nobody consumes most answers.
    if (this.readResults.size > 256) this.readResults.clear();
    if (this.droppedReads.size > 256) this.droppedReads.clear();
  }

  private restore(snapshot: Snapshot, term: number): void {
    const { index, term: snapTerm, members } = snapshot.meta;
    if (index <= this.sm.appliedIndex) {
      violation('ready-contract', `${this.id} got snapshot ${index} to restore with ${this.sm.appliedIndex} already applied`);
    }
    const records = this.sm.restore(snapshot.data, index, snapTerm, members);
    this.env.checker.onSnapshotRestored(this.id, records, term);
    this.snapshotsInstalled++;
    this.noteMembership(members);
  }

  /**
   * A new node applies older configs without itself before the one that adds it,
   * so only leaving a config it was in means removal (ids are never reused).
   */
  private noteMembership(members: readonly Member[]): void {
    if (members.some((m) => m.id === this.id)) this.wasMember = true;
    else if (this.wasMember) this.retiredByConfig = true;
  }

  /**
   * Local compaction. meta.members comes from the state machine's own record of
   * applied config entries, because status().members is the latest config in
   * the log, which may be newer (and uncommitted) than the snapshot index.
   */
  private maybeCompact(): void {
    if (!this.alive || this.sm.appliedIndex - this.disk.snapshotIndex <= this.env.snapshotEveryEntries) return;
    const snapshot: Snapshot = {
      meta: { index: this.sm.appliedIndex, term: this.sm.appliedTerm, members: this.sm.members },
      data: this.sm.snapshotData(),
    };
    this.disk.compact(snapshot);
    this.snapshotsTaken++;
    this.guard('compact', () => this.core.compact(snapshot.meta, snapshot.data));
  }
}
