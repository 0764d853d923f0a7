// Options of a participant, validated up front with messages that name the value
// and the limit (a participant that starts with a nonsense timeout would
// misbehave only much later, under failure, where it is hardest to see).
import { pino } from 'pino';
import { RatifyError } from '../../errors.js';
import { participantKeyProblem } from './signature.js';
import type { ParticipantStore } from './store.js';
import type { ParticipantHandlers, ParticipantLogger } from './types.js';

export interface ParticipantOptions {
  /** For logs only. */
  readonly name?: string;
  /** LevelDB directory of this participant's records. Ignored when `store` is given. */
  readonly dataDir?: string;
  /** A custom store (for example MemoryParticipantStore in tests). */
  readonly store?: ParticipantStore;
  readonly handlers: ParticipantHandlers;
  /** Cluster nodes asked by cooperative termination; without them a 2PC tx waits for the coordinator. */
  readonly coordinatorUrls?: readonly string[];
  /**
   * The key the cluster signs our calls with (its --participant-keys-file line
   * for our participant name, or its `*` line). Given, every call must carry a
   * valid signature (signature.ts) or is refused with 401 SIGNATURE_INVALID
   * before it touches a record or the term fence. Several keys: any one
   * verifies (while a key is rotated). Absent: calls are not checked, and
   * start() logs a warning.
   */
  readonly coordinatorKey?: string | readonly string[];
  /** How far a signed call's timestamp may be from our clock, either way (default 5 minutes). */
  readonly signatureSkewMsMax?: number;
  /**
   * A client API token (a `reader` role suffices) sent by cooperative
   * termination to coordinatorUrls, for a cluster with --tokens-file.
   */
  readonly coordinatorToken?: string;
  /** A tx prepared and not heard about for this long is resolved by asking the cluster. */
  readonly resolveAfterMs?: number;
  /**
   * 3PC: a precommitted transaction commits on its own once no coordinator node
   * could be reached for this long (without coordinatorUrls: once no coordinator
   * call came for this long). A prepared one never decides on its own.
   */
  readonly threePcTimeoutMs?: number;
  /** Per-request timeout of cooperative-termination calls to the cluster. */
  readonly inquiryTimeoutMs?: number;
  /** Finished records are kept this long so late duplicate calls are still deduplicated. */
  readonly finishedRetentionMs?: number;
  /** Coordinator calls handled at once; more get 429 TOO_MANY_PENDING. */
  readonly inflightMax?: number;
  /** Transactions in doubt at once; a prepare beyond it votes abort. */
  readonly inDoubtMax?: number;
  /** In-doubt transactions resolved per background pass. */
  readonly resolveBatchMax?: number;
  readonly logger?: ParticipantLogger;
  /** Wall clock in ms; injected by tests. */
  readonly now?: () => number;
}

export interface ResolvedOptions {
  readonly name: string;
  readonly store: ParticipantStore | null;
  readonly dataDir: string | null;
  readonly handlers: ParticipantHandlers;
  readonly coordinatorUrls: readonly string[];
  readonly coordinatorKeys: readonly string[];
  readonly signatureSkewMsMax: number;
  readonly coordinatorToken: string | null;
  readonly resolveAfterMs: number;
  readonly threePcTimeoutMs: number;
  readonly inquiryTimeoutMs: number;
  readonly finishedRetentionMs: number;
  readonly inflightMax: number;
  readonly inDoubtMax: number;
  readonly resolveBatchMax: number;
  readonly logger: ParticipantLogger;
  readonly now: () => number;
}

const DAY_MS = 86_400_000;
const COORDINATOR_URLS_MAX = 16;
/** Keys accepted at once: the current one and those being rotated out. */
const COORDINATOR_KEYS_MAX = 4;

