// One simulated Ratify node: a RaftCore, its disk, the list state machine, and a
// driver that runs the decisions of src/node/raft-node.ts through the same pure
// pieces (src/node/ready-plan.ts, hard-state-writes.ts, background-snapshots.ts,
// applied-membership.ts, self-removal.ts), so what the simulation checks is what
// production does between the core and the disk and wire:
//   takeReady():   a leader's early send (thesis §10.2.1), applying what earlier
//                  Readys made durable, and planning the write (a commit-index-only
//                  change is not written on its own: MustSync);
//   finishReady(): the synced write completed: late send, snapshot install, apply,
//                  read states, advance(); the transport's peer list follows the
//                  union of the latest and the applied configuration; a local
//                  snapshot is serialized and its write starts in the background.
// Between the two the core keeps taking input, as while the driver awaits its
// fsync. A background snapshot write completes at a step of the cluster's
// choosing (before this node's next save at the latest: storage serializes them)
// and reaches the core between two Readys. A crash loses memory, the Ready being
// written and a snapshot write in flight; a crash can be armed to hit between
// the write and the send, or between the send and the apply; a graceful stop
// writes the deferred commit index unsynced (lost if the machine loses power).
import type { RaftCoreApi } from '../../src/raft/api.js';
import type { InitialState, Member, Message, NodeId, RaftConfig, Ready, Snapshot, SoftState } from '../../src/raft/types.js';
import { AppliedMembership } from '../../src/node/applied-membership.js';
import { BackgroundSnapshots } from '../../src/node/background-snapshots.js';
import { HardStateWrites } from '../../src/node/hard-state-writes.js';
import { HEARTBEATS_DURING_SAVE_ELECTIONS } from '../../src/node/liveness.js';
import { planReady, type ReadyPlan } from '../../src/node/ready-plan.js';
import { SelfRemoval, type SelfView } from '../../src/node/self-removal.js';
import type { SaveBatch } from '../../src/storage/raft-storage.js';
import { LearnedAddresses } from '../../src/transport/learned-addresses.js';
import type { PeerMembership, RemovalNotice } from '../../src/transport/peer-admission.js';
import { SimDisk } from './disk.js';
import type { InvariantChecker } from './invariants.js';
import type { SimNetwork } from './network.js';
import { ListStateMachine, fingerprint } from './state-machine.js';
import type { TransportRules } from './transport-rules.js';
import { SimViolation, violation } from './violation.js';

export type CoreFactory = (config: RaftConfig, initial: InitialState) => RaftCoreApi;

/** The driver's decisions the simulation takes from src/node/ (a faulty variant can replace them). */
export interface DriverRules {
  readonly name: string;
  readonly planReady: typeof planReady;
}

export const PRODUCTION_DRIVER: DriverRules = { name: 'production', planReady };

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
  readonly rules: TransportRules;
  readonly driver: DriverRules;
  readonly log: (line: string) => void;
}

interface Outstanding {
  readonly rd: Ready;
  /** The node's term when the Ready was taken. */
  readonly term: number;
  readonly plan: ReadyPlan;
  /** The synced save this Ready needs, or null (nothing, or only the commit index). */
  readonly batch: SaveBatch | null;
}

export class SimNode {
  readonly disk = new SimDisk();
  private coreRef: RaftCoreApi | null = null;
  private electionTicks = 0;
  /** Ticks since the outstanding Ready was taken (the driver's clock of how long its save runs). */
  private ticksSinceReady = 0;
  sm: ListStateMachine;
  incarnation = 0;
  /** Removed from the cluster and shut down for good (ids are never reused). */
  retired = false;
  armedCrash: CrashPoint | null = null;
  private outstanding: Outstanding | null = null;
  /** requestId -> readIndex of answered reads, and refused ones; lost on crash like any memory. */
  readonly readResults = new Map<number, number>();
  readonly droppedReads = new Set<number>();
  // The driver's state, rebuilt from the disk at every start.
  private soft: SoftState = { role: 'follower', leaderId: null, term: 0 };
  private writes = new HardStateWrites({ term: 0, vote: null, commitIndex: 0 });
  private snapshots: BackgroundSnapshots<Snapshot>;
  membership: AppliedMembership;
  private removal = new SelfRemoval();
  /** Ids the transport has addresses for, and the configurations they came from. */
  private peers: ReadonlySet<NodeId> = new Set();
  private peersOf: { readonly latest: readonly Member[]; readonly applied: readonly Member[] } | null = null;
  /** Addresses of admitted senders that no configuration lists (learned-addresses.ts). */
  private learned = new LearnedAddresses();
  snapshotsTaken = 0;
  snapshotsInstalled = 0;
  earlySends = 0;
  deferredCommits = 0;
  /** Messages the transport had no address for. */
  unaddressed = 0;

