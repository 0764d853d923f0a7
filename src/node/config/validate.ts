// Start-up validation of a node's configuration: each field's range (declared in
// fields.ts), the relations between fields, and the checks of identities, peers,
// secrets and TLS. Every message names the value and the limit it broke; all of them
// are reported at once.
import { RatifyError } from '../../errors.js';
import { LOG_LEVELS } from '../../logger.js';
import type { Member, NodeId } from '../../raft/types.js';
import { type TxConfig, validateTxConfig } from '../../tx/config.js';
import { isLoopbackHost } from '../loopback.js';
import { isHttpUrl, peerUrlError } from '../peer-urls.js';
import { parseSecretList, secretErrors } from '../secrets.js';
import type { Field } from './field.js';
import { fieldNames, nodeFields } from './fields.js';
import { show } from './parse.js';
import { type FieldName, type NodeConfig, STATE_MACHINES } from './types.js';

const KiB = 1024;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_PEERS = 64;
const MAX_ELECTION_TIMEOUT_MS = 60_000;

/** Throws RatifyError('CONFIG_INVALID') listing every violated bound. */
export function validateNodeConfig(config: NodeConfig): void {
  const errors = nodeConfigErrors(config);
  if (errors.length > 0) throw configError(errors);
}

export function nodeConfigErrors(c: NodeConfig): string[] {
  const errors: string[] = [];
  if (!ID_PATTERN.test(c.id)) errors.push(`id (${show(c.id)}) must match ${ID_PATTERN.source}`);
  if (!ID_PATTERN.test(c.clusterId)) errors.push(`clusterId (${show(c.clusterId)}) must match ${ID_PATTERN.source}`);
  errors.push(...secretErrors(parseSecretList(c.clusterSecret)), ...tlsErrors(c), ...peerAuthErrors(c));
  if (c.listen.host === '') errors.push('listen host must not be empty');
  errors.push(...rangeErrors('listen port', c.listen.port, [1, 65535]));
  errors.push(...peerErrors(c.id, c.peers));
  if (c.dataDir === '') errors.push('dataDir must not be empty');
  for (const name of fieldNames()) {
    const field: Field<unknown> = nodeFields[name];
    if (field.range !== undefined) errors.push(...rangeErrors(name, c[name] as number, field.range));
    errors.push(...(RELATIONS[name]?.(c) ?? []));
  }
  if (c.seed !== null && (!Number.isSafeInteger(c.seed) || c.seed < 0)) errors.push(`seed (${c.seed}) must be a non-negative integer`);
  if (!(LOG_LEVELS as readonly string[]).includes(c.logLevel))
    errors.push(`logLevel (${show(c.logLevel)}) must be one of ${LOG_LEVELS.join(', ')}`);
  if (!(STATE_MACHINES as readonly string[]).includes(c.stateMachine)) {
    errors.push(`stateMachine (${show(c.stateMachine)}) must be one of ${STATE_MACHINES.join(', ')}`);
  }
  errors.push(...txErrors(c.tx));
  return errors;
}

function rangeErrors(name: string, value: number, [min, max]: readonly [number, number]): string[] {
  return !Number.isSafeInteger(value) || value < min || value > max ? [`${name} (${value}) must be between ${min} and ${max}`] : [];
}

/**
 * Checks between fields, each run right after the range of the last field it involves
 * (in the table's order), so that the messages come in the order of the settings.
 */
