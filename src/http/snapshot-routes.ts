// GET /v1/cluster/snapshot: a consistent backup of the replicated state, from the
// leader (admin). The answer is a backup file (src/storage/backup-file.ts): the
// state machine's snapshot at the leader's applied index, taken now, with its
// index, term and configuration. A follower answers 503 NOT_LEADER naming the
// leader (the client SDK then asks the leader): the body is bytes, and the
// forwarder relays JSON answers.
//
// The state is serialized in memory (as for a Raft snapshot), so the reply is
// bounded by bytesMax (the node's snapshotBytesMax): past it the node refuses
// with BODY_TOO_LARGE rather than send what no node could install either.
import type { FastifyPluginAsync } from 'fastify';
import { RatifyError } from '../errors.js';
import type { Snapshot } from '../raft/types.js';
import { encodeBackup } from '../storage/backup-file.js';
import { ADMIN } from './auth.js';
import { errorResponses } from './schemas.js';

export interface BackupSource {
  backupSnapshot(): { readonly snapshot: Snapshot; readonly currentTerm: number };
}

export interface SnapshotRoutesOptions {
  readonly source: BackupSource;
  readonly nodeId: string;
  readonly clusterId: string;
  readonly stateMachine: 'tx' | 'kv';
  readonly bytesMax: number;
  readonly now?: () => number;
}

export const SNAPSHOT_PATH = '/v1/cluster/snapshot';

export const snapshotRoutes: FastifyPluginAsync<SnapshotRoutesOptions> = async (app, o) => {
  app.get(
    SNAPSHOT_PATH,
    {
      config: { ...ADMIN, audit: 'cluster.snapshot' },
      schema: {
        description:
          'A backup of the replicated state from the leader (application/octet-stream, a RATIFY-BACKUP 1 file); a follower answers 503 NOT_LEADER.',
        response: { 200: { description: 'the backup file', type: 'string', format: 'binary' }, ...errorResponses },
      },
    },
    async (_req, reply) => {
      const { snapshot, currentTerm } = o.source.backupSnapshot();
      if (snapshot.data.byteLength > o.bytesMax) {
        throw new RatifyError('BODY_TOO_LARGE', `the state is ${snapshot.data.byteLength} bytes, past snapshotBytesMax (${o.bytesMax})`);
      }
      const file = encodeBackup(
        {
          clusterId: o.clusterId,
          stateMachine: o.stateMachine,
          takenBy: o.nodeId,
          takenAt: new Date((o.now ?? Date.now)()).toISOString(),
          index: snapshot.meta.index,
          term: snapshot.meta.term,
          currentTerm,
          members: snapshot.meta.members,
        },
        snapshot.data,
      );
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', `attachment; filename="ratify-${o.clusterId}-${snapshot.meta.index}.backup"`)
        .send(file);
    },
  );
};
