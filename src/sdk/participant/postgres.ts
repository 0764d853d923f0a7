// The PostgreSQL participant adapter: import it from here, apart from the SDK's main
// entry (index.ts), so only users of PostgreSQL load it; `pg` itself is the user's
// (an optional peer dependency). See src/sdk/README.md, "PostgreSQL participants".
export { createPostgresParticipant, type PostgresParticipant, type PostgresParticipantOptions } from './postgres/participant.js';
export type { IsolationLevel, PostgresWork } from './postgres/handlers.js';
export type { ReconcileReport } from './postgres/reconciler.js';
export { PostgresParticipantStore, type PostgresStoreOptions } from './postgres/store.js';
export { gidOf, GID_BYTES_MAX } from './postgres/gid.js';
