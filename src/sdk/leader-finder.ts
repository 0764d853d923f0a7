// Where the client sends a request: the leader when it is known (saves the
// follower's forwarding hop), otherwise the configured nodes in turn. The leader
// is found with GET /v1/cluster, and only ever by a configured URL: a member URL
// the cluster reports may not be reachable from the client (containers, NAT).

import type { ClusterView } from './client-types.js';

export type FetchCluster = (node: string) => Promise<ClusterView>;

export class LeaderFinder {
  private leader: string | null = null;
  private cursor = 0;
  /** Learned from each node's own /v1/cluster answer: which configured URL is which node id. */
  private readonly urlById = new Map<string, string>();

  constructor(
    private readonly nodes: readonly string[],
    private readonly fetchCluster: FetchCluster,
  ) {}

  /** The node for the next attempt; discovers the leader when none is known. */
  async pick(): Promise<string> {
    if (this.leader === null) this.leader = await this.discover();
    return this.leader ?? this.nextNode();
  }

  /** After a failure at `node`: forget it as leader and move the rotation past it. */
  failed(node: string): void {
    if (this.leader === node) this.leader = null;
    const i = this.nodes.indexOf(node);
    if (i >= 0 && this.cursor === i) this.cursor = (i + 1) % this.nodes.length;
  }

  private nextNode(): string {
    const node = this.nodes[this.cursor % this.nodes.length]!;
    this.cursor = (this.cursor + 1) % this.nodes.length;
    return node;
  }

  /** Asks the nodes in turn; null when none answers or none knows a leader. */
  private async discover(): Promise<string | null> {
    let forwarder: string | null = null;
    for (let i = 0; i < this.nodes.length; i++) {
      const node = this.nodes[(this.cursor + i) % this.nodes.length]!;
      let view: ClusterView;
      try {
        view = await this.fetchCluster(node);
      } catch {
        continue;
      }
      this.urlById.set(view.nodeId, node);
      if (view.role === 'leader') return node;
      if (view.leaderId === null) continue;
      const known = this.urlById.get(view.leaderId) ?? this.configuredUrl(view);
      if (known !== null) return known;
      // A follower that knows the leader forwards for us; keep looking for the leader itself.
      forwarder ??= node;
    }
    return forwarder;
  }

  private configuredUrl(view: ClusterView): string | null {
    const url = view.leaderUrl ?? view.members.find((m) => m.id === view.leaderId)?.url ?? null;
    if (url === null) return null;
    const normalized = url.replace(/\/+$/, '');
    return this.nodes.includes(normalized) ? normalized : null;
  }
}
