// A bank as a Ratify participant: fastify + the participant SDK + a LevelDB ledger.
//
//   node dist/examples/bank/bank-service.js --name bank-a --port 7101 --data ./data/bank-a \
//        --coordinators http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003
//
// Routes: POST /ratify/{prepare,precommit,commit,abort} (the participant protocol),
// GET /accounts, POST /accounts {name, balance}, GET /transactions (what this bank
// did per transaction: see transactions-route.ts), GET /participant-records (the
// participant SDK's records, loopback or token only: see participant-records-route.ts),
// GET /healthz.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { participantSecretsFromEnv } from '../participant-secrets.js';
import { pino, type Logger } from 'pino';
import { createParticipant, ratifyParticipant, type Participant, type ParticipantTx } from '../../src/sdk/participant/index.js';
import { Ledger } from './ledger.js';
import { checkRecordsToken, registerParticipantRecordsRoute, RECORDS_TOKEN_ENV } from './participant-records-route.js';
import { registerTransactionsRoute } from './transactions-route.js';

export interface BankOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly port?: number;
  readonly host?: string;
  /** Cluster node URLs for cooperative termination. */
  readonly coordinators?: readonly string[];
  readonly resolveAfterMs?: number;
  readonly threePcTimeoutMs?: number;
  readonly inquiryTimeoutMs?: number;
  /** The key the cluster signs our calls with; set, unsigned calls are refused (examples/participant-secrets.ts). */
  readonly coordinatorKey?: string;
  /** A client API token for cooperative termination. */
  readonly coordinatorToken?: string;
  /** Finished transaction records kept for GET /transactions (oldest dropped first); default 100000. */
  readonly transactionsRetainMax?: number;
  /** Who may read GET /participant-records: null or absent, loopback callers only; else callers presenting this bearer token. */
  readonly recordsToken?: string | null;
  readonly logger?: Logger;
}

export interface RunningBank {
  readonly name: string;
  /** Base URL of the service (GET {url}/accounts). */
  readonly url: string;
  /** The URL to enlist this bank under: the coordinator POSTs to {participantUrl}/prepare. */
  readonly participantUrl: string;
  readonly ledger: Ledger;
  readonly participant: Participant;
  close(): Promise<void>;
}

export const PARTICIPANT_PREFIX = '/ratify';
const ACCOUNT_BALANCE_MAX = 1e12;

/** Builds the app without listening (tests use inject()). The caller closes the app. */
export async function buildBank(o: BankOptions): Promise<{ app: FastifyInstance; ledger: Ledger; participant: Participant }> {
  // Before anything is opened: a bad token stops the bank with nothing to clean up.
  if (o.recordsToken != null) checkRecordsToken(o.recordsToken);
  const logger = o.logger ?? pino({ level: 'info', base: { bank: o.name } });
  mkdirSync(o.dataDir, { recursive: true });
  const ledger = new Ledger(join(o.dataDir, 'ledger'), o.transactionsRetainMax);
  await ledger.open();
  const participant = createParticipant({
    name: o.name,
    dataDir: join(o.dataDir, 'participant'),
    coordinatorUrls: o.coordinators ?? [],
    logger,
    ...(o.coordinatorKey === undefined ? {} : { coordinatorKey: o.coordinatorKey }),
    ...(o.coordinatorToken === undefined ? {} : { coordinatorToken: o.coordinatorToken }),
    ...(o.resolveAfterMs === undefined ? {} : { resolveAfterMs: o.resolveAfterMs }),
    ...(o.threePcTimeoutMs === undefined ? {} : { threePcTimeoutMs: o.threePcTimeoutMs }),
    ...(o.inquiryTimeoutMs === undefined ? {} : { inquiryTimeoutMs: o.inquiryTimeoutMs }),
    handlers: {
      // One record per (transaction, participant name): a bank enlisted twice in one
      // transaction holds two separate reservations.
      prepare: async (tx: ParticipantTx) => {
        const r = await ledger.reserve(tx.txId, tx.participant, tx.payload);
        return r.ok ? { vote: 'commit' } : { vote: 'abort', reason: r.reason };
      },
      commit: (tx) => ledger.apply(tx.txId, tx.participant),
      abort: (tx) => ledger.release(tx.txId, tx.participant),
    },
  });
  // Fastify's generics follow the logger type; the plain instance type is all we need.
  const logController = new LogController({ disableRequestLogging: true });
  const app = Fastify({ loggerInstance: logger, logController }) as unknown as FastifyInstance;
  await app.register(ratifyParticipant, { prefix: PARTICIPANT_PREFIX, participant });
  registerAccountRoutes(app, o.name, ledger);
  await app.register(registerTransactionsRoute, { bank: o.name, ledger, participant });
  await app.register(registerParticipantRecordsRoute, { bank: o.name, participant, token: o.recordsToken ?? null });
  app.addHook('onReady', () => participant.start());
  app.addHook('onClose', async () => {
    await participant.close();
    await ledger.close();
  });
  return { app, ledger, participant };
}

