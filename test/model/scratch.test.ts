import { it } from 'vitest';
import { checkModel } from './checker.js';
import { realRules } from './rules.js';
import type { Bounds, ModelConfig } from './model.js';

const Z: Bounds = { losses: 0, leaderFaults: 0, elections: 0, participantCrashes: 0, duplicates: 0, clientAborts: 0, cuts: 0, freezes: 0 };
const base = { protocol: '3pc', participants: 2, abortVoters: 1, oneShot: true, deadline: true, termination: true } as const;
it('scratch', () => {
  const configs: ModelConfig[] = JSON.parse(process.env.CFG ?? '[]').map((c: any) => ({ ...base, ...c, bounds: { ...Z, ...c.bounds } }));
  for (const c of configs) {
    try {
      const r = checkModel(c, realRules, Number(process.env.MAX ?? 400_000));
      console.log(`${c.name}: states ${r.states} healed ${r.healedStates} trans ${r.transitions} depth ${r.depth} ms ${r.elapsedMs} applies ${r.applies} ${r.violation ? JSON.stringify(r.violation, null, 1) : 'OK'}`);
    } catch (e) { console.log(`${c.name}: ${e}`); }
  }
}, 900_000);
