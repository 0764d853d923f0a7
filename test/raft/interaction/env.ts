// The interaction environment: one in-memory Cluster (../helpers.ts, which runs
// the real core in src/raft/) driven by script commands, and the trace it prints.
//
// Every step goes through the Cluster's own primitives (processReady, deliver,
// tick, restart), so a script exercises exactly what the TypeScript tests do; the
// environment only adds the order etcd's interaction tests use (all Readys until
// quiet, then every message in flight) and the words of the trace (describe.ts).
import type { Message, NodeId } from '../../../src/raft/types.js';
import type { Cluster, MessageFate } from '../helpers.js';
import { Args, ScriptError } from './args.js';
import { COMMANDS } from './commands.js';
import { describeMessage, describeReady, readyEvents } from './describe.js';
import { parseTraceLevel, type TraceLevel } from './trace-level.js';

/** Bound on Ready/deliver rounds of one stabilize; a cluster that never quiets is a failure. */
const STABILIZE_ROUNDS_MAX = 1000;
/** Bound on the ticks `campaign` spends waiting for the node's election timeout. */
const CAMPAIGN_TICKS_MAX = 1000;

export class InteractionEnv {
  level: TraceLevel = 'debug';
  private current: Cluster | null = null;
  private out: string[] = [];
  private depth = 0;
  /** Messages the network handled in the current deliver(), for printing grouped by receiver. */
  private handled: { readonly m: Message; readonly fate: MessageFate }[] = [];

  /** Runs one script line and returns its output (at least one line: `ok`). */
  run(line: string): string[] {
    this.out = [];
    this.depth = 0;
    const args = new Args(line);
    const command = COMMANDS.get(args.command);
    if (command === undefined) throw new ScriptError(`unknown command ${args.command} (see test/raft/testdata/README.md)`);
    const saved = this.level;
    const override = args.get('log-level');
    if (override !== undefined) this.level = parseTraceLevel(override);
    try {
      command.run(this, args);
      args.done();
    } catch (e) {
      if (e instanceof ScriptError) e.message += `\n  usage: ${command.usage}`;
      throw e;
    } finally {
      if (override !== undefined) this.level = saved;
    }
    return this.out.length > 0 ? this.out : ['ok'];
  }

  get cluster(): Cluster {
    if (this.current === null) throw new ScriptError('no cluster yet: a script starts with `cluster <ids...>`');
    return this.current;
  }

  startCluster(c: Cluster): void {
    if (this.current !== null) throw new ScriptError('a script has one cluster');
    c.observer = {
      ready: (id, rd) => {
        if (this.level === 'debug') {
          this.print(`> ${id} handling Ready`);
          this.indented(() => describeReady(rd).forEach((l) => this.print(l)));
        } else if (this.level === 'info') {
          readyEvents(id, rd).forEach((l) => this.print(l));
        }
      },
      message: (m, fate) => this.handled.push({ m, fate }),
    };
    this.current = c;
  }

  /** Output that every level shows (prints and checks). */
  print(line: string): void {
    this.out.push(`${'  '.repeat(this.depth)}${line}`);
  }

  /** Output shown only at trace level debug. */
  debug(line: string): void {
    if (this.level === 'debug') this.print(line);
  }

  indented(f: () => void): void {
    this.depth++;
    try {
      f();
    } finally {
      this.depth--;
    }
  }

  /** Runs `f` indented under `header`; the header is printed only if `f` printed something. */
  section(header: string, f: () => void): void {
    const at = this.out.length;
    this.indented(f);
    if (this.out.length > at) this.out.splice(at, 0, `${'  '.repeat(this.depth)}${header}`);
  }

  // ------------------------------------------------------------ traced steps of the Cluster

  /** One Ready of `id` (persist, send, apply, advance); false when it had none. */
  processReady(id: NodeId): boolean {
    return this.cluster.processReady(id);
  }

  /** Readys of `ids` until none has one (the Cluster's processAll). */
  processAll(ids: readonly NodeId[]): void {
    let any = true;
    while (any) {
      any = false;
      for (const id of ids) any = this.processReady(id) || any;
    }
  }

  /** Delivers the in-flight messages `filter` picks (not the answers they cause); returns how many were handled. */
  deliver(filter: (m: Message) => boolean): number {
    this.handled = [];
    this.cluster.deliver(filter);
    const byReceiver = new Map<NodeId, string[]>();
    for (const { m, fate } of this.handled) {
      const line =
        fate === 'stepped' ? describeMessage(m) : `dropped ${describeMessage(m)} (${fate === 'cut' ? 'link cut' : 'no such node'})`;
      byReceiver.set(m.to, [...(byReceiver.get(m.to) ?? []), line]);
    }
    for (const [to, lines] of byReceiver) {
      this.debug(`> ${to} receiving messages`);
      this.indented(() => lines.forEach((l) => this.debug(l)));
    }
    return this.handled.length;
  }

  /** Readys and deliveries among `ids` (every node when empty) until quiet, as Cluster.stabilize. */
  stabilize(ids: readonly NodeId[] = []): void {
    const all = ids.length === 0;
    const among = (m: Message): boolean => all || ids.includes(m.to);
    for (let i = 0; i < STABILIZE_ROUNDS_MAX; i++) {
      this.processAll(all ? [...this.cluster.nodes.keys()] : ids);
      if (!this.cluster.inFlight.some(among)) return;
      this.deliver(among);
    }
    throw new ScriptError(`the cluster did not stabilize within ${STABILIZE_ROUNDS_MAX} rounds`);
  }

  /** Ticks `ids` (every node when empty) once and stabilizes, `times` times (Cluster.tickAll). */
  tickAndStabilize(times: number, ids: readonly NodeId[] = []): void {
    for (let k = 1; k <= times; k++) {
      this.section(`tick ${k}:`, () => {
        for (const id of ids.length === 0 ? [...this.cluster.nodes.keys()] : ids) this.cluster.tick(id);
        this.stabilize();
      });
    }
  }

  /** Ticks `id` alone until it starts a (pre-)campaign (Cluster.campaign, without the stabilize). */
  campaign(id: NodeId): void {
    const core = this.cluster.core(id);
    const waiting = (): boolean => core.status().role === 'follower' || core.status().role === 'learner';
    let ticks = 0;
    for (; ticks < CAMPAIGN_TICKS_MAX && waiting(); ticks++) core.tick();
    if (waiting()) throw new ScriptError(`${id} did not campaign within ${CAMPAIGN_TICKS_MAX} ticks`);
    const s = core.status();
    this.print(`${id} campaigns after ${ticks} ticks: ${s.role} at term ${s.term}`);
  }

  /** A leader announces a commit no entry carried at its next tick: tick every leader, then stabilize. */
  stabilizeCommits(): void {
    this.stabilize();
    for (const id of this.cluster.leaderIds()) this.cluster.tick(id);
    this.stabilize();
  }
}