  constructor(
    readonly id: NodeId,
    private readonly env: SimNodeEnv,
  ) {
    this.sm = new ListStateMachine(env.bootstrapMembers);
    this.snapshots = new BackgroundSnapshots(env.snapshotEveryEntries);
    this.membership = new AppliedMembership(id, env.bootstrapMembers, null);
  }

  get alive(): boolean {
    return this.coreRef !== null;
  }

  get core(): RaftCoreApi {
    if (this.coreRef === null) throw new Error(`harness bug: ${this.id} is down`);
    return this.coreRef;
  }

  /** The node knows it was removed (applied its removal, or a peer said so): it stops ticking. */
  get removed(): boolean {
    return this.removal.removed;
  }

  get snapshotInFlight(): boolean {
    return this.snapshots.inFlight !== null;
  }

  /** Boot (or reboot) from exactly what is on disk. */
  start(): void {
    if (this.alive || this.retired) throw new Error(`harness bug: start ${this.id} (alive=${this.alive}, retired=${this.retired})`);
    this.incarnation++;
    this.armedCrash = null;
    const initial = this.disk.load(this.env.bootstrapMembers);
    this.sm = new ListStateMachine(this.env.bootstrapMembers);
    this.writes = new HardStateWrites(initial.hardState);
    this.snapshots = new BackgroundSnapshots(this.env.snapshotEveryEntries);
    this.membership = new AppliedMembership(this.id, this.env.bootstrapMembers, initial.snapshot?.meta.members ?? null);
    this.removal = new SelfRemoval();
    this.learned = new LearnedAddresses();
    this.peersOf = null;
    this.env.network.resetSender(this.id);
    const snap = initial.snapshot;
    if (snap !== null) {
      const records = this.sm.restore(snap.data, snap.meta.index, snap.meta.term, snap.meta.members);
      this.env.checker.onSnapshotRestored(this.id, records, initial.hardState.term);
    }
    const config = this.env.configFor(this.id, this.incarnation);
    this.electionTicks = config.electionTicks;
    this.coreRef = this.guard('constructor', () => this.env.coreFactory(config, initial));
    const st = this.core.status();
    this.soft = { role: st.role, leaderId: st.leaderId, term: st.term };
    this.syncPeers();
    this.updateRemoval();
  }

  /** Lose everything that is not on disk (a process crash: unsynced writes the OS holds survive). */
  crash(): void {
    this.coreRef = null;
    this.armedCrash = null;
    this.outstanding = null;
    this.snapshots.abandoned();
    this.readResults.clear();
    this.droppedReads.clear();
  }

