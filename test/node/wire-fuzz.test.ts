// Fuzzing a running node with hostile peer traffic (README, "The peer side: threat model"): random and mutated
// envelopes of valid shape go through the real path of a node, signed with the
// cluster secret as a member would sign them (the worst case: the sender is
// authenticated): the auth hook, decode and admission of the Raft route, the
// plausibility check, the core and the driver (a 3-node in-process cluster of
// RaftNodes, KV state machine).
//
// Two properties, each run against fresh clusters:
//   - anything goes: no node stops (no fatal error: the core checks its invariants
//     after every input and a violation would be one), and every node keeps serving;
//   - hostile but not forging: no stop, and afterwards the cluster, the attacked
//     node included, commits new writes and holds every write acknowledged during
//     the attack. "Forging" is what no check of a single message can tell from the
//     real thing: leader traffic in the name of the leader (or of a new term),
//     acknowledgements and granted votes that did not happen. Raft is not Byzantine
//     fault tolerant; authentication keeps strangers from sending those, and the
//     first property shows that even a member that does cannot stop a node.
//
// Seeds: FUZZ_SEED=n replays one (the failure message of fast-check prints it).
// FUZZ_RUNS=n runs more (or, outside CI, fewer) clusters per property; never below the
// default under CI=true (test/helpers/env-knob.ts).
import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { installEdge } from '../../src/http/edge.js';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import { implausibility, WIRE_COUNTER_MAX, type LocalState } from '../../src/raft/plausibility.js';
import type { Entry, Member, Message, MessageType, NodeId } from '../../src/raft/types.js';
import { encodeEnvelope } from '../../src/transport/codec.js';
import { RAFT_MESSAGES_PATH, raftRoutes } from '../../src/transport/raft-routes.js';
import type { Transport } from '../../src/transport/transport.js';
import { InProcessCluster } from '../helpers/in-process-cluster.js';
import { waitUntil } from '../helpers/wait.js';
import { messagesHeaders } from '../transport/signing.js';
import { countKnob, seedKnob } from '../helpers/env-knob.js';

const SECRET = 'fuzz-cluster-secret-0123';
const IDS = ['n1', 'n2', 'n3'] as const;
const RUNS = countKnob('FUZZ_RUNS', { fallback: 15 });
const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : seedKnob('FUZZ_SEED', 0);

/** A hostile message as random choices; materialized against the target's state when it is sent. */
interface Plan {
  readonly target: number;
  readonly sender: number;
  readonly mutate: boolean;
  readonly type: MessageType;
  readonly pick: number;
  /** Deltas and extremes for the term and three index-like fields. */
  readonly n: readonly [number, number, number, number];
  readonly extreme: readonly [number, number, number, number];
  readonly flags: readonly [boolean, boolean];
  readonly entryTerms: readonly number[];
  readonly voters: boolean;
  readonly chunk: number;
  /** Wrong envelope sender, wrong addressee: edge refusals. */
  readonly edge: number;
}

const TYPES: readonly MessageType[] = [
  'preVote',
  'preVoteResp',
  'vote',
  'voteResp',
  'append',
  'appendResp',
  'heartbeat',
  'heartbeatResp',
  'snapshot',
  'snapshotResp',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
];

const planArb: fc.Arbitrary<Plan> = fc.record({
  target: fc.nat(2),
  sender: fc.nat(1),
  mutate: fc.boolean(),
  type: fc.constantFrom(...TYPES),
  pick: fc.nat(1000),
  n: fc.tuple(
    fc.integer({ min: -3, max: 3 }),
    fc.integer({ min: -4, max: 4 }),
    fc.integer({ min: -4, max: 4 }),
    fc.integer({ min: -4, max: 4 }),
  ),
  extreme: fc.tuple(fc.nat(9), fc.nat(9), fc.nat(9), fc.nat(9)),
  flags: fc.tuple(fc.boolean(), fc.boolean()),
  entryTerms: fc.array(fc.integer({ min: -2, max: 2 }), { maxLength: 4 }),
  voters: fc.nat(9).map((x) => x > 0),
  chunk: fc.nat(3),
  edge: fc.nat(19),
});

interface Target {
  readonly local: LocalState;
  readonly commitIndex: number;
  readonly members: readonly Member[];
}

