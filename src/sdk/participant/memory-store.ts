// In-memory ParticipantStore for tests and for users' own unit tests. It copies
// records in and out through the codec so it fails on the same bad records as the
// LevelDB store.
import { RatifyError } from '../../errors.js';
import { decodeRecord, encodeRecord, recordKey } from './record.js';
import type { FinishedRef, LoadedState, ParticipantStore, StoreWrite } from './store.js';
import { isInDoubt, type ParticipantTxRecord } from './types.js';

export class MemoryParticipantStore implements ParticipantStore {
  private readonly records = new Map<string, unknown>();
  private readonly finished = new Map<string, number>();
  private highestTerm = 0;
  private readonly fences = new Map<string, number>();
  private isOpen = false;

  async open(): Promise<LoadedState> {
    this.isOpen = true;
    const inDoubt = [...this.records.entries()].map(([k, v]) => decodeRecord(v, k)).filter((r) => isInDoubt(r.state));
    return { highestTerm: this.highestTerm, fences: [...this.fences].map(([scope, term]) => ({ scope, term })), inDoubt };
  }

  async get(key: string): Promise<ParticipantTxRecord | undefined> {
    this.assertOpen();
    const v = this.records.get(key);
    return v === undefined ? undefined : decodeRecord(v, key);
  }

  async write(w: StoreWrite): Promise<void> {
    this.assertOpen();
    // Encode everything first so a bad record rejects the whole write, as a batch would.
    const encoded = (w.records ?? []).map((r) => [recordKey(r.txId, r.participant), encodeRecord(r), r] as const);
    for (const [key, value, r] of encoded) {
      this.records.set(key, value);
      if (isInDoubt(r.state)) this.finished.delete(key);
      else this.finished.set(key, r.updatedAtMs);
    }
    if (w.highestTerm !== undefined) this.highestTerm = w.highestTerm;
    for (const f of w.fences ?? []) this.fences.set(f.scope, f.term);
    for (const p of w.prune ?? []) {
      if (this.finished.get(p.key) === p.finishedAtMs) {
        this.finished.delete(p.key);
        this.records.delete(p.key);
      }
    }
  }

  async finishedBefore(cutoffMs: number, limit: number): Promise<FinishedRef[]> {
    this.assertOpen();
    return [...this.finished.entries()]
      .filter(([, ms]) => ms < cutoffMs)
      .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, limit)
      .map(([key, finishedAtMs]) => ({ key, finishedAtMs }));
  }

  /** Closing keeps the contents, like a data directory on disk: reopen to simulate a restart. */
  async close(): Promise<void> {
    this.isOpen = false;
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new RatifyError('SHUTTING_DOWN', 'participant store is closed');
  }
}
