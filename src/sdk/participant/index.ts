// Participant SDK entry point.
import type { ParticipantProtocol, ParticipantTxRecord, ParticipantTxState, ParticipantVote } from './types.js';

export { createParticipant, type Participant, type ReceivedRequest, type RecordListing } from './participant.js';
export {
  canonicalString,
  signCall,
  signatureHeaders,
  verifyCall,
  CLUSTER_HEADER,
  INCARNATION_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  type SignedCall,
} from './signature.js';
export type { FenceEntry } from './fence.js';
export type { ParticipantOptions } from './options.js';
export { ratifyParticipant, type RatifyParticipantPluginOptions } from './fastify.js';
export { createNodeHandler, type NodeHandlerOptions } from './node-handler.js';
export { MemoryParticipantStore } from './memory-store.js';
export { LevelParticipantStore } from './level-store.js';
export type { ParticipantStore, StoreWrite, LoadedState, FinishedRef } from './store.js';
export type { ResolvePassReport } from './resolver.js';
export type { HeaderBag } from './decode.js';
export { BATCH_CALLS_MAX } from './batch.js';
export type {
  CallPath,
  CallSource,
  HandleResult,
  ParticipantHandlers,
  ParticipantLogger,
  ParticipantProtocol,
  ParticipantTx,
  ParticipantTxRecord,
  ParticipantTxState,
  ParticipantVote,
} from './types.js';

// The names the four types above had before they took the Participant prefix: the
// coordinator's types (src/tx/types.ts) use the same words for other things. Kept so
// that code written against earlier releases still compiles (src/sdk/README.md, "Types").
/** @deprecated use ParticipantTxRecord */
export type TxRecord = ParticipantTxRecord;
/** @deprecated use ParticipantTxState */
export type TxState = ParticipantTxState;
/** @deprecated use ParticipantVote */
export type Vote = ParticipantVote;
/** @deprecated use ParticipantProtocol */
export type Protocol = ParticipantProtocol;
