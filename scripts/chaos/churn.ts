// The membership-churn fault, over the admin API: remove a node (the leader half of
// the time), and when the fault heals, add it back as a learner and promote it once it
// has caught up. Between the two the node is out of the cluster, so a 3-node cluster
// runs on two voters.
//
// The node's data is wiped, so it rejoins as a new learner would (--join), only once
// the node itself says it was removed (GET /v1/cluster "removed": true): a node knows
// that only from a committed and applied removal (its own, or a peer's 410), and wiping
// a node that is still a member would make it forget votes and entries it promised.
// If it never says so within the bound, it is stopped with its data and started again
// with it: a node whose removal did not commit simply comes back as the member it is.
import { httpJson, isObject, pollUntil, sleep } from './http.js';
import type { NodeEndpoint } from './target.js';

export interface ChurnContext {
  readonly nodes: readonly NodeEndpoint[];
  /** Bound on each step (the removal, learning of it, the addition, the promotion). */
  readonly stepTimeoutMs: number;
  readonly signal: AbortSignal;
}

export interface Removal {
  /** The removal committed: the API answered 200, or the node said it was removed. */
  readonly committed: boolean;
  /** The node reported "removed": true (it stopped campaigning and serving). */
  readonly nodeKnew: boolean;
  /** Answers of the DELETE calls, for the log. */
  readonly answers: readonly string[];
}

const CALL_TIMEOUT_MS = 10_000;
const RETRY_MS = 200;

/** DELETE /v1/cluster/members/{id} through any node (admin calls are forwarded to the leader). */
export async function removeMember(ctx: ChurnContext, id: string): Promise<Removal> {
  const answers: string[] = [];
  let acknowledged = false;
  const deadline = Date.now() + ctx.stepTimeoutMs;
  for (let attempt = 0; Date.now() < deadline && !ctx.signal.aborted; attempt++) {
    // Any node but the victim: a removed victim answers nothing useful.
    const others = ctx.nodes.filter((n) => n.id !== id);
    const via = others[attempt % others.length]!;
    const r = await httpJson('DELETE', `${via.url}/v1/cluster/members/${encodeURIComponent(id)}`, { timeoutMs: CALL_TIMEOUT_MS });
    answers.push(r.kind === 'reply' ? `${r.status}${codeSuffix(r.body)}` : 'unreachable');
    if (r.kind === 'reply' && r.status === 200) {
      acknowledged = true;
      break;
    }
    // 404: not in the latest configuration any more (an earlier attempt's entry); whether it committed, the node tells below.
    if (r.kind === 'reply' && r.status === 404) break;
    await sleep(RETRY_MS, ctx.signal);
  }
  const url = ctx.nodes.find((n) => n.id === id)!.url;
  const knew = await pollUntil(ctx.stepTimeoutMs, async () => ((await removedFlag(url)) === true ? true : undefined), RETRY_MS, ctx.signal);
  return { committed: acknowledged || knew === true, nodeKnew: knew === true, answers };
}

export type Readdition = { readonly kind: 'voter' } | { readonly kind: 'failed'; readonly why: string };

/** POST /v1/cluster/members, then promote once the learner has caught up. */
export async function addBack(ctx: ChurnContext, id: string, url: string): Promise<Readdition> {
  const added = await adminUntil(ctx, 'POST', '/v1/cluster/members', { id, url }, id);
  if (added !== 'ok') return { kind: 'failed', why: `adding ${id} as a learner: ${added}` };
  const promoted = await adminUntil(ctx, 'POST', `/v1/cluster/members/${encodeURIComponent(id)}/promote`, undefined, id);
  if (promoted !== 'ok') return { kind: 'failed', why: `promoting ${id}: ${promoted}` };
  return { kind: 'voter' };
}

/**
 * Repeats an admin call until it succeeds, or answers INVALID_CONFIG_CHANGE (the change
 * is already in place: a member cannot be added twice, a voter not promoted twice).
 * Anything else is retried: no leader, a change in flight, a learner not caught up.
 */
async function adminUntil(ctx: ChurnContext, method: 'POST', path: string, body: unknown, avoid: string): Promise<string> {
  let last = 'no attempt';
  const deadline = Date.now() + ctx.stepTimeoutMs;
  for (let attempt = 0; Date.now() < deadline && !ctx.signal.aborted; attempt++) {
    const others = ctx.nodes.filter((n) => n.id !== avoid);
    const via = others[attempt % others.length]!;
    const r = await httpJson(method, `${via.url}${path}`, { body, timeoutMs: CALL_TIMEOUT_MS });
    if (r.kind === 'reply' && r.status === 200) return 'ok';
    if (r.kind === 'reply' && errorCode(r.body) === 'INVALID_CONFIG_CHANGE') return 'ok';
    last = r.kind === 'reply' ? `${r.status}${codeSuffix(r.body)}` : r.error;
    await sleep(RETRY_MS, ctx.signal);
  }
  return `gave up after ${ctx.stepTimeoutMs} ms (last: ${last})`;
}

async function removedFlag(url: string): Promise<boolean | null> {
  const r = await httpJson('GET', `${url}/v1/cluster`, { timeoutMs: 1_000 });
  if (r.kind !== 'reply' || r.status !== 200 || !isObject(r.body)) return null;
  return r.body['removed'] === true;
}

function errorCode(body: unknown): string | null {
  const error = isObject(body) ? body['error'] : undefined;
  return isObject(error) && typeof error['code'] === 'string' ? error['code'] : null;
}

function codeSuffix(body: unknown): string {
  const code = errorCode(body);
  return code === null ? '' : ` ${code}`;
}
