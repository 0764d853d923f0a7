// Reconciliation: pg_prepared_xacts against the records, at start and then every
// reconcileIntervalMs, so no prepared transaction of ours is left holding its locks.
//
// Each of this store's prepared gids is looked up in the records table (its record is
// written before PREPARE TRANSACTION is ever sent, so a live gid has one):
//
//   record in doubt (preparing, prepared, precommitted)
//       the core tracks it: the coordinator's call, or cooperative termination through
//       the SDK's resolver, finishes it. Nothing to do here.
//   record aborted
//       a PREPARE that landed after its prepare had already failed on our side (a lost
//       connection, a process killed with PREPARE on the wire, then recovery aborted the
//       `preparing` record): ROLLBACK PREPARED. The vote was abort (or never sent), so no
//       commit can depend on it.
//   record committed
//       cannot happen (the record becomes committed only after COMMIT PREPARED); if it
//       does, the record is the decision: COMMIT PREPARED.
//   no record
//       someone removed records; nothing says which way to go. Logged at error level for
//       an operator, and left alone.
//
// Finished records are terminal, so acting on them needs no lock against coordinator
// calls: no handler runs again for them.
import type { Pool } from 'pg';
import { assertNever } from '../../../util/assert-never.js';
import type { ParticipantLogger } from '../types.js';
import { finishPrepared, preparedGids } from './prepared.js';
import type { PostgresParticipantStore } from './store.js';

export interface ReconcileReport {
  /** This store's prepared transactions found in pg_prepared_xacts. */
  readonly prepared: number;
  /** Of those, left to the core (their records are in doubt). */
  readonly inDoubt: number;
  readonly rolledBack: number;
  readonly committed: number;
  /** Gids with no record: left for an operator. */
  readonly orphaned: readonly string[];
  readonly failed: number;
}

export async function reconcilePrepared(
  pool: Pool,
  store: PostgresParticipantStore,
  gidPrefix: string,
  logger: ParticipantLogger,
): Promise<ReconcileReport> {
  const gids = await preparedGids(pool, gidPrefix);
  const report = { prepared: gids.length, inDoubt: 0, rolledBack: 0, committed: 0, orphaned: [] as string[], failed: 0 };
  if (gids.length === 0) return report;
  const records = await store.byGids(gids);
  for (const gid of gids) {
    const record = records.get(gid);
    const state = record?.state;
    try {
      switch (state) {
        case undefined:
          report.orphaned.push(gid);
          logger.error(
            { gid },
            'ORPHANED prepared transaction: no participant record names it; ask the cluster about its transaction, then COMMIT PREPARED or ROLLBACK PREPARED it by hand',
          );
          break;
        case 'preparing':
        case 'prepared':
        case 'precommitted':
          report.inDoubt++;
          break;
        case 'aborted':
          await finishPrepared(pool, store.tables.markers, gid, 'rollback');
          report.rolledBack++;
          logger.warn(
            { gid, txId: record!.txId, participant: record!.participant },
            'rolled back a prepared transaction whose record is aborted',
          );
          break;
        case 'committed':
          await finishPrepared(pool, store.tables.markers, gid, 'commit');
          report.committed++;
          logger.error(
            { gid, txId: record!.txId, participant: record!.participant },
            'committed a prepared transaction whose record was already committed',
          );
          break;
        default:
          assertNever(state);
      }
    } catch (e) {
      report.failed++;
      logger.error({ gid, err: e }, 'could not finish a prepared transaction; will retry');
    }
  }
  return report;
}
