// The edge every route group of a node inherits, installed once at the app's
// root before any route is registered: one error handler and error shape
// (error-handler.ts), strict validation (validation.ts), one JSON body parser
// with a nesting-depth limit (json-body.ts), one authentication hook (auth.ts)
// and the audit log (audit.ts). Route plugins add none of these themselves; tests that mount a
// single route group install the same edge, so they exercise what production runs.
import type { FastifyInstance } from 'fastify';
import { installAudit } from './audit.js';
import { installAuth, type AuthOptions } from './auth.js';
import { installErrorHandling, type RejectionObserver } from './error-handler.js';
import { installJsonBody, JSON_DEPTH_MAX_DEFAULT } from './json-body.js';
import { installStrictValidation } from './validation.js';

export interface EdgeOptions extends AuthOptions {
  /** Deepest nesting of a JSON body (jsonDepthMax); deeper is 400 VALIDATION_FAILED. */
  readonly jsonDepthMax?: number;
  /** Hears of every error reply (the node's ratify_http_requests_rejected_total). */
  readonly rejections?: RejectionObserver;
}

export function installEdge(app: FastifyInstance, opts: EdgeOptions): void {
  installErrorHandling(app, opts.rejections);
  installStrictValidation(app);
  installJsonBody(app, opts.jsonDepthMax ?? JSON_DEPTH_MAX_DEFAULT);
  installAuth(app, opts);
  installAudit(app);
}
