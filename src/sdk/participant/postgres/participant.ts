// createPostgresParticipant: a PostgreSQL database as a Ratify participant, through its
// native two-phase commit (PREPARE TRANSACTION). It is the SDK's participant core
// (participant.ts: decoding, term fencing, per-record locks, deduplication, the
// resolver's cooperative termination, the transports) with three parts of its own:
//
//   handlers.ts    prepare = the user's work + PREPARE TRANSACTION; commit/abort =
//                  COMMIT/ROLLBACK PREPARED, idempotent through commit markers
//   store.ts       the core's records and highest term, in the same database
//   reconciler.ts  pg_prepared_xacts against the records, at start and periodically
//
// The user owns the pg Pool (create it, attach its 'error' listener, end it after
// close()). This module imports pg's types only, so `pg` stays an optional peer
// dependency of the package: nothing loads it unless a user hands us a Pool.
import type { Pool } from 'pg';
import { pino } from 'pino';
import { RatifyError } from '../../../errors.js';
import type { HeaderBag } from '../decode.js';
import { configError, inRange, type ParticipantOptions } from '../options.js';
import { createParticipant, type Participant, type ReceivedRequest, type RecordListing } from '../participant.js';
import type { ResolvePassReport } from '../resolver.js';
import type { CallPath, HandleResult, ParticipantLogger } from '../types.js';
import { GID_PREFIX_PATTERN, gidOf } from './gid.js';
import { postgresHandlers, type IsolationLevel, type PostgresWork } from './handlers.js';
import { reconcilePrepared, type ReconcileReport } from './reconciler.js';
import { SCHEMA_PATTERN } from './schema.js';
import { PostgresParticipantStore } from './store.js';

export interface PostgresParticipantOptions extends Omit<ParticipantOptions, 'store' | 'dataDir' | 'handlers'> {
  /** The participant's database. The adapter never ends it. */
  readonly pool: Pool;
  /** The transaction's work, on a client inside BEGIN (see PostgresWork). */
  readonly work: PostgresWork;
  /** Starts every gid and names this store in the shared tables. Default "ratify". */
  readonly gidPrefix?: string;
  /** Schema of the adapter's tables, created if missing. Default "ratify_participant"; not a database user's name (schema.ts says why). */
  readonly schema?: string;
  /** Default "read committed". */
  readonly isolationLevel?: IsolationLevel;
  /**
   * lock_timeout of the work, in ms (0: none). Default 2,000: below the coordinator's
   * prepare timeout (prepareCallTimeoutMs, 5 s), so a prepare stuck behind another
   * transaction's locks votes abort with the database's reason instead of timing out.
   */
  readonly lockTimeoutMs?: number;
  /** How often pg_prepared_xacts is reconciled with the records. Default 5,000 ms. */
  readonly reconcileIntervalMs?: number;
}

export interface PostgresParticipant extends Participant {
  /** One reconciliation pass now (the timer runs the same); after start(). */
  reconcile(): Promise<ReconcileReport>;
  /** The gid of the prepared transaction of (txId, participant). */
  gidOf(txId: string, participant: string): string;
}

export const DEFAULT_SCHEMA = 'ratify_participant';
const ISOLATION_LEVELS: readonly IsolationLevel[] = ['read committed', 'repeatable read', 'serializable'];

