// The term fence, per cluster: the highest term seen from each (cluster id,
// cluster incarnation), so a deposed leader's call is refused (STALE_TERM).
//
// Why per cluster and incarnation (README of the SDK, "Fencing"): a term only
// orders the leaders of one Raft log. Two clusters that share a participant
// have unrelated terms, and a cluster rebuilt from empty data starts again at
// term 1; one number per participant would let either fence the other out.
// The incarnation is a random id the cluster makes once, when it is first
// bootstrapped, and replicates (src/node/cluster-incarnation.ts); every call of
// that cluster names it. Inside one incarnation the fence is the old one: a
// deposed leader has a lower term than the leader that replaced it, and that
// leader's calls raised this same scope.
//
// Calls without the cluster headers (a coordinator from before incarnations)
// use the legacy scope "". Every accepted call raises the legacy scope as well,
// so the legacy scope holds the highest term of any cluster: an old-version
// node, deposed during a rolling upgrade, is still refused as it always was.
// Stores written before scopes existed hold just that legacy number.
import { RatifyError } from '../../errors.js';
import { CLUSTER_HEADER, CLUSTER_ID_PATTERN, INCARNATION_HEADER, INCARNATION_PATTERN } from './signature.js';
import type { ClusterScope } from './answer-scope.js';
import type { HeaderBag } from './decode.js';

/** A scope key: "" (legacy) or "<cluster id>/<incarnation>". */
export type FenceScope = string;
export const LEGACY_SCOPE: FenceScope = '';

/** One scope's highest term, as stores keep it. */
export interface FenceEntry {
  readonly scope: FenceScope;
  readonly term: number;
}

/**
 * Scopes remembered at most. Each is a cluster incarnation that called us:
 * a few per deployment. With signatures on only key holders create scopes;
 * without them the bound keeps a flood of invented ones off the disk.
 */
export const FENCE_SCOPES_MAX = 256;

/** The scope a call names in its headers; "" when it names none. Malformed headers are a VALIDATION_FAILED. */
export function scopeOf(headers: HeaderBag): FenceScope {
  const cluster = one(headers[CLUSTER_HEADER]);
  const incarnation = one(headers[INCARNATION_HEADER]);
  if (cluster === undefined && incarnation === undefined) return LEGACY_SCOPE;
  if (cluster === undefined || !CLUSTER_ID_PATTERN.test(cluster))
    throw invalid(`header ${CLUSTER_HEADER} must match ${CLUSTER_ID_PATTERN.source} when ${INCARNATION_HEADER} is sent`);
  if (incarnation === undefined || !INCARNATION_PATTERN.test(incarnation))
    throw invalid(`header ${INCARNATION_HEADER} must match ${INCARNATION_PATTERN.source} when ${CLUSTER_HEADER} is sent`);
  return `${cluster}/${incarnation}`;
}

/** The cluster incarnation a scope names; null for the legacy scope. */
export function clusterOfScope(scope: FenceScope): ClusterScope | null {
  if (scope === LEGACY_SCOPE) return null;
  // Neither part may hold a "/" (CLUSTER_ID_PATTERN, INCARNATION_PATTERN).
  const [clusterId, incarnation] = scope.split('/') as [string, string];
  return { clusterId, incarnation };
}

/** Highest terms per scope, in memory, with what is not yet durable. */
export class FenceTable {
  private readonly seen = new Map<FenceScope, number>();
  private readonly durable = new Map<FenceScope, number>();

  /** What a store loaded: the durable terms. */
  load(entries: readonly FenceEntry[]): void {
    for (const { scope, term } of entries) {
      this.seen.set(scope, Math.max(this.seen.get(scope) ?? 0, term));
      this.durable.set(scope, Math.max(this.durable.get(scope) ?? 0, term));
    }
  }

  highest(scope: FenceScope = LEGACY_SCOPE): number {
    return this.seen.get(scope) ?? 0;
  }

  /** Admits a call of `term` from `scope`, raising its fence (and the legacy one); throws STALE_TERM for a deposed leader. */
  admit(scope: FenceScope, term: number): void {
    const highest = this.highest(scope);
    if (term < highest) {
      throw new RatifyError(
        'STALE_TERM',
        `term ${term} is older than term ${highest} already seen${scope === LEGACY_SCOPE ? '' : ` from ${scope}`}`,
        {
          details: { highestTerm: highest },
        },
      );
    }
    if (!this.seen.has(scope) && this.seen.size >= FENCE_SCOPES_MAX) {
      throw new RatifyError(
        'TOO_MANY_PENDING',
        `calls came from ${FENCE_SCOPES_MAX} cluster incarnations already (FENCE_SCOPES_MAX); refusing a new one, ${scope}`,
      );
    }
    this.seen.set(scope, term);
    if (scope !== LEGACY_SCOPE) this.seen.set(LEGACY_SCOPE, Math.max(this.highest(LEGACY_SCOPE), term));
  }

  /** Terms raised since they were last made durable. */
  pending(): FenceEntry[] {
    const out: FenceEntry[] = [];
    for (const [scope, term] of this.seen) if (term > (this.durable.get(scope) ?? 0)) out.push({ scope, term });
    return out;
  }

  markDurable(entries: readonly FenceEntry[]): void {
    for (const { scope, term } of entries) this.durable.set(scope, Math.max(this.durable.get(scope) ?? 0, term));
  }
}

/** A store write's fence fields: the legacy scope as `highestTerm` (the field stores always had), the others as `fences`. */
export function fenceWrite(entries: readonly FenceEntry[]): { highestTerm?: number; fences?: FenceEntry[] } {
  const legacy = entries.find((e) => e.scope === LEGACY_SCOPE);
  const scoped = entries.filter((e) => e.scope !== LEGACY_SCOPE);
  return { ...(legacy === undefined ? {} : { highestTerm: legacy.term }), ...(scoped.length === 0 ? {} : { fences: scoped }) };
}

function one(raw: string | readonly string[] | undefined): string | undefined {
  return Array.isArray(raw) ? (raw as readonly string[])[0] : (raw as string | undefined);
}

function invalid(message: string): RatifyError {
  return new RatifyError('VALIDATION_FAILED', message);
}
