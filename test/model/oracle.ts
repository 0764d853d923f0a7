// The cluster's replicated state for the model checker: the real transaction
// state machine (src/tx/state-machine.ts), driven through apply() and
// snapshot()/restore(), with every distinct record interned as a small number.
// apply() is deterministic, so its results are memoized per (state, command):
// exploring millions of interleavings applies each distinct pair once.
// A state may have no record at all: a one-shot transaction whose decided
// entry (its first) has not committed (src/tx/one-shot.ts).
import { encodeCommand, type TxCommand } from '../../src/tx/commands.js';
import { txConfigDefaults } from '../../src/tx/config.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import type { ApplyResult, TxRecord } from '../../src/tx/types.js';

export class SmOracle {
  private readonly records: Array<TxRecord | null> = [];
  private readonly snapshots: Uint8Array[] = [];
  private readonly ids = new Map<string, number>();
  private readonly memo = new Map<string, number>();
  private readonly commandIds = new Map<string, number>();
  private txId = '';
  /** Real applies made (memo misses), for the report. */
  applies = 0;

  /** The state after `commands` applied to an empty table, in order (entry indexes from 1). */
  replay(txId: string, commands: readonly TxCommand[]): number {
    this.txId = txId;
    const sm = createTxStateMachine(txConfigDefaults);
    commands.forEach((cmd, i) => this.applyTo(sm, cmd, i + 1, 1));
    return this.intern(sm.get(txId), sm.snapshot());
  }

  /** The state after `cmd`, in an entry of `term`, applied to `state`: what every node's apply() computes. */
  apply(state: number, cmd: TxCommand, term: number): number {
    const key = `${state}|${this.commandId(cmd)}|${term}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    const sm = createTxStateMachine(txConfigDefaults);
    sm.restore(this.snapshots[state]!);
    const before = sm.get(this.txId);
    this.applyTo(sm, cmd, 1_000, term);
    const after = sm.get(this.txId);
    // A refused entry must leave the record exactly as it was (apply() answers, never half-applies).
    const next = JSON.stringify(after) === JSON.stringify(before) ? state : this.intern(after, sm.snapshot());
    this.memo.set(key, next);
    return next;
  }

  /** The record, or null while the log holds none (a one-shot transaction not yet recorded). */
  record(state: number): TxRecord | null {
    return this.records[state]!;
  }

  private applyTo(sm: ReturnType<typeof createTxStateMachine>, cmd: TxCommand, index: number, term: number): ApplyResult {
    this.applies++;
    return sm.apply({ index, term, data: encodeCommand(cmd) }) as ApplyResult;
  }

  private intern(tx: TxRecord | null, snapshot: Uint8Array): number {
    // Once recorded, the model transaction never leaves the table (no gc entry in the model).
    if (tx === null && this.records.some((r) => r !== null)) throw new Error('the model transaction vanished from the table');
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
