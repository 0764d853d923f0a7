// What the runner needs from a cluster under test, whether its nodes are local
// processes (local-target.ts) or compose containers (compose-target.ts). The target only
// executes faults; which fault, when, and whether a quorum survives is decided by the
// fault scheduler (faults.ts), which also keeps track of each node's state.
import type { BankEndpoint } from './bank.js';
import type { ParticipantRecord } from './evidence.js';
import type { TargetKind } from './options.js';

export interface NodeEndpoint {
  readonly id: string;
  /** Base URL as the runner reaches it. */
  readonly url: string;
}

export type RecordsResult =
  | { readonly kind: 'records'; readonly records: readonly ParticipantRecord[] }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface ChaosTarget {
  readonly kind: TargetKind;
  /** Valid once setUp() resolved. */
  readonly nodes: readonly NodeEndpoint[];
  readonly banks: readonly BankEndpoint[];
  /** Starts (or finds) the nodes and the banks; resolves when every one answers /healthz. */
  setUp(signal: AbortSignal): Promise<void>;
  /** SIGKILL (docker kill): a crash. */
  kill(id: string): Promise<void>;
  /** Starts a node that was killed (same id, address and data). */
  revive(id: string): Promise<void>;
  /** SIGSTOP (docker pause): frozen, sockets open, answering nothing. */
  pause(id: string): Promise<void>;
  /** SIGCONT (docker unpause). */
  resume(id: string): Promise<void>;
  /** A graceful stop (SIGTERM) and start. */
  restart(id: string): Promise<void>;
  /** Stops a node removed from the cluster and deletes its data; only targets that support churn. */
  wipe(id: string): Promise<void>;
  /** Starts a wiped node again, empty, as a node joining the cluster (--join true). */
  rejoin(id: string): Promise<void>;
  /** Cuts the node off the cluster network; only targets that support partitions. */
  disconnect(id: string): Promise<void>;
  reconnect(id: string): Promise<void>;
  /**
   * Each bank's participant records of this run (updated at or after `sinceMs`). May stop
   * the banks to read their stores: call it last.
   */
  readParticipantRecords(sinceMs: number): Promise<Map<string, RecordsResult>>;
  /** SIGKILL of a participant (bank) process, and starting it again; targets that can (local). */
  killParticipant?(name: string): Promise<void>;
  reviveParticipant?(name: string): Promise<void>;
  /** Things the target noticed that are not invariants (a graceful stop that needed SIGKILL). */
  notes?(): string[];
  /** Where the logs of the cluster are, for a human after a failure. */
  logsHint(): string;
  /**
   * Stops everything this target started, by PID or container id, even half-started.
   * `keep`: leave data and logs in place (a failed run, or --data given).
   */
  tearDown(keep: boolean): Promise<void>;
}