export function resolveOptions(o: ParticipantOptions): ResolvedOptions {
  if (o.store === undefined && (typeof o.dataDir !== 'string' || o.dataDir.length === 0)) {
    throw configError('dataDir must be a directory path (or pass a store)');
  }
  checkHandlers(o.handlers);
  const name = o.name ?? 'participant';
  return {
    name,
    store: o.store ?? null,
    dataDir: o.dataDir ?? null,
    handlers: o.handlers,
    coordinatorUrls: checkUrls(o.coordinatorUrls ?? []),
    coordinatorKeys: checkKeys(o.coordinatorKey),
    signatureSkewMsMax: inRange('signatureSkewMsMax', o.signatureSkewMsMax ?? 300_000, 1_000, 3_600_000),
    coordinatorToken: checkToken(o.coordinatorToken),
    resolveAfterMs: inRange('resolveAfterMs', o.resolveAfterMs ?? 10_000, 10, DAY_MS),
    threePcTimeoutMs: inRange('threePcTimeoutMs', o.threePcTimeoutMs ?? 30_000, 10, DAY_MS),
    inquiryTimeoutMs: inRange('inquiryTimeoutMs', o.inquiryTimeoutMs ?? 5_000, 10, 600_000),
    finishedRetentionMs: inRange('finishedRetentionMs', o.finishedRetentionMs ?? 7 * DAY_MS, 0, 365 * DAY_MS),
    inflightMax: inRange('inflightMax', o.inflightMax ?? 4096, 1, 1_000_000),
    inDoubtMax: inRange('inDoubtMax', o.inDoubtMax ?? 100_000, 1, 10_000_000),
    resolveBatchMax: inRange('resolveBatchMax', o.resolveBatchMax ?? 64, 1, 10_000),
    logger: o.logger ?? pino({ level: 'info', base: { participant: name } }),
    now: o.now ?? Date.now,
  };
}

/** The value, or a CONFIG_INVALID naming the value and its bounds. */
export function inRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw configError(`${name} (${value}) must be between ${min} and ${max}`);
  }
  return value;
}

function checkUrls(urls: readonly string[]): readonly string[] {
  if (urls.length > COORDINATOR_URLS_MAX)
    throw configError(`coordinatorUrls (${urls.length} urls) must list at most ${COORDINATOR_URLS_MAX}`);
  return urls.map((u) => {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw configError(`coordinatorUrls entry ${JSON.stringify(u)} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw configError(`coordinatorUrls entry ${u} must be http(s)`);
    return u.replace(/\/+$/, '');
  });
}

function checkKeys(key: string | readonly string[] | undefined): readonly string[] {
  if (key === undefined) return [];
  const keys = typeof key === 'string' ? [key] : key;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > COORDINATOR_KEYS_MAX) {
    throw configError(`coordinatorKey must be a key or a list of 1 to ${COORDINATOR_KEYS_MAX} keys`);
  }
  return keys.map((k: unknown, i) => {
    const problem = typeof k === 'string' ? participantKeyProblem(k) : 'a participant key must be a string';
    // Never the key itself in the message.
    if (problem !== null) throw configError(`coordinatorKey${keys.length > 1 ? `[${i}]` : ''}: ${problem}`);
    return k as string;
  });
}

function checkToken(token: string | undefined): string | null {
  if (token === undefined) return null;
  if (typeof token !== 'string' || !/^[A-Za-z0-9\-._~+/]+=*$/.test(token) || token.length < 16 || token.length > 512) {
    throw configError(
      'coordinatorToken must be a client API token: 16 to 512 characters of letters, digits and - . _ ~ + / (then = padding)',
    );
  }
  return token;
}

function checkHandlers(h: ParticipantHandlers | undefined): void {
  if (typeof h !== 'object' || h === null) throw configError('handlers must be an object with prepare, commit and abort');
  for (const k of ['prepare', 'commit', 'abort'] as const) {
    if (typeof h[k] !== 'function') throw configError(`handlers.${k} must be a function`);
  }
  if (h.precommit !== undefined && typeof h.precommit !== 'function') throw configError('handlers.precommit must be a function');
}

export function configError(message: string): RatifyError {
  return new RatifyError('CONFIG_INVALID', message);
}
