// The commands of the interaction scripts that act on the cluster: set it up,
// drive time and the network, propose, change membership, crash and restart.
// The prints and checks are in checks.ts; test/raft/testdata/README.md documents
// all of them (a test keeps that list complete).
import type { ConfChange, Member, Message, ProposeResult, RaftConfig } from '../../../src/raft/types.js';
import { isMessageType, parseMessage } from '../../../src/transport/message-guard.js';
import { Cluster, enc, initialState } from '../helpers.js';
import { type Args, parseList, ScriptError } from './args.js';
import { CHECK_COMMANDS } from './checks.js';
import { describeMessage, describeStatus } from './describe.js';
import type { InteractionEnv } from './env.js';
import { parseTraceLevel } from './trace-level.js';

export interface Command {
  /** One line of usage, as in the README. */
  readonly usage: string;
  run(env: InteractionEnv, args: Args): void;
}

function clusterConfig(args: Args): Partial<RaftConfig> {
  const config: { -readonly [K in keyof RaftConfig]?: RaftConfig[K] } = {};
  const ints = {
    'election-ticks': 'electionTicks',
    'heartbeat-ticks': 'heartbeatTicks',
    'max-inflight-appends': 'maxInflightAppends',
    'max-append-bytes': 'maxAppendBytes',
    'snapshot-chunk-bytes': 'snapshotChunkBytes',
    'max-uncommitted-entries': 'maxUncommittedEntries',
    'snapshot-catchup-entries': 'snapshotCatchUpEntries',
  } as const;
  for (const [key, field] of Object.entries(ints)) {
    const v = args.get(key);
    if (v !== undefined) config[field] = args.int(key, 0);
  }
  const preVote = args.bool('pre-vote');
  if (preVote !== undefined) config.preVote = preVote;
  const checkQuorum = args.bool('check-quorum');
  if (checkQuorum !== undefined) config.checkQuorum = checkQuorum;
  return config;
}

/**
 * The line that reports a proposal's result. A refusal fails the script unless
 * `refused=REASON` expects exactly it (and then an acceptance fails it).
 */
function resultLine(args: Args, id: string, what: string, r: ProposeResult, appends = true): string {
  const expected = args.get('refused');
  if (r.ok) {
    if (expected !== undefined) throw new ScriptError(`${what} on ${id} was accepted, expected refused ${expected}`);
    // A transfer appends nothing: its result's index says nothing either.
    return appends ? `${id} proposed ${what} at ${r.index}@${r.term}` : `${id} started ${what}`;
  }
  if (expected !== r.reason) {
    const want = expected === undefined ? '' : `, expected ${expected}`;
    throw new ScriptError(`${what} on ${id} refused ${r.reason} (leader ${r.leaderId ?? 'none'})${want}`);
  }
  return `${id} refused ${what}: ${r.reason} (leader ${r.leaderId ?? 'none'})`;
}

function confChange(type: ConfChange['type']): Command {
  return {
    usage: `${type === 'addLearner' ? 'add-learner' : type} <id> via=<leader> [refused=REASON]`,
    run(env, args) {
      const [id = ''] = args.positionalCount(1);
      const via = args.required('via');
      const change: ConfChange = type === 'addLearner' ? { type, id, url: `http://${id}` } : { type, id };
      env.print(resultLine(args, via, `${args.command} ${id}`, env.cluster.core(via).proposeConfChange(change)));
    },
  };
}

/** The `type=` of deliver-msgs and drop-msgs, checked: a misspelt type would match nothing, silently. */
function messageType(args: Args): string | undefined {
  const type = args.get('type');
  if (type !== undefined && !isMessageType(type)) throw new ScriptError(`type=${type} is not a Raft message type`);
  return type;
}

/** `key=value` pairs of a hand-made message: digits are numbers, true/false booleans. */
function messageFields(args: Args): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of args.keys().filter((k) => k !== 'log-level')) {
    const v = args.required(key);
    fields[key] = /^\d+$/.test(v) ? Number(v) : v === 'true' || v === 'false' ? v === 'true' : v;
  }
  return fields;
}

