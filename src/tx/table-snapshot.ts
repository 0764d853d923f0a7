// The table's snapshot, version 5: what every node holds in memory (the
// latest snapshot, to send to lagging followers), writes to disk every
// snapshotThresholdEntries entries and reads back on restart or InstallSnapshot.
//
//   {version: 5, strings: [...], txs: [row...], finishedOrder: [delta...]}
//
// Version 5 is version 4 with one more value per participant, why the
// coordinator abandoned it (0 presumed-abort, 1 force-finish, or nil). Version
// 4 is version 3 with one more field per row, the principal that created the
// transaction (a `strings` index, or nil). Versions 3 and 4 are still read
// (no principal in 3: null; no abandoned participant in either: null).
//
// Version 2 wrote every field of every row in full (~210 bytes per finished
// transaction). Here what repeats is written once or as a small integer:
// participant names, URLs and decision reasons are indexes into `strings`
// (by value, in first-use order, so every node writes the same bytes); state,
// protocol, decision and votes are codes; times are offsets (seq and createdAt
// from the previous row's, the other times from createdAt). About 75 bytes per
// finished transaction. tx-table.ts still reads versions 1 and 2.
//
// A row: [id, seq, state, protocol, participants, createdAt, deadlineAt,
// decision, decisionReason, decidedAt, completedAt, idempotencyKey,
// requestHash, principal], participants flattened to 8 values each (name, url, payload,
// vote, acknowledged, lastError, failingSince, abandoned; 7 before version 5). A time is an integer offset,
// or [the time itself] when no int32 offset gives it back exactly.
import { RatifyError } from '../errors.js';
import { FinishedRow } from './finished-tx.js';
import { MsgpackReader } from './msgpack-reader.js';
import { packExact, strOrNil, type MsgpackSink } from './msgpack-writer.js';
import { TX_STATES, type AbandonReason, type Decision, type ParticipantRecord, type Protocol, type TxRecord, type Vote } from './types.js';

export const SNAPSHOT_VERSION = 5;
/** The version before principals, still read. */
const SNAPSHOT_VERSION_3 = 3;
/** Fields of a row, by version. */
const ROW_FIELDS = { 3: 13, 4: 14, 5: 14 } as const;
type ReadableVersion = keyof typeof ROW_FIELDS;
/** Values per participant in a row, by version. */
const PARTICIPANT_VALUES = { 3: 7, 4: 7, 5: 8 } as const;
/** Values per participant through version 4 (and in version 2's rows, tx-table.ts). */
export const PARTICIPANT_FIELDS = 7;
const ABANDON_CODES: readonly AbandonReason[] = ['presumed-abort', 'force-finish'];
const OFFSET_MIN = -(2 ** 31);
const OFFSET_MAX = 2 ** 31 - 1;
const STATE_CODES = new Map(TX_STATES.map((s, i) => [s, i]));

/** A row of either form, as the table gives it out: a live (or whole) record, or a compacted finished one. */
export type Row = TxRecord | FinishedRow;

export interface SnapshotSource {
  readonly rowCount: number;
  /** Calls `visit` with every row in creation order; a finished row is valid only during its call. */
  forEachRow(visit: (row: Row) => void): void;
  /** Row positions (creation order) of the finished transactions, in completion order. */
  readonly finishedPositions: Uint32Array;
}

/** Receives a decoded table; each call throws DATA_CORRUPT if what it gets contradicts what came before. */
export interface SnapshotTarget {
  row(tx: TxRecord): void;
  finished(position: number): void;
}

export function encodeTableSnapshot(src: SnapshotSource): Uint8Array {
  const strings = new Map<string, number>();
  src.forEachRow((row) => addStrings(strings, row));
  return packExact((w) => {
    writeHeader(w, strings.size);
    for (const s of strings.keys()) w.str(s);
    w.str('txs');
    w.array(src.rowCount);
    const prev = { seq: 0, createdAt: 0 };
    src.forEachRow((row) => writeRow(w, row, strings, prev));
    writeFinishedOrder(w, src.finishedPositions);
  });
}

