// The dashboard in a real browser (Debian's Chromium, driven by playwright-core)
// against a real 3-node cluster of `ratify node` processes with HTTP participants:
// the page shows the leader and a committed transaction, follows a SIGKILL of the
// leader to its successor, and opens a transaction's detail view. It takes the
// screenshots the README shows (dashboard.png, dashboard-detail.png): set
// RATIFY_SCREENSHOT_DIR=docs to write them there (otherwise they go to a temp
// directory that is removed after the run, like every other temp dir of the tests).
//
// Skipped, saying why, without Chromium; a failure instead under CI=true (see
// browser-support.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TxView } from '../../src/tx/types.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { FakeParticipant } from '../tx/fake-participant.js';
import { CHROMIUM_FLAGS, probeBrowser } from './browser-support.js';

const support = probeBrowser();
if (support.kind === 'unavailable')
  console.warn(`[dashboard.browser] browser test ${support.required ? 'CANNOT RUN' : 'SKIPPED'}: ${support.reason}`);
const ready = support.kind === 'ready';

/** Bound on each wait for the page to show something; the page refreshes every 2 s. */
const SHOW_TIMEOUT_MS = 30_000;
const VIEWPORT = { width: 1280, height: 960 };

describe('the dashboard in Chromium', () => {
  if (support.kind === 'unavailable' && support.required) {
    it('has Chromium (required under CI=true or RATIFY_BROWSER_REQUIRED=1)', () => {
      throw new Error(support.reason);
    });
  }

  describe.skipIf(!ready).sequential('against a 3-node cluster', () => {
    let cluster: TestCluster;
    let bankA: FakeParticipant;
    let bankB: FakeParticipant;
    let ledger: FakeParticipant;
    let context: BrowserContext | null = null;
    let page: Page;
    let profileDir = '';
    let leaderId = '';
    let pageNode = '';
    let shotsDir = '';
    /** A temp dir of this run (no RATIFY_SCREENSHOT_DIR): removed in afterAll. */
    let ownShotsDir = false;
    const pageErrors: string[] = [];

    beforeAll(async () => {
      bankA = await FakeParticipant.start();
      bankB = await FakeParticipant.start();
      ledger = await FakeParticipant.start();
      cluster = await startCluster({ nodes: 3, stateMachine: 'tx', logLevel: 'warn' });
      leaderId = (await cluster.waitForLeader()).leaderId;
      // The page is served by a follower, which lives through the leader's death.
      pageNode = cluster.nodes.find((n) => n.id !== leaderId)!.id;
      profileDir = mkdtempSync(join(tmpdir(), 'ratify-chromium-'));
      const keepDir = process.env['RATIFY_SCREENSHOT_DIR'];
      shotsDir = keepDir ?? mkdtempSync(join(tmpdir(), 'ratify-screenshots-'));
      ownShotsDir = keepDir === undefined;
      context = await chromium.launchPersistentContext(profileDir, {
        executablePath: support.kind === 'ready' ? support.executablePath : '',
        headless: true,
        args: [...CHROMIUM_FLAGS],
        viewport: VIEWPORT,
        timeout: 60_000,
      });
      page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (err) => pageErrors.push(err.message));
      // A read answered with an error status (during the election) is logged by Chromium and shown by the page; a script error is a bug.
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(msg.text());
      });
    }, 180_000);

    afterAll(async () => {
      await context?.close().catch(() => undefined);
      await cluster?.cleanup();
      for (const p of [bankA, bankB, ledger]) await p?.close();
      if (profileDir !== '') rmSync(profileDir, { recursive: true, force: true });
      if (ownShotsDir) rmSync(shotsDir, { recursive: true, force: true });
    });

    const run = async (participants: FakeParticipant[], names: string[]): Promise<TxView> => {
      const res = await httpJson<TxView>('POST', `${cluster.url(pageNode)}/v1/transactions`, {
        body: {
          participants: participants.map((p, i) => ({ name: names[i]!, url: p.url, payload: { amount: 10 * (i + 1) } })),
          commit: true,
        },
        timeoutMs: 30_000,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };
    const shows = (selector: string) => page.waitForSelector(selector, { state: 'attached', timeout: SHOW_TIMEOUT_MS });

    it('shows the members and the leader', { timeout: 60_000 }, async () => {
      await page.goto(`${cluster.url(pageNode)}/`);
      await shows(`#leader[data-leader="${leaderId}"]`);
      await shows(`#members tr[data-member="${leaderId}"][data-role="leader"][data-health="ok"]`);
      for (const n of cluster.nodes) await shows(`#members tr[data-member="${n.id}"]`);
      expect(await page.locator('#members tr[data-member]').count()).toBe(3);
      expect(await page.locator('#served-by').textContent()).toBe(`served by ${pageNode}`);
    });

    let committed: TxView;
    let stuck: TxView;

    it('shows a committed transaction, the throughput it made, and a failing participant', { timeout: 90_000 }, async () => {
      for (let i = 0; i < 8; i++) await run([bankA, bankB], ['bank-a', 'bank-b']);
      committed = await run([bankA, bankB], ['bank-a', 'bank-b']);
      expect(committed.outcome).toBe('committed');
      ledger.setMode('error', ['commit']);
      stuck = await run([bankA, ledger], ['bank-a', 'ledger']);
      expect(stuck.state).toBe('committing');

      await shows(`#transactions tr[data-tx="${committed.id}"][data-state="committed"]`);
      await shows(`#failing tr[data-participant="ledger"][data-tx="${stuck.id}"]`);
      await shows(`#transactions tr[data-tx="${stuck.id}"][data-state="committing"]`);
      // At least one closed window with decisions drawn.
      // (A string: it runs in the page, whose DOM types this Node project does not load.)
      await page.waitForFunction(
        `Number(document.querySelector('#chart-throughput path[data-series="committed"]')?.getAttribute('data-points') ?? 0) > 0`,
        undefined,
        {
          timeout: SHOW_TIMEOUT_MS,
        },
      );
    });

    it('follows a SIGKILL of the leader to the new one', { timeout: 90_000 }, async () => {
      await cluster.stopNode(leaderId, 'SIGKILL');
      const next = await cluster.waitForLeader({ timeoutMs: 60_000 });
      expect(next.leaderId).not.toBe(leaderId);
      await shows(`#leader[data-leader="${next.leaderId}"]`);
      await shows(`#members tr[data-member="${next.leaderId}"][data-role="leader"]`);
      await shows(`#members tr[data-member="${leaderId}"][data-health="unreachable"]`);
      expect(await page.locator('#leader').textContent()).toBe(`Leader ${next.leaderId} · term ${next.term}`);
      leaderId = next.leaderId;
      const path = join(shotsDir, 'dashboard.png');
      await page.screenshot({ path, fullPage: false });
      if (!ownShotsDir) console.info(`[dashboard.browser] screenshot: ${path}`);
    });

    it("opens a transaction's detail view: participants, votes, acknowledgements, timeline", { timeout: 60_000 }, async () => {
      await page.click(`#transactions button[data-open="${committed.id}"]`);
      await shows(`#detail[data-tx="${committed.id}"][data-state="committed"]`);
      expect(await page.locator('#detail').isVisible()).toBe(true);
      expect(await page.locator('#detail-id').textContent()).toBe(committed.id);
      for (const name of ['bank-a', 'bank-b'])
        await shows(`#detail-participants tr[data-participant="${name}"][data-vote="commit"][data-acknowledged="true"]`);
      const timeline = await page.locator('#detail-timeline').textContent();
      expect(timeline).toContain('decision durable: committed');
      expect(timeline).toContain('every participant acknowledged');
      expect(page.url()).toContain(`#tx=${committed.id}`);

      // The stuck one tells why: the failing participant, its error, and what it waits for.
      await page.click(`#transactions button[data-open="${stuck.id}"]`);
      await shows(`#detail[data-tx="${stuck.id}"][data-state="committing"]`);
      await shows('#detail-participants tr[data-participant="ledger"][data-acknowledged="false"]');
      await page.locator('#detail-timeline li', { hasText: 'ledger failing' }).waitFor({ timeout: SHOW_TIMEOUT_MS });
      expect(await page.locator('#detail-timeline').textContent()).toContain('waiting for acknowledgements of ledger');

      const path = join(shotsDir, 'dashboard-detail.png');
      await page.locator('#detail').screenshot({ path });
      if (!ownShotsDir) console.info(`[dashboard.browser] screenshot: ${path}`);
      expect(pageErrors).toEqual([]);
    });
  });
});
