// What a node says at start-up about the defaults it runs with that are unsafe
// beyond a developer's machine (as etcd warns when it starts with auth disabled).
// A warning, not a refusal: `npm start`, the examples and the tests run on
// loopback with no setup, and a production operator reads these lines once and
// sets what they name (README, Security).
import { isLoopbackHost } from '../tx/participant-url-policy.js';
import type { NodeConfig } from './config.js';

export interface SecurityNotes {
  readonly warnings: readonly string[];
  /** Facts worth one info line (principal names, never tokens). */
  readonly info: Readonly<Record<string, unknown>>;
}

export function securityNotes(c: NodeConfig): SecurityNotes {
  const warnings: string[] = [];
  const listen = `${c.listen.host}:${c.listen.port}`;
  if (!c.clientTokens.enabled) {
    warnings.push(
      `client API authentication is disabled: no tokens are configured (--tokens-file or RATIFY_TOKENS), so anyone who can reach ${listen} ` +
        'can create, list, commit and abort transactions',
    );
    if (c.ownTransactionsOnly === true)
      warnings.push('ownTransactionsOnly has no effect without tokens: there are no principals to tell apart');
  }
  if (c.stateMachine === 'tx' && c.tx.participantHostAllowlist.length === 0 && !isLoopbackHost(c.listen.host)) {
    warnings.push(
      `participantHostAllowlist is empty and this node listens on ${c.listen.host}: clients may point participant URLs at any address ` +
        'but link-local, metadata and cluster members; set --tx participantHostAllowlist=host:port,10.0.0.0/8,https://svc/prefix/ in production',
    );
  }
  const keys = c.participantKeys;
  if (c.stateMachine === 'tx' && keys?.enabled !== true && !isLoopbackHost(c.listen.host)) {
    warnings.push(
      'participant calls are unsigned: no --participant-keys-file, so a participant cannot tell this cluster from anyone who reaches it; ' +
        'give each participant a key (README, Security) and the same key to its SDK (coordinatorKey)',
    );
  }
  const info = {
    ...(c.clientTokens.enabled
      ? { tokens: c.clientTokens.size, principals: c.clientTokens.principals(), ownTransactionsOnly: c.ownTransactionsOnly ?? true }
      : {}),
    ...(keys?.enabled === true ? { participantKeys: keys.toJSON() } : {}),
  };
  return { warnings, info };
}
