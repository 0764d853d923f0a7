// ratify tx list|get|create|commit|abort: the transaction API from a shell.
import { Command, Option } from 'commander';
import type { ParticipantSpec, Protocol, TransactionState, TransactionView } from '../sdk/client-types.js';
import { addConnectionOptions } from './connection.js';
import { addStuckCommands } from './tx-stuck.js';
import { UsageError } from './exit-codes.js';
import { fields, table, type CliIo } from './output.js';
import { defineAction, ok, type ExitBox } from './run.js';

const STATES: readonly TransactionState[] = ['active', 'preparing', 'precommitted', 'committing', 'aborting', 'committed', 'aborted'];
/** Pages `tx list --all` follows at most: 100 pages of the server's largest page. */
const LIST_PAGES_MAX = 100;

export function txCommand(io: CliIo, box: ExitBox): Command {
  const tx = new Command('tx').description('list, show, create, commit and abort transactions');
  tx.addCommand(listCommand(io, box));
  tx.addCommand(getCommand(io, box));
  tx.addCommand(createCommand(io, box));
  tx.addCommand(commitCommand(io, box));
  tx.addCommand(abortCommand(io, box));
  // Stuck transactions (admin): list them, force-finish one (README: Stuck transactions).
  addStuckCommands(tx, { env: io.env, out: io.stdout, err: io.stderr, exit: (code) => (box.code = code as ExitBox['code']) });
  return tx;
}

interface ListFlags {
  readonly state?: string;
  readonly limit?: string;
  readonly cursor?: string;
  readonly all?: boolean;
}

function listCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(new Command('list').description('transactions, oldest first'))
    .addOption(new Option('--state <state>', 'only those in this state').choices(STATES))
    .option('--limit <n>', 'transactions per page (server default and bound apply)')
    .option('--cursor <cursor>', 'continue after a previous page (its nextCursor)')
    .option('--all', 'follow nextCursor through every page', false);
  return defineAction<ListFlags>(cmd, io, box, async (ctx) => {
    const limit = ctx.flags.limit === undefined ? undefined : positiveInt('--limit', ctx.flags.limit);
    const state = ctx.flags.state as TransactionState | undefined;
    const transactions: TransactionView[] = [];
    let cursor = ctx.flags.cursor;
    let nextCursor: string | null = null;
    for (let page = 0; page < (ctx.flags.all === true ? LIST_PAGES_MAX : 1); page++) {
      const p = await ctx.client().list({
        ...(state === undefined ? {} : { state }),
        ...(limit === undefined ? {} : { limit }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      transactions.push(...p.transactions);
      nextCursor = p.nextCursor;
      if (nextCursor === null) break;
      cursor = nextCursor;
      if (ctx.flags.all === true) ctx.progress(`${transactions.length} transactions so far...`);
    }
    const rows = transactions.map((t) => [t.id, t.state, t.outcome, t.protocol, t.participants.length, t.createdAt]);
    const more = nextCursor === null ? '' : `(more: --cursor ${nextCursor})\n`;
    return ok(table(['ID', 'STATE', 'OUTCOME', 'PROTOCOL', 'PARTICIPANTS', 'CREATED'], rows) + more, { transactions, nextCursor });
  });
}

function getCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(
    new Command('get').description('one transaction, with its participants').argument('<id>', 'transaction id'),
  );
  return defineAction(cmd, io, box, async (ctx) => {
    const view = await ctx.client().get(ctx.args[0]!);
    return ok(renderTransaction(view), view);
  });
}

interface CreateFlags {
  readonly participant?: string[];
  readonly payload?: string[];
  readonly protocol?: string;
  readonly txTimeoutMs?: string;
  readonly idempotencyKey?: string;
  readonly commit?: boolean;
}

function createCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(new Command('create').description('create a transaction (active; or run it at once with --commit)'))
    .option('--participant <name=url...>', 'enlist a participant (repeatable)')
    .option('--payload <name=json...>', "a participant's payload, as JSON (repeatable)")
    .addOption(new Option('--protocol <protocol>', 'commit protocol').choices(['2pc', '3pc']))
    .option('--tx-timeout-ms <ms>', "the transaction's deadline; undecided past it, it is aborted")
    .option('--idempotency-key <key>', 'makes a retry of this command safe (default: one random key per run)')
    .option('--commit', 'run the protocol at once and wait for the decision (one-shot)', false);
  return defineAction<CreateFlags>(cmd, io, box, async (ctx) => {
    const participants = parseParticipants(ctx.flags.participant ?? [], ctx.flags.payload ?? []);
    const input = {
      participants,
      ...(ctx.flags.protocol === undefined ? {} : { protocol: ctx.flags.protocol as Protocol }),
      ...(ctx.flags.txTimeoutMs === undefined ? {} : { timeoutMs: positiveInt('--tx-timeout-ms', ctx.flags.txTimeoutMs) }),
      ...(ctx.flags.idempotencyKey === undefined ? {} : { idempotencyKey: ctx.flags.idempotencyKey }),
    };
    if (ctx.flags.commit === true) {
      if (participants.length === 0) throw new UsageError('--commit needs at least one --participant');
      ctx.progress(`running a transaction with ${participants.length} participant(s); waiting for the decision...`);
      const view = await ctx.client().run(input);
      return ok(renderTransaction(view), view);
    }
    const view = await ctx.client().createTransaction(input);
    return ok(renderTransaction(view), view);
  });
}

function commitCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(
    new Command('commit').description('run the commit protocol; waits until the decision is durable').argument('<id>', 'transaction id'),
  );
  return defineAction(cmd, io, box, async (ctx) => {
    const id = ctx.args[0]!;
    ctx.progress(`committing ${id}: preparing the participants and waiting for the decision...`);
    const view = await ctx.client().commit(id);
    ctx.progress(`decision: ${view.outcome ?? 'none yet'}`);
    return ok(renderTransaction(view), view);
  });
}

function abortCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(
    new Command('abort')
      .description('abort a transaction (refused with TX_ALREADY_COMMITTED if it was decided commit)')
      .argument('<id>', 'transaction id'),
  );
  return defineAction(cmd, io, box, async (ctx) => {
    const view = await ctx.client().abort(ctx.args[0]!);
    return ok(renderTransaction(view), view);
  });
}

export function renderTransaction(t: TransactionView): string {
  const head = fields([
    ['id', t.id],
    ['state', t.state],
    ['outcome', t.outcome],
    ['protocol', t.protocol],
    ['created', t.createdAt],
    ['decided', t.decidedAt],
    ['completed', t.completedAt],
  ]);
  if (t.participants.length === 0) return `${head}participants: none\n`;
  const rows = t.participants.map((p) => [p.name, p.url, p.vote, p.acknowledged ? 'yes' : 'no', p.lastError ?? '']);
  return `${head}\n${table(['PARTICIPANT', 'URL', 'VOTE', 'ACKED', 'LAST ERROR'], rows)}`;
}

function parseParticipants(specs: readonly string[], payloads: readonly string[]): ParticipantSpec[] {
  const byName = new Map<string, unknown>();
  for (const p of payloads) {
    const [name, text] = splitPair('--payload', p, 'name=json');
    try {
      byName.set(name, JSON.parse(text));
    } catch (e) {
      throw new UsageError(`--payload ${name}: not JSON (${(e as Error).message})`);
    }
  }
  const participants = specs.map((s) => {
    const [name, url] = splitPair('--participant', s, 'name=url');
    return byName.has(name) ? { name, url, payload: byName.get(name) } : { name, url };
  });
  for (const name of byName.keys()) {
    if (!participants.some((p) => p.name === name)) throw new UsageError(`--payload names ${name}, which no --participant enlists`);
  }
  return participants;
}

function splitPair(flag: string, text: string, form: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new UsageError(`${flag} ${JSON.stringify(text)} must be ${form}`);
  return [text.slice(0, at), text.slice(at + 1)];
}

export function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} (${text}) must be a positive integer`);
  return n;
}
