// The global transaction identifier (gid) of a participant's prepared transaction in
// PostgreSQL: PREPARE TRANSACTION '<gid>', COMMIT PREPARED '<gid>', pg_prepared_xacts.gid.
//
// One gid per (transaction id, participant name), the SDK's record key, so a service
// enlisted under two names in one transaction prepares two transactions. Two forms:
//
//   <prefix>:<participant>:<txId>    readable, when both use only [A-Za-z0-9._-]
//                                    and the whole fits PostgreSQL's limit
//   <prefix>:#<sha256 hex>           otherwise: of the record key, always 73 + prefix bytes
//
// The readable form is what an operator sees in pg_prepared_xacts during an incident
// (Ratify's transaction ids are UUIDs, so ordinary names get it). Either form is mapped
// back to its record through the records table (store.ts keeps the gid of each record),
// never by parsing. The characters of either form need no escaping in a string literal,
// and gidLiteral() refuses any others, so a change here cannot open an injection.
import { createHash } from 'node:crypto';
import { recordKey } from '../record.js';

/** PostgreSQL's GIDSIZE is 200 bytes including the terminating NUL. */
export const GID_BYTES_MAX = 199;
export const GID_PREFIX_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
const READABLE = /^[A-Za-z0-9._-]+$/;
/** Every character either form can hold (the prefix is a subset); none needs escaping. */
const GID_CHARS = /^[A-Za-z0-9._:#-]+$/;

export function gidOf(prefix: string, txId: string, participant: string): string {
  const readable = `${prefix}:${participant}:${txId}`;
  if (READABLE.test(participant) && READABLE.test(txId) && readable.length <= GID_BYTES_MAX) return readable;
  return `${prefix}:#${createHash('sha256').update(recordKey(txId, participant)).digest('hex')}`;
}

/** What every gid of this prefix starts with (pg_prepared_xacts is shared by all databases and users). */
export function gidStart(prefix: string): string {
  return `${prefix}:`;
}

/**
 * A SQL string literal for a gid: PREPARE TRANSACTION and COMMIT/ROLLBACK PREPARED take
 * no bind parameters. Throws on a gid gidOf() cannot make (a programmer error).
 */
export function gidLiteral(gid: string): string {
  if (!GID_CHARS.test(gid) || gid.length > GID_BYTES_MAX)
    throw new RangeError(`refusing to quote ${JSON.stringify(gid.slice(0, 64))} as a gid`);
  return `'${gid}'`;
}
