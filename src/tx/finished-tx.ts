// The compact form of a finished transaction: only what the view, an idempotent
// replay, list() and retention read, written into a slot of a Chunk (columns,
// not an object per transaction; finished-store.ts holds the chunks) and read
// back through a FinishedRow. A node retains up to retainFinishedMax (100,000)
// of these, so every byte counts: no payloads (sent in prepare only), no
// per-participant objects (every participant acknowledged, nothing failing or
// abandoned: a record with one is kept whole), names, URLs, decision reasons
// and whole participant lists shared between transactions, numbers in typed
// arrays (off the V8 heap: nothing for the garbage collector to walk), and the
// three client fields (idempotency key, request hash, principal) packed into
// columns of their own when they take the SDK's form (a UUID key, a sha256 in
// base64url), else kept as strings: the SDK gives every create a key, and as
// two strings and an object they were about 140 bytes of V8 heap each.
import { CodedColumn } from './coded-column.js';
import { type KeyProbe, keyHash, keyHashPacked } from './key-index.js';
import { copyRecord, type Decision, type Protocol, type TxRecord, type TxState, type Vote } from './types.js';
import { strOrNil, type MsgpackSink } from './msgpack-writer.js';
import { HASH_BYTES, packHash, unpackHash } from './packed-hash.js';
import { hashString, hashWords, packUuid, sameUuid, unpackUuid, UUID_WORDS, type UuidProbe } from './uuid-words.js';

/** Slots per chunk: a power of two, so a handle splits into chunk and slot with a shift and a mask. */
export const CHUNK_BITS = 12;
export const CHUNK_SLOTS = 1 << CHUNK_BITS;
/** Offsets kept in an Int32Array; a time further from createdAt keeps the record whole. */
const OFFSET_LIMIT_MS = 2 ** 30;

/** Bits of Chunk.flags. */
const FLAG_COMMIT = 1;
const FLAG_3PC = 2;
/** The slot holds a whole record (Chunk.whole): one that does not compact. */
const FLAG_WHOLE = 4;
/** Removed from the store. The values stay: a capture taken before may still read them. */
const FLAG_DEAD = 8;
/** The idempotency key is packed in Chunk.keyWords, the request hash in Chunk.hashBytes. */
const FLAG_KEY = 16;
const FLAG_HASH = 32;
/** A key and a hash packed before they are stored (so a chunk makes its columns only for what packs). */
const keyScratch = new Uint32Array(UUID_WORDS);
const hashScratch = new Uint8Array(HASH_BYTES);

/** The idempotency key, request hash and principal of a transaction that has any of them. */
export interface ClientFields {
  readonly idempotencyKey: string | null;
  readonly requestHash: string | null;
  readonly principal: string | null;
}

type Parts = ReadonlyArray<string | Vote | null>;

/**
 * CHUNK_SLOTS finished transactions, column by column. Slots are filled in
 * order and never written again (the store never reuses one), so whoever holds
 * a chunk reads the same values for as long as it holds it.
 */
export class Chunk {
  /** Slots filled so far. */
  used = 0;
  /** Filled slots not removed. */
  live = 0;
  /** Slot i's id packed at UUID_WORDS * i (uuid-words.ts), unless oddIds holds it. */
  readonly idWords = new Uint32Array(CHUNK_SLOTS * UUID_WORDS);
  /** Ids that are not canonical UUIDs, by slot; made at the chunk's first one. */
  oddIds: Map<number, string> | null = null;
  readonly seqs = new Float64Array(CHUNK_SLOTS);
  readonly created = new Float64Array(CHUNK_SLOTS);
  /** deadlineAt, decidedAt and completedAt of slot i at 3i, 3i+1, 3i+2, as offsets from createdAt. */
  readonly offsets = new Int32Array(CHUNK_SLOTS * 3);
  readonly flags = new Uint8Array(CHUNK_SLOTS);
  /** name, url, vote of each participant, flat, shared between transactions (createPartsInterner); none for a whole record. */
  private readonly parts = new CodedColumn<Parts>(CHUNK_SLOTS);
  /**
   * Decision reasons, client fields that do not pack, principals (interned),
   * packed keys and hashes: each made at its chunk's first slot that has one.
   * A client field only comes with an idempotency key or a token.
   */
  private reasons: CodedColumn<string> | null = null;
  clients: Array<ClientFields | null> | null = null;
  private principals: CodedColumn<string> | null = null;
  keyWords: Uint32Array | null = null;
  hashBytes: Uint8Array | null = null;
  /** The records kept whole, by slot; a copy nobody else holds, so never changed. */
  whole: Map<number, TxRecord> | null = null;

