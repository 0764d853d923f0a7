// A deliberately broken driver plan, to prove the simulation runs the driver's
// decisions (src/node/ready-plan.ts) and its checkers see what they break.
import { planReady } from '../../src/node/ready-plan.js';
import type { DriverRules } from './sim-node.js';

/**
 * Sends every Ready's messages before its write, not only a leader's appends:
 * a vote request or grant then leaves before the term and vote are on disk.
 */
export const SEND_BEFORE_PERSIST: DriverRules = {
  name: 'send before persist',
  planReady: (rd, role, persistedHard) => ({ ...planReady(rd, role, persistedHard), sendBeforePersist: true }),
};
