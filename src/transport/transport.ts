// Moving Raft messages between nodes. The HTTP implementation lives beside this
// file; tests use an in-memory one. Raft tolerates loss, duplication and reordering,
// so send() is fire-and-forget and may drop when a peer's bounded queue is full.
import type { Member, Message } from '../raft/types.js';

export interface Transport {
  /** Queue messages for delivery; grouped per destination and batched. */
  send(messages: readonly Message[]): void;
  /** The current membership (addresses can change with config entries). */
  setMembers(members: readonly Member[]): void;
  close(): Promise<void>;
}

/** Where a transport delivers inbound messages (the node driver). */
export type InboundHandler = (messages: readonly Message[]) => void;