  get full(): boolean {
    return this.used === CHUNK_SLOTS;
  }

  /** Slot i's id: a fresh string for a packed one. */
  idAt(i: number): string {
    return this.oddIds?.get(i) ?? unpackUuid(this.idWords, i * UUID_WORDS);
  }

  /** idHash() of slot i's id, without making the string of a packed one. */
  idHashAt(i: number): number {
    const odd = this.oddIds?.get(i);
    return odd === undefined ? hashWords(this.idWords, i * UUID_WORDS) : hashString(odd);
  }

  /** Whether slot i holds the probe's id, compared in place. */
  holdsId(i: number, probe: UuidProbe): boolean {
    const odd = this.oddIds?.get(i);
    if (odd !== undefined) return odd === probe.text;
    // Packed: a canonical UUID, which the probe packed too if it is the same id.
    if (!probe.packed) return false;
    return sameUuid(this.idWords, i * UUID_WORDS, probe.words, 0);
  }

  private setId(i: number, id: string): void {
    if (!packUuid(id, this.idWords, i * UUID_WORDS)) this.setOddId(i, id);
  }

  private setOddId(i: number, id: string): void {
    (this.oddIds ??= new Map()).set(i, id);
  }

  isDead(i: number): boolean {
    return (this.flags[i]! & FLAG_DEAD) !== 0;
  }

  markDead(i: number): void {
    this.flags[i]! |= FLAG_DEAD;
    this.live--;
  }

  /** The record of slot i when it was kept whole, else undefined. */
  wholeAt(i: number): TxRecord | undefined {
    return (this.flags[i]! & FLAG_WHOLE) === 0 ? undefined : this.whole?.get(i);
  }

  /**
   * Fills the next slot with finished record `tx`: compacted when it can be,
   * else a copy kept whole. Every node makes the same choice from the same
   * values, and snapshots write both forms alike, so the choice is never seen.
   * Returns the slot.
   */
  append(tx: TxRecord, intern: FinishedInterners): number {
    const i = this.used++;
    this.live++;
    this.setId(i, tx.id);
    this.seqs[i] = tx.seq;
    if (!this.compact(i, tx, intern)) {
      this.flags[i] = FLAG_WHOLE;
      this.whole ??= new Map();
      // A copy of its own: nothing outside the store can change it.
      this.whole.set(i, copyRecord(tx));
    }
    this.sealIfFull();
    return i;
  }

  /** Fills the next slot with what slot `i` of `from` holds (a move within a store). */
  appendCopy(from: Chunk, i: number): number {
    const j = this.used++;
    this.live++;
    this.idWords.set(from.idWords.subarray(i * UUID_WORDS, (i + 1) * UUID_WORDS), j * UUID_WORDS);
    const odd = from.oddIds?.get(i);
    if (odd !== undefined) this.setOddId(j, odd);
    this.seqs[j] = from.seqs[i]!;
    this.created[j] = from.created[i]!;
    this.offsets.set(from.offsets.subarray(3 * i, 3 * i + 3), 3 * j);
    this.flags[j] = from.flags[i]! & ~FLAG_DEAD;
    this.parts.set(j, from.parts.get(i));
    this.setReason(j, from.reasonAt(i));
    this.copyClient(j, from, i);
    const whole = from.wholeAt(i);
    if (whole !== undefined) {
      this.whole ??= new Map();
      this.whole.set(j, whole);
    }
    this.sealIfFull();
    return j;
  }

