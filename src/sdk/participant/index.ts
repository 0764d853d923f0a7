// Participant SDK entry point.
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
  ParticipantTx,
  Protocol,
  TxRecord,
  TxState,
  Vote,
} from './types.js';
