// The cluster's replicated state for the model checker: the real transaction
// state machine (src/tx/state-machine.ts), driven through apply() and
// snapshot()/restore(), with every distinct record interned as a small number.
// apply() is deterministic, so its results are memoized per (state, command):
// exploring millions of interleavings applies each distinct pair once.
import { encodeCommand, type TxCommand } from '../../src/tx/commands.js';
import { txConfigDefaults } from '../../src/tx/config.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import type { ApplyResult, TxRecord } from '../../src/tx/types.js';

export class SmOracle {
  private readonly records: TxRecord[] = [];
  private readonly snapshots: Uint8Array[] = [];
  private readonly ids = new Map<string, number>();
  private readonly memo = new Map<string, number>();
  private readonly commandIds = new Map<string, number>();
  /** Real applies made (memo misses), for the report. */
  applies = 0;

  /** The state after `commands` applied to an empty table, in order (entry indexes from 1). */
  replay(txId: string, commands: readonly TxCommand[]): number {
    const sm = createTxStateMachine(txConfigDefaults);
    commands.forEach((cmd, i) => this.applyTo(sm, cmd, i + 1));
    return this.intern(sm.get(txId), sm.snapshot());
  }

  /** The state after `cmd` applied to `state`: what every node's apply() computes. */
  apply(state: number, cmd: TxCommand): number {
    const key = `${state}|${this.commandId(cmd)}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    const sm = createTxStateMachine(txConfigDefaults);
    sm.restore(this.snapshots[state]!);
    const before = sm.get(this.records[state]!.id);
    this.applyTo(sm, cmd, 1_000);
    const after = sm.get(this.records[state]!.id);
    // A refused entry must leave the record exactly as it was (apply() answers, never half-applies).
    const next = JSON.stringify(after) === JSON.stringify(before) ? state : this.intern(after, sm.snapshot());
    this.memo.set(key, next);
    return next;
  }

  record(state: number): TxRecord {
    return this.records[state]!;
  }

  private applyTo(sm: ReturnType<typeof createTxStateMachine>, cmd: TxCommand, index: number): ApplyResult {
    this.applies++;
    return sm.apply({ index, term: 1, data: encodeCommand(cmd) }) as ApplyResult;
  }

  private intern(tx: TxRecord | null, snapshot: Uint8Array): number {
    if (tx === null) throw new Error('the model transaction vanished from the table');
    const key = JSON.stringify(tx);
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    this.records.push(tx);
    this.snapshots.push(snapshot);
    this.ids.set(key, this.records.length - 1);
    return this.records.length - 1;
  }

  private commandId(cmd: TxCommand): number {
    const key = JSON.stringify(cmd);
    let id = this.commandIds.get(key);
    if (id === undefined) {
      id = this.commandIds.size;
      this.commandIds.set(key, id);
    }
    return id;
  }
}
