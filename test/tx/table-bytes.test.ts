// The table's snapshot bytes are pinned: the same operations must encode to
// the same bytes on every version of the code, since nodes of two versions
// compare state digests and restore each other's snapshots. The hash below was
// taken from the table of 169f9a3, which held ids, keys and hashes as strings
// in Maps; the table that packs them into words and bytes must encode alike.
// (A deliberate change of the snapshot format changes it, and says so.)
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { steppedEncoding } from '../../src/tx/stepped-encoding.js';
import { tableSnapshotSteps } from '../../src/tx/table-snapshot.js';
import { TxTable } from '../../src/tx/tx-table.js';
import { fillGoldenTable } from './golden-table.js';

const PINNED_SHA256 = 'f50df163981846907e4cd34a4fcf6e87dd6c9e1f8641bab20b0966ef3f271b83';

describe('table snapshot bytes', () => {
  it('are those of the table before ids, keys and hashes were packed', () => {
    const table = new TxTable();
    fillGoldenTable(table);
    expect([table.size, table.finishedCount]).toEqual([2020, 2000]);
    const bytes = table.encode();
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(PINNED_SHA256);
    // The encoding in slices a node uses for its snapshots and digests (a growing scratch writer, not one measured buffer).
    const enc = steppedEncoding((w) => tableSnapshotSteps(table.capture(), w), 'utf8');
    const pieces: Buffer[] = [];
    for (let more = true; more; ) {
      more = enc.step();
      pieces.push(Buffer.from(enc.piece()));
    }
    expect(createHash('sha256').update(Buffer.concat(pieces)).digest('hex')).toBe(PINNED_SHA256);
    // And a restored copy encodes them again, through the restore's moves into completion order.
    const copy = new TxTable();
    copy.decodeInto(bytes);
    expect(createHash('sha256').update(copy.encode()).digest('hex')).toBe(PINNED_SHA256);
  });
});
