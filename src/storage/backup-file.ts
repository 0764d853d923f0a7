// The backup file of `ratify snapshot save` (GET /v1/cluster/snapshot) and
// `ratify snapshot restore`: one self-describing file, checked end to end.
//
//   RATIFY-BACKUP 1\n
//   {"clusterId", "stateMachine", "takenBy", "takenAt", "index", "term",
//    "currentTerm", "members", "dataBytes", "sha256"}\n      (one JSON line)
//   <dataBytes bytes: the state machine's snapshot at `index`>
//
// `index`/`term`/`members` are the Raft snapshot meta of the state (the leader's
// applied index, so committed); `currentTerm` is the leader's term when it was
// taken, which a restore starts the new cluster at, so its first leader's term is
// above every term participants had seen from the old cluster by then.
import { createHash } from 'node:crypto';
import type { Member, SnapshotMeta } from '../raft/types.js';

export const BACKUP_MAGIC = 'RATIFY-BACKUP 1\n';
/** The JSON header line; members of a large cluster fit many times over. */
const HEADER_BYTES_MAX = 1024 * 1024;

export interface BackupHeader {
  readonly clusterId: string;
  readonly stateMachine: 'tx' | 'kv';
  readonly takenBy: string;
  /** ISO 8601, the leader's clock. */
  readonly takenAt: string;
  readonly index: number;
  readonly term: number;
  readonly currentTerm: number;
  readonly members: readonly Member[];
  readonly dataBytes: number;
  /** Hex SHA-256 of the data. */
  readonly sha256: string;
}

export interface Backup {
  readonly header: BackupHeader;
  readonly data: Uint8Array;
}

export function encodeBackup(h: Omit<BackupHeader, 'dataBytes' | 'sha256'>, data: Uint8Array): Buffer {
  const header: BackupHeader = { ...h, dataBytes: data.byteLength, sha256: sha256Hex(data) };
  return Buffer.concat([Buffer.from(`${BACKUP_MAGIC + JSON.stringify(header)}\n`, 'utf8'), data]);
}

/** Parses and verifies a backup; throws an Error saying what is wrong (a truncated download, another file). */
export function decodeBackup(bytes: Uint8Array): Backup {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!buf.subarray(0, BACKUP_MAGIC.length).equals(Buffer.from(BACKUP_MAGIC)))
    throw new Error('not a Ratify backup (no RATIFY-BACKUP 1 line at the start)');
  const end = buf.indexOf(0x0a, BACKUP_MAGIC.length);
  if (end < 0 || end - BACKUP_MAGIC.length > HEADER_BYTES_MAX) throw new Error('the backup header is missing or longer than 1 MiB');
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.subarray(BACKUP_MAGIC.length, end).toString('utf8'));
  } catch (e) {
    throw new Error(`the backup header is not JSON: ${(e as Error).message}`);
  }
  const header = checkHeader(parsed);
  const data = new Uint8Array(buf.subarray(end + 1));
  if (data.byteLength !== header.dataBytes)
    throw new Error(`the backup holds ${data.byteLength} data bytes, its header says ${header.dataBytes} (truncated?)`);
  const digest = sha256Hex(data);
  if (digest !== header.sha256)
    throw new Error(`the backup's data does not match its checksum (sha256 ${digest}, header says ${header.sha256})`);
  return { header, data };
}

export function snapshotMetaOf(h: BackupHeader, members: readonly Member[] = h.members): SnapshotMeta {
  return { index: h.index, term: h.term, members };
}

function checkHeader(x: unknown): BackupHeader {
  const o = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
  const count = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`backup header: ${k} must be a non-negative integer`);
    return v;
  };
  const text = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') throw new Error(`backup header: ${k} must be a string`);
    return v;
  };
  const stateMachine = text('stateMachine');
  if (stateMachine !== 'tx' && stateMachine !== 'kv')
    throw new Error(`backup header: stateMachine ${JSON.stringify(stateMachine)} is neither tx nor kv`);
  const members = o['members'];
  if (!Array.isArray(members) || members.length === 0 || !members.every(isMember))
    throw new Error('backup header: members must list {id, url, voter}');
  const sha256 = text('sha256');
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('backup header: sha256 must be 64 hex digits');
  const header: BackupHeader = {
    clusterId: text('clusterId'),
    stateMachine,
    takenBy: text('takenBy'),
    takenAt: text('takenAt'),
    index: count('index'),
    term: count('term'),
    currentTerm: count('currentTerm'),
    members: members.map((m: Member) => ({ id: m.id, url: m.url, voter: m.voter })),
    dataBytes: count('dataBytes'),
    sha256,
  };
  if (header.index < 1 || header.currentTerm < header.term)
    throw new Error(
      `backup header: index ${header.index} must be at least 1 and currentTerm ${header.currentTerm} at least term ${header.term}`,
    );
  return header;
}

function isMember(m: unknown): m is Member {
  const o = m as Record<string, unknown>;
  return (
    typeof m === 'object' && m !== null && typeof o['id'] === 'string' && typeof o['url'] === 'string' && typeof o['voter'] === 'boolean'
  );
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
