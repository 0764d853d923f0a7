// The commands of the interaction scripts that look without acting: prints
// (status, log, applied, msgs) and `check`, which fails the script when a value
// differs. A golden output records what happened; a check states what must hold,
// so it still fails when someone rewrites the golden files with `vitest -u`.
import type { NodeId } from '../../../src/raft/types.js';
import type { Cluster } from '../helpers.js';
import { type Args, parseList, ScriptError } from './args.js';
import type { Command } from './commands.js';
import { describeEntry, describeMessage, describeStatus } from './describe.js';
import type { InteractionEnv } from './env.js';

type Value = string | readonly string[];

/** A check that does not hold: the scenario's behaviour is wrong, not the script's syntax. */
export class CheckFailure extends Error {}

/** What `check <ids...> key=value` can ask of a node. Lists are written `(a,b)`. */
const NODE_PROPS: Record<string, (c: Cluster, id: NodeId) => Value> = {
  role: (c, id) => c.core(id).status().role,
  leader: (c, id) => c.core(id).status().leaderId ?? 'none',
  term: (c, id) => `${c.core(id).status().term}`,
  vote: (c, id) => c.core(id).status().hardState.vote ?? 'none',
  commit: (c, id) => `${c.core(id).status().commitIndex}`,
  /** Last index in the core's log, persisted or not. */
  last: (c, id) => `${c.core(id).status().lastIndex}`,
  /** The core's snapshot index (after compact or an installed snapshot). */
  snapshot: (c, id) => `${c.core(id).status().snapshotIndex}`,
  /** The first entry the core's log holds (below snapshot+1 by the trail, snapshot-catchup-entries). */
  first: (c, id) => `${c.core(id).status().firstIndex}`,
  voters: (c, id) =>
    c
      .core(id)
      .status()
      .members.filter((m) => m.voter)
      .map((m) => m.id),
  learners: (c, id) =>
    c
      .core(id)
      .status()
      .members.filter((m) => !m.voter)
      .map((m) => m.id),
  /** The state machine: payloads applied, in order, and the index it reached. */
  applied: (c, id) => c.node(id).applied,
  'applied-index': (c, id) => `${c.node(id).appliedIndex}`,
  'applied-count': (c, id) => `${c.node(id).applied.length}`,
  /** What the node synced: a restart sees exactly this. */
  'disk-term': (c, id) => `${c.node(id).disk.hardState.term}`,
  'disk-vote': (c, id) => c.node(id).disk.hardState.vote ?? 'none',
  'disk-commit': (c, id) => `${c.node(id).disk.hardState.commitIndex}`,
  'disk-last': (c, id) => `${c.node(id).disk.entries.at(-1)?.index ?? c.node(id).disk.snapshot?.meta.index ?? 0}`,
  'disk-snapshot': (c, id) => `${c.node(id).disk.snapshot?.meta.index ?? 0}`,
  /** The synced log as index@term (helpers.ts logOf). */
  log: (c, id) => c.logOf(id),
  /** ReadIndex answers so far, as request:index. */
  'read-states': (c, id) => c.node(id).readStates.map((r) => `${r.requestId}:${r.readIndex}`),
  'dropped-reads': (c, id) => c.node(id).droppedReads.map((r) => `${r}`),
};

/** What `check key=value` can ask of the whole cluster. */
const CLUSTER_PROPS: Record<string, (c: Cluster) => Value> = {
  leaders: (c) => c.leaderIds(),
  'in-flight': (c) => `${c.inFlight.length}`,
};

const show = (v: Value): string => (typeof v === 'string' ? v : `(${v.join(',')})`);

function nodeIds(env: InteractionEnv, args: Args): readonly NodeId[] {
  return args.positional.length > 0 ? args.positional : [...env.cluster.nodes.keys()];
}

function check(env: InteractionEnv, args: Args): void {
  const c = env.cluster;
  const failures: string[] = [];
  const compare = (what: string, actual: Value, expected: string): void => {
    const want = typeof actual === 'string' ? expected : show(parseList(expected));
    if (show(actual) !== want) failures.push(`${what}: expected ${want}, got ${show(actual)}`);
  };
  let checked = 0;
  for (const key of args.keys()) {
    if (key === 'log-level') continue;
    checked++;
    const nodeProp = NODE_PROPS[key];
    const clusterProp = CLUSTER_PROPS[key];
    if (nodeProp !== undefined) {
      if (args.positional.length === 0) throw new ScriptError(`check ${key}= needs node ids`);
      for (const id of args.positional) compare(`${id} ${key}`, nodeProp(c, id), args.required(key));
    } else if (clusterProp !== undefined) {
      compare(key, clusterProp(c), args.required(key));
    } else if (key === 'in-flight-includes') {
      const sent = c.inFlight.map(describeMessage);
      for (const want of args.all(key))
        if (!sent.includes(want)) failures.push(`no message in flight is "${want}"; in flight: ${sent.join(' | ')}`);
    } else if (key === 'same') {
      // The listed nodes agree on each property (e.g. the new leader's log, whatever it holds).
      const ids = args.positional;
      if (ids.length < 2) throw new ScriptError('check same=(...) needs two or more node ids');
      for (const prop of parseList(args.required(key))) {
        const get = NODE_PROPS[prop];
        if (get === undefined) throw new ScriptError(`check same: unknown property ${prop}`);
        const [first = '', ...rest] = ids;
        for (const id of rest) compare(`${id} ${prop} (same as ${first})`, get(c, id), show(get(c, first)));
      }
    } else {
      const known = [...Object.keys(NODE_PROPS), ...Object.keys(CLUSTER_PROPS), 'in-flight-includes', 'same'];
      throw new ScriptError(`check: unknown key ${key} (known: ${known.join(', ')})`);
    }
  }
  if (checked === 0) throw new ScriptError('check needs at least one key=value: a check of nothing passes always');
  if (failures.length > 0) throw new CheckFailure(`check failed:\n  ${failures.join('\n  ')}`);
}

export const CHECK_COMMANDS: Record<string, Command> = {
  check: {
    usage: 'check [ids...] key=value...',
    run: check,
  },
  status: {
    usage: 'status [ids...]',
    run(env, args) {
      for (const id of nodeIds(env, args)) env.print(describeStatus(env.cluster.core(id).status()));
    },
  },
  log: {
    usage: 'log [ids...]',
    run(env, args) {
      for (const id of nodeIds(env, args)) {
        const disk = env.cluster.node(id).disk;
        const snap = disk.snapshot === null ? 'none' : `${disk.snapshot.meta.index}@${disk.snapshot.meta.term}`;
        env.print(`${id}: snapshot ${snap}, ${disk.entries.length} entries`);
        env.indented(() => disk.entries.forEach((e) => env.print(describeEntry(e))));
      }
    },
  },
  applied: {
    usage: 'applied [ids...]',
    run(env, args) {
      for (const id of nodeIds(env, args)) {
        const n = env.cluster.node(id);
        env.print(`${id}: applied-index=${n.appliedIndex} applied=${show(n.applied)}`);
      }
    },
  },
  msgs: {
    usage: 'msgs',
    run(env, args) {
      args.positionalCount(0);
      const c = env.cluster;
      if (c.inFlight.length === 0) env.print('no messages');
      for (const m of c.inFlight) env.print(describeMessage(m));
    },
  },
};
