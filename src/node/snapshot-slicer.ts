// Encodes captured snapshots (StateMachine.captureSnapshot) off the Raft loop's
// critical path: a few milliseconds of encoding per turn of the event loop,
// then setImmediate, so proposals, messages and Readys run between the slices.
// The sha256 is computed as the bytes come, so a state digest (state-digests.ts)
// costs no second pass.
//
// WHY: serializing the whole state in one go on the loop (35-66 ms for the
// benchmark's KV state at 50,000 keys, more for a table of 100,000 finished
// transactions) stalled every write in flight, on every node at once for a
// digest (all replicas digest the same index): most of the writes benchmark's
// p99.9 at concurrency 64 (README, Performance). The capture is taken at the
// index the bytes are for (cheap: references, the few live records copied), so
// the bytes are the same whenever the slices run.
//
// Only an encoding whose bytes are wanted (a local snapshot) hands them on, to
// a sink (the storage's SnapshotWriter, which writes them to the snapshot
// file as they come); a digest's is hashed piece by piece and nothing else.
// The pieces go through one chunk buffer of CHUNK_BYTES, kept from one
// encoding to the next, and the sink's write is awaited before the next slice.
// WHY: the whole encoding in memory was an output buffer the size of the
// state (8 MiB at 100,000 retained transactions), kept on every node from one
// snapshot to the next (a buffer allocated and freed per snapshot instead
// raised glibc's mmap threshold, and the malloc heap grew by as much; a digest's
// bytes copied out were a dead ArrayBuffer in RSS until a major GC). One
// encoding at a time, in the order they were asked for; one asked for an index
// already queued joins it, so a digest and a local snapshot at the same index
// encode once.
import { createHash } from 'node:crypto';
import { RatifyError } from '../errors.js';
import type { SnapshotEncoding } from '../raft/state-machine.js';

export interface EncodedSnapshot {
  readonly index: number;
  /** Hex sha256 of the bytes. */
  readonly sha256: string;
}

/** Where the bytes of an encoding go, in order (a storage's SnapshotWriter). */
export interface PieceSink {
  /** Takes the next bytes; `piece` is the slicer's to reuse once this resolves, so a sink that keeps bytes copies them. */
  write(piece: Uint8Array): Promise<void>;
}

/** Encoding work per turn of the event loop before it yields to the loop. */
export const SLICE_MS_DEFAULT = 3;
/**
 * Encodings queued at most: each holds a capture (an array of references to
 * the whole state, about 1.6 MB at 100,000 transactions). As many as the
 * digests kept: more waiting means the node cannot keep up with its interval.
 */
export const QUEUED_MAX = 16;
/**
 * Bytes gathered before they go to the sink: one write to the file per 256 KiB,
 * and the only buffer the slicer keeps. A piece larger than this goes whole.
 */
export const CHUNK_BYTES = 256 * 1024;
/** Bytes hashed per step of encodedAlready. */
const ALREADY_PIECE_BYTES = 256 * 1024;

interface Job {
  readonly index: number;
  readonly encoding: SnapshotEncoding;
  /** Where the bytes go (else they are only hashed); set before the job starts. */
  sink: PieceSink | null;
  started: boolean;
  readonly done: Promise<EncodedSnapshot>;
  readonly resolve: (s: EncodedSnapshot) => void;
  readonly reject: (err: unknown) => void;
}

export class SnapshotSlicer {
  /** Waiting or running, oldest first; the first runs. */
  private readonly jobs: Job[] = [];
  /** The run over `jobs`, while there is one. */
  private running: Promise<void> | null = null;
  private abandoned = false;
  private readonly chunk = new Chunk(CHUNK_BYTES);
  /** Slices run so far (for tests and logs). */
  slices = 0;

  constructor(private readonly sliceMs = SLICE_MS_DEFAULT) {
    if (!(sliceMs > 0)) throw new RangeError(`sliceMs (${sliceMs}) must be positive`);
  }

