// TxWaiters must never hold a stopping node: a wait that starts after close()
// fails at once with SHUTTING_DOWN instead of waiting for its timeout.
import { describe, expect, it } from 'vitest';
import { txConfigDefaults } from '../../src/tx/config.js';
import { createTxStateMachine } from '../../src/tx/index.js';
import { TxWaiters } from '../../src/tx/waiters.js';

describe('TxWaiters', () => {
  it('rejects pending waits with SHUTTING_DOWN on close', async () => {
    const waiters = new TxWaiters(createTxStateMachine(txConfigDefaults));
    const pending = waiters.waitFor('tx-1', (tx) => tx !== null, 60_000, 'never');
    waiters.close();
    await expect(pending).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('rejects a wait started after close at once, not at its timeout', async () => {
    const waiters = new TxWaiters(createTxStateMachine(txConfigDefaults));
    waiters.close();
    await expect(waiters.waitFor('tx-2', (tx) => tx !== null, 60_000, 'never')).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});
