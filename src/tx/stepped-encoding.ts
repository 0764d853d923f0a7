// A SnapshotEncoding (src/raft/state-machine.ts) from a generator that writes a
// captured state, yielding every few hundred values: each step() runs it to its
// next yield, into a small writer of the encoding's own that starts over at
// every step (the driver appends the pieces to a buffer it reuses, see
// src/node/snapshot-slicer.ts). The synchronous snapshot() runs the same
// generator to its end, so both give the same bytes.
import type { SnapshotEncoding } from '../raft/state-machine.js';
import { ScratchWriter, type StringEncoding } from './msgpack-writer.js';

export type EncodeSteps = (w: ScratchWriter) => Generator<void, void, void>;

export function steppedEncoding(steps: EncodeSteps, strings: StringEncoding): SnapshotEncoding {
  const w = new ScratchWriter(strings);
  let run: Generator<void, void, void> | null = null;
  let done = false;
  return {
    step() {
      if (done) return false;
      w.reset();
      run ??= steps(w);
      done = run.next().done === true;
      return !done;
    },
    piece: () => w.bytes(),
  };
}

/** Runs `steps` to its end into one writer: the exact bytes. */
export function encodeAtOnce(steps: EncodeSteps, strings: StringEncoding): Uint8Array {
  const w = new ScratchWriter(strings);
  const run = steps(w);
  while (run.next().done !== true);
  return w.copy();
}