  /**
   * The snapshot of the state at `index`, which the state machine holds now:
   * `capture` is called at once unless an encoding of `index` is queued that
   * can be shared (then that one's result is). With a `sink`, the bytes go to
   * it, in order, and the result comes once the sink took the last of them;
   * with none, the bytes are only hashed (a digest). A digest joins any queued
   * encoding of `index`; a sink joins one that has none and has not started.
   * Rejects with SHUTTING_DOWN once abandoned, with TOO_MANY_PENDING when
   * QUEUED_MAX encodings are waiting, and as the sink's write rejects.
   */
  encode(index: number, capture: () => SnapshotEncoding, sink: PieceSink | null): Promise<EncodedSnapshot> {
    if (this.abandoned) return Promise.reject(new RatifyError('SHUTTING_DOWN', 'snapshot encoding abandoned: the node is stopping'));
    const queued = sink === null ? this.jobs.find((j) => j.index === index) : null;
    if (queued !== undefined && queued !== null) return queued.done;
    const joined = sink === null ? null : this.writeInto(index, sink);
    if (joined !== null) return joined;
    if (this.jobs.length >= QUEUED_MAX)
      return Promise.reject(new RatifyError('TOO_MANY_PENDING', `${QUEUED_MAX} snapshot encodings are waiting already`));
    let resolve!: (s: EncodedSnapshot) => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<EncodedSnapshot>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A rejection nobody awaits (an abandoned digest) is expected, not an unhandled error.
    done.catch(() => {});
    this.jobs.push({ index, encoding: capture(), sink, started: false, done, resolve, reject });
    this.running ??= this.run();
    return done;
  }

  /**
   * The queued encoding of `index`, its bytes now going to `sink`: null when
   * there is none that can take a sink (none queued, or it started without one,
   * or it has one already). A local snapshot sharing a digest's capture.
   */
  writeInto(index: number, sink: PieceSink): Promise<EncodedSnapshot> | null {
    if (this.abandoned) return null;
    const queued = this.jobs.find((j) => j.index === index && j.sink === null && !j.started);
    if (queued === undefined) return null;
    queued.sink = sink;
    return queued.done;
  }

  /** At stop: no slice runs after this resolves; what was waiting or running rejects with SHUTTING_DOWN. */
  async abandon(): Promise<void> {
    this.abandoned = true;
    await this.running;
  }

  get busy(): boolean {
    return this.jobs.length > 0;
  }

  private async run(): Promise<void> {
    try {
      for (let job = this.jobs[0]; job !== undefined; job = this.jobs[0]) {
        await this.runJob(job);
        this.jobs.shift();
      }
    } finally {
      this.running = null;
    }
  }

  private async runJob(job: Job): Promise<void> {
    const hash = createHash('sha256');
    const chunk = this.chunk;
    chunk.clear();
    try {
      for (let more = true; more; ) {
        await nextTurn();
        if (this.abandoned) throw new RatifyError('SHUTTING_DOWN', 'snapshot encoding abandoned: the node is stopping');
        // Decided at the first slice: a sink (writeInto) can join until then.
        job.started = true;
        const sink = job.sink;
        this.slices++;
        const start = performance.now();
        do {
          more = job.encoding.step();
          const piece = job.encoding.piece();
          hash.update(piece);
          if (sink !== null) chunk.append(piece);
        } while (more && !chunk.full && performance.now() - start < this.sliceMs);
        if (sink !== null && (chunk.full || (!more && chunk.length > 0))) {
          await sink.write(chunk.bytes());
          chunk.clear();
        }
      }
      job.resolve({ index: job.index, sha256: hash.digest('hex') });
    } catch (err) {
      job.reject(err);
    } finally {
      chunk.clear();
    }
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The pieces of one slice, gathered for one write. Kept from one encoding to
 * the next at `size` bytes; it grows only to take a single piece larger than
 * that, and shrinks back at the next clear().
 */
class Chunk {
  private buf: Buffer;
  length = 0;

  constructor(private readonly size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  get full(): boolean {
    return this.length >= this.size;
  }

  append(piece: Uint8Array): void {
    if (this.length + piece.length > this.buf.length) {
      const next = Buffer.allocUnsafeSlow(this.length + piece.length);
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    this.buf.set(piece, this.length);
    this.length += piece.length;
  }

  /** The bytes appended since clear(), as a view: valid until the next append or clear. */
  bytes(): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.length);
  }

  clear(): void {
    this.length = 0;
    if (this.buf.length > this.size) this.buf = Buffer.allocUnsafeSlow(this.size);
  }
}

/** Bytes already made (a state machine without captureSnapshot), in pieces: only the hashing and copying are sliced. */
export function encodedAlready(bytes: Uint8Array): SnapshotEncoding {
  let at = 0;
  let piece = bytes.subarray(0, 0);
  return {
    step() {
      piece = bytes.subarray(at, at + ALREADY_PIECE_BYTES);
      at += piece.length;
      return at < bytes.length;
    },
    piece: () => piece,
  };
}

/** `prefix` (an envelope's header), then the pieces of `inner`. */
export function prefixedEncoding(prefix: Uint8Array, inner: SnapshotEncoding): SnapshotEncoding {
  let inPrefix: boolean | null = null;
  return {
    step() {
      inPrefix = inPrefix === null;
      return inPrefix ? true : inner.step();
    },
    piece: () => (inPrefix === true ? prefix : inner.piece()),
  };
}
