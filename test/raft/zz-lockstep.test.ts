// SCRATCH (review): runs the sim schedules with the refactored core and a frozen
// pre-refactor copy in lockstep and fails on the first divergent output.
import { isDeepStrictEqual } from 'node:util';
import { it } from 'vitest';
import { RaftCore } from '../../src/raft/raft.js';
import type { CoreStatus, RaftCoreApi } from '../../src/raft/api.js';
import type { ConfChange, InitialState, Message, NodeId, ProposeResult, RaftConfig, Ready, SnapshotMeta } from '../../src/raft/types.js';
// @ts-ignore frozen copy outside the project
import { RaftCore as RefCore } from '/tmp/rv/ref/raft/raft.ts';
import { runSchedule } from '../sim/schedule.js';

let calls = 0;
function same<T>(what: string, a: () => T, b: () => T): T {
  calls++;
  let ra: { ok: true; v: T } | { ok: false; e: unknown };
  let rb: { ok: true; v: T } | { ok: false; e: unknown };
  try { ra = { ok: true, v: a() }; } catch (e) { ra = { ok: false, e }; }
  try { rb = { ok: true, v: b() }; } catch (e) { rb = { ok: false, e }; }
  if (ra.ok !== rb.ok) throw new Error(`lockstep ${what}: new ${ra.ok ? 'returned' : `threw ${String((ra as { e: unknown }).e)}`}, ref ${rb.ok ? 'returned' : `threw ${String((rb as { e: unknown }).e)}`}`);
  if (!ra.ok) throw ra.e;
  if (rb.ok && !isDeepStrictEqual(ra.v, rb.v)) throw new Error(`lockstep ${what} differs:\nnew ${JSON.stringify(ra.v)}\nref ${JSON.stringify(rb.v)}`);
  return ra.v;
}

class Dual implements RaftCoreApi {
  private readonly refOf = new WeakMap<Ready, Ready>();
  constructor(private readonly a: RaftCoreApi, private readonly b: RaftCoreApi) {}
  tick(): void { same('tick', () => this.a.tick(), () => this.b.tick()); }
  step(m: Message): void { same(`step ${m.type}`, () => this.a.step(m), () => this.b.step(m)); }
  propose(d: Uint8Array): ProposeResult { return same('propose', () => this.a.propose(d), () => this.b.propose(d)); }
  proposeConfChange(c: ConfChange): ProposeResult { return same('conf', () => this.a.proposeConfChange(c), () => this.b.proposeConfChange(c)); }
  readIndex(id: number): void { same('readIndex', () => this.a.readIndex(id), () => this.b.readIndex(id)); }
  transferLeadership(to: NodeId): ProposeResult { return same('transfer', () => this.a.transferLeadership(to), () => this.b.transferLeadership(to)); }
  hasReady(): boolean { return same('hasReady', () => this.a.hasReady(), () => this.b.hasReady()); }
  ready(): Ready {
    let rb: Ready | undefined;
    const ra = same('ready', () => this.a.ready(), () => (rb = this.b.ready()));
    if (rb !== undefined) this.refOf.set(ra, rb);
    return ra;
  }
  advance(rd: Ready): void { const rb = this.refOf.get(rd) ?? rd; same('advance', () => this.a.advance(rd), () => this.b.advance(rb)); }
  compact(meta: SnapshotMeta, data: Uint8Array): void { same('compact', () => this.a.compact(meta, data), () => this.b.compact(meta, data)); }
  status(): CoreStatus { return same('status', () => this.a.status(), () => this.b.status()); }
}

const factory = (config: RaftConfig, initial: InitialState): RaftCoreApi => {
  // Each core needs its own random stream with identical draws.
  let draws: number[] = [];
  let ia = 0, ib = 0;
  const next = (k: 'a' | 'b'): number => {
    const i = k === 'a' ? ia++ : ib++;
    while (draws.length <= i) draws.push(config.random());
    return draws[i] as number;
  };
  return new Dual(new RaftCore({ ...config, random: () => next('a') }, initial), new RefCore({ ...config, random: () => next('b') }, initial));
};

it('lockstep', { timeout: 3_000_000 }, () => {
  const n = Number(process.env.LS ?? 200);
  const base = Number(process.env.LSB ?? 1);
  const steps = Number(process.env.LSS ?? 1000);
  for (let s = base; s < base + n; s++) runSchedule(s, factory, steps, 0);
  console.log(`lockstep ok: ${n} seeds, ${calls} calls compared`);
});
