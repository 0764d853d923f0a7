// `ratify tx stuck` and `ratify tx force-finish` against a listening node (src/cli/tx-stuck.ts).
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { addStuckCommands, type StuckIo } from '../../src/cli/tx-stuck.js';
import { ClientTokens } from '../../src/http/tokens.js';
import type { TxView } from '../../src/tx/types.js';
import { FakeParticipant } from './fake-participant.js';
import { eventually, participant, startLeader } from './harness.js';

const ADMIN = 'ops-token-0123456789abcdef';
const tokens = ClientTokens.parse(`ops admin ${ADMIN}\npayments client payments-token-0123456789`, 'test');
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function run(args: string[], env: Record<string, string> = {}): Promise<{ out: string; err: string; code: number }> {
  const result = { out: '', err: '', code: 0 };
  const io: StuckIo = { env, out: (t) => void (result.out += t), err: (t) => void (result.err += t), exit: (c) => void (result.code = c) };
  await new Command()
    .exitOverride()
    .addCommand(addStuckCommands(new Command('tx'), io))
    .parseAsync(args, { from: 'user' });
  return result;
}

describe('ratify tx stuck / force-finish', () => {
  it('lists a stuck transaction with its last error, and force-finishes it once confirmed, with an admin token', async () => {
    const { node } = await startLeader({ clientTokens: tokens });
    closers.push(() => node.close());
    const url = await node.listen();
    const a = await FakeParticipant.start();
    closers.push(() => a.close());
    a.setMode('down', ['commit']);
    const res = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { participants: [participant('a', a.url)], commit: true },
    });
    const id = res.json<TxView>().id;
    await eventually((): boolean => node.sm.get(id)?.participants[0]?.lastError != null, 'failing');
    // A dead node first: the next one answers.
    const env = { RATIFY_NODES: `http://127.0.0.1:1,${url}`, RATIFY_TOKEN: ADMIN };
    const listed = await run(['tx', 'stuck', '--older-than-ms', '0'], env);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toContain(`${id}  committing`);
    expect(listed.out).toMatch(/ {4}a: .*calls failed in a row/);
    const wrongRole = await run(['tx', 'stuck'], { ...env, RATIFY_TOKEN: 'payments-token-0123456789' });
    expect([wrongRole.code, wrongRole.err]).toEqual([1, expect.stringContaining('403')]);
    expect((await run(['tx', 'force-finish', id], env)).code).toBe(2);
    const conflict = await run(['tx', 'force-finish', id, '--confirm', id, '--outcome', 'aborted'], env);
    expect([conflict.code, conflict.err]).toEqual([1, expect.stringContaining('OUTCOME_CONFLICT')]);
    const done = await run(['tx', 'force-finish', id, '--confirm', id, '--nodes', url, '--token', ADMIN], {});
    expect(done.code, done.err).toBe(0);
    expect(done.out).toBe(`${id}: committed; abandoned: a\n`);
    expect(node.sm.get(id)?.state).toBe('committed');
  });

  it('says what is missing without nodes', async () => {
    const r = await run(['tx', 'stuck'], {});
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('RATIFY_NODES')]);
  });
});