/**
 * The table as it was at one moment, for an encoding in slices while apply()
 * goes on: the rows in creation order (finished ones are immutable; a capture
 * copies the others) and where each finished one stands among them, in
 * completion order, both fixed when the capture was made.
 */
export interface TableCapture {
  readonly count: number;
  /** The row at creation-order position `i`; a finished one is valid only until the next call. */
  rowAt(i: number): Row;
  /** Creation-order positions of the finished rows, in completion order (SnapshotSource.finishedPositions). */
  readonly finishedPositions: Uint32Array;
}

/** Rows scanned or written between two yields (a few hundred microseconds). */
const ROWS_PER_STEP = 256;
/** Strings or positions written between two yields. */
const VALUES_PER_STEP = 2048;

/**
 * Writes the same bytes as encodeTableSnapshot, yielding every few hundred
 * rows: what an encoding in slices steps through (stepped-encoding.ts).
 */
export function* tableSnapshotSteps(cap: TableCapture, w: MsgpackSink): Generator<void, void, void> {
  const { count, finishedPositions } = cap;
  const strings = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    addStrings(strings, cap.rowAt(i));
    if (i % ROWS_PER_STEP === ROWS_PER_STEP - 1) yield;
  }
  writeHeader(w, strings.size);
  let n = 0;
  for (const s of strings.keys()) {
    w.str(s);
    if (++n % VALUES_PER_STEP === 0) yield;
  }
  w.str('txs');
  w.array(count);
  const prev = { seq: 0, createdAt: 0 };
  for (let i = 0; i < count; i++) {
    writeRow(w, cap.rowAt(i), strings, prev);
    if (i % ROWS_PER_STEP === ROWS_PER_STEP - 1) yield;
  }
  w.str('finishedOrder');
  w.array(finishedPositions.length);
  let last = 0;
  for (let i = 0; i < finishedPositions.length; i++) {
    const position = finishedPositions[i]!;
    w.num(position - last);
    last = position;
    if (i % VALUES_PER_STEP === VALUES_PER_STEP - 1) yield;
  }
}

/** True when `data` starts like a version 3, 4 or 5 snapshot (anything else is left to the older readers). */
export function isCurrentSnapshot(data: Uint8Array): boolean {
  try {
    const r = new MsgpackReader(data);
    return r.map() === 4 && r.str() === 'version' && isReadableVersion(r.num());
  } catch {
    return false;
  }
}

function isReadableVersion(v: number): v is ReadableVersion {
  return v === SNAPSHOT_VERSION || v === 4 || v === SNAPSHOT_VERSION_3;
}

export function decodeTableSnapshot(data: Uint8Array, target: SnapshotTarget): void {
  const r = new MsgpackReader(data);
  if (r.map() !== 4) corrupt('not a version 3, 4 or 5 snapshot');
  expectKey(r, 'version');
  const version = r.num();
  if (!isReadableVersion(version)) corrupt('not a version 3, 4 or 5 snapshot');
  expectKey(r, 'strings');
  const strings: string[] = [];
  for (let n = r.array(); n > 0; n--) strings.push(r.str());
  expectKey(r, 'txs');
  const prev = { seq: 0, createdAt: 0 };
  for (let n = r.array(); n > 0; n--) target.row(readRow(r, strings, prev, version));
  expectKey(r, 'finishedOrder');
  let position = 0;
  for (let n = r.array(); n > 0; n--) {
    position += r.num();
    target.finished(position);
  }
  if (!r.done) corrupt('bytes after the table');
}

// ---- writing -------------------------------------------------------------------

/** Adds every name, URL, decision reason and principal of `row` not seen yet, in first-use order. */
function addStrings(strings: Map<string, number>, row: Row): void {
  const add = (s: string | null): void => {
    if (s !== null && !strings.has(s)) strings.set(s, strings.size);
  };
  if ('parts' in row) {
    for (let i = 0; i < row.parts.length; i += 3) {
      add(row.parts[i] as string);
      add(row.parts[i + 1] as string);
    }
  } else {
    for (const p of row.participants) {
      add(p.name);
      add(p.url);
    }
  }
  add(row.decisionReason);
  add(row.principal);
}

