// The driver's edge for inbound Raft messages: every message a peer sent passes
// the plausibility check (src/raft/plausibility.ts) against the core's current
// state right before it is stepped, and a snapshot's data passes the state
// machine's own check before it may replace the log. What fails is dropped, counted
// in ratify_raft_rejected_messages_total{reason} and logged at warn with the peer
// id: Raft tolerates the loss, and the core's assertions stay for our own bugs.
//
// A peer that keeps sending the same bad message would fill the log, so lines are
// throttled per peer and reason (at most one per LOG_INTERVAL_MS, with the count of
// those suppressed in between); the counter counts every one.
import type { Logger } from '../logger.js';
import { implausibility, type LocalState, type PlausibilityLimits, type RejectReason } from '../raft/plausibility.js';
import type { StateMachine } from '../raft/state-machine.js';
import type { Message, NodeId } from '../raft/types.js';

const LOG_INTERVAL_MS = 10_000;
/** Distinct (peer, reason) pairs whose throttle state is kept; a flood of forged ids cannot grow it further. */
const THROTTLE_KEYS_MAX = 1024;

export interface InboundGuardOptions {
  readonly limits: PlausibilityLimits;
  readonly logger: Logger;
  /** Counts one dropped message. */
  readonly count?: (reason: RejectReason) => void;
}

export class InboundGuard {
  private readonly throttle = new Map<string, { lastMs: number; suppressed: number }>();
  /** Sender of the last snapshot chunk admitted: the one whose data snapshotAcceptor judges. */
  private snapshotFrom: NodeId = 'unknown';

  constructor(private readonly o: InboundGuardOptions) {}

  /** True when `m` may be stepped into a core whose state is `local`. */
  admit(m: Message, local: LocalState): boolean {
    const bad = implausibility(m, local, this.o.limits);
    if (bad === null) {
      if (m.type === 'snapshot') this.snapshotFrom = m.from;
      return true;
    }
    this.reject(m.from, bad.reason, { type: m.type, term: m.term, localTerm: local.term, detail: bad.detail });
    return false;
  }

  /**
   * RaftConfig.acceptSnapshot for a core whose state machine is `sm`: a snapshot a
   * leader sent whose data `sm` cannot read is refused, instead of stopping the node
   * when it is restored (and again at every restart, from disk).
   */
  snapshotAcceptor(sm: StateMachine): ((data: Uint8Array) => boolean) | undefined {
    const check = sm.checkSnapshot?.bind(sm);
    if (check === undefined) return undefined;
    return (data) => {
      const problem = check(data);
      if (problem === null) return true;
      this.reject(this.snapshotFrom, 'snapshot_data', { bytes: data.byteLength, detail: problem.slice(0, 200) });
      return false;
    };
  }

  private reject(peer: NodeId, reason: RejectReason, fields: object): void {
    this.o.count?.(reason);
    const key = `${peer}\u0000${reason}`;
    const nowMs = Date.now();
    const t = this.throttle.get(key);
    if (t !== undefined && nowMs - t.lastMs < LOG_INTERVAL_MS) {
      t.suppressed++;
      return;
    }
    if (t === undefined && this.throttle.size >= THROTTLE_KEYS_MAX) this.throttle.clear();
    this.o.logger.warn({ peer, reason, ...fields, suppressed: t?.suppressed ?? 0 }, 'dropped an implausible Raft message from a peer');
    this.throttle.set(key, { lastMs: nowMs, suppressed: 0 });
  }
}