/** A value near `base` (delta d), or now and then an extreme one. */
function near(base: number, d: number, extreme: number): number {
  switch (extreme) {
    case 0:
      return 0;
    case 1:
      return Number.MAX_SAFE_INTEGER;
    case 2:
      return WIRE_COUNTER_MAX + 1;
    default:
      return Math.max(0, base + d);
  }
}

function materialize(p: Plan, t: Target, captured: readonly Message[]): Message {
  const from = IDS.filter((id) => id !== t.local.id)[p.sender]!;
  const to = t.local.id;
  if (p.mutate && captured.length > 0) return mutate(captured[p.pick % captured.length]!, p, t, from);
  const term = near(t.local.term, p.n[0], p.extreme[0]);
  const idx = (k: 1 | 2 | 3): number => near(t.local.lastIndex, p.n[k], p.extreme[k]);
  const termAt = (k: 1 | 2 | 3): number => near(t.local.term, p.n[k], p.extreme[k] > 5 ? 9 : p.extreme[k]);
  const [f1, f2] = p.flags;
  const head = { from, to, term };
  switch (p.type) {
    case 'preVote':
      return { type: 'preVote', ...head, lastLogIndex: idx(1), lastLogTerm: termAt(2) };
    case 'vote':
      return { type: 'vote', ...head, lastLogIndex: idx(1), lastLogTerm: termAt(2), transfer: f1 };
    case 'preVoteResp':
    case 'voteResp':
      return { type: p.type, ...head, granted: f1 };
    case 'append': {
      const prevLogIndex = Math.min(idx(1), WIRE_COUNTER_MAX * 2);
      const entries: Entry[] = p.entryTerms.map((dt, i) => {
        const e = { index: prevLogIndex + 1 + i, term: Math.max(1, term + dt) };
        if (i === 0 && !p.voters) return { kind: 'config', ...e, members: t.members.map((m) => ({ ...m, voter: false })) };
        return i % 2 === 0
          ? { kind: 'normal', ...e, data: f2 ? encodeKvCommand({ op: 'put', key: `forged${i}`, value: 'x' }) : new Uint8Array([0xc1, i]) }
          : { kind: 'noop', ...e };
      });
      return { type: 'append', ...head, prevLogIndex, prevLogTerm: prevLogIndex === 0 ? 0 : termAt(2), entries, leaderCommit: idx(3) };
    }
    case 'appendResp':
      return { type: 'appendResp', ...head, success: f1, matchIndex: idx(1), rejectHint: idx(2), rejectTerm: termAt(3) };
    case 'heartbeat':
      return { type: 'heartbeat', ...head, leaderCommit: idx(1), readSeq: p.pick };
    case 'heartbeatResp':
      return { type: 'heartbeatResp', ...head, readSeq: p.pick };
    case 'snapshot': {
      const index = Math.max(1, idx(1));
      const data = [
        new Uint8Array([0xc1, 0xff]),
        new Uint8Array([0x90]),
        new Uint8Array(2048),
        encodeKvCommand({ op: 'put', key: 'k', value: 'v' }),
      ][p.chunk]!;
      const members = p.voters ? t.members : t.members.map((m) => ({ ...m, voter: false }));
      return {
        type: 'snapshot',
        ...head,
        meta: { index, term: Math.max(1, termAt(2)), members },
        offset: p.extreme[3] === 1 ? 2 ** 40 : 0,
        chunk: data,
        done: f1,
      };
    }
    case 'snapshotResp':
      return { type: 'snapshotResp', ...head, snapshotIndex: idx(1), nextOffset: idx(2), installed: f1, success: f2 };
    case 'timeoutNow':
      return { type: 'timeoutNow', ...head };
    case 'readIndex':
      return { type: 'readIndex', ...head, requestId: p.pick };
    case 'readIndexResp':
      return { type: 'readIndexResp', ...head, requestId: p.pick % 8, readIndex: idx(1), ok: f1 };
    default:
      throw new Error(`no plan for ${String(p.type)}`);
  }
}

/** Real traffic, one field made hostile. */
function mutate(real: Message, p: Plan, t: Target, from: NodeId): Message {
  const m: Record<string, unknown> = { ...real, from, to: t.local.id };
  const numeric = Object.keys(m).filter((k) => typeof m[k] === 'number');
  const key = numeric[p.pick % Math.max(1, numeric.length)];
  if (key !== undefined) m[key] = near(m[key] as number, p.n[1] * 3, p.extreme[1]);
  if (p.flags[0]) for (const k of Object.keys(m)) if (typeof m[k] === 'boolean') m[k] = !m[k];
  return m as unknown as Message;
}

