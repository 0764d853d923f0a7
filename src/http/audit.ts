// The audit log: one line for every call that changes what the cluster decides
// or who is in it, whatever its outcome (refusals for a missing token or the
// wrong role included), with who asked, from where, and on what:
//
//   {"level":30,"nodeId":"n1","term":4,"audit":"tx.abort","principal":"payments",
//    "role":"client","source":"10.0.3.7","txId":"…","status":200,"msg":"audit"}
//
// A route opts in with `config: { audit: '<action>' }`; one onSend hook at the
// app's root writes the line, so no route can forget the fields. A request a
// follower relayed is logged once, by the node that served it (the leader), with
// the client's address the follower passed along and `forwardedBy`; the
// follower writes no line of its own for it unless the relay itself failed.
// The principal is null while the client API has no tokens. Tokens, bodies and
// payloads are never logged.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * What an audited route does. `tx.forceFinish` is reserved for the admin
 * endpoint that force-finishes a stuck transaction (README, "Audit log"): that
 * route declares `config: { ...ADMIN, audit: 'tx.forceFinish' }` and is logged
 * like every other.
 */
export type AuditAction =
  | 'tx.create'
  | 'tx.enlist'
  | 'tx.commit'
  | 'tx.abort'
  | 'tx.forceFinish'
  | 'cluster.addMember'
  | 'cluster.promote'
  | 'cluster.removeMember'
  | 'cluster.transferLeadership'
  | 'cluster.snapshot';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Log every call of this route to the audit log (audit.ts). */
    audit?: AuditAction;
  }
  interface FastifyRequest {
    /**
     * The transaction a tx.* call answered about, set by the route that knows it
     * (a create: the id it made), so the audit line need not parse the reply back.
     */
    auditTxId: string | null;
  }
}

export interface AuditLine {
  readonly audit: AuditAction;
  readonly principal: string | null;
  readonly role: string | null;
  readonly source: string;
  /** tx.* actions: the transaction (null when a create failed). */
  readonly txId?: string | null;
  /** cluster.* actions: the member added, promoted, removed or handed leadership. */
  readonly member?: string | null;
  readonly status: number;
  readonly forwardedBy?: string;
}

/** Install on the root instance before any route is registered (edge.ts does). */
export function installAudit(app: FastifyInstance): void {
  app.decorateRequest('auditTxId', null);
  app.addHook('onSend', (request, reply, payload, done) => {
    const action = (request.routeOptions.config as { audit?: AuditAction } | undefined)?.audit;
    // A relayed request is the leader's to log (it knows the outcome and has the client's address).
    if (action !== undefined && (request.forwardedTo === null || reply.statusCode >= 500)) {
      request.log.info(auditLine(action, request, reply, payload), 'audit');
    }
    done(null, payload);
  });
}

function auditLine(action: AuditAction, request: FastifyRequest, reply: FastifyReply, payload: unknown): AuditLine {
  const target = action.startsWith('tx.') ? { txId: txIdOf(request, reply, payload) } : { member: memberOf(request) };
  const line: AuditLine = {
    audit: action,
    principal: request.principal?.name ?? null,
    role: request.principal?.role ?? null,
    source: request.clientAddress === '' ? request.ip : request.clientAddress,
    ...target,
    status: reply.statusCode,
  };
  return request.forwardedBy === null ? line : { ...line, forwardedBy: request.forwardedBy };
}

/** The transaction a call is about: the `:id` of its path, or the id a create answered with. */
function txIdOf(request: FastifyRequest, reply: FastifyReply, payload: unknown): string | null {
  const id = stringField(request.params, 'id');
  if (id !== null || reply.statusCode >= 300) return id;
  // The route said which transaction it answered about: parsing the whole view
  // back (JSON.parse of the reply) cost about 1% of a leader's CPU at 2,400 creates/s.
  if (request.auditTxId !== null) return request.auditTxId;
  if (typeof payload !== 'string') return null;
  try {
    return stringField(JSON.parse(payload), 'id');
  } catch {
    return null;
  }
}

/** The member a cluster call is about: the `:id` of its path, or `id` / `to` of its body. */
function memberOf(request: FastifyRequest): string | null {
  return stringField(request.params, 'id') ?? stringField(request.body, 'id') ?? stringField(request.body, 'to');
}

function stringField(value: unknown, key: string): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' && field.length <= 256 ? field : null;
}
