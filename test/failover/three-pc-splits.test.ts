// The two ways 3PC split an outcome under its earlier rules, against three real node
// processes and two participants on the participant SDK (small
// threePcTimeoutMs, as a new user would try it). Both end with one outcome
// everywhere now; both ended with two before:
//
// 1. The whole cluster freezes mid-precommit: a acknowledged precommit, b's
//    precommit calls fail, every node is SIGSTOPped for several times
//    threePcTimeoutMs. a commits on its own timeout (it is precommitted, and
//    reaches no node). b, prepared only, used to abort on its timeout, and the
//    cluster then decided abort; now b waits, and the cluster commits.
// 2. A participant is cut off after precommit: a acknowledged precommit and is
//    then cut off both ways (calls to it fail, its inquiries reach no node); b's
//    precommit keeps failing past the transaction's deadline. The cluster used
//    to decide abort at the deadline while a committed on its timeout; now the
//    deadline no longer applies once precommitted, and the cluster commits.
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/wait.js';
import type { GatedParticipant } from './gated-participant.js';
import { expectSettled, getTx, postInBackground, SETTLE_TIMEOUT_MS, waitForView, type TxView } from './harness.js';
import { useFailoverSuite } from './suite.js';

const { c, participant, onCleanup } = useFailoverSuite();

const THREE_PC_TIMEOUT_MS = 1_500;
// resolveAfterMs longer than the staging takes: a participant that asked the
// cluster before the fault would learn the outcome (committed, once
// precommitted) and never reach the situation of the issue.
const sdk = { threePcTimeoutMs: THREE_PC_TIMEOUT_MS, resolveAfterMs: 3_000, inquiryTimeoutMs: 300 } as const;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function commitSources(p: GatedParticipant, txId: string): string {
  return p.handlerCalls
    .filter((h) => h.txId === txId && h.kind === 'commit')
    .map((h) => h.source)
    .join(',');
}

function signalAll(signal: 'SIGSTOP' | 'SIGCONT'): void {
  for (const n of c().nodes) if (n.proc?.pid !== undefined) process.kill(n.proc.pid, signal);
}

describe('3PC never splits', () => {
  it('the whole cluster frozen mid-precommit for several times threePcTimeoutMs: a commits on its timeout, b waits, the cluster commits', async () => {
    const a = await participant('a', { sdk });
    const b = await participant('b', { sdk });
    const refuseB = b.refuse((call) => call.path === 'precommit');
    const { leaderId } = await c().waitForLeader();
    const answer = postInBackground(c(), leaderId, '/v1/transactions', {
      participants: [a.spec(), b.spec()],
      protocol: '3pc',
      commit: true,
      timeoutMs: 120_000,
    });
    const { txId } = await waitUntil(() => a.callsOf(undefined, 'precommit').find((call) => call.status < 300), {
      timeoutMs: SETTLE_TIMEOUT_MS,
      what: 'a to acknowledge precommit',
    });
    await waitUntil(() => refuseB.count() >= 1 || undefined, { timeoutMs: SETTLE_TIMEOUT_MS, what: "b's precommit to fail" });
    const atPrecommit = await waitForView(c(), leaderId, txId, (v) => v.state === 'precommitted', 'precommitted');

    signalAll('SIGSTOP');
    onCleanup(async () => signalAll('SIGCONT'));
    // a is precommitted and reaches no node: after threePcTimeoutMs it commits on its own.
    await waitUntil(async () => (await a.record(txId))?.state === 'committed', {
      timeoutMs: SETTLE_TIMEOUT_MS,
      what: 'a to commit on its 3PC timeout',
    });
    console.log(`freeze: a committed on its own (${commitSources(a, txId)})`);
    // Several more windows with every node frozen: b, prepared only, never aborts on its own
    // (an earlier version did, and the cluster then decided abort).
    await sleep(3 * THREE_PC_TIMEOUT_MS);
    expect((await b.record(txId))?.state).not.toBe('aborted');
    expect(b.handlerCount('abort', txId)).toBe(0);

    refuseB.stop();
    signalAll('SIGCONT');
    await expectSettled(c(), txId, [a, b], 'committed');
    // The outcome was already fixed, and shown, at precommitted.
    expect(atPrecommit.outcome).toBe('committed');
    const settled = await answer;
    if (!(settled instanceof Error) && settled.status === 200) expect(settled.body.outcome).toBe('committed');
  });

  it('a participant cut off after precommit while the other fails precommit past the deadline: no abort at the deadline, commit everywhere', async () => {
    const a = await participant('a', { sdk, gateInquiries: true });
    const b = await participant('b', { sdk });
    const refuseB = b.refuse((call) => call.path === 'precommit');
    const { leaderId } = await c().waitForLeader();
    const timeoutMs = 3_000;
    const createdAt = Date.now();
    const answer = postInBackground(c(), leaderId, '/v1/transactions', {
      participants: [a.spec(), b.spec()],
      protocol: '3pc',
      commit: true,
      timeoutMs,
    });
    const { txId } = await waitUntil(() => a.callsOf(undefined, 'precommit').find((call) => call.status < 300), {
      timeoutMs: SETTLE_TIMEOUT_MS,
      what: 'a to acknowledge precommit',
    });

    // a is cut off both ways: calls to it fail, its inquiries reach no node.
    const cutA = a.refuse(() => true, 'reset');
    a.cutInquiries();
    await waitUntil(async () => (await a.record(txId))?.state === 'committed', {
      timeoutMs: SETTLE_TIMEOUT_MS,
      what: 'a to commit on its 3PC timeout',
    });
    expect(a.handlerCalls.filter((h) => h.txId === txId && h.kind === 'commit').map((h) => h.source)).toEqual(['timeout']);
    // Well past the deadline, with b's precommit still failing: the outcome stays commit.
    await waitUntil(() => Date.now() > createdAt + timeoutMs + 2_000 && refuseB.count() >= 3, {
      timeoutMs: SETTLE_TIMEOUT_MS,
      what: "b's precommit to fail past the deadline",
    });
    const view = (await getTx(c(), (await c().waitForLeader()).leaderId, txId)).body as TxView;
    expect(view).toMatchObject({ state: 'precommitted', outcome: 'committed' });

    refuseB.stop();
    cutA.stop();
    a.restoreInquiries();
    await expectSettled(c(), txId, [a, b], 'committed');
    const settled = await answer;
    if (!(settled instanceof Error) && settled.status === 200) expect(settled.body.outcome).toBe('committed');
  });
});
