// Follower side of a chunked InstallSnapshot: gathers chunks in memory, in
// order, from one sender, and hands back the whole snapshot after the last one.
import type { Message, NodeId, Snapshot, SnapshotMeta } from './types.js';

type SnapshotMessage = Extract<Message, { type: 'snapshot' }>;

export interface ChunkResult {
  /** Offset of the next chunk this follower expects. */
  readonly nextOffset: number;
  readonly complete: Snapshot | null;
}

function sameMeta(a: SnapshotMeta, b: SnapshotMeta): boolean {
  return a.index === b.index && a.term === b.term;
}

export class SnapshotReceiver {
  /** Accumulation in progress. Two leaders may serialize the same index differently, so the sender is part of its identity. */
  private current: { from: NodeId; term: number; meta: SnapshotMeta; chunks: Uint8Array[]; bytes: number } | null = null;

  accept(m: SnapshotMessage): ChunkResult {
    const cur = this.current;
    const same = cur !== null && cur.from === m.from && cur.term === m.term && sameMeta(cur.meta, m.meta);
    if (!same) {
      // Another snapshot (or sender): restart, but only from its first chunk.
      this.current = null;
      if (m.offset !== 0) return { nextOffset: 0, complete: null };
      this.current = { from: m.from, term: m.term, meta: m.meta, chunks: [], bytes: 0 };
    }
    const acc = this.current;
    if (acc === null) return { nextOffset: 0, complete: null };
    // Duplicates and gaps are not accepted; the leader resumes from nextOffset.
    if (m.offset !== acc.bytes) return { nextOffset: acc.bytes, complete: null };
    acc.chunks.push(m.chunk.slice());
    acc.bytes += m.chunk.byteLength;
    if (!m.done) return { nextOffset: acc.bytes, complete: null };
    this.current = null;
    return { nextOffset: acc.bytes, complete: { meta: m.meta, data: concat(acc.chunks, acc.bytes) } };
  }

  reset(): void {
    this.current = null;
  }

  /**
   * Our log now matches the leader's through `matchIndex`: a snapshot being gathered
   * whose last entry is at or below it can no longer be needed (§7: it would not be
   * installed), so its chunks are dropped. A leader that left snapshot state for
   * plain appends (its log still reached our match) sends no more of them.
   */
  dropCoveredBy(matchIndex: number): void {
    if (this.current !== null && this.current.meta.index <= matchIndex) this.current = null;
  }
}

function concat(chunks: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
