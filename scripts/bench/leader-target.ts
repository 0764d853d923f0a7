// Where the load goes: the current leader, as a client SDK would find it.
// WHY the leader and not any node: etcd's load goes to its leader too, so
// neither system pays a forwarding hop in the comparison. After a failure the
// target is re-discovered once (single flight), not once per worker.
import type { RatifyCluster } from './ratify-cluster.js';

export class LeaderTarget {
  private refreshing: Promise<void> | null = null;
  private rotation = 0;

  private constructor(
    private readonly cluster: RatifyCluster,
    public url: string,
  ) {}

  static async discover(cluster: RatifyCluster): Promise<LeaderTarget> {
    const leader = await cluster.leader();
    const first = leader ?? cluster.liveNodes()[0];
    if (first === undefined) throw new Error('no live Ratify node to send load to');
    return new LeaderTarget(cluster, first.url);
  }

  /** Call after a failed request; the next requests go to the leader once it is known. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const leader = await this.cluster.leader();
    if (leader !== null) {
      this.url = leader.url;
      return;
    }
    // No leader known yet: try the live nodes in turn (a follower forwards once one is elected).
    const live = this.cluster.liveNodes();
    const next = live[this.rotation++ % Math.max(1, live.length)];
    if (next !== undefined) this.url = next.url;
  }
}