const ACTIONS: Record<string, Command> = {
  cluster: {
    usage: 'cluster <ids...> [pre-vote=bool] [check-quorum=bool] [election-ticks=n] [heartbeat-ticks=n] [snapshot-chunk-bytes=n] ...',
    run(env, args) {
      env.startCluster(new Cluster(args.positionalCount(1, Infinity), { config: clusterConfig(args) }));
    },
  },
  'add-node': {
    usage: 'add-node <id> voters=(ids) [learners=(ids)]',
    run(env, args) {
      const [id = ''] = args.positionalCount(1);
      const members: Member[] = [
        ...parseList(args.required('voters')).map((v) => ({ id: v, url: `http://${v}`, voter: true })),
        ...parseList(args.get('learners') ?? '()').map((v) => ({ id: v, url: `http://${v}`, voter: false })),
      ];
      const node = env.cluster.add(id, initialState(members));
      env.print(describeStatus(node.core.status()));
    },
  },
  'log-level': {
    usage: 'log-level debug|info|none',
    run(env, args) {
      const [level = ''] = args.positionalCount(1);
      env.level = parseTraceLevel(level);
    },
  },
  campaign: {
    usage: 'campaign <id>',
    run(env, args) {
      const [id = ''] = args.positionalCount(1);
      env.campaign(id);
    },
  },
  elect: {
    usage: 'elect <id>',
    run(env, args) {
      const [id = ''] = args.positionalCount(1);
      env.campaign(id);
      env.stabilize();
      const role = env.cluster.core(id).status().role;
      if (role !== 'leader') throw new ScriptError(`${id} is ${role} after its campaign, not leader`);
      env.stabilizeCommits();
    },
  },
  tick: {
    usage: 'tick <ids...> [n=1]',
    run(env, args) {
      const n = args.int('n', 1);
      for (const id of args.positionalCount(1, Infinity)) env.cluster.tick(id, n);
    },
  },
  'tick-all': {
    usage: 'tick-all [n=1]',
    run(env, args) {
      args.positionalCount(0);
      env.tickAndStabilize(args.int('n', 1));
    },
  },
  'tick-stabilize': {
    usage: 'tick-stabilize <ids...> [n=1]',
    run(env, args) {
      env.tickAndStabilize(args.int('n', 1), args.positionalCount(1, Infinity));
    },
  },
  stabilize: {
    usage: 'stabilize [ids...]',
    run(env, args) {
      env.stabilize(args.positional);
    },
  },
  'stabilize-commits': {
    usage: 'stabilize-commits',
    run(env, args) {
      args.positionalCount(0);
      env.stabilizeCommits();
    },
  },
  'process-ready': {
    usage: 'process-ready <ids...>',
    run(env, args) {
      for (const id of args.positionalCount(1, Infinity)) {
        if (!env.processReady(id)) env.print(`${id} has no Ready`);
      }
    },
  },
  'deliver-msgs': {
    usage: 'deliver-msgs [ids...] [type=T]',
    run(env, args) {
      const to = args.positional;
      const type = messageType(args);
      const n = env.deliver((m) => (to.length === 0 || to.includes(m.to)) && (type === undefined || m.type === type));
      if (n === 0) env.print('no messages');
    },
  },
  'drop-msgs': {
    usage: 'drop-msgs [from=id] [to=id] [type=T]',
    run(env, args) {
      args.positionalCount(0);
      const [from, to, type] = [args.get('from'), args.get('to'), messageType(args)];
      const c = env.cluster;
      const drop = (m: Message): boolean =>
        (from === undefined || m.from === from) && (to === undefined || m.to === to) && (type === undefined || m.type === type);
      const dropped = c.inFlight.filter(drop);
      if (dropped.length === 0) throw new ScriptError('no message in flight matches: a drop that drops nothing tests nothing');
      c.inFlight = c.inFlight.filter((m) => !drop(m));
      for (const m of dropped) env.print(`dropped ${describeMessage(m)}`);
    },
  },
  isolate: {
    usage: 'isolate <id>',
    run(env, args) {
      const [id = ''] = args.positionalCount(1);
      env.cluster.isolate(id);
    },
  },
  cut: {
    usage: 'cut <a> <b>',
    run(env, args) {
      const [a = '', b = ''] = args.positionalCount(2);
      env.cluster.cutLink(a, b);
    },
  },
  heal: {
    usage: 'heal',
    run(env, args) {
      args.positionalCount(0);
      env.cluster.heal();
    },
  },
  propose: {
    usage: 'propose <id> <payloads...> | propose <id> n=<count> prefix=<p>  [refused=REASON]',
    run(env, args) {
      const [id = '', ...given] = args.positionalCount(1, Infinity);
      const n = args.get('n');
      const prefix = args.get('prefix');
      if ((n === undefined) !== (prefix === undefined) || (n !== undefined && given.length > 0)) {
        throw new ScriptError('propose takes payloads, or n= and prefix= (payloads prefix0..prefix<n-1>)');
      }
      const payloads = n === undefined ? given : Array.from({ length: args.int('n', 0) }, (_, k) => `${prefix ?? ''}${k}`);
      if (payloads.length === 0) throw new ScriptError('propose needs at least one payload');
      const lines = payloads.map((p) => resultLine(args, id, JSON.stringify(p), env.cluster.core(id).propose(enc(p))));
      const [first, last] = [lines[0] ?? '', lines.at(-1) ?? ''];
      for (const l of lines.length <= 4 ? lines : [first, `… ${lines.length - 2} more …`, last]) env.print(l);
    },
  },
  'add-learner': confChange('addLearner'),
  promote: confChange('promote'),
  remove: confChange('remove'),
  'transfer-leader': {
    usage: 'transfer-leader from=<leader> to=<id> [refused=REASON]',
    run(env, args) {
      args.positionalCount(0);
      const [from, to] = [args.required('from'), args.required('to')];
      env.print(resultLine(args, from, `transfer to ${to}`, env.cluster.core(from).transferLeadership(to), false));
    },
  },
  'read-index': {
    usage: 'read-index <id> [request=1]',
    run(env, args) {
      const [id = ''] = args.positionalCount(1);
      env.cluster.core(id).readIndex(args.int('request', 1));
    },
  },
  compact: {
    usage: 'compact <id>',
    run(env, args) {
      const [id = ''] = args.positionalCount(1);
      const node = env.cluster.node(id);
      const meta = node.core.snapshotMetaAt(node.appliedIndex);
      const data = enc(JSON.stringify(node.applied));
      node.disk.compact({ meta, data });
      node.core.compact(meta, data);
      env.print(`${id} took a snapshot at ${meta.index}@${meta.term} (${data.length} bytes) and compacted its log`);
    },
  },
  restart: {
    usage: 'restart <id>',
    run(env, args) {
      const [id = ''] = args.positionalCount(1);
      const lost = env.cluster.inFlight.filter((m) => m.to === id);
      env.cluster.restart(id);
      env.print(`restarted from disk: ${describeStatus(env.cluster.core(id).status())}`);
      for (const m of lost) env.print(`lost ${describeMessage(m)}`);
    },
  },
  step: {
    usage: 'step <to> <type> from=<id> term=<n> <field>=<value>...',
    run(env, args) {
      const [to = '', type = ''] = args.positionalCount(2);
      const m = parseMessage({ ...messageFields(args), type, to });
      env.cluster.core(to).step(m);
      env.print(`stepped ${describeMessage(m)}`);
    },
  },
};

export const COMMANDS: ReadonlyMap<string, Command> = new Map(Object.entries({ ...ACTIONS, ...CHECK_COMMANDS }));
