// From sources to a validated NodeConfig: layer the sources (sources.ts), fill what
// the settings only point at (the listen address from the peers, the secret, token
// and key files), then validate (validate.ts).
import { ClientTokens, loadClientTokens } from '../../http/tokens.js';
import type { Member, NodeId } from '../../raft/types.js';
import { loadParticipantKeys, ParticipantKeys } from '../../tx/participant-keys.js';
import { listenFromPeers } from '../peer-urls.js';
import { readSecretFile } from '../secrets.js';
import { nodeFields } from './fields.js';
import { type ConfigSources, type Env, layerSources, layerTxSources } from './sources.js';
import type { NodeConfig } from './types.js';
import { configError, validateNodeConfig } from './validate.js';

/** Layer the sources, parse, and validate. Throws RatifyError('CONFIG_INVALID') naming every bad value. */
export function resolveNodeConfig(sources: ConfigSources): NodeConfig {
  const { values: parsed, fileTx, errors } = layerSources(sources);
  for (const name of ['id', 'peers', 'dataDir'] as const) {
    if (parsed[name] === undefined) errors.push(`${name} is required (--${nodeFields[name].flag} or ${nodeFields[name].env})`);
  }
  if (parsed['listen'] === undefined && errors.length === 0) {
    const listen = listenFromPeers(parsed['id'] as NodeId, parsed['peers'] as Member[]);
    if ('errors' in listen) errors.push(...listen.errors);
    else parsed['listen'] = listen;
  }
  resolveSecretFile(parsed, errors);
  parsed['tx'] = layerTxSources(fileTx, sources.env ?? {}, sources.txFlags ?? [], errors);
  parsed['clientTokens'] = clientTokensOf(parsed['tokensFile'] as string | null, sources.env ?? {}, errors);
  parsed['participantKeys'] = participantKeysOf(parsed['participantKeysFile'] as string | null, errors);
  if (errors.length > 0) throw configError(errors);
  const config = parsed as unknown as NodeConfig;
  validateNodeConfig(config);
  return config;
}

/** A secret file fills clusterSecret; giving both is ambiguous (which would win a rotation?). */
function resolveSecretFile(parsed: Record<string, unknown>, errors: string[]): void {
  const file = parsed['clusterSecretFile'];
  if (typeof file !== 'string') return;
  if (parsed['clusterSecret'] !== null && parsed['clusterSecret'] !== undefined) {
    errors.push('clusterSecret and clusterSecretFile are both set: give one (--cluster-secret-file is the one ps cannot show)');
    return;
  }
  try {
    parsed['clusterSecret'] = readSecretFile(file);
  } catch (e) {
    errors.push((e as Error).message);
  }
}

function clientTokensOf(file: string | null, env: Env, errors: string[]): ClientTokens {
  try {
    return loadClientTokens(file, env);
  } catch (e) {
    errors.push(...listedErrors(e));
    return ClientTokens.NONE;
  }
}

function participantKeysOf(file: string | null, errors: string[]): ParticipantKeys {
  try {
    return loadParticipantKeys(file);
  } catch (e) {
    errors.push(...listedErrors(e));
    return ParticipantKeys.NONE;
  }
}

/** The errors a loader listed in its details, or its one message. */
function listedErrors(e: unknown): string[] {
  const listed = (e as { details?: { errors?: unknown } }).details?.errors;
  return Array.isArray(listed) ? listed.map(String) : [(e as Error).message];
}
