import { it } from 'vitest';
import { RaftCore } from '../../src/raft/raft.js';
import { runSchedule } from './schedule.js';
it('probe', () => {
  const steps = Number(process.env.P_STEPS ?? 400);
  const rows = [];
  const t0 = performance.now();
  for (let seed = 1; seed <= 300; seed++) rows.push(runSchedule(seed, (c, i) => new RaftCore(c, i), steps, 0));
  const q = (k: string) => { const v = rows.map((r: any) => r[k]).sort((a: number, b: number) => a - b); return `${k}: p10=${v[30]} p50=${v[150]} p90=${v[270]} zero=${v.filter((x: number) => x === 0).length}`; };
  console.log(`time ${(performance.now()-t0).toFixed(0)}ms`);
  for (const k of ['committed','configsCommitted','terms','readsConfirmed','snapshotsInstalled','crashes','transfers','livenessTicks','messages']) console.log(q(k));
}, 600000);
