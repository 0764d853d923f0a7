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
// Only an encoding whose bytes are wanted (a local snapshot) keeps them; a
// digest's is hashed piece by piece and nothing else. WHY: a digest's bytes
// copied out and then let go were a snapshot-sized dead ArrayBuffer (6 MB at
// 100,000 transactions) in RSS until a major GC, at every digest interval on
// every node. The pieces of a kept encoding are appended to an output buffer
// kept from one snapshot to the next, and the result is a view of it, lent to
// the caller until it calls release(): a buffer grown from small for every
// snapshot left 7-20 MB of dead ArrayBuffers behind each time, in RSS until a
// major GC. (A buffer allocated per snapshot, sized from the last one and
// handed out as the result, was tried instead: the 8 MB kept went, but freeing
// snapshot-sized buffers raised glibc's mmap threshold and the malloc heap
// grew by as much; no lower RSS in scripts/memory-probe.ts. An exact copy per
// snapshot, freed once the snapshot is on disk, is the same free.) An
// encoding that keeps bytes while the last one's are still lent fails with
// INTERNAL rather than write over them. One encoding at a time, in the order they were
// asked for; one asked for an index already queued joins it, so a digest and a
// local snapshot at the same index encode once.
import { createHash } from 'node:crypto';
import { RatifyError } from '../errors.js';
import type { SnapshotEncoding } from '../raft/state-machine.js';

export interface EncodedSnapshot {
  readonly index: number;
  /**
   * The exact bytes, a view of the slicer's output buffer lent until release()
   * (copy them to keep them longer); null when the encoding was asked for its
   * digest only.
   */
  readonly bytes: Uint8Array | null;
  /** Hex sha256 of bytes. */
  readonly sha256: string;
  /** Gives the bytes back, for the next encoding that keeps bytes to write over; idempotent, and a no-op without bytes. */
  release(): void;
}

/** Encoding work per turn of the event loop before it yields to the loop. */
export const SLICE_MS_DEFAULT = 3;
/**
 * Encodings queued at most: each holds a capture (an array of references to
 * the whole state, about 1.6 MB at 100,000 transactions). As many as the
 * digests kept: more waiting means the node cannot keep up with its interval.
 */
export const QUEUED_MAX = 16;
const OUTPUT_INITIAL_BYTES = 64 * 1024;
/** Bytes hashed and copied per step of encodedAlready. */
const ALREADY_PIECE_BYTES = 256 * 1024;
/** An output buffer this many times larger than the last snapshot, and past OUTPUT_KEEP_BYTES_MIN, is let go. */
const OUTPUT_SHRINK_FACTOR = 4;
const OUTPUT_KEEP_BYTES_MIN = 1 << 20;

interface Job {
  readonly index: number;
  readonly encoding: SnapshotEncoding;
  /** Whether the bytes are kept (else only hashed); set before the job starts. */
  keepBytes: boolean;
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
  private readonly out = new OutputBuffer();
  /** Slices run so far (for tests and logs). */
  slices = 0;

  constructor(private readonly sliceMs = SLICE_MS_DEFAULT) {
    if (!(sliceMs > 0)) throw new RangeError(`sliceMs (${sliceMs}) must be positive`);
  }

  /**
   * The snapshot of the state at `index`, which the state machine holds now:
   * `capture` is called at once unless an encoding of `index` is queued (then
   * that one's result is shared). Rejects with SHUTTING_DOWN once abandoned, and
   * with TOO_MANY_PENDING when QUEUED_MAX encodings are waiting. With
   * `keepBytes` false the result's bytes are null (a digest needs the sha256
   * only); a queued encoding of `index` that does not keep its bytes is joined
   * only if it has not started (it then keeps them), else `index` is captured
   * again (the state is still that of `index`, as for any call).
   */
  encode(index: number, capture: () => SnapshotEncoding, keepBytes = true): Promise<EncodedSnapshot> {
    if (this.abandoned) return Promise.reject(new RatifyError('SHUTTING_DOWN', 'snapshot encoding abandoned: the node is stopping'));
    const queued = this.jobs.find((j) => j.index === index && (j.keepBytes || !keepBytes || !j.started));
    if (queued !== undefined) {
      if (keepBytes) queued.keepBytes = true;
      return queued.done;
    }
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
    this.jobs.push({ index, encoding: capture(), keepBytes, started: false, done, resolve, reject });
    this.running ??= this.run();
    return done;
  }

  /**
   * The queued encoding of `index`, made to keep its bytes: null when there is
   * none, or when it started without keeping them (a local snapshot sharing a
   * digest's capture then captures its own).
   */
  keepBytesOf(index: number): Promise<EncodedSnapshot> | null {
    const queued = this.jobs.find((j) => j.index === index && (j.keepBytes || !j.started));
    if (queued === undefined) return null;
    queued.keepBytes = true;
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
    try {
      for (let more = true; more; ) {
        await nextTurn();
        if (this.abandoned) throw new RatifyError('SHUTTING_DOWN', 'snapshot encoding abandoned: the node is stopping');
        // Decided at the first slice: a join asking for the bytes (encode) can come until then.
        if (!job.started) {
          job.started = true;
          if (job.keepBytes) this.out.start();
        }
        this.slices++;
        const start = performance.now();
        do {
          more = job.encoding.step();
          const piece = job.encoding.piece();
          hash.update(piece);
          if (job.keepBytes) this.out.append(piece);
        } while (more && performance.now() - start < this.sliceMs);
      }
      const sha256 = hash.digest('hex');
      if (!job.keepBytes) job.resolve({ index: job.index, bytes: null, sha256, release: () => {} });
      else job.resolve({ index: job.index, bytes: this.out.lend(), sha256, release: this.out.releaser() });
    } catch (err) {
      job.reject(err);
    }
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Pieces appended to one buffer, reused from snapshot to snapshot; the bytes lent out as a view of it. */
class OutputBuffer {
  private buf = Buffer.allocUnsafeSlow(OUTPUT_INITIAL_BYTES);
  private length = 0;
  /** Number of the current loan (0: none yet); `lent` while its bytes are out. */
  private loan = 0;
  private lent = false;

  /** Starts a new snapshot; lets go of a buffer far larger than the last snapshot needed. Throws INTERNAL while bytes are lent. */
  start(): void {
    if (this.lent) throw new RatifyError('INTERNAL', 'snapshot encoding: the bytes of the last one are still lent (release() them first)');
    if (this.buf.length > OUTPUT_KEEP_BYTES_MIN && this.buf.length > OUTPUT_SHRINK_FACTOR * this.length)
      this.buf = Buffer.allocUnsafeSlow(Math.max(OUTPUT_INITIAL_BYTES, this.length * 2));
    this.length = 0;
  }

  append(piece: Uint8Array): void {
    if (this.length + piece.length > this.buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.length + piece.length));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    this.buf.set(piece, this.length);
    this.length += piece.length;
  }

  /** The bytes appended since start(), as a view: lent until the releaser() of this loan is called. */
  lend(): Uint8Array {
    this.loan++;
    this.lent = true;
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.length);
  }

  /** Ends the current loan; a stale releaser (of an earlier loan) does nothing. */
  releaser(): () => void {
    const loan = this.loan;
    return () => {
      if (this.loan === loan) this.lent = false;
    };
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
