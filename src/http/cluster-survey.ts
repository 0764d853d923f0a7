// GET /v1/cluster/nodes: every member's own status, gathered by the node asked,
// so that one page (or one curl) shows the whole cluster: each member's role,
// term, commit and applied index, how far it trails the leader, and its health.
//
// Like `etcdctl endpoint status --cluster`, this asks each member for its own
// GET /v1/cluster (in parallel, each bounded by probeTimeoutMs) instead of
// trusting one node's picture: a follower's applied index and term are facts
// only that follower has. The answer is this node's view: a member it cannot
// reach is "unreachable" from here even if the leader still hears it.
// Concurrent callers share one survey in flight, so a dozen open dashboards cost
// one round of probes.
import { Agent, request } from '../util/undici-parts.js';
import { nodeConnectOptions, type TlsMaterial } from '../transport/peer-tls.js';
import type { Member } from '../raft/types.js';
import { publicRole } from '../node/raft-node.js';
import { describeError } from '../util/describe-error.js';
import type { ClusterNode } from './cluster-node.js';

export type PublicRole = ReturnType<typeof publicRole>;

/** What a member says about itself (the fields of its GET /v1/cluster that the survey uses). */
export interface SelfReport {
  readonly nodeId: string;
  readonly role: PublicRole;
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export type Health = 'ok' | 'lagging' | 'no-leader' | 'unreachable';
export const HEALTH_VALUES: readonly Health[] = ['ok', 'lagging', 'no-leader', 'unreachable'];

export interface MemberStatus {
  readonly id: string;
  readonly url: string;
  readonly voter: boolean;
  readonly health: Health;
  /** Why the member is unreachable (or answered as another node); null otherwise. */
  readonly error: string | null;
  /** The member's own report; null when unreachable. */
  readonly report: SelfReport | null;
  /** The leader's commit index minus this member's applied index; null without a reachable leader. */
  readonly lagEntries: number | null;
}

export interface SurveyView {
  readonly observedBy: string;
  readonly atMs: number;
  /** The reachable member that reports itself leader in the highest term, or null. */
  readonly leaderId: string | null;
  readonly term: number | null;
  /** A member further behind than this is "lagging" (the node's readyLagEntriesMax). */
  readonly lagEntriesMax: number;
  readonly members: MemberStatus[];
}

/** Asks one member for its status. Tests pass a fake. */
/** `authorization`: the caller's own Authorization header, passed on: a member's GET /v1/cluster needs a reader token once tokens are set. */
export type Prober = (member: Member, timeoutMs: number, authorization: string | null) => Promise<SelfReport>;

export interface ClusterSurveyOptions {
  readonly node: ClusterNode;
  readonly lagEntriesMax: number;
  readonly probeTimeoutMs: number;
  /** Trust (and, with mutual TLS, our certificate) for https:// members; null: the system's defaults. */
  readonly tls?: TlsMaterial | null;
  readonly prober?: Prober;
  readonly now?: () => number;
}

export class ClusterSurvey {
  private inFlight: Promise<SurveyView> | null = null;
  private readonly agent: Agent | null;
  private readonly prober: Prober;
  private readonly now: () => number;

  constructor(private readonly opts: ClusterSurveyOptions) {
    const tls = opts.tls ?? null;
    this.agent =
      opts.prober === undefined
        ? new Agent({ connections: 2, keepAliveTimeout: 10_000, ...(tls === null ? {} : { connect: nodeConnectOptions(tls) }) })
        : null;
    this.prober = opts.prober ?? ((m, timeoutMs, authorization) => probeOverHttp(this.agent!, m, timeoutMs, authorization));
    this.now = opts.now ?? Date.now;
  }

  /**
   * Callers at the same time share one round, asked with the first caller's
   * Authorization: each caller was itself admitted as a reader by the auth hook.
   */
  survey(authorization: string | null = null): Promise<SurveyView> {
    this.inFlight ??= this.run(authorization).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }

  private async run(authorization: string | null): Promise<SurveyView> {
    const own = this.opts.node.status();
    const reports = await Promise.all(
      own.members.map(async (m): Promise<{ member: Member; report: SelfReport | null; error: string | null }> => {
        if (m.id === own.nodeId) {
          const report: SelfReport = {
            nodeId: own.nodeId,
            role: publicRole(own.role),
            term: own.term,
            leaderId: own.leaderId,
            commitIndex: own.commitIndex,
            appliedIndex: own.appliedIndex,
          };
          return { member: m, report, error: null };
        }
        try {
          const report = await this.prober(m, this.opts.probeTimeoutMs, authorization);
          if (report.nodeId !== m.id) return { member: m, report: null, error: `${m.url} answers as node ${report.nodeId}` };
          return { member: m, report, error: null };
        } catch (err) {
          return { member: m, report: null, error: describeError(err) };
        }
      }),
    );
    const leader = reports.flatMap((r) => (r.report?.role === 'leader' ? [r.report] : [])).sort((a, b) => b.term - a.term)[0];
    return {
      observedBy: own.nodeId,
      atMs: this.now(),
      leaderId: leader?.nodeId ?? null,
      term: leader?.term ?? null,
      lagEntriesMax: this.opts.lagEntriesMax,
      members: reports.map(({ member, report, error }) => judge(member, report, error, leader ?? null, this.opts.lagEntriesMax)),
    };
  }
}

/** Pure: one member's health from its report and the leader's. */
export function judge(
  member: Member,
  report: SelfReport | null,
  error: string | null,
  leader: SelfReport | null,
  lagEntriesMax: number,
): MemberStatus {
  const base = { id: member.id, url: member.url, voter: member.voter };
  if (report === null) return { ...base, health: 'unreachable', error: error ?? 'no answer', report: null, lagEntries: null };
  const lagEntries = leader === null ? null : Math.max(0, leader.commitIndex - report.appliedIndex);
  const health: Health = report.leaderId === null ? 'no-leader' : lagEntries !== null && lagEntries > lagEntriesMax ? 'lagging' : 'ok';
  return { ...base, health, error: null, report, lagEntries };
}

async function probeOverHttp(agent: Agent, member: Member, timeoutMs: number, authorization: string | null): Promise<SelfReport> {
  const res = await request(agent, `${member.url.replace(/\/+$/, '')}/v1/cluster`, {
    method: 'GET',
    ...(authorization === null ? {} : { headers: { authorization } }),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /v1/cluster answered ${res.statusCode}`);
  return parseSelfReport(JSON.parse(text));
}

const ROLES: ReadonlySet<string> = new Set<PublicRole>(['leader', 'follower', 'candidate', 'learner']);

/** A member's answer is data from the network: checked, never trusted (throws on an implausible one). */
export function parseSelfReport(x: unknown): SelfReport {
  const o = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
  const { nodeId, role, term, leaderId, commitIndex, appliedIndex } = o;
  const index = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (
    typeof nodeId !== 'string' ||
    typeof role !== 'string' ||
    !ROLES.has(role) ||
    !index(term) ||
    !index(commitIndex) ||
    !index(appliedIndex)
  ) {
    throw new Error('implausible GET /v1/cluster answer');
  }
  if (leaderId !== null && typeof leaderId !== 'string') throw new Error('implausible GET /v1/cluster answer');
  return { nodeId, role: role as PublicRole, term, leaderId, commitIndex, appliedIndex };
}