/** Up to the string table's header: the strings themselves, 'txs' and the rows come next. */
function writeHeader(w: MsgpackSink, stringCount: number): void {
  w.map(4);
  w.str('version');
  w.num(SNAPSHOT_VERSION);
  w.str('strings');
  w.array(stringCount);
}

function writeFinishedOrder(w: MsgpackSink, finishedPositions: Uint32Array): void {
  w.str('finishedOrder');
  w.array(finishedPositions.length);
  let last = 0;
  for (const position of finishedPositions) {
    w.num(position - last);
    last = position;
  }
}

function writeRow(w: MsgpackSink, row: Row, strings: Map<string, number>, prev: { seq: number; createdAt: number }): void {
  w.array(ROW_FIELDS[SNAPSHOT_VERSION]);
  // A finished row's id, key and hash are packed: written from their words and bytes, no strings made.
  const finished = row instanceof FinishedRow ? row : null;
  if (finished !== null) finished.writeId(w);
  else w.str(row.id);
  writeTime(w, row.seq, prev.seq);
  prev.seq = row.seq;
  w.num(STATE_CODES.get(row.state) ?? -1);
  w.num(row.protocol === '3pc' ? 1 : 0);
  if ('parts' in row) writeFinishedParticipants(w, row.parts, strings);
  else writeParticipants(w, row.participants, strings);
  writeTime(w, row.createdAt, prev.createdAt);
  prev.createdAt = row.createdAt;
  writeTime(w, row.deadlineAt, row.createdAt);
  writeCode(w, row.decision);
  if (row.decisionReason === null) w.nil();
  else w.num(ref(strings, row.decisionReason));
  writeTimeOrNil(w, row.decidedAt, row.createdAt);
  writeTimeOrNil(w, row.completedAt, row.createdAt);
  if (finished !== null) {
    finished.writeKey(w);
    finished.writeHash(w);
  } else {
    strOrNil(w, row.idempotencyKey);
    strOrNil(w, row.requestHash);
  }
  if (row.principal === null) w.nil();
  else w.num(ref(strings, row.principal));
}

function writeParticipants(w: MsgpackSink, participants: readonly ParticipantRecord[], strings: Map<string, number>): void {
  w.array(participants.length * PARTICIPANT_VALUES[SNAPSHOT_VERSION]);
  for (const p of participants) {
    w.num(ref(strings, p.name));
    w.num(ref(strings, p.url));
    w.value(p.payload);
    writeCode(w, p.vote);
    w.bool(p.acknowledged);
    strOrNil(w, p.lastError);
    if (p.failingSince === null) w.nil();
    else w.num(p.failingSince);
    if (p.abandoned === null) w.nil();
    else w.num(ABANDON_CODES.indexOf(p.abandoned));
  }
}

/** What toRecord() would yield: no payload, acknowledged, nothing failing. Both forms of a row write the same bytes. */
function writeFinishedParticipants(w: MsgpackSink, parts: FinishedRow['parts'], strings: Map<string, number>): void {
  w.array((parts.length / 3) * PARTICIPANT_VALUES[SNAPSHOT_VERSION]);
  for (let i = 0; i < parts.length; i += 3) {
    w.num(ref(strings, parts[i] as string));
    w.num(ref(strings, parts[i + 1] as string));
    w.nil();
    writeCode(w, (parts[i + 2] ?? null) as Vote | null);
    w.bool(true);
    w.nil();
    w.nil();
    w.nil();
  }
}

/** `t` as an int32 offset from `base` when that gives `t` back exactly, else as [t]. */
function writeTime(w: MsgpackSink, t: number, base: number): void {
  const offset = t - base;
  if (Number.isInteger(offset) && offset >= OFFSET_MIN && offset <= OFFSET_MAX && Object.is(base + offset, t)) {
    w.num(offset);
  } else {
    w.array(1);
    w.num(t);
  }
}

function writeTimeOrNil(w: MsgpackSink, t: number | null, base: number): void {
  if (t === null) w.nil();
  else writeTime(w, t, base);
}