  /** A full chunk is never written again: its coded columns drop the indexes that only writes use. */
  private sealIfFull(): void {
    if (!this.full) return;
    this.parts.seal();
    this.reasons?.seal();
    this.principals?.seal();
  }

  private compact(i: number, tx: TxRecord, intern: FinishedInterners): boolean {
    if ((tx.state !== 'committed' && tx.state !== 'aborted') || tx.decision === null || tx.completedAt === null || tx.decidedAt === null)
      return false;
    const deadline = offsetFrom(tx.createdAt, tx.deadlineAt);
    const decided = offsetFrom(tx.createdAt, tx.decidedAt);
    const completed = offsetFrom(tx.createdAt, tx.completedAt);
    if (deadline === null || decided === null || completed === null) return false;
    // Sized once: an array grown by push() keeps spare capacity for the rest of its life.
    const parts = new Array<string | Vote | null>(tx.participants.length * 3);
    let k = 0;
    for (const p of tx.participants) {
      if (!p.acknowledged || p.lastError !== null || p.failingSince !== null || p.abandoned !== null) return false;
      parts[k++] = intern.str(p.name);
      parts[k++] = intern.str(p.url);
      parts[k++] = voteConstant(p.vote);
    }
    this.created[i] = tx.createdAt;
    this.offsets[3 * i] = deadline;
    this.offsets[3 * i + 1] = decided;
    this.offsets[3 * i + 2] = completed;
    this.flags[i] = (tx.decision === 'commit' ? FLAG_COMMIT : 0) | (tx.protocol === '3pc' ? FLAG_3PC : 0);
    this.parts.set(i, intern.parts(parts));
    if (tx.decisionReason !== null) this.setReason(i, intern.str(tx.decisionReason));
    this.setClient(i, tx.idempotencyKey, tx.requestHash, tx.principal === null ? null : intern.str(tx.principal));
    return true;
  }

  reasonAt(i: number): string | null {
    return this.reasons?.get(i) ?? null;
  }

  /** Slot i's participants (name, url, vote, flat); slot i must be compacted (see wholeAt). */
  partsAt(i: number): Parts {
    const parts = this.parts.get(i);
    if (parts === null) throw new Error(`slot ${i} holds a whole record: it has no compacted participants`);
    return parts;
  }

  /** w.str(idAt(i)), without making the string of a packed id. */
  writeId(w: MsgpackSink, i: number): void {
    const odd = this.oddIds?.get(i);
    if (odd === undefined) w.uuid(this.idWords, i * UUID_WORDS);
    else w.str(odd);
  }

  /** w.str(keyAt(i)), or w.nil() for none, without making the string of a packed key. */
  writeKey(w: MsgpackSink, i: number): void {
    if ((this.flags[i]! & FLAG_KEY) !== 0) w.uuid(this.keyWords!, i * UUID_WORDS);
    else strOrNil(w, this.clients?.[i]?.idempotencyKey ?? null);
  }

  /** w.str(hashAt(i)), or w.nil() for none, without making the string of a packed hash. */
  writeHash(w: MsgpackSink, i: number): void {
    if ((this.flags[i]! & FLAG_HASH) !== 0) w.hash(this.hashBytes!, i * HASH_BYTES);
    else strOrNil(w, this.clients?.[i]?.requestHash ?? null);
  }

  keyAt(i: number): string | null {
    if ((this.flags[i]! & FLAG_KEY) !== 0) return unpackUuid(this.keyWords!, i * UUID_WORDS);
    return this.clients?.[i]?.idempotencyKey ?? null;
  }

  hashAt(i: number): string | null {
    if ((this.flags[i]! & FLAG_HASH) !== 0) return unpackHash(this.hashBytes!, i * HASH_BYTES);
    return this.clients?.[i]?.requestHash ?? null;
  }

