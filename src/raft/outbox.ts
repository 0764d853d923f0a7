// What the core produced since the last Ready and has not handed out yet:
// messages to send, confirmed reads and refused reads. Every concept of the core
// writes here; only Ready assembly (ready.ts) takes from it.
import type { Message, ReadState } from './types.js';

export interface OutboxContents {
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly droppedReads: readonly number[];
}

export class Outbox {
  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private droppedReads: number[] = [];

  send(m: Message): void {
    this.messages.push(m);
  }

  readConfirmed(rs: ReadState): void {
    this.readStates.push(rs);
  }

  readDropped(requestId: number): void {
    this.droppedReads.push(requestId);
  }

  isEmpty(): boolean {
    return this.messages.length === 0 && this.readStates.length === 0 && this.droppedReads.length === 0;
  }

  take(): OutboxContents {
    const out = { messages: this.messages, readStates: this.readStates, droppedReads: this.droppedReads };
    this.messages = [];
    this.readStates = [];
    this.droppedReads = [];
    return out;
  }
}