export function createPostgresParticipant(o: PostgresParticipantOptions): PostgresParticipant {
  if (typeof o.pool?.query !== 'function' || typeof o.pool.connect !== 'function') throw configError('pool must be a pg Pool');
  if (typeof o.work !== 'function') throw configError('work must be a function (client, tx) => Promise<vote | void>');
  const gidPrefix = o.gidPrefix ?? 'ratify';
  if (!GID_PREFIX_PATTERN.test(gidPrefix))
    throw configError(`gidPrefix (${JSON.stringify(gidPrefix)}) must match ${String(GID_PREFIX_PATTERN)}`);
  const schema = o.schema ?? DEFAULT_SCHEMA;
  if (!SCHEMA_PATTERN.test(schema)) throw configError(`schema (${JSON.stringify(schema)}) must match ${String(SCHEMA_PATTERN)}`);
  const isolationLevel = o.isolationLevel ?? 'read committed';
  if (!ISOLATION_LEVELS.includes(isolationLevel))
    throw configError(`isolationLevel (${String(isolationLevel)}) must be one of ${ISOLATION_LEVELS.join(', ')}`);
  const lockTimeoutMs = inRange('lockTimeoutMs', o.lockTimeoutMs ?? 2_000, 0, 600_000);
  const reconcileIntervalMs = inRange('reconcileIntervalMs', o.reconcileIntervalMs ?? 5_000, 10, 3_600_000);

  const { pool, work, gidPrefix: _p, schema: _s, isolationLevel: _i, lockTimeoutMs: _l, reconcileIntervalMs: _r, ...core } = o;
  const store = new PostgresParticipantStore(pool, { gidPrefix, schema });
  // The core's default logger, made here so the handlers and the reconciler log through it too.
  const logger = o.logger ?? pino({ level: 'info', base: { participant: o.name ?? 'participant' } });
  const participant = createParticipant({
    ...core,
    logger,
    store,
    handlers: postgresHandlers({ pool, work, gidPrefix, markers: store.tables.markers, isolationLevel, lockTimeoutMs, logger }),
  });
  return new PgParticipant(participant, store, pool, gidPrefix, reconcileIntervalMs, logger);
}

class PgParticipant implements PostgresParticipant {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<ReconcileReport> | null = null;
  private started = false;
  private starting: Promise<void> | null = null;

  constructor(
    private readonly core: Participant,
    private readonly store: PostgresParticipantStore,
    private readonly pool: Pool,
    private readonly gidPrefix: string,
    private readonly reconcileIntervalMs: number,
    private readonly logger: ParticipantLogger,
  ) {}

  get name(): string {
    return this.core.name;
  }

  handle(path: CallPath, body: unknown, headers?: HeaderBag, request?: ReceivedRequest): Promise<HandleResult> {
    return this.core.handle(path, body, headers, request);
  }

  /**
   * Declines the batch extension with 404, so the coordinator sends single calls (it
   * tries a batch again after 10 minutes). A batch is answered only once every call in it
   * is, and here a prepare can wait for a row lock held by another transaction of the
   * same batch, whose vote then cannot leave until that wait ends: a deadlock across the
   * HTTP exchange that no database can see, broken only by lock_timeout. In the example
   * (npm run example:postgres) 2 and 5 of 24 transfers aborted on a lock timeout in two
   * runs with batches; none in two runs without.
   */
  async handleBatch(_body: unknown, _headers?: HeaderBag): Promise<HandleResult> {
    const e = new RatifyError(
      'ROUTE_NOT_FOUND',
      'the PostgreSQL participant takes single calls only (a batched prepare could wait on a lock held by another call of its own batch)',
    );
    return { status: e.status, body: e.toJSON() };
  }

  /** Opens the store (settings check, tables, records), reconciles once, then starts the timers. Idempotent. */
  start(): Promise<void> {
    this.starting ??= this.startOnce().catch((e: unknown) => {
      this.starting = null;
      throw e;
    });
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    await this.core.start();
    this.started = true;
    const first = await this.reconcile();
    if (first.prepared > 0) this.logger.info({ ...first }, 'reconciled prepared transactions at start');
    this.timer = setInterval(() => {
      this.reconcile().catch((e: unknown) => this.logger.error({ err: e }, 'reconciling prepared transactions failed'));
    }, this.reconcileIntervalMs);
    this.timer.unref();
  }

  reconcile(): Promise<ReconcileReport> {
    if (!this.started) return Promise.reject(new RatifyError('SHUTTING_DOWN', 'start() the participant before reconciling'));
    this.running ??= reconcilePrepared(this.pool, this.store, this.gidPrefix, this.logger).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  resolvePending(): Promise<ResolvePassReport> {
    return this.core.resolvePending();
  }

  async close(): Promise<void> {
    // A start still under way finishes first, so its timer is not set after the clear.
    await this.starting?.catch(() => undefined);
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
    this.started = false;
    await this.core.close();
  }

  highestTerm(scope?: string): number {
    return this.core.highestTerm(scope);
  }

  inDoubtCount(): number {
    return this.core.inDoubtCount();
  }

  listRecords(sinceMs: number, scanMax: number): Promise<RecordListing> {
    return this.core.listRecords(sinceMs, scanMax);
  }

  gidOf(txId: string, participant: string): string {
    return gidOf(this.gidPrefix, txId, participant);
  }
}