  principalAt(i: number): string | null {
    return this.principals?.get(i) ?? this.clients?.[i]?.principal ?? null;
  }

  /** keyHash() of slot i's principal and idempotency key, without making the string of a packed key; -1 if it has no key. */
  keyHashAt(i: number): number {
    const whole = this.wholeAt(i);
    if (whole !== undefined) return whole.idempotencyKey === null ? -1 : keyHash(whole.principal, whole.idempotencyKey);
    if ((this.flags[i]! & FLAG_KEY) !== 0) return keyHashPacked(this.principalAt(i), this.keyWords!, i * UUID_WORDS);
    const key = this.clients?.[i]?.idempotencyKey ?? null;
    return key === null ? -1 : keyHash(this.principalAt(i), key);
  }

  /** Whether slot i holds the probe's principal and idempotency key, compared in place. */
  holdsKey(i: number, probe: KeyProbe): boolean {
    const whole = this.wholeAt(i);
    const key = probe.key;
    if (whole !== undefined) return whole.idempotencyKey === key.text && whole.principal === probe.principal;
    if ((this.flags[i]! & FLAG_KEY) !== 0) {
      // Packed: a canonical UUID, which the probe packed too if it is the same key.
      if (!key.packed || !sameUuid(this.keyWords!, i * UUID_WORDS, key.words, 0)) return false;
    } else if (this.clients?.[i]?.idempotencyKey !== key.text) {
      // A key kept as a string (it, or its request hash, did not pack) may still be a UUID: compared as strings.
      return false;
    }
    return this.principalAt(i) === probe.principal;
  }

  private setReason(i: number, reason: string | null): void {
    if (reason === null) return; // a fresh slot has none
    (this.reasons ??= new CodedColumn<string>(CHUNK_SLOTS)).set(i, reason);
  }

  private setPrincipal(i: number, principal: string | null): void {
    if (principal === null) return;
    (this.principals ??= new CodedColumn<string>(CHUNK_SLOTS)).set(i, principal);
  }

  private keyColumn(): Uint32Array {
    this.keyWords ??= new Uint32Array(CHUNK_SLOTS * UUID_WORDS);
    return this.keyWords;
  }

  private hashColumn(): Uint8Array {
    this.hashBytes ??= new Uint8Array(CHUNK_SLOTS * HASH_BYTES);
    return this.hashBytes;
  }

  /** Slot j's client fields as slot i of `from` holds them (its flags copied already): packed ones stay packed. */
  private copyClient(j: number, from: Chunk, i: number): void {
    const flags = from.flags[i]!;
    if ((flags & FLAG_KEY) !== 0) this.keyColumn().set(from.keyWords!.subarray(i * UUID_WORDS, (i + 1) * UUID_WORDS), j * UUID_WORDS);
    if ((flags & FLAG_HASH) !== 0) this.hashColumn().set(from.hashBytes!.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES), j * HASH_BYTES);
    this.setPrincipal(j, from.principals?.get(i) ?? null);
    const client = from.clients?.[i] ?? null;
    if (client !== null) this.setClientFields(j, client);
  }

  /** Client fields that do not pack, as one object (the column made at the chunk's first). */
  private setClientFields(i: number, client: ClientFields): void {
    (this.clients ??= new Array<ClientFields | null>(CHUNK_SLOTS).fill(null))[i] = client;
  }

  /**
   * Slot i's client fields: packed when both the key and the hash pack (or are
   * null), else as one object. Called once per slot, which is fresh.
   */
  private setClient(i: number, key: string | null, hash: string | null, principal: string | null): void {
    if (key === null && hash === null && principal === null) return;
    const keyPacked = key !== null && packUuid(key, keyScratch, 0);
    const hashPacked = hash !== null && packHash(hash, hashScratch, 0);
    if ((key === null || keyPacked) && (hash === null || hashPacked)) {
      if (keyPacked) this.keyColumn().set(keyScratch, i * UUID_WORDS);
      if (hashPacked) this.hashColumn().set(hashScratch, i * HASH_BYTES);
      this.flags[i]! |= (keyPacked ? FLAG_KEY : 0) | (hashPacked ? FLAG_HASH : 0);
      this.setPrincipal(i, principal);
      return;
    }
    this.setClientFields(i, { idempotencyKey: key, requestHash: hash, principal });
  }
}

