// A deterministic table of every row form the store keeps (UUID and other
// ids, SDK-style keys and hashes and others, principals, reasons, records kept
// whole, unfinished rows, retention), built only through TxTable's public
// operations, so the same builder runs against any version of the table: its
// snapshot bytes are pinned in table-bytes.test.ts.
import { createHash } from 'node:crypto';
import type { TxTable } from '../../src/tx/tx-table.js';
import type { TxRecord } from '../../src/tx/types.js';
import { Prng } from '../../src/util/random.js';

function uuid(rng: Prng): string {
  const hex = [...Array(16)].map(() => rng.below(256).toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function fillGoldenTable(table: TxTable, count = 3_000, keep = 2_000): void {
  const rng = new Prng(20261207);
  const open: string[] = [];
  const done: string[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const id = rng.chance(0.85) ? uuid(rng) : rng.chance(0.5) ? uuid(rng).toUpperCase() : `tx-${seq}`;
    const key = rng.chance(0.6) ? (rng.chance(0.7) ? uuid(rng) : `order-${seq}`) : null;
    const createdAt = 1_780_000_000_000 + seq * 3;
    const tx: TxRecord = {
      id,
      seq,
      state: 'committing',
      protocol: rng.chance(0.2) ? '3pc' : '2pc',
      participants: ['alpha', 'beta'].map((name) => ({
        name,
        url: `http://127.0.0.1:4000/${name}`,
        payload: { amount: seq },
        vote: 'commit' as const,
        acknowledged: false,
        lastError: null,
        failingSince: null,
        abandoned: null,
      })),
      createdAt,
      deadlineAt: createdAt + 30_000,
      decision: 'commit',
      decisionReason: rng.chance(0.1) ? 'operator' : null,
      decidedAt: createdAt + 2,
      completedAt: null,
      idempotencyKey: key,
      requestHash: key === null ? null : rng.chance(0.8) ? createHash('sha256').update(`r${seq}`).digest('base64url') : `h-${seq}`,
      principal: rng.chance(0.3) ? (rng.chance(0.5) ? 'alice' : 'bob') : null,
    };
    table.insert(tx);
    open.push(id);
    if (open.length > 20 || rng.chance(0.6)) {
      const finishing = open.splice(rng.below(open.length), 1)[0]!;
      const live = table.get(finishing)!;
      const abort = rng.chance(0.2);
      live.state = abort ? 'aborted' : 'committed';
      live.decision = abort ? 'abort' : 'commit';
      live.completedAt = live.createdAt + 7;
      for (const p of live.participants) {
        p.acknowledged = true;
        p.payload = null;
      }
      // Kept whole by the store: an abandoned participant does not compact.
      if (rng.chance(0.05)) live.participants[1]!.abandoned = 'presumed-abort';
      table.markFinished(live);
      done.push(finishing);
      while (done.length > keep) table.remove(done.shift()!);
    }
  }
}
