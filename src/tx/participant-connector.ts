// The socket side of the participant URL policy: an undici connector that
// resolves a participant's host, has the policy check every address it has,
// and connects to the checked address itself. The check and the connection
// use one DNS answer, so a name that resolves to an allowed address when it is
// checked and to the metadata service a moment later (DNS rebinding) cannot
// move the call: there is no second lookup. For https the original host name
// still names the server (SNI and certificate checks).
//
// Connections are pooled per origin (keep-alive), so this runs once per new
// connection, not per call.
import { isIP } from 'node:net';
import type * as Undici from 'undici';
import { buildConnector } from '../util/undici-parts.js';
import type { ParticipantUrlPolicy } from './participant-url-policy.js';

export function policyConnector(
  policy: ParticipantUrlPolicy,
  options: Undici.buildConnector.BuildOptions = {},
): Undici.buildConnector.connector {
  const connect = buildConnector(options);
  return (target, callback) => {
    const port = target.port === '' ? (target.protocol === 'https:' ? 443 : 80) : Number(target.port);
    policy.connectAddress(target.hostname, port, target.protocol).then(
      (address) => {
        const servername = target.servername ?? (isIP(target.hostname) === 0 ? target.hostname : undefined);
        connect({ ...target, hostname: address, ...(servername === undefined ? {} : { servername }) }, callback);
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
    );
  };
}
