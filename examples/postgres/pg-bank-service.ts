// A bank whose ledger is a PostgreSQL database, as a Ratify participant through the
// PostgreSQL adapter (PREPARE TRANSACTION). The process keeps nothing on disk: its
// participant records, its highest term and its prepared transactions are all in the
// database, so it can be killed and started again (or elsewhere) at any moment.
//
//   PGPASSWORD=... node dist/examples/postgres/pg-bank-service.js --name bank-a --port 7101 \
//        --database postgres://ratify@127.0.0.1:5432/bank_a \
//        --coordinators http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003
//
// Routes: POST /ratify/{prepare,precommit,commit,abort,batch} (the participant protocol),
// GET /accounts, POST /accounts {name, balance}, GET /healthz. The password comes from
// PGPASSWORD (pg reads it), not from the command line, where `ps` would show it.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import pg from 'pg';
import { participantSecretsFromEnv } from '../participant-secrets.js';
import { pino, type Logger } from 'pino';
import { ratifyParticipant } from '../../src/sdk/participant/index.js';
import { createPostgresParticipant, type PostgresParticipant } from '../../src/sdk/participant/postgres.js';
import { accounts, createBankTables, openAccount, transferWork } from './pg-bank.js';

export interface PgBankOptions {
  readonly name: string;
  /** A postgres:// URL of the bank's database (its password in PGPASSWORD, or in the URL). */
  readonly database: string;
  readonly port?: number;
  readonly host?: string;
  readonly coordinators?: readonly string[];
  readonly resolveAfterMs?: number;
  readonly threePcTimeoutMs?: number;
  readonly inquiryTimeoutMs?: number;
  /** The key the cluster signs our calls with; set, unsigned calls are refused (examples/participant-secrets.ts). */
  readonly coordinatorKey?: string;
  /** A client API token for cooperative termination. */
  readonly coordinatorToken?: string;
  readonly reconcileIntervalMs?: number;
  readonly poolMax?: number;
  readonly logger?: Logger;
}

export interface RunningPgBank {
  readonly url: string;
  readonly participantUrl: string;
  readonly participant: PostgresParticipant;
  close(): Promise<void>;
}

export const PARTICIPANT_PREFIX = '/ratify';
const ACCOUNT_BALANCE_MAX = 1e12;

export async function buildPgBank(o: PgBankOptions): Promise<{ app: FastifyInstance; participant: PostgresParticipant; pool: pg.Pool }> {
  const logger = o.logger ?? pino({ level: 'info', base: { bank: o.name } });
  const pool = new pg.Pool({ connectionString: o.database, max: o.poolMax ?? 16 });
  // An idle client whose server went away emits 'error'; unheard, it would end the process.
  pool.on('error', (err) => logger.warn({ err }, 'idle PostgreSQL connection failed'));
  await createBankTables(pool);
  const participant = createPostgresParticipant({
    name: o.name,
    pool,
    work: transferWork,
    coordinatorUrls: o.coordinators ?? [],
    logger,
    ...(o.coordinatorKey === undefined ? {} : { coordinatorKey: o.coordinatorKey }),
    ...(o.coordinatorToken === undefined ? {} : { coordinatorToken: o.coordinatorToken }),
    ...(o.resolveAfterMs === undefined ? {} : { resolveAfterMs: o.resolveAfterMs }),
    ...(o.threePcTimeoutMs === undefined ? {} : { threePcTimeoutMs: o.threePcTimeoutMs }),
    ...(o.inquiryTimeoutMs === undefined ? {} : { inquiryTimeoutMs: o.inquiryTimeoutMs }),
    ...(o.reconcileIntervalMs === undefined ? {} : { reconcileIntervalMs: o.reconcileIntervalMs }),
  });
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  await app.register(ratifyParticipant, { prefix: PARTICIPANT_PREFIX, participant });
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/accounts', async () => {
    // `held` keeps the shape of the LevelDB bank's answer: here a hold is a prepared
    // transaction's row lock, invisible to this read, so it is always 0.
    const rows = (await accounts(pool)).map((a) => ({ ...a, held: 0 }));
    return { bank: o.name, accounts: rows, total: rows.reduce((s, a) => s + a.balance, 0) };
  });
  app.post<{ Body: { name: string; balance: number } }>(
    '/accounts',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name', 'balance'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 64 },
            balance: { type: 'integer', minimum: 0, maximum: ACCOUNT_BALANCE_MAX },
          },
        },
      },
    },
    async (req, reply) => {
      if (!(await openAccount(pool, req.body.name, req.body.balance)))
        return reply.code(409).send({ error: { code: 'ACCOUNT_EXISTS', message: `account ${req.body.name} exists` } });
      return reply.code(201).send({ name: req.body.name, balance: req.body.balance, held: 0 });
    },
  );
  app.addHook('onReady', () => participant.start());
  app.addHook('onClose', async () => {
    await participant.close();
    await pool.end();
  });
  return { app, participant, pool };
}

export async function startPgBank(o: PgBankOptions): Promise<RunningPgBank> {
  const { app, participant } = await buildPgBank(o);
  let url: string;
  try {
    url = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  } catch (e) {
    await app.close();
    throw e;
  }
  return { url, participantUrl: `${url}${PARTICIPANT_PREFIX}`, participant, close: () => app.close() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      database: { type: 'string' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      coordinators: { type: 'string', default: '' },
      'resolve-after-ms': { type: 'string' },
      'three-pc-timeout-ms': { type: 'string' },
      'inquiry-timeout-ms': { type: 'string' },
      'reconcile-interval-ms': { type: 'string' },
    },
  });
  if (values.name === undefined || values.database === undefined) {
    process.stderr.write(
      'usage: pg-bank-service --name <name> --database <postgres://user@host:port/db> [--port <port>] [--coordinators <url,url,...>] [--resolve-after-ms <ms>] [--three-pc-timeout-ms <ms>] [--inquiry-timeout-ms <ms>]  (password in PGPASSWORD)\n',
    );
    process.exit(2);
  }
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'info', base: { bank: values.name } });
  const bank = await startPgBank({
    name: values.name,
    database: values.database,
    port: Number(values.port),
    host: values.host,
    coordinators: values.coordinators.split(',').filter((u) => u.length > 0),
    ...participantSecretsFromEnv(),
    ...(values['resolve-after-ms'] !== undefined && { resolveAfterMs: Number(values['resolve-after-ms']) }),
    ...(values['three-pc-timeout-ms'] !== undefined && { threePcTimeoutMs: Number(values['three-pc-timeout-ms']) }),
    ...(values['inquiry-timeout-ms'] !== undefined && { inquiryTimeoutMs: Number(values['inquiry-timeout-ms']) }),
    ...(values['reconcile-interval-ms'] !== undefined && { reconcileIntervalMs: Number(values['reconcile-interval-ms']) }),
    logger,
  });
  // Scripts read this line to learn the port (as with examples/bank/bank-service.ts).
  logger.info({ bankUrl: bank.url, participantUrl: bank.participantUrl, pid: process.pid }, 'bank listening');
  const stop = (): void => {
    void bank.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`pg-bank-service: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
