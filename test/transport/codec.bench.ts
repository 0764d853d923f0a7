// The microbenchmark behind the Packr choices in src/transport/codec.ts.
// Run: npx vitest bench --run test/transport/codec.bench.ts
import { Packr } from 'msgpackr';
import { bench, describe } from 'vitest';

const data = new Uint8Array(200).fill(7);
const entries = Array.from({ length: 64 }, (_, i) => ({ kind: 'normal', index: 1000 + i, term: 3, data }));
const append = { type: 'append', from: 'n1', to: 'n2', term: 3, prevLogIndex: 999, prevLogTerm: 3, entries, leaderCommit: 990 };
const heartbeat = { type: 'heartbeat', from: 'n1', to: 'n2', term: 3, leaderCommit: 990, readSeq: 0 };
const appendResp = { type: 'appendResp', from: 'n2', to: 'n1', term: 3, success: true, matchIndex: 1000, rejectHint: 0, rejectTerm: 0 };
const bigEnvelope = { v: 1, clusterId: 'c1', from: 'n1', messages: [append] };
const smallEnvelope = { v: 1, clusterId: 'c1', from: 'n2', messages: [appendResp, heartbeat, appendResp] };
const entry = { kind: 'normal', index: 123456, term: 3, data };

const variants: Record<string, () => Packr> = {
  'plain maps': () => new Packr({ useRecords: false }),
  'inline records': () => new Packr({ useRecords: true }),
  'fixed structures': () =>
    new Packr({
      structures: [
        ['v', 'clusterId', 'from', 'messages'],
        ['kind', 'index', 'term', 'data'],
        ['type', 'from', 'to', 'term', 'prevLogIndex', 'prevLogTerm', 'entries', 'leaderCommit'],
        ['type', 'from', 'to', 'term', 'success', 'matchIndex', 'rejectHint', 'rejectTerm'],
        ['type', 'from', 'to', 'term', 'leaderCommit', 'readSeq'],
      ],
      maxSharedStructures: 5,
    }),
};

const cases: Record<string, object> = { 'append x64': bigEnvelope, 'small envelope': smallEnvelope, 'one entry': entry };

for (const [caseName, value] of Object.entries(cases)) {
  describe(`encode ${caseName}`, () => {
    for (const [name, make] of Object.entries(variants)) {
      const packr = make();
      bench(name, () => {
        packr.pack(value);
      });
    }
  });
  describe(`decode ${caseName}`, () => {
    for (const [name, make] of Object.entries(variants)) {
      const bytes = make().pack(value);
      const unpackr = make();
      bench(name, () => {
        unpackr.unpack(bytes);
      });
    }
  });
}
