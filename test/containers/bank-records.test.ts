// The container harness's reading of participant records (bank-records.ts), against real
// bank-service processes as the containers run them (built to dist/; here on loopback):
// the records read are the store's, and anything less than a complete listing (no or a
// wrong token, a bank that does not answer) is "unavailable", which fails the scenario.
// Runs without Docker.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDS_TOKEN_ENV } from '../../examples/bank/participant-records-route.js';
import { httpJson } from '../../scripts/chaos/http.js';
import { spawnBankProcess, type BankProcess } from '../failover/bank-process.js';
import { freePorts } from '../helpers/cluster.js';
import { fetchParticipantRecords } from './bank-records.js';

const TOKEN = 'harness-records-token-0123456789';

let root = '';
let guarded: BankProcess | null = null;
let open: BankProcess | null = null;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ratify-bank-records-'));
  [guarded, open] = await Promise.all([
    spawnBankProcess({ name: 'A', dataDir: join(root, 'A'), coordinators: [], env: { [RECORDS_TOKEN_ENV]: TOKEN } }),
    spawnBankProcess({ name: 'B', dataDir: join(root, 'B'), coordinators: [], env: {} }),
  ]);
  for (const bank of [guarded, open]) {
    expect((await httpJson('POST', `${bank.url}/accounts`, { body: { name: 'alice', balance: 100 }, timeoutMs: 10_000 })).kind).toBe(
      'reply',
    );
    const call = (path: string, txId: string, extra: object = {}) =>
      httpJson('POST', `${bank.participantUrl}/${path}`, { body: { txId, participant: bank.name, term: 1, ...extra }, timeoutMs: 10_000 });
    const prepare = (txId: string) => call('prepare', txId, { protocol: '2pc', payload: { ops: [{ account: 'alice', delta: -1 }] } });
    await prepare('t1');
    await call('commit', 't1');
    await prepare('t2');
    await call('abort', 't2');
    await prepare('t3');
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([guarded?.stop(), open?.stop()]);
  await rm(root, { recursive: true, force: true });
}, 60_000);

const sorted = (r: Awaited<ReturnType<typeof fetchParticipantRecords>>) =>
  r.kind === 'records' ? [...r.records].sort((a, b) => a.txId.localeCompare(b.txId)) : r;

describe('container harness: participant records over HTTP', () => {
  it('reads every record of this run from a bank process, with its token', async () => {
    const expected = [
      { txId: 't1', state: 'committed' },
      { txId: 't2', state: 'aborted' },
      { txId: 't3', state: 'prepared' },
    ];
    expect(sorted(await fetchParticipantRecords(guarded!.url, TOKEN, 0))).toEqual(expected);
    // A bank without a token serves loopback callers (the local runner's case).
    expect(sorted(await fetchParticipantRecords(open!.url, null, 0))).toEqual(expected);
    expect(await fetchParticipantRecords(guarded!.url, TOKEN, Date.now() + 60_000)).toEqual({ kind: 'records', records: [] });
  });

  it('is unavailable, with the reason, without the token, with a wrong one, or from a bank that does not answer', async () => {
    for (const token of [null, `${TOKEN}-wrong`]) {
      const r = await fetchParticipantRecords(guarded!.url, token, 0);
      expect(r.kind).toBe('unavailable');
      expect(r.kind === 'unavailable' && r.reason).toMatch(/participant-records.*: 401 .*UNAUTHORIZED/);
    }
    const [port] = await freePorts(1);
    const gone = await fetchParticipantRecords(`http://127.0.0.1:${port!}`, TOKEN, 0);
    expect(gone.kind).toBe('unavailable');
    expect(gone.kind === 'unavailable' && gone.reason).toMatch(/ECONNREFUSED/);
  });
});