function registerAccountRoutes(app: FastifyInstance, bank: string, ledger: Ledger): void {
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/accounts', async () => {
    const accounts = await ledger.accounts();
    return { bank, accounts, total: accounts.reduce((s, a) => s + a.balance, 0) };
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
      const created = await ledger.createAccount(req.body.name, req.body.balance);
      if (!created) return reply.code(409).send({ error: { code: 'ACCOUNT_EXISTS', message: `account ${req.body.name} exists` } });
      return reply.code(201).send({ name: req.body.name, balance: req.body.balance, held: 0 });
    },
  );
}

/** Starts a bank listening on loopback (port 0 picks a free port). */
export async function startBank(o: BankOptions): Promise<RunningBank> {
  const { app, ledger, participant } = await buildBank(o);
  let url: string;
  try {
    url = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  } catch (e) {
    await app.close();
    throw e;
  }
  return { name: o.name, url, participantUrl: `${url}${PARTICIPANT_PREFIX}`, ledger, participant, close: () => app.close() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      data: { type: 'string' },
      coordinators: { type: 'string', default: '' },
      'transactions-retain-max': { type: 'string' },
      // The participant SDK's timing (its defaults when absent; the SDK validates the values).
      'resolve-after-ms': { type: 'string' },
      'three-pc-timeout-ms': { type: 'string' },
      'inquiry-timeout-ms': { type: 'string' },
    },
  });
  if (values.name === undefined || values.data === undefined) {
    process.stderr.write(
      'usage: bank-service --name <name> --data <dir> [--port <port>] [--coordinators <url,url,...>] [--transactions-retain-max <n>]\n' +
        '                    [--resolve-after-ms <ms>] [--three-pc-timeout-ms <ms>] [--inquiry-timeout-ms <ms>]\n',
    );
    process.exit(2);
  }
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'info', base: { bank: values.name } });
  const recordsToken = process.env[RECORDS_TOKEN_ENV];
  const bank = await startBank({
    name: values.name,
    dataDir: resolve(values.data),
    port: Number(values.port),
    host: values.host,
    coordinators: values.coordinators.split(',').filter((u) => u.length > 0),
    ...participantSecretsFromEnv(),
    ...(values['transactions-retain-max'] !== undefined && { transactionsRetainMax: Number(values['transactions-retain-max']) }),
    ...(values['resolve-after-ms'] !== undefined && { resolveAfterMs: Number(values['resolve-after-ms']) }),
    ...(values['three-pc-timeout-ms'] !== undefined && { threePcTimeoutMs: Number(values['three-pc-timeout-ms']) }),
    ...(values['inquiry-timeout-ms'] !== undefined && { inquiryTimeoutMs: Number(values['inquiry-timeout-ms']) }),
    recordsToken: recordsToken === undefined || recordsToken === '' ? null : recordsToken,
    logger,
  });
  // run.ts (and scripts) read this line to learn the port.
  logger.info({ bankUrl: bank.url, participantUrl: bank.participantUrl, pid: process.pid }, 'bank listening');
  const stop = (): void => {
    void bank.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`bank-service: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