/**
 * True for what no per-message check can tell from the real thing (see the header):
 * plausible leader traffic in the leader's name or a newer term, and plausible
 * acknowledgements and vote grants.
 */
function forges(m: Message, local: LocalState): boolean {
  if (implausibility(m, local, { snapshotBytesMax: 64 * 1024 * 1024 }) !== null) return false; // dropped at the edge
  if (m.term < local.term) return false; // answered by the stale-term rule
  switch (m.type) {
    case 'append':
    case 'heartbeat':
    case 'snapshot':
    case 'timeoutNow':
      return m.term > local.term || local.leaderId === null || local.leaderId === m.from;
    case 'appendResp':
    case 'snapshotResp':
      return m.success;
    case 'voteResp':
    case 'preVoteResp':
      return m.granted;
    case 'readIndexResp':
      return m.ok;
    case 'vote':
    case 'preVote':
    case 'heartbeatResp':
    case 'readIndex':
      return false;
    default:
      return false;
  }
}

interface FuzzCluster {
  readonly cluster: InProcessCluster<KvStateMachine>;
  readonly apps: Map<NodeId, FastifyInstance>;
  /** Recent real messages, for mutation. */
  readonly captured: Message[];
}

let current: FuzzCluster | null = null;

afterEach(async () => {
  await stop();
});

async function stop(): Promise<void> {
  const c = current;
  current = null;
  if (c === null) return;
  for (const app of c.apps.values()) await app.close();
  await c.cluster.stopAll();
}

async function start(): Promise<FuzzCluster> {
  const captured: Message[] = [];
  const capture = (_id: NodeId, t: Transport): Transport => ({
    send: (messages) => {
      for (const m of messages) {
        if (captured.length >= 200) captured.shift();
        captured.push(m);
      }
      t.send(messages);
    },
    setMembers: (members) => t.setMembers(members),
    close: () => t.close(),
  });
  const cluster = new InProcessCluster({
    createStateMachine: () => createKvStateMachine(),
    wrapTransport: capture,
    config: { snapshotThresholdEntries: 40 },
  });
  await cluster.startAll();
  const apps = new Map<NodeId, FastifyInstance>();
  for (const id of IDS) {
    const app = Fastify({ logger: false });
    installEdge(app, { clusterSecret: SECRET, clusterId: 'ratify', nodeId: id });
    await app.register(raftRoutes, {
      clusterId: 'ratify',
      nodeId: id,
      admit: (peer) => cluster.member(id).node?.admitPeer(peer) ?? { kind: 'admit' },
      onMessages: (messages) => cluster.member(id).node?.receive(messages),
      bodyLimitBytes: 1024 * 1024,
    });
    await app.ready();
    apps.set(id, app);
  }
  current = { cluster, apps, captured };
  await cluster.waitForLeader();
  return current;
}

interface Tally {
  envelopes: number;
  messages: number;
  accepted: number;
  refusedAtEdge: number;
  droppedByGuard: number;
}

const totals = { anything: blank(), notForging: blank() };

function blank(): Tally {
  return { envelopes: 0, messages: 0, accepted: 0, refusedAtEdge: 0, droppedByGuard: 0 };
}

