// Length-prefixed frames for the Raft stream (POST /raft/v1/stream): each frame is
// a 4-byte big-endian length and that many bytes of one msgpack envelope.
//
// A stream is one long HTTP request body, so the receiver sees arbitrary chunk
// boundaries: FrameReader reassembles frames across chunks and refuses a length
// above its limit before buffering any of it, so a peer cannot make a node hold
// more than one frame limit per stream.
import { RatifyError } from '../errors.js';

export const FRAME_HEADER_BYTES = 4;

/** One frame: header and payload in one buffer, so the socket sees one write. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export class FrameReader {
  /** Chunks received but not yet consumed; `offset` bytes of the first are consumed. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private offset = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /**
   * Feeds one chunk and returns the frames it completed, in order. Throws
   * RatifyError('BODY_TOO_LARGE') for a frame over the limit and
   * VALIDATION_FAILED for an empty one; the stream is unusable after either.
   */
  push(chunk: Buffer): Buffer[] {
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
    }
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) return frames;
      const length = this.peekLength();
      if (length > this.maxFrameBytes) {
        throw new RatifyError('BODY_TOO_LARGE', `a stream frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes} bytes`);
      }
      if (length === 0) throw new RatifyError('VALIDATION_FAILED', 'empty stream frame');
      if (this.buffered < FRAME_HEADER_BYTES + length) return frames;
      this.consume(FRAME_HEADER_BYTES);
      frames.push(this.consume(length));
    }
  }

  /** Bytes of an incomplete frame still held (0 at a clean frame boundary). */
  get pendingBytes(): number {
    return this.buffered;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.byteLength - this.offset >= FRAME_HEADER_BYTES) return first.readUInt32BE(this.offset);
    const header = this.copy(FRAME_HEADER_BYTES, false);
    return header.readUInt32BE(0);
  }

  private consume(n: number): Buffer {
    const first = this.chunks[0]!;
    // The common case, a frame inside one chunk, is a view rather than a copy.
    if (first.byteLength - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      this.buffered -= n;
      if (this.offset === first.byteLength) {
        this.chunks.shift();
        this.offset = 0;
      }
      return out;
    }
    return this.copy(n, true);
  }

  /** Copies n bytes spanning chunks; consumes them when `advance`. */
  private copy(n: number, advance: boolean): Buffer {
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    let i = 0;
    let offset = this.offset;
    while (written < n) {
      const chunk = this.chunks[i]!;
      const take = Math.min(n - written, chunk.byteLength - offset);
      chunk.copy(out, written, offset, offset + take);
      written += take;
      offset += take;
      if (offset === chunk.byteLength) {
        i++;
        offset = 0;
      }
    }
    if (advance) {
      this.chunks = this.chunks.slice(i);
      this.offset = offset;
      this.buffered -= n;
    }
    return out;
  }
}