const RELATIONS: { readonly [K in FieldName]?: (c: NodeConfig) => string[] } = {
  heartbeatTicks: (c) => [
    ...(c.heartbeatTicks >= c.electionTicks
      ? [`heartbeatTicks (${c.heartbeatTicks}) must be less than electionTicks (${c.electionTicks})`]
      : []),
    ...(c.electionTicks * c.tickMs > MAX_ELECTION_TIMEOUT_MS
      ? [`electionTicks * tickMs (${c.electionTicks * c.tickMs} ms) must be at most ${MAX_ELECTION_TIMEOUT_MS} ms`]
      : []),
  ],
  snapshotBytesMax: (c) =>
    c.snapshotBytesMax < c.snapshotChunkBytes
      ? [`snapshotBytesMax (${c.snapshotBytesMax}) must be at least snapshotChunkBytes (${c.snapshotChunkBytes})`]
      : [],
  maxPendingProposals: (c) =>
    c.maxPendingProposals > c.maxUncommittedEntries
      ? [`maxPendingProposals (${c.maxPendingProposals}) must not exceed maxUncommittedEntries (${c.maxUncommittedEntries})`]
      : [],
  raftBodyLimitBytes: (c) => {
    const errors: string[] = [];
    // One append carries up to maxAppendBytes, or one oversized entry (at most a client body).
    const appendNeed = c.maxAppendBytes + Math.max(c.bodyLimitBytes, c.tx.maxBodyBytes);
    if (c.raftBodyLimitBytes < appendNeed) {
      errors.push(
        `raftBodyLimitBytes (${c.raftBodyLimitBytes}) must be at least maxAppendBytes + max(bodyLimitBytes, tx.maxBodyBytes) (${appendNeed})`,
      );
    }
    const chunkNeed = c.snapshotChunkBytes + 64 * KiB;
    if (c.raftBodyLimitBytes < chunkNeed) {
      errors.push(`raftBodyLimitBytes (${c.raftBodyLimitBytes}) must be at least snapshotChunkBytes + 64 KiB (${chunkNeed})`);
    }
    return errors;
  },
  // Each check asks every member; more often than this would be load, not vigilance.
  consistencyCheckMs: (c) =>
    c.consistencyCheckMs > 0 && c.consistencyCheckMs < 100
      ? [`consistencyCheckMs (${c.consistencyCheckMs}) must be 0 (off) or at least 100`]
      : [],
  // A Ready can rightly take a few ticks on a loaded machine; a bound inside that would restart healthy nodes.
  healthStallMs: (c) =>
    c.healthStallMs < 10 * c.tickMs ? [`healthStallMs (${c.healthStallMs}) must be at least 10 x tickMs (${10 * c.tickMs})`] : [],
};

/** Secure by default: beyond loopback, anyone who reaches the port could otherwise speak Raft. */
function peerAuthErrors(c: NodeConfig): string[] {
  if (isLoopbackHost(c.listen.host) || parseSecretList(c.clusterSecret).length > 0 || c.tlsMutual) return [];
  return [
    `listen host ${show(c.listen.host)} is not loopback, so peers must authenticate: set a cluster secret ` +
      '(--cluster-secret-file FILE with one line of at least 16 random characters, or RATIFY_CLUSTER_SECRET; ' +
      'e.g. `head -c 24 /dev/urandom | base64`, the same on every node), or mutual TLS (--tls-cert, --tls-key, --tls-ca and --tls-mutual true)',
  ];
}

function tlsErrors(c: NodeConfig): string[] {
  const errors: string[] = [];
  if ((c.tlsCert === null) !== (c.tlsKey === null))
    errors.push('tlsCert and tlsKey go together: set both (--tls-cert, --tls-key) or neither');
  if (c.tlsMutual && (c.tlsCert === null || c.tlsCa === null))
    errors.push('tlsMutual needs tlsCert, tlsKey and tlsCa (--tls-cert, --tls-key, --tls-ca)');
  const scheme = c.tlsCert === null ? 'http:' : 'https:';
  const own = c.peers.find((p) => p.id === c.id);
  if (own !== undefined && isHttpUrl(own.url) && new URL(own.url).protocol !== scheme) {
    errors.push(`this node's peer url (${show(own.url)}) must be ${scheme}// ${c.tlsCert === null ? 'without' : 'with'} --tls-cert`);
  }
  return errors;
}

function peerErrors(id: NodeId, peers: readonly Member[]): string[] {
  const errors: string[] = [];
  if (peers.length < 1 || peers.length > MAX_PEERS) errors.push(`peers (${peers.length} members) must be between 1 and ${MAX_PEERS}`);
  const seen = new Set<string>();
  for (const p of peers) {
    if (!ID_PATTERN.test(p.id)) errors.push(`peer id (${show(p.id)}) must match ${ID_PATTERN.source}`);
    if (seen.has(p.id)) errors.push(`peer id (${show(p.id)}) appears more than once`);
    seen.add(p.id);
    const badUrl = peerUrlError(p.id, p.url);
    if (badUrl !== null) errors.push(badUrl);
  }
  if (!seen.has(id)) errors.push(`peers (${[...seen].join(', ')}) must include this node's id (${show(id)})`);
  return errors;
}

function txErrors(tx: TxConfig): string[] {
  try {
    validateTxConfig(tx);
    return [];
  } catch (e) {
    return [`tx: ${(e as Error).message}`];
  }
}

export function configError(errors: readonly string[]): RatifyError {
  return new RatifyError('CONFIG_INVALID', `invalid configuration: ${errors.join('; ')}`, { details: { errors: [...errors] } });
}
