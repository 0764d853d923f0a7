// Leadership transfer (thesis §3.10), leader side: proposals pause, the target
// is caught up, then told to campaign at once with TimeoutNow. If it has not
// taken over within an election timeout the leader gives up and serves again.
import type { NodeId } from './types.js';

export class LeadershipTransfer {
  private elapsedTicks = 0;
  private timeoutNowSent = false;

  constructor(readonly target: NodeId) {}

  /** TimeoutNow has gone out; only waiting for the target's election is left. */
  get handedOver(): boolean {
    return this.timeoutNowSent;
  }

  /** Counts one tick; true once the target had a whole election timeout to take over. */
  expiredAfterTick(electionTicks: number): boolean {
    this.elapsedTicks++;
    return this.elapsedTicks >= electionTicks;
  }

  /**
   * True, once, when `peer` is the target and holds our whole log: the caller
   * sends TimeoutNow. No entry is appended meanwhile (proposals are refused), so
   * the target cannot fall behind again.
   */
  takeHandOver(peer: NodeId, peerMatch: number, lastIndex: number): boolean {
    if (peer !== this.target || this.timeoutNowSent || peerMatch !== lastIndex) return false;
    this.timeoutNowSent = true;
    return true;
  }
}
