// One contract, two stores: the LevelDB store and the in-memory double must agree
// (test/sdk/store-contract.ts; the PostgreSQL store runs it in postgres-participant.test.ts).
import { LevelParticipantStore, MemoryParticipantStore } from '../../src/sdk/participant/index.js';
import { withTempDir } from './helpers.js';
import { participantStoreContract } from './store-contract.js';

participantStoreContract('memory', async (fn) => {
  const s = new MemoryParticipantStore();
  await fn(() => s);
});

participantStoreContract('level', (fn) => withTempDir((dir) => fn(() => new LevelParticipantStore(dir))));
