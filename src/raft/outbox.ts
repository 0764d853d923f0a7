// What the core produced since the last Ready and has not handed out yet:
// messages to send, confirmed reads and refused reads. Every concept of the core
// writes here; only Ready assembly (ready.ts) takes from it.
import type { Message, ReadState } from './types.js';

export interface OutboxContents {
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly droppedReads: readonly number[];
}

/** A leader's heartbeat or an answer to one: claims nothing about the sender's log or vote (see takeHeartbeats). */
function isHeartbeat(m: Message): boolean {
  return m.type === 'heartbeat' || m.type === 'heartbeatResp';
}

export class Outbox {
  private messages: Message[] = [];
  /** How many of `messages` are heartbeats or answers to them. */
  private heartbeats = 0;
  private readStates: ReadState[] = [];
  private droppedReads: number[] = [];

  send(m: Message): void {
    this.messages.push(m);
    if (isHeartbeat(m)) this.heartbeats++;
  }

  /** Takes the heartbeats and answers to them of `term` out of the queue, leaving the rest in order. */
  takeHeartbeats(term: number): Message[] {
    if (this.heartbeats === 0) return [];
    const taken: Message[] = [];
    const rest: Message[] = [];
    for (const m of this.messages) (isHeartbeat(m) && m.term === term ? taken : rest).push(m);
    this.messages = rest;
    this.heartbeats -= taken.length;
    return taken;
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
    this.heartbeats = 0;
    this.readStates = [];
    this.droppedReads = [];
    return out;
  }
}
