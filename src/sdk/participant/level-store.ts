// LevelDB ParticipantStore.
//
// Key layout (one database per participant):
//   t!<key>                  the record (JSON); key = recordKey(txId, participant)
//   d!<key>                  index of in-doubt records, scanned at open
//   f!<finishedAtMs>!<key>   index of finished records by age, scanned when pruning
//   m!term                   the highest coordinator term seen from any cluster (legacy fence)
//   m!fence!<scope>          the highest term per cluster incarnation (fence.ts)
//
// Group commit: writes that arrive while a synced batch is in flight are queued
// and go to disk together in the next batch, so concurrent transactions share
// one fsync instead of paying one each.
import { Level } from 'level';
import { RatifyError } from '../../errors.js';
import { decodeRecord, encodeRecord, isTerm, recordKey } from './record.js';
import type { FenceEntry } from './fence.js';
import type { FinishedRef, LoadedState, ParticipantStore, StoreWrite } from './store.js';
import { isInDoubt, type ParticipantTxRecord } from './types.js';

type Op = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };

interface Pending {
  readonly ops: readonly Op[];
  resolve(): void;
  reject(e: unknown): void;
}

const TERM_KEY = 'm!term';
const FENCE_PREFIX = 'm!fence!';
const MS_DIGITS = 16;
/** Writes per synced batch; bounds the memory of one batch under a burst. */
const GROUP_WRITES_MAX = 512;

const txKey = (key: string): string => `t!${key}`;
const doubtKey = (key: string): string => `d!${key}`;
const finishedKey = (ms: number, key: string): string => `f!${String(ms).padStart(MS_DIGITS, '0')}!${key}`;

export class LevelParticipantStore implements ParticipantStore {
  private readonly db: Level<string, unknown>;
  private queue: Pending[] = [];
  private flushing = false;

  constructor(readonly dataDir: string) {
    this.db = new Level<string, unknown>(dataDir, { valueEncoding: 'json' });
  }

  async open(): Promise<LoadedState> {
    try {
      await this.db.open();
    } catch (cause) {
      throw new RatifyError('INTERNAL', `cannot open participant database at ${this.dataDir}`, { cause });
    }
    const term = (await this.db.get(TERM_KEY)) ?? 0;
    if (!isTerm(term)) throw new RatifyError('DATA_CORRUPT', `participant database ${this.dataDir}: ${TERM_KEY} is not a term`);
    const fences: FenceEntry[] = [];
    for await (const [key, value] of this.db.iterator({ gt: FENCE_PREFIX, lt: `${FENCE_PREFIX}\uffff` })) {
      if (!isTerm(value)) throw new RatifyError('DATA_CORRUPT', `participant database ${this.dataDir}: ${key} is not a term`);
      fences.push({ scope: key.slice(FENCE_PREFIX.length), term: value });
    }
    const inDoubt: ParticipantTxRecord[] = [];
    for await (const key of this.db.keys({ gt: 'd!', lt: 'd"' })) {
      const recKey = key.slice(2);
      const record = await this.get(recKey);
      if (record === undefined || !isInDoubt(record.state)) {
        throw new RatifyError(
          'DATA_CORRUPT',
          `participant database ${this.dataDir}: in-doubt index names ${recKey}, whose record is not in doubt`,
        );
      }
      inDoubt.push(record);
    }
    return { highestTerm: term, fences, inDoubt };
  }

  async get(key: string): Promise<ParticipantTxRecord | undefined> {
    const v = await this.db.get(txKey(key));
    return v === undefined ? undefined : decodeRecord(v, txKey(key));
  }

  write(w: StoreWrite): Promise<void> {
    let ops: Op[];
    try {
      ops = toOps(w);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  async finishedBefore(cutoffMs: number, limit: number): Promise<FinishedRef[]> {
    const refs: FinishedRef[] = [];
    const lt = `f!${String(Math.max(0, cutoffMs)).padStart(MS_DIGITS, '0')}`;
    for await (const key of this.db.keys({ gt: 'f!', lt, limit })) {
      const ms = Number(key.slice(2, 2 + MS_DIGITS));
      refs.push({ key: key.slice(3 + MS_DIGITS), finishedAtMs: ms });
    }
    return refs;
  }

  async close(): Promise<void> {
    // Let queued writes land: a caller may be waiting to answer the coordinator.
    while (this.flushing || this.queue.length > 0) await new Promise((r) => setImmediate(r));
    await this.db.close();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, GROUP_WRITES_MAX);
        try {
          await this.db.batch(
            group.flatMap((p) => p.ops),
            { sync: true },
          );
          for (const p of group) p.resolve();
        } catch (e) {
          for (const p of group) p.reject(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

function toOps(w: StoreWrite): Op[] {
  const ops: Op[] = [];
  for (const r of w.records ?? []) {
    const key = recordKey(r.txId, r.participant);
    ops.push({ type: 'put', key: txKey(key), value: encodeRecord(r) });
    if (isInDoubt(r.state)) {
      ops.push({ type: 'put', key: doubtKey(key), value: 0 });
    } else {
      ops.push({ type: 'del', key: doubtKey(key) });
      ops.push({ type: 'put', key: finishedKey(r.updatedAtMs, key), value: 0 });
    }
  }
  if (w.highestTerm !== undefined) ops.push({ type: 'put', key: TERM_KEY, value: w.highestTerm });
  for (const f of w.fences ?? []) ops.push({ type: 'put', key: `${FENCE_PREFIX}${f.scope}`, value: f.term });
  for (const p of w.prune ?? []) {
    ops.push({ type: 'del', key: txKey(p.key) });
    ops.push({ type: 'del', key: finishedKey(p.finishedAtMs, p.key) });
  }
  return ops;
}
