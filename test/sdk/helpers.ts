// Shared helpers of the SDK tests: a recording set of participant handlers, temp
// directories that are always removed, and a manual clock.
import { waitUntil } from '../helpers/wait.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ParticipantHandlers, ParticipantTx, ParticipantVote } from '../../src/sdk/participant/index.js';

export interface HandlerCall {
  readonly handler: 'prepare' | 'precommit' | 'commit' | 'abort';
  readonly tx: ParticipantTx;
}

export interface RecordingHandlers extends ParticipantHandlers {
  readonly calls: HandlerCall[];
  count(handler: HandlerCall['handler'], txId?: string): number;
  /** The vote the next prepares return (default commit). */
  vote: ParticipantVote | (() => Promise<ParticipantVote>);
  failNext: Partial<Record<HandlerCall['handler'], Error>>;
}

export function recordingHandlers(): RecordingHandlers {
  const calls: HandlerCall[] = [];
  const h: RecordingHandlers = {
    calls,
    vote: { vote: 'commit' },
    failNext: {},
    count: (handler, txId) => calls.filter((c) => c.handler === handler && (txId === undefined || c.tx.txId === txId)).length,
    prepare: async (tx) => {
      calls.push({ handler: 'prepare', tx });
      throwIfArmed(h, 'prepare');
      return typeof h.vote === 'function' ? h.vote() : h.vote;
    },
    precommit: async (tx) => {
      calls.push({ handler: 'precommit', tx });
      throwIfArmed(h, 'precommit');
    },
    commit: async (tx) => {
      calls.push({ handler: 'commit', tx });
      throwIfArmed(h, 'commit');
    },
    abort: async (tx) => {
      calls.push({ handler: 'abort', tx });
      throwIfArmed(h, 'abort');
    },
  };
  return h;
}

function throwIfArmed(h: RecordingHandlers, handler: HandlerCall['handler']): void {
  const e = h.failNext[handler];
  if (e !== undefined) {
    delete h.failNext[handler];
    throw e;
  }
}

export const quiet = pino({ level: 'silent' });

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ratify-sdk-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export class ManualClock {
  constructor(public ms = 1_700_000_000_000) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function prepareBody(txId: string, term = 1, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { txId, participant: 'p1', payload: { n: 1 }, protocol: '2pc', term, ...extra };
}

export function callBody(txId: string, term = 1, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { txId, participant: 'p1', term, ...extra };
}

/** Polls `check` until it returns true; liveness only, with a generous bound. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  await waitUntil(check, { what, timeoutMs, intervalMs: 20 });
}
