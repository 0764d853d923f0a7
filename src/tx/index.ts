// Public surface of the transaction coordinator for the node (src/node/) and the CLI.
export { txConfigDefaults, validateTxConfig, type TxConfig } from './config.js';
export { createTxStateMachine } from './state-machine.js';
export { createTxService, type TxServiceOptions } from './service.js';
export { createHttpParticipantClient, type ParticipantClient } from './participant-client.js';
export type {
  Outcome,
  ParticipantView,
  Protocol,
  TxRecord,
  TxService,
  TxState,
  TxStateMachine,
  TxView,
} from './types.js';