/** Sends the plans' messages in envelopes of 1 to 3, signed by their sender; honest writes go on meanwhile. */
async function attack(
  c: FuzzCluster,
  plans: readonly Plan[],
  tally: Tally,
  filter: ((m: Message, local: LocalState) => boolean) | null,
): Promise<Map<string, string>> {
  const written = new Map<string, string>();
  let writes = 0;
  for (let i = 0; i < plans.length; ) {
    const p = plans[i]!;
    const id = IDS[p.target]!;
    const node = c.cluster.member(id).node!;
    const batch: Message[] = [];
    const size = 1 + (p.pick % 3);
    for (let k = 0; k < size && i < plans.length; k++, i++) {
      const st = node.coreStatus();
      const target: Target = {
        local: { id: st.id, term: st.term, role: st.role, leaderId: st.leaderId, lastIndex: st.lastIndex },
        commitIndex: st.commitIndex,
        members: st.members,
      };
      const plan = { ...plans[i]!, target: p.target, sender: p.sender };
      const m = materialize(plan, target, c.captured);
      if (filter !== null && !filter(m, target.local)) continue;
      batch.push(m);
    }
    if (batch.length === 0) continue;
    const from = batch[0]!.from;
    // Now and then an envelope that lies about its sender or its addressee: refused at the edge.
    const envFrom = p.edge === 0 ? IDS.find((x) => x !== from && x !== id)! : from;
    const messages = p.edge === 1 ? batch.map((m) => ({ ...m, to: from })) : batch;
    const body = encodeEnvelope({ v: 1, clusterId: 'ratify', from: envFrom, messages });
    const res = await c.apps.get(id)!.inject({
      method: 'POST',
      url: RAFT_MESSAGES_PATH,
      headers: { 'content-type': 'application/msgpack', ...messagesHeaders({ secret: SECRET, clusterId: 'ratify', from, to: id }, body) },
      payload: Buffer.from(body),
    });
    tally.envelopes++;
    tally.messages += messages.length;
    if (res.statusCode === 204) tally.accepted += messages.length;
    else tally.refusedAtEdge += messages.length;
    // An honest client keeps writing through whoever leads.
    if (i % 7 === 0) {
      const leader = c.cluster.running().find((n) => n.status().role === 'leader');
      const key = `honest${writes++}`;
      if (leader !== undefined) {
        leader.propose(encodeKvCommand({ op: 'put', key, value: `v${i}` }), { timeoutMs: 2000 }).then(
          () => written.set(key, `v${i}`),
          () => undefined, // refused or lost in a leadership change: not acknowledged
        );
      }
    }
    // Let timers and the other nodes run between envelopes.
    if (i % 5 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  return written;
}

async function rejectedTotal(c: FuzzCluster): Promise<number> {
  let n = 0;
  for (const id of IDS) {
    const values = (await c.cluster.member(id).metrics.raft.rejectedMessages.get()).values;
    n += values.reduce((s, v) => s + v.value, 0);
  }
  return n;
}

function assertAllServing(c: FuzzCluster): void {
  expect(c.cluster.fatalErrors).toEqual([]);
  for (const id of IDS) {
    const st = c.cluster.node(id).coreStatus();
    // The core's own invariants, as the outside sees them.
    expect(st.commitIndex).toBeLessThanOrEqual(st.lastIndex);
    expect(st.appliedIndex).toBeLessThanOrEqual(st.commitIndex);
  }
}

const params = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true };

describe('hostile peer traffic through the real decode, guard, core and driver of running nodes', () => {
  it('anything goes: no node stops and every node keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(planArb, { minLength: 150, maxLength: 400 }), async (plans) => {
        const c = await start();
        const before = await rejectedTotal(c);
        await attack(c, plans, totals.anything, null);
        await new Promise((r) => setTimeout(r, 50));
        assertAllServing(c);
        totals.anything.droppedByGuard += (await rejectedTotal(c)) - before;
        await stop();
      }),
      params,
    );
    console.log(`wire fuzz, anything goes: ${JSON.stringify(totals.anything)}`);
    expect(totals.anything.droppedByGuard).toBeGreaterThan(0);
    expect(totals.anything.accepted).toBeGreaterThan(totals.anything.droppedByGuard);
  }, 300_000);

  it('hostile but not forging: no node stops, and the cluster, the attacked nodes included, keeps committing and loses no acknowledged write', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(planArb, { minLength: 150, maxLength: 400 }), async (plans) => {
        const c = await start();
        const before = await rejectedTotal(c);
        const written = await attack(c, plans, totals.notForging, (m, local) => !forges(m, local));
        assertAllServing(c);
        totals.notForging.droppedByGuard += (await rejectedTotal(c)) - before;
        const leader = await c.cluster.waitForLeader(30_000);
        for (let k = 0; k < 5; k++) await leader.propose(encodeKvCommand({ op: 'put', key: `after${k}`, value: 'ok' }));
        for (const id of IDS) {
          const kv = c.cluster.member(id).stateMachine;
          await waitUntil(() => kv.get('after4') === 'ok', { timeoutMs: 30_000, what: `${id} to apply the writes made after the attack` });
          for (const [key, value] of written) expect(kv.get(key), `${id}: acknowledged ${key}`).toBe(value);
        }
        assertAllServing(c);
        await stop();
      }),
      params,
    );
    console.log(`wire fuzz, hostile but not forging: ${JSON.stringify(totals.notForging)}`);
    expect(totals.notForging.droppedByGuard).toBeGreaterThan(0);
  }, 300_000);
});
