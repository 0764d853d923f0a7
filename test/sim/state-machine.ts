// The simulated application: the ordered list of every entry applied so far
// (normal, noop and config alike). Its snapshot is that whole list, so a node
// restored from a snapshot can be compared entry by entry with what every other
// node applied — State Machine Safety is checked exactly, not by hash.
import type { Entry, Member } from '../../src/raft/types.js';
import { assertNever } from '../../src/util/assert-never.js';
import { violation } from './violation.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Identity of an entry's payload; two entries are "the same" iff index, term and this agree. */
export function fingerprint(entry: Entry): string {
  switch (entry.kind) {
    case 'normal':
      return `d:${decoder.decode(entry.data)}`;
    case 'noop':
      return 'noop';
    case 'config':
      return `c:${entry.members.map((m) => `${m.id}${m.voter ? '+' : '-'}`).join(',')}`;
    default:
      return assertNever(entry);
  }
}

export interface AppliedRecord {
  readonly index: number;
  readonly term: number;
  readonly fp: string;
}

export class ListStateMachine {
  private text = '';
  private count = 0;
  appliedIndex = 0;
  appliedTerm = 0;
  /** Membership as of appliedIndex: what a snapshot taken now must carry. */
  members: readonly Member[];

  constructor(bootstrapMembers: readonly Member[]) {
    this.members = bootstrapMembers;
  }

  apply(entry: Entry): AppliedRecord {
    if (entry.index !== this.appliedIndex + 1) {
      violation('ready-contract', `committedEntries jump from applied ${this.appliedIndex} to ${entry.index}`);
    }
    const record = { index: entry.index, term: entry.term, fp: fingerprint(entry) };
    if (record.fp.includes('\n')) throw new Error('harness bug: fingerprint contains a newline');
    this.text += `${this.count === 0 ? '' : '\n'}${record.index} ${record.term} ${record.fp}`;
    this.count++;
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    if (entry.kind === 'config') this.members = entry.members;
    return record;
  }

  /**
   * A header names the last entry, so the data of two snapshots never share a
   * prefix (the list alone would): mixing chunks of two snapshots is caught.
   */
  snapshotData(): Uint8Array {
    return encoder.encode(`#${this.appliedIndex} ${this.appliedTerm}\n${this.text}`);
  }

  /** Replace the state with a snapshot's; returns its records for checking. */
  restore(data: Uint8Array, index: number, term: number, members: readonly Member[]): AppliedRecord[] {
    const records = decodeSnapshot(data);
    const last = records[records.length - 1];
    if ((last?.index ?? 0) !== index || (last?.term ?? 0) !== term) {
      violation('state-machine-safety', `snapshot data ends at ${last?.index ?? 0}/${last?.term ?? 0} but meta says ${index}/${term}`);
    }
    const text = decoder.decode(data);
    this.text = text.slice(text.indexOf('\n') + 1);
    this.count = records.length;
    this.appliedIndex = index;
    this.appliedTerm = term;
    this.members = members;
    return records;
  }
}

export function decodeSnapshot(data: Uint8Array): AppliedRecord[] {
  const lines = decoder.decode(data).split('\n');
  const header = lines.shift() ?? '';
  const records = (lines.length === 1 && lines[0] === '' ? [] : lines).map((line, i) => {
    const first = line.indexOf(' ');
    const second = line.indexOf(' ', first + 1);
    const record = { index: Number(line.slice(0, first)), term: Number(line.slice(first + 1, second)), fp: line.slice(second + 1) };
    if (record.index !== i + 1 || !Number.isInteger(record.term)) {
      violation('state-machine-safety', `snapshot data malformed at record ${i + 1}: ${JSON.stringify(line)}`);
    }
    return record;
  });
  const last = records[records.length - 1];
  if (header !== `#${last?.index ?? 0} ${last?.term ?? 0}`) {
    violation(
      'state-machine-safety',
      `snapshot header ${JSON.stringify(header)} does not match its last record ${last?.index ?? 0}/${last?.term ?? 0}`,
    );
  }
  return records;
}
