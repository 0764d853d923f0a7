// A tiny replicated key-value store: the state machine behind `--state-machine kv`.
//
// It exists to exercise raw consensus end to end (multi-process failover tests, the
// raw-consensus benchmark) without the transaction layer. apply() is deterministic
// and returns the index the write landed at.
//
// Encoding (MessagePack, like every other internal path): a command is the array
// [PUT, key, value]; a snapshot is the flat array [key1, value1, key2, value2, ...]
// in the map's insertion order. That order is the same on every replica at the
// same applied index (first writes in log order, a restored snapshot keeping its
// own order), so equal states give equal bytes without sorting (a replica that
// restored a sorted snapshot of an earlier version keeps that order; nothing
// needs the bytes to match, only the state). Logs and snapshots written by
// earlier versions hold JSON ({"op":"put",...} and sorted [[key, value], ...]);
// a JSON text starts with '{' or '[', which no MessagePack array does, so both
// are still read.
//
// The snapshot is written by our own writer, byte for byte what msgpackr's
// pack() of the flat array gives (older nodes wrote it that way, and the state
// digests compare bytes across replicas), so it can also be written in slices
// from a capture (captureSnapshot): the flat array of the map's keys and values
// (strings never change, so the references are the state), copied in one pass.
import { Packr } from 'msgpackr';
import type { AppliedEntry, StateMachine } from '../raft/state-machine.js';
import type { ScratchWriter } from '../tx/msgpack-writer.js';
import { encodeAtOnce, steppedEncoding } from '../tx/stepped-encoding.js';
import { packBounded } from '../util/bounded-pack.js';

export const KV_KEY_BYTES_MAX = 256;

export type KvCommand = { readonly op: 'put'; readonly key: string; readonly value: string };

export interface KvPutResult {
  readonly index: number;
  /** Set when the entry was not a KV command and changed nothing (see apply). */
  readonly malformed?: true;
}

export interface KvStateMachine extends StateMachine {
  get(key: string): string | undefined;
  size(): number;
  apply(entry: AppliedEntry): KvPutResult;
}

const PUT = 1;
const JSON_OBJECT_START = 0x7b; // '{'
const JSON_ARRAY_START = 0x5b; // '['

const packr = new Packr({ useRecords: false, mapsAsObjects: true, structuredClone: false });

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return packBounded(packr, [PUT, cmd.key, cmd.value]);
}

function decodeKvCommand(data: Uint8Array): KvCommand | null {
  let v: unknown;
  try {
    // A view of its own for msgpackr to hang its DataView on, not the log's entry (see decodeCommand).
    v =
      data[0] === JSON_OBJECT_START
        ? JSON.parse(new TextDecoder().decode(data))
        : packr.unpack(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } catch {
    return null;
  }
  if (Array.isArray(v)) {
    if (v.length === 3 && v[0] === PUT && typeof v[1] === 'string' && typeof v[2] === 'string')
      return { op: 'put', key: v[1], value: v[2] };
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (o['op'] === 'put' && typeof o['key'] === 'string' && typeof o['value'] === 'string') {
      return { op: 'put', key: o['key'], value: o['value'] };
    }
  }
  return null;
}

/** Strings written between two yields of a sliced snapshot. */
const STRINGS_PER_STEP = 2048;

/** The map as [key1, value1, key2, value2, ...]. */
function flatten(data: ReadonlyMap<string, string>): readonly string[] {
  const flat = new Array<string>(data.size * 2);
  let i = 0;
  for (const [key, value] of data) {
    flat[i++] = key;
    flat[i++] = value;
  }
  return flat;
}

function kvSnapshotSteps(flat: readonly string[]): (w: ScratchWriter) => Generator<void, void, void> {
  return function* (w) {
    w.array(flat.length);
    for (let i = 0; i < flat.length; i++) {
      w.str(flat[i]!);
      if (i % STRINGS_PER_STEP === STRINGS_PER_STEP - 1) yield;
    }
  };
}

function decodeKvSnapshot(bytes: Uint8Array): Map<string, string> {
  if (bytes[0] === JSON_ARRAY_START) {
    const pairs: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (!Array.isArray(pairs)) throw new Error('kv snapshot must be an array of [key, value] pairs');
    return new Map(pairs as [string, string][]);
  }
  const flat: unknown = packr.unpack(bytes);
  if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new Error('kv snapshot must be a flat array of keys and values');
  const data = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) {
    const key: unknown = flat[i];
    const value: unknown = flat[i + 1];
    if (typeof key !== 'string' || typeof value !== 'string') throw new Error(`kv snapshot: entry ${i / 2} is not a pair of strings`);
    data.set(key, value);
  }
  return data;
}

export function createKvStateMachine(): KvStateMachine {
  let data = new Map<string, string>();
  return {
    apply(entry) {
      const cmd = decodeKvCommand(entry.data);
      // Only this process's routes propose KV commands, but entries come from the leader:
      // skipping a malformed one (as the tx state machine does) keeps every node alive and identical.
      if (cmd === null) return { index: entry.index, malformed: true };
      data.set(cmd.key, cmd.value);
      return { index: entry.index };
    },
    get: (key) => data.get(key),
    size: () => data.size,
    snapshot: () => encodeAtOnce(kvSnapshotSteps(flatten(data)), 'msgpackr'),
    captureSnapshot: () => steppedEncoding(kvSnapshotSteps(flatten(data)), 'msgpackr'),
    restore(bytes) {
      data = decodeKvSnapshot(bytes);
    },
    checkSnapshot(bytes) {
      try {
        decodeKvSnapshot(bytes);
        return null;
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    },
  };
}
