// A bank's participant records, read over HTTP (GET /participant-records of
// examples/bank): the container harness cannot open a bank's LevelDB store as the local
// chaos runner does (scripts/chaos/bank.ts), since the bank runs in a container. Anything
// short of a complete, well-formed listing is "unavailable", and an unavailable bank fails
// the atomicity invariant: there is no fallback to the money.
import { IN_DOUBT_STATES, type ParticipantRecord, type ParticipantState } from '../../scripts/chaos/evidence.js';
import { httpJson, isObject } from '../../scripts/chaos/http.js';
import type { RecordsResult } from '../../scripts/chaos/target.js';
import { RECORDS_SCAN_MAX } from '../../examples/bank/participant-records-route.js';

const RECORDS_TIMEOUT_MS = 30_000;
const STATES: readonly ParticipantState[] = [...IN_DOUBT_STATES, 'committed', 'aborted'];

/** This run's records (updated at or after `sinceMs`) of the bank at `bankUrl`; `token`: its BANK_RECORDS_TOKEN. */
export async function fetchParticipantRecords(bankUrl: string, token: string | null, sinceMs: number): Promise<RecordsResult> {
  const url = `${bankUrl}/participant-records?sinceMs=${sinceMs}&scanMax=${RECORDS_SCAN_MAX}`;
  const r = await httpJson('GET', url, {
    timeoutMs: RECORDS_TIMEOUT_MS,
    ...(token === null ? {} : { headers: { authorization: `Bearer ${token}` } }),
  });
  const unavailable = (why: string): RecordsResult => ({ kind: 'unavailable', reason: `GET ${url}: ${why}` });
  if (r.kind === 'failure') return unavailable(r.error);
  if (r.status !== 200) return unavailable(`${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  if (!isObject(r.body) || !Array.isArray(r.body['records'])) return unavailable('the answer has no records list');
  if (r.body['complete'] !== true) return unavailable(`the listing is not complete (more than ${RECORDS_SCAN_MAX} finished records)`);
  const records: ParticipantRecord[] = [];
  for (const x of r.body['records']) {
    if (!isObject(x) || typeof x['txId'] !== 'string' || !STATES.includes(x['state'] as ParticipantState)) {
      return unavailable(`malformed record ${JSON.stringify(x).slice(0, 200)}`);
    }
    records.push({ txId: x['txId'], state: x['state'] as ParticipantState });
  }
  return { kind: 'records', records };
}
