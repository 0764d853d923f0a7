// Pure: the members' state digests compared with the reference member's (the
// leader's), each at the highest applied index both have a digest of.
import type { ConsistencyView, MemberConsistencyView } from '../sdk/admin-types.js';
import type { StateDigest } from '../node/state-digests.js';

export interface DigestReport {
  readonly nodeId: string;
  readonly appliedIndex: number;
  readonly digests: readonly StateDigest[];
}

export type MemberDigests =
  | { readonly id: string; readonly report: DigestReport }
  | { readonly id: string; readonly report: null; readonly error: string };

export function compareDigests(
  observedBy: string,
  referenceId: string | null,
  intervalEntries: number,
  members: readonly MemberDigests[],
): ConsistencyView {
  const reference = members.find((m) => m.id === referenceId)?.report ?? null;
  const views = members.map((m): MemberConsistencyView => {
    if (m.report === null) return unchecked(m.id, null, m.error);
    if (reference === null)
      return unchecked(
        m.id,
        m.report.appliedIndex,
        referenceId === null ? 'no leader to compare with' : `the leader ${referenceId} did not answer`,
      );
    const theirs = new Map(m.report.digests.map((d) => [d.index, d.sha256]));
    const common = [...reference.digests].reverse().find((d) => theirs.has(d.index));
    if (common === undefined) return unchecked(m.id, m.report.appliedIndex, 'no digest at an index the leader has one of (yet)');
    const digest = theirs.get(common.index)!;
    return {
      id: m.id,
      verdict: digest === common.sha256 ? 'match' : 'mismatch',
      index: common.index,
      digest,
      referenceDigest: common.sha256,
      appliedIndex: m.report.appliedIndex,
      error: null,
    };
  });
  return {
    observedBy,
    referenceId: reference === null ? null : referenceId,
    intervalEntries,
    members: views,
    mismatched: views.filter((v) => v.verdict === 'mismatch').map((v) => v.id),
  };
}

function unchecked(id: string, appliedIndex: number | null, error: string): MemberConsistencyView {
  return { id, verdict: 'unchecked', index: null, digest: null, referenceDigest: null, appliedIndex, error };
}

/** A member's answer is data from the network: checked, never trusted (throws on an implausible one). */
export function parseDigestReport(x: unknown): DigestReport {
  const o = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
  const index = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const digests = o['digests'];
  if (typeof o['nodeId'] !== 'string' || !index(o['appliedIndex']) || !Array.isArray(digests) || digests.length > 1024)
    throw new Error('implausible GET /v1/cluster/digests answer');
  const parsed = digests.map((d: unknown) => {
    const r = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
    if (!index(r['index']) || typeof r['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(r['sha256']))
      throw new Error('implausible digest in GET /v1/cluster/digests');
    return { index: r['index'], sha256: r['sha256'] };
  });
  return { nodeId: o['nodeId'], appliedIndex: o['appliedIndex'], digests: parsed };
}
