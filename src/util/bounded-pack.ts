// msgpackr's pack(), with its shared write buffer kept small.
//
// Every Packr in the process packs into one module-level buffer and returns a
// view of it. A message that does not fit makes msgpackr replace that buffer
// with one 4x the message's size, and from then on each buffer it starts when
// the current one is full has that size too. So one catch-up append of 1 MiB
// (a restarted follower, a lagging one) made a node allocate 2.5-4 MiB write
// buffers for good, one after another: one that outlives two young collections
// waits for a full one, and a view kept in the log pins a whole one. In the
// benchmark's failover (heaptrack, 2026-12-07) three and four such 4 MiB buffers
// were 12 and 16 MiB of two new leaders' malloc peaks of 39 and 42 MiB; the
// fill's leader peaked at 22 MiB.
import type { Packr } from 'msgpackr';

/** The size msgpackr starts its shared buffer with. */
export const PACK_BUFFER_BYTES_INITIAL = 8192;

/**
 * A shared buffer larger than this is dropped after the pack that grew it: a
 * message over about a quarter of it is rare (catch-up, a large KV value), and
 * buffers of this size and above get their own pages from malloc
 * (MALLOC_MMAP_THRESHOLD_, see local-cluster.ts), so they cost a mapping each.
 */
export const PACK_BUFFER_BYTES_MAX = 256 * 1024;

/** A message whose caller-given size bound is above this is packed into a buffer of its own, sized to the bound. */
export const PACK_ALONE_BYTES = PACK_BUFFER_BYTES_MAX / 4;

/** Room past the bound: msgpackr grows its buffer when a write comes within 10 bytes of the end. */
const PACK_ALONE_SLACK_BYTES = 64;

/**
 * packr.pack(value); when that left msgpackr's shared buffer larger than
 * PACK_BUFFER_BYTES_MAX, the next message starts a fresh buffer of the initial
 * size. The view returned keeps the large buffer alive only as long as the
 * caller keeps it.
 *
 * `bytesAtMost`, an upper bound of the encoded size when the caller has one
 * (envelopeBytesAtMost): above PACK_ALONE_BYTES the message gets a buffer of
 * that size to itself. WHY: msgpackr grows its buffer 4x at a time and copies
 * what it wrote so far each time, so a 1 MiB append went through buffers of
 * about 32 KiB, 128 KiB, 600 KiB and 2.4 MiB, all garbage once packed. A bound
 * that is too low costs nothing worse than that growth.
 */
export function packBounded(packr: Packr, value: unknown, bytesAtMost = 0): Uint8Array {
  if (bytesAtMost > PACK_ALONE_BYTES) packr.useBuffer(Buffer.allocUnsafeSlow(bytesAtMost + PACK_ALONE_SLACK_BYTES));
  const out = packr.pack(value);
  // The views handed out before stay valid: msgpackr never writes to a buffer again once it has moved to another.
  if (out.buffer.byteLength > PACK_BUFFER_BYTES_MAX) packr.useBuffer(Buffer.allocUnsafeSlow(PACK_BUFFER_BYTES_INITIAL));
  return out;
}