/** A vote or decision: 0 commit, 1 abort. */
function writeCode(w: MsgpackSink, v: Vote | Decision | null): void {
  if (v === null) w.nil();
  else w.num(v === 'commit' ? 0 : 1);
}

function ref(strings: Map<string, number>, s: string): number {
  const i = strings.get(s);
  if (i === undefined) throw new RatifyError('INTERNAL', 'snapshot string table misses a string of the table');
  return i;
}

// ---- reading -------------------------------------------------------------------

function readRow(
  r: MsgpackReader,
  strings: readonly string[],
  prev: { seq: number; createdAt: number },
  version: ReadableVersion,
): TxRecord {
  if (r.array() !== ROW_FIELDS[version]) corrupt(`a row is not ${ROW_FIELDS[version]} values`);
  const id = r.str();
  const seq = readTime(r, prev.seq);
  prev.seq = seq;
  const state = TX_STATES[r.num()] ?? corrupt(`transaction ${id} has an unknown state`);
  const protocol = readProtocol(r);
  const participants = readParticipants(r, strings, PARTICIPANT_VALUES[version]);
  const createdAt = readTime(r, prev.createdAt);
  prev.createdAt = createdAt;
  const deadlineAt = readTime(r, createdAt);
  const decision = r.nil() ? null : readCode(r);
  const decisionReason = r.nil() ? null : readRef(r, strings);
  const decidedAt = r.nil() ? null : readTime(r, createdAt);
  const completedAt = r.nil() ? null : readTime(r, createdAt);
  const idempotencyKey = r.strOrNull();
  const requestHash = r.strOrNull();
  const principal = version === SNAPSHOT_VERSION_3 || r.nil() ? null : readRef(r, strings);
  return {
    id,
    seq,
    state,
    protocol,
    participants,
    createdAt,
    deadlineAt,
    decision,
    decisionReason,
    decidedAt,
    completedAt,
    idempotencyKey,
    requestHash,
    principal,
  };
}

function readParticipants(r: MsgpackReader, strings: readonly string[], each: number): ParticipantRecord[] {
  const values = r.array();
  if (values % each !== 0) corrupt(`a participant list of ${values} values`);
  const participants: ParticipantRecord[] = [];
  for (let i = 0; i < values; i += each) {
    const name = readRef(r, strings);
    const url = readRef(r, strings);
    const payload = r.value();
    const vote = r.nil() ? null : readCode(r);
    const acknowledged = r.bool();
    const lastError = r.strOrNull();
    const failingSince = r.nil() ? null : r.num();
    const abandoned = each === PARTICIPANT_FIELDS || r.nil() ? null : readAbandoned(r);
    participants.push({ name, url, payload, vote, acknowledged, lastError, failingSince, abandoned });
  }
  return participants;
}

function readAbandoned(r: MsgpackReader): AbandonReason {
  const code = r.num();
  return ABANDON_CODES[code] ?? corrupt(`abandoned code ${code}`);
}

function readTime(r: MsgpackReader, base: number): number {
  if (!r.isArray()) return base + r.num();
  if (r.array() !== 1) corrupt('a time is neither an offset nor [time]');
  return r.num();
}

function readCode(r: MsgpackReader): Vote {
  const code = r.num();
  if (code === 0) return 'commit';
  if (code === 1) return 'abort';
  return corrupt(`vote or decision code ${code}`);
}

function readProtocol(r: MsgpackReader): Protocol {
  const code = r.num();
  if (code === 0) return '2pc';
  if (code === 1) return '3pc';
  return corrupt(`protocol code ${code}`);
}

function readRef(r: MsgpackReader, strings: readonly string[]): string {
  const i = r.num();
  return strings[i] ?? corrupt(`string reference ${i} of ${strings.length}`);
}

function expectKey(r: MsgpackReader, key: string): void {
  if (r.str() !== key) corrupt(`expected ${key}`);
}

function corrupt(why: string): never {
  throw new RatifyError('DATA_CORRUPT', `transaction snapshot: ${why}`);
}
