// The edge every route group of a node inherits, installed once at the app's
// root before any route is registered: one error handler and error shape
// (error-handler.ts), strict validation (validation.ts) and one authentication
// hook (auth.ts). Route plugins add none of these themselves; tests that mount a
// single route group install the same edge, so they exercise what production runs.
import type { FastifyInstance } from 'fastify';
import { installAuth, type AuthOptions } from './auth.js';
import { installErrorHandling } from './error-handler.js';
import { installStrictValidation } from './validation.js';

export function installEdge(app: FastifyInstance, auth: AuthOptions): void {
  installErrorHandling(app);
  installStrictValidation(app);
  installAuth(app, auth);
}
