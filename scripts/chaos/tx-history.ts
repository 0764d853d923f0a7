// What a transaction call answered, in the terms of the checker's transaction model
// (test/linearizability/tx-model.ts), and the GETs of transaction views that readers
// send to any node (followers answer after a ReadIndex round).
//
// Only answers that say something definite are kept: a view, 404 TX_NOT_FOUND, 409
// TX_ALREADY_COMMITTED and 409 TX_PRECOMMITTED. Every other failure (a timeout, a refused or dropped connection,
// 503 LEADERSHIP_LOST or NO_LEADER, 504, 429 after the client's retries) leaves the
// outcome open and is recorded as unknown. Recording a definite refusal as unknown only
// makes the check weaker, never wrong.
import { isRatifyClientError } from '../../src/sdk/client-error.js';
import type { TransactionView } from '../../src/sdk/client-types.js';
import type { TxInput, TxOutput, TxPhase } from '../../test/linearizability/tx-model.js';
import type { HistoryRecorder } from './history.js';
import { httpJson, isObject } from './http.js';

export type TxRecorder = HistoryRecorder<TxInput, TxOutput>;

const DEFINITE_CODES: ReadonlySet<string> = new Set(['TX_NOT_FOUND', 'TX_ALREADY_COMMITTED', 'TX_PRECOMMITTED']);
const PHASES: ReadonlySet<string> = new Set<TxPhase>([
  'active',
  'preparing',
  'precommitted',
  'committing',
  'aborting',
  'committed',
  'aborted',
]);

export function viewOutput(view: Pick<TransactionView, 'id' | 'state' | 'outcome'>): TxOutput {
  return { kind: 'view', id: view.id, state: view.state, outcome: view.outcome };
}

/** A client error as an answer, or null (unknown) when it does not settle the outcome. */
export function errorOutput(e: unknown): TxOutput | null {
  if (isRatifyClientError(e) && DEFINITE_CODES.has(e.code)) return { kind: 'error', status: e.status, code: e.code };
  return null;
}

/** GET /v1/transactions/{id} straight at one node (no client retries), recorded; false when it gave no definite answer. */
export async function readView(
  recorder: TxRecorder,
  client: string,
  nodeUrl: string,
  key: string,
  id: string,
  timeoutMs: number,
): Promise<boolean> {
  const end = recorder.begin(client, { op: 'get', key, id });
  const r = await httpJson('GET', `${nodeUrl}/v1/transactions/${encodeURIComponent(id)}`, { timeoutMs });
  const output = r.kind === 'reply' ? replyOutput(r.status, r.body) : null;
  end(output);
  return output !== null;
}

function replyOutput(status: number, body: unknown): TxOutput | null {
  if (
    status === 200 &&
    isObject(body) &&
    typeof body['id'] === 'string' &&
    typeof body['state'] === 'string' &&
    PHASES.has(body['state'])
  ) {
    const outcome = body['outcome'] === 'committed' || body['outcome'] === 'aborted' ? body['outcome'] : null;
    return { kind: 'view', id: body['id'], state: body['state'] as TxPhase, outcome };
  }
  const error = isObject(body) && isObject(body['error']) ? body['error'] : null;
  if (status >= 400 && status < 500 && error !== null && typeof error['code'] === 'string' && DEFINITE_CODES.has(error['code'])) {
    return { kind: 'error', status, code: error['code'] };
  }
  return null;
}