  /**
   * A graceful stop (RaftNode.stop): finish the Ready being written, wait for the
   * snapshot write, write the deferred commit index unsynced, exit. With
   * `powerLoss` the machine then loses what was not synced.
   */
  stop(powerLoss: boolean): void {
    if (!this.alive) return;
    this.armedCrash = null;
    if (this.outstanding !== null) this.finishReady();
    this.completeSnapshotWrite();
    const hs = this.writes.takeUnwritten();
    if (hs !== null) {
      const prev = this.disk.hardState;
      this.disk.saveUnsynced(hs);
      this.env.checker.onPersisted(this.id, this.disk, prev, [], []);
    }
    this.crash();
    if (powerLoss) this.disk.powerLoss();
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

  /**
   * A tick of the driver's ticker; a removed node does not tick (it must never
   * campaign again). As the driver's (RaftNode.sendHeartbeatsNow): while a Ready
   * is being written, the heartbeats and answers to them go out at once.
   */
  tick(): void {
    if (this.removal.removed) return;
    this.core.tick();
    if (this.outstanding === null) return;
    // As the driver, only for so many election timeouts of one Ready (HEARTBEATS_DURING_SAVE_ELECTIONS).
    if (++this.ticksSinceReady > HEARTBEATS_DURING_SAVE_ELECTIONS * this.electionTicks) return;
    this.sendMessages(this.guard('takeHeartbeats', () => this.core.takeHeartbeats()));
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
   * Take a Ready and start "persisting" it (RaftNode.handleReady up to its
   * await). Until finishReady() the core keeps running (ticks, messages,
   * proposals); a crash in between loses the whole batch.
   */
  takeReady(): void {
    if (this.outstanding !== null || !this.guard('hasReady', () => this.core.hasReady())) return;
    const rd = this.guard('ready', () => this.core.ready());
    const status = this.guard('status', () => this.core.status());
    if (rd.softState?.role === 'leader') this.observeLeader(rd.softState.term);
    if (status.role === 'leader') this.observeLeader(status.term);
    if (rd.softState !== null) this.soft = rd.softState;
    this.syncPeers();
    const plan = this.env.driver.planReady(rd, this.soft.role, this.writes.persisted);
    if (plan.sendBeforePersist && rd.messages.length > 0) {
      this.earlySends++;
      this.send(rd);
    }
    // As the driver: the save is planned and under way, then the durable entries are applied while it runs.
    const batch = this.writes.plan(rd);
    this.applyEntries(rd, 0, plan.applyBeforePersist, status.term);
    if (batch === null && rd.hardState !== null && rd.entries.length === 0 && rd.snapshot === null) this.deferredCommits++;
    this.outstanding = { rd, term: status.term, plan, batch };
    this.ticksSinceReady = 0;
  }

  /** The save completed: send, apply, advance, then the between-Readys work. */
  finishReady(): void {
    const pending = this.outstanding;
    if (pending === null) return;
    const { rd, term, plan, batch } = pending;
    if (batch !== null) {
      // Storage runs calls in order: a snapshot write started before this save lands first.
      this.completeSnapshotWrite();
      this.persist(batch, rd);
      this.writes.saved(rd);
      if (this.soft.role === 'leader') this.observeLeader(this.soft.term);
    }
    if (this.armedCrash === 'afterPersist') return this.crash();
    if (!plan.sendBeforePersist) this.send(rd);
    if (this.armedCrash === 'afterSend') return this.crash();
    if (rd.snapshot !== null) this.restore(rd.snapshot, term);
    this.applyEntries(rd, plan.applyBeforePersist, rd.committedEntries.length, term);
    this.answerReads(rd);
    this.outstanding = null;
    this.guard('advance', () => this.core.advance(rd));
    this.syncPeers();
    this.updateRemoval();
    this.maybeSnapshot();
    this.handOverSnapshot();
  }

  /**
   * Election Safety counts this node as leader of `term` once its term and its
   * vote for itself are on disk. Before that it has sent nothing (a new term or
   * vote goes out only after the write: ready-plan.ts, and the persist-before-send
   * check), so a crash leaves no trace of a leadership held only in memory: a sole
   * voter wins its election inside one Ready, and after a crash before that
   * Ready's write it may rightly grant its vote in that term to another node.
   */
  observeLeader(term: number): void {
    const hs = this.disk.hardState;
    if (hs.term === term && hs.vote === this.id) this.env.checker.onLeaderObserved(this.id, term);
  }

  /** Memory log equals the synced log: no Ready outstanding and nothing unstable. */
  inSync(): boolean {
    return this.alive && this.outstanding === null && !this.guard('hasReady', () => this.core.hasReady());
  }

  // ---- the transport's view ----------------------------------------------------

  /** What the node's HTTP routes decide on (RaftNode.admitPeer). */
  peerView(): PeerMembership {
    return {
      latest: this.core.members(),
      applied: this.membership.members,
      removed: this.membership.removed,
      appliedIndex: this.sm.appliedIndex,
    };
  }

  /** An admitted message came from `from`, with its x-ratify-from-url. */
  noteSender(from: NodeId): void {
    if (this.peers.has(from)) return;
    const known = this.env.rules.reachable({ latest: this.core.members(), applied: this.membership.members }, this.id);
    if (!this.learned.note(from, `sim://${from}`, known)) return;
    this.peersOf = null;
    this.syncPeers();
  }

  /** A peer answered 410 MEMBER_REMOVED. Returns true when that made the node removed. */
  onRemovedByPeer(notice: RemovalNotice): boolean {
    if (!this.alive || !this.removal.told(notice, this.selfView())) return false;
    this.env.log(`${this.id} told it was removed by ${notice.by} (applied ${notice.appliedIndex})`);
    return true;
  }

  private selfView(): SelfView {
    const st = this.core.status();
    return { id: this.id, latest: st.members, latestConfigIndex: st.configIndex };
  }

  private updateRemoval(): void {
    if (this.removal.update(this.membership.selfRemoved, () => this.selfView()))
      this.env.log(`${this.id} removal: ${this.removal.state.kind}`);
  }

  /** HttpTransport.setMembers: the union of the latest and the applied configuration (per the rules). */
  private syncPeers(): void {
    const latest = this.core.members();
    const applied = this.membership.members;
    if (this.peersOf?.latest === latest && this.peersOf.applied === applied) return;
    this.peersOf = { latest, applied };
    this.peers = new Set(this.learned.addressBook(this.env.rules.reachable({ latest, applied }, this.id)).map((m) => m.id));
  }

  // ---- the Ready, piece by piece -------------------------------------------------

  private persist(batch: SaveBatch, rd: Ready): void {
    const prev = this.disk.hardState;
    const removed = this.disk.save(batch);
    this.env.checker.onPersisted(this.id, this.disk, prev, rd.entries, removed);
  }

  private send(rd: Ready): void {
    this.sendMessages(rd.messages);
  }

  private sendMessages(messages: readonly Message[]): void {
    for (const msg of messages) {
      this.env.checker.onSend(this.id, msg, this.disk);
      if (!this.peers.has(msg.to)) {
        this.unaddressed++;
        continue;
      }
      this.env.network.send(msg, this.env.now());
    }
  }

  private applyEntries(rd: Ready, from: number, to: number, term: number): void {
    const checker = this.env.checker;
    for (let i = from; i < to; i++) {
      const e = rd.committedEntries[i]!;
      const stored = e.index > this.disk.snapshotIndex ? this.disk.entryAt(e.index) : undefined;
      if (stored === undefined || stored.term !== e.term || fingerprint(stored) !== fingerprint(e)) {
        violation(
          'state-machine-safety',
          `${this.id} applies ${e.index}/${e.term} (${fingerprint(e)}) which is not the entry in its synced log`,
        );
      }
      checker.onApplied(this.id, this.sm.apply(e), term);
      if (e.kind === 'config') this.membership.apply(e.members);
    }
  }

  private answerReads(rd: Ready): void {
    const checker = this.env.checker;
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
    this.membership.apply(members);
  }

  // ---- local snapshots (background-snapshots.ts) ------------------------------------

  /**
   * Serialize a snapshot at this Ready boundary; its write runs "in the
   * background". meta.members comes from AppliedMembership, the driver's record
   * of applied configurations; core.compact() checks it against the log.
   */
  private maybeSnapshot(): void {
    if (!this.alive || !this.snapshots.due(this.sm.appliedIndex, this.core.snapshotIndex())) return;
    const snapshot: Snapshot = {
      meta: { index: this.sm.appliedIndex, term: this.sm.appliedTerm, members: this.membership.members },
      data: this.sm.snapshotData(),
    };
    this.snapshots.started(snapshot);
  }

  /** The background write completes: on disk now, handed to the core between Readys. */
  finishSnapshotWrite(): void {
    this.completeSnapshotWrite();
    this.handOverSnapshot();
  }

  private completeSnapshotWrite(): void {
    const s = this.snapshots.inFlight;
    if (s === null) return;
    if (s.meta.index <= this.disk.snapshotIndex)
      throw new Error(`harness bug: local snapshot ${s.meta.index} is behind the disk's ${this.disk.snapshotIndex}`);
    this.disk.compact(s);
    // The simulated disk keeps the bytes in memory, as MemoryRaftStorage does: the core keeps the array.
    this.snapshots.written(s.data);
    this.snapshotsTaken++;
  }

  private handOverSnapshot(): void {
    if (!this.alive || this.outstanding !== null) return;
    const s = this.snapshots.takeDurable(this.core.snapshotIndex());
    if (s !== null) this.guard('compact', () => this.core.compact(s.meta, s.data));
  }
}
