import { it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { RaftCore } from '../../src/raft/raft.js';
import { runSchedule } from '../sim/schedule.js';
it('dbg', () => {
  try { runSchedule(Number(process.env['DBG_SEED']), (c, i) => new RaftCore(c, i), Number(process.env["DBG_STEPS"] ?? 400), 100000); }
  catch (e) { const t = (e as { context?: string }).context ?? String(e); writeFileSync('/tmp/raftdbg/trace.txt', t + '\n' + String(e) + '\n' + ((e as Error).stack ?? '')); }
});
