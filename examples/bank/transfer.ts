// A money transfer as a Ratify transaction: one participant per bank involved,
// each with the ledger operations it must apply.
import type { ParticipantSpec } from '../../src/sdk/client-types.js';

export interface BankRef {
  readonly name: string;
  readonly participantUrl: string;
}

export interface AccountRef {
  readonly bank: BankRef;
  readonly account: string;
}

export function transferParticipants(from: AccountRef, to: AccountRef, amount: number): ParticipantSpec[] {
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new RangeError(`amount (${amount}) must be a positive integer`);
  const debit = { account: from.account, delta: -amount };
  const credit = { account: to.account, delta: amount };
  if (from.bank.name === to.bank.name) {
    return [{ name: from.bank.name, url: from.bank.participantUrl, payload: { ops: [debit, credit] } }];
  }
  return [
    { name: from.bank.name, url: from.bank.participantUrl, payload: { ops: [debit] } },
    { name: to.bank.name, url: to.bank.participantUrl, payload: { ops: [credit] } },
  ];
}