/**
 * One compacted slot read as a row: the fields of a TxRecord that a finished
 * transaction has (no payloads), as getters. Made fresh for a reader that keeps
 * it, or moved from slot to slot (at()) by a scan that reads one row at a time.
 */
export class FinishedRow {
  constructor(
    private chunk: Chunk,
    private i: number,
  ) {}

  /** Points this row at slot `i` of `chunk` (a compacted one: see Chunk.wholeAt). */
  at(chunk: Chunk, i: number): this {
    this.chunk = chunk;
    this.i = i;
    return this;
  }

  get id(): string {
    return this.chunk.idAt(this.i);
  }
  /** The id, key and hash as a snapshot writes them (w.str or w.nil of the getters' values), without their strings. */
  writeId(w: MsgpackSink): void {
    this.chunk.writeId(w, this.i);
  }
  writeKey(w: MsgpackSink): void {
    this.chunk.writeKey(w, this.i);
  }
  writeHash(w: MsgpackSink): void {
    this.chunk.writeHash(w, this.i);
  }
  get seq(): number {
    return this.chunk.seqs[this.i]!;
  }
  get createdAt(): number {
    return this.chunk.created[this.i]!;
  }
  get deadlineAt(): number {
    return this.createdAt + this.chunk.offsets[3 * this.i]!;
  }
  get decidedAt(): number {
    return this.createdAt + this.chunk.offsets[3 * this.i + 1]!;
  }
  get completedAt(): number {
    return this.createdAt + this.chunk.offsets[3 * this.i + 2]!;
  }
  get state(): TxState {
    return (this.chunk.flags[this.i]! & FLAG_COMMIT) !== 0 ? 'committed' : 'aborted';
  }
  get decision(): Decision {
    return (this.chunk.flags[this.i]! & FLAG_COMMIT) !== 0 ? 'commit' : 'abort';
  }
  get protocol(): Protocol {
    return (this.chunk.flags[this.i]! & FLAG_3PC) !== 0 ? '3pc' : '2pc';
  }
  get decisionReason(): string | null {
    return this.chunk.reasonAt(this.i);
  }
  /** name, url, vote of each participant, flat. */
  get parts(): Parts {
    return this.chunk.partsAt(this.i);
  }
  get idempotencyKey(): string | null {
    return this.chunk.keyAt(this.i);
  }
  get requestHash(): string | null {
    return this.chunk.hashAt(this.i);
  }
  /** Interned: a deployment has few principals. */
  get principal(): string | null {
    return this.chunk.principalAt(this.i);
  }

  /** A fresh TxRecord with the same values as the record this was made from (payloads aside). */
  toRecord(): TxRecord {
    const parts = this.parts;
    const participants: TxRecord['participants'] = [];
    for (let k = 0; k < parts.length; k += 3) {
      participants.push({
        name: parts[k] as string,
        url: parts[k + 1] as string,
        payload: null,
        vote: parts[k + 2] as Vote | null,
        acknowledged: true,
        lastError: null,
        failingSince: null,
        abandoned: null,
      });
    }
    return {
      id: this.id,
      seq: this.seq,
      state: this.state,
      protocol: this.protocol,
      participants,
      createdAt: this.createdAt,
      deadlineAt: this.deadlineAt,
      decision: this.decision,
      decisionReason: this.decisionReason,
      decidedAt: this.decidedAt,
      completedAt: this.completedAt,
      idempotencyKey: this.idempotencyKey,
      requestHash: this.requestHash,
      principal: this.principal,
    };
  }
}

