// A short ring buffer of what the schedule did, printed with a failure so a
// replayed seed can be read without a debugger.
import type { Message } from '../../src/raft/types.js';
import { assertNever } from '../../src/util/assert-never.js';

export class Trace {
  private readonly lines: string[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  add(step: number, line: string): void {
    if (this.capacity === 0) return;
    const text = `#${step} ${line}`;
    if (this.lines.length < this.capacity) this.lines.push(text);
    else this.lines[this.next] = text;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  dump(): string[] {
    return this.lines.length < this.capacity ? this.lines.slice() : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
  }
}

export function describeMessage(m: Message): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'preVote':
    case 'vote':
      return `${head} last=${m.lastLogIndex}/${m.lastLogTerm}`;
    case 'preVoteResp':
    case 'voteResp':
      return `${head} granted=${m.granted}`;
    case 'append':
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} n=${m.entries.length} commit=${m.leaderCommit}`;
    case 'appendResp':
      return `${head} ok=${m.success} match=${m.matchIndex} hint=${m.rejectHint}/${m.rejectTerm}`;
    case 'heartbeat':
      return `${head} commit=${m.leaderCommit} read=${m.readSeq}`;
    case 'heartbeatResp':
      return `${head} read=${m.readSeq}`;
    case 'snapshot':
      return `${head} snap=${m.meta.index}/${m.meta.term} off=${m.offset} len=${m.chunk.length} done=${m.done}`;
    case 'snapshotResp':
      return `${head} snap=${m.snapshotIndex} next=${m.nextOffset} installed=${m.installed} ok=${m.success}`;
    case 'timeoutNow':
      return head;
    case 'readIndex':
      return `${head} req=${m.requestId}`;
    case 'readIndexResp':
      return `${head} req=${m.requestId} idx=${m.readIndex} ok=${m.ok}`;
    default:
      return assertNever(m);
  }
}
