// What each system writes per operation, in bytes, so the report states it
// (README, "Performance"): etcd's puts and Ratify's KV writes carry the same
// record and decision values; the transaction's request names two participants.
import { FAKE_PARTICIPANTS } from './etcd-phase.js';
import { benchTxId, txRecords } from './records.js';
import type { Payloads } from './results.js';

/** Sizes for a representative transaction id of a concurrency-1 phase (ids differ by a few digits). */
export function payloads(nowMs: number = Date.now()): Payloads {
  const r = txRecords(benchTxId('c1-0', 0, 1000), FAKE_PARTICIPANTS, nowMs);
  const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const etcdBody = (k: string, v: string): number => bytes(JSON.stringify({ key: b64(k), value: b64(v) }));
  const kvBody = (v: string): number => bytes(JSON.stringify({ value: v }));
  const participants = ['http://127.0.0.1:40001', 'http://127.0.0.1:40002'].map((url, i) => ({ name: `p${i + 1}`, url }));
  return {
    recordValueBytes: bytes(r.record),
    decisionValueBytes: bytes(r.decision),
    recordKeyBytes: bytes(r.recordKey),
    decisionKeyBytes: bytes(r.decisionKey),
    etcdPutBodyBytes: [etcdBody(r.recordKey, r.record), etcdBody(r.decisionKey, r.decision)],
    ratifyKvBodyBytes: [kvBody(r.record), kvBody(r.decision)],
    ratifyTxBodyBytes: bytes(JSON.stringify({ participants, commit: true })),
  };
}