/** What compaction shares between records: strings, and whole participant lists. */
export interface FinishedInterners {
  readonly str: (s: string) => string;
  readonly parts: (parts: Array<string | Vote | null>) => ReadonlyArray<string | Vote | null>;
}

/** `to - from` when it is a small integer that gives `to` back exactly, else null. */
export function offsetFrom(from: number, to: number): number | null {
  const offset = to - from;
  if (!Number.isInteger(offset) || offset <= -OFFSET_LIMIT_MS || offset >= OFFSET_LIMIT_MS) return null;
  return Object.is(from + offset, to) ? offset : null;
}

/** The literal, not the decoded copy: one string for every transaction. */
function voteConstant(v: Vote | null): Vote | null {
  return v === null ? null : v === 'commit' ? 'commit' : 'abort';
}

/** The interners of one table. */
export function createFinishedInterners(stringsMax: number, partsMax: number): FinishedInterners {
  return { str: createInterner(stringsMax), parts: createPartsInterner(partsMax) };
}

/**
 * Shares equal participant lists (the same services, all voting commit, is the
 * common case): one frozen array for all of them instead of one per
 * transaction. Sharing is invisible to every reader (the lists are never
 * mutated and snapshots encode values), so its bound only costs memory: when
 * `max` distinct lists are known it starts over, which keeps adapting to the
 * lists in use now.
 * The lists are found in a trie, one Map per value. WHY: the key had been the
 * list's JSON, a new string of some 100 bytes per finished transaction on every
 * node and per row of every restore, where a known list now costs a Map lookup
 * per value and allocates nothing.
 */
export function createPartsInterner(max: number): (parts: Array<string | Vote | null>) => ReadonlyArray<string | Vote | null> {
  let root = new PartsNode();
  let known = 0;
  return (parts) => {
    let node = root.find(parts);
    if (node?.list !== undefined) return node.list;
    if (known >= max) {
      root = new PartsNode();
      known = 0;
    }
    node = root.add(parts);
    known++;
    node.list = Object.freeze(parts);
    return node.list;
  };
}

/** A node of the participant-list trie: the list that ends here, if any, and the values that go on. */
class PartsNode {
  list: ReadonlyArray<string | Vote | null> | undefined = undefined;
  private readonly next = new Map<string | null, PartsNode>();

  find(parts: ReadonlyArray<string | Vote | null>): PartsNode | undefined {
    let node: PartsNode | undefined = this;
    for (let i = 0; i < parts.length && node !== undefined; i++) node = node.next.get(parts[i] as string | null);
    return node;
  }

  add(parts: ReadonlyArray<string | Vote | null>): PartsNode {
    let node: PartsNode = this;
    for (const value of parts) {
      let child = node.next.get(value);
      if (child === undefined) {
        child = new PartsNode();
        node.next.set(value, child);
      }
      node = child;
    }
    return node;
  }
}

/**
 * Shares equal strings (participant names, URLs, decision reasons repeat across
 * transactions). Bounded: past `max` distinct strings it stops adding and
 * hands strings back as they are, which only costs memory, never correctness.
 */
export function createInterner(max: number): (s: string) => string {
  const seen = new Map<string, string>();
  return (s) => {
    const known = seen.get(s);
    if (known !== undefined) return known;
    if (seen.size >= max) return s;
    const own = ownString(s);
    seen.set(own, own);
    return own;
  };
}

/**
 * A copy of `s` that shares memory with no other string. msgpackr decodes the
 * strings of an entry as slices of one string holding all of them, so a
 * 36-character id kept from an entry would keep about 250 bytes alive (the
 * whole entry's text) for as long as the transaction is retained. Only for
 * strings kept long (ids, keys, hashes: they are Map keys too, which cannot be
 * swapped later without moving the entry). The JSON round trip is exact for
 * every string, lone surrogates included.
 */
export function ownString(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}
