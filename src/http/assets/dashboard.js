// @ts-check
// The dashboard page at GET /. Every REFRESH_MS it reads, from the node that
// served it:
//   GET v1/cluster/nodes   members, their roles, indexes, lag and health
//   GET v1/stats           the series behind the two charts
//   GET v1/activity        in flight, stuck, failing, recent outcomes
//   GET v1/transactions?state=…   when the filter picks one unfinished state
//   GET v1/transactions/{id}      the open detail view
// URLs are relative, so the page also works behind a proxy under a path prefix.
// A failed read leaves the last data in place under a banner that says so.
// A cluster with client tokens answers 401: the page then asks for a token with
// the reader role, keeps it in sessionStorage (this tab only) and sends it as
// Authorization: Bearer on every read.
import { drawLineChart } from './charts.js';
import { byId, clock, count, duration, el, replace, shortId } from './format.js';

const REFRESH_MS = 2000;
const REQUEST_TIMEOUT_MS = 3000;
const LIST_LIMIT = 100;
const STUCK_AFTER_MS = 10_000;
const FINISHED = ['committed', 'aborted'];
const CHART_SPAN_MIN_MS = 60_000;
const TOKEN_KEY = 'ratify-reader-token';

/**
 * Shapes of the JSON this page reads (see GET /openapi.json).
 * @typedef {{ name: string, url: string, vote: 'commit' | 'abort' | null, acknowledged: boolean, lastError?: string, failingSince?: string }} ParticipantView
 * @typedef {{ id: string, state: string, outcome: 'committed' | 'aborted' | null, protocol: string, participants: ParticipantView[], createdAt: string, decidedAt?: string, completedAt?: string }} TxView
 * @typedef {{ nodeId: string, role: string, term: number, leaderId: string | null, commitIndex: number, appliedIndex: number }} SelfReport
 * @typedef {{ id: string, url: string, voter: boolean, health: string, error: string | null, report: SelfReport | null, lagEntries: number | null }} MemberStatus
 * @typedef {{ observedBy: string, atMs: number, leaderId: string | null, term: number | null, lagEntriesMax: number, members: MemberStatus[] }} Survey
 * @typedef {{ p50: number, p90: number, p99: number, max: number }} Latency
 * @typedef {{ atMs: number, committed: number, aborted: number, decisionLatencyMs: Latency | null, raft: { appliedIndex: number } | null }} Sample
 * @typedef {{ nodeId: string, atMs: number, intervalMs: number, windowsMax: number, samples: Sample[] }} Stats
 * @typedef {{ ageMs: number, tx: TxView }} AgedTx
 * @typedef {{ txId: string, txState: string, participant: string, url: string, lastError: string | null, failingSince: string, failingForMs: number }} Failing
 * @typedef {{ nodeId: string, atMs: number, stuckAfterMs: number, inFlight: { count: number, byState: Record<string, number>, oldest: AgedTx[] }, stuck: { count: number, oldest: AgedTx[] }, failing: { count: number, participants: Failing[] }, recent: Array<{ decisionLatencyMs: number, tx: TxView }> }} Activity
 */

class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {string} path
 * @returns {Promise<any>}
 */
async function getJson(path) {
  let res;
  const token = sessionStorage.getItem(TOKEN_KEY);
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  try {
    res = await fetch(path, { headers, cache: 'no-store', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new ApiError(err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : 'no answer', 0);
  }
  const body = await res.json().catch(() => null);
  if (res.status === 401) askForToken();
  if (!res.ok) throw new ApiError(body?.error?.message ?? `HTTP ${res.status}`, res.status);
  return body;
}

const tokenForm = byId('token-form', HTMLFormElement);
const tokenInput = byId('token-input', HTMLInputElement);

function askForToken() {
  if (!tokenForm.hidden) return;
  tokenForm.hidden = false;
  tokenInput.focus();
}

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  if (token === '') return;
  sessionStorage.setItem(TOKEN_KEY, token);
  tokenInput.value = '';
  tokenForm.hidden = true;
  void refresh();
});

const view = {
  leader: byId('leader', HTMLElement),
  servedBy: byId('served-by', HTMLElement),
  refreshed: byId('refreshed', HTMLElement),
  banner: byId('banner', HTMLElement),
  members: byId('members', HTMLTableElement),
  membersNote: byId('members-note', HTMLElement),
  throughput: byId('chart-throughput', HTMLElement),
  latency: byId('chart-latency', HTMLElement),
  txSection: byId('tx-section', HTMLElement),
  troubleSection: byId('trouble-section', HTMLElement),
  filter: byId('state-filter', HTMLSelectElement),
  inFlightCounts: byId('in-flight-counts', HTMLElement),
  transactions: byId('transactions', HTMLTableElement),
  transactionsNote: byId('transactions-note', HTMLElement),
  stuck: byId('stuck', HTMLTableElement),
  stuckCount: byId('stuck-count', HTMLElement),
  stuckAfter: byId('stuck-after', HTMLElement),
  failing: byId('failing', HTMLTableElement),
  failingCount: byId('failing-count', HTMLElement),
  detail: byId('detail', HTMLElement),
  detailId: byId('detail-id', HTMLElement),
  detailError: byId('detail-error', HTMLElement),
  detailFields: byId('detail-fields', HTMLElement),
  detailTimeline: byId('detail-timeline', HTMLElement),
  detailParticipants: byId('detail-participants', HTMLTableElement),
  detailJson: byId('detail-json', HTMLElement),
};

/** @type {{ detailId: string | null, activity: Activity | null, timer: number | null }} */
const state = { detailId: null, activity: null, timer: null };

// ---- refresh loop ---------------------------------------------------------

async function refresh() {
  const [survey, stats, activity] = await Promise.allSettled([
    getJson('v1/cluster/nodes'),
    getJson('v1/stats'),
    getJson(`v1/activity?limit=${LIST_LIMIT}&stuckAfterMs=${STUCK_AFTER_MS}`),
  ]);
  const problems = [];
  if (survey.status === 'fulfilled') renderSurvey(survey.value);
  else problems.push(`members: ${reason(survey.reason)}`);
  if (stats.status === 'fulfilled') renderCharts(stats.value);
  else problems.push(`stats: ${reason(stats.reason)}`);
  if (activity.status === 'fulfilled') {
    state.activity = activity.value;
    renderActivity(activity.value);
  } else if (activity.reason instanceof ApiError && activity.reason.status === 404) {
    // A node of the kv state machine: no transactions to show.
    view.txSection.hidden = true;
    view.troubleSection.hidden = true;
  } else problems.push(`transactions: ${reason(activity.reason)}`);
  await renderTransactions().catch((err) => problems.push(`transaction list: ${reason(err)}`));
  if (state.detailId !== null) await refreshDetail(state.detailId);
  showProblems(problems);
}

/** @param {unknown} err */
function reason(err) {
  return err instanceof Error ? err.message : String(err);
}

/** @param {string[]} problems */
function showProblems(problems) {
  view.banner.hidden = problems.length === 0;
  if (problems.length > 0) {
    replace(view.banner, `This node did not answer every read (${problems.join('; ')}). What is shown may be out of date.`);
  } else {
    replace(view.refreshed, `refreshed ${clock(Date.now())}`);
  }
}

function loop() {
  refresh()
    .catch((err) => showProblems([reason(err)]))
    .finally(() => {
      state.timer = window.setTimeout(loop, REFRESH_MS);
    });
}

// ---- members ---------------------------------------------------------------

/** @param {Survey} s */
function renderSurvey(s) {
  view.leader.dataset['leader'] = s.leaderId ?? '';
  replace(view.leader, s.leaderId === null ? 'No leader' : `Leader ${s.leaderId} · term ${s.term}`);
  view.leader.classList.toggle('bad', s.leaderId === null);
  replace(view.servedBy, `served by ${s.observedBy}`);
  const rows = s.members.map((m) => {
    const r = m.report;
    const isLeader = m.id === s.leaderId;
    return el(
      'tr',
      { 'data-member': m.id, 'data-role': r?.role ?? 'unknown', 'data-health': m.health, class: isLeader ? 'leader-row' : null },
      el(
        'td',
        {},
        el('strong', {}, m.id),
        isLeader ? el('span', { class: 'pill good', title: 'leader' }, 'leader') : null,
        m.voter ? null : el('span', { class: 'pill' }, 'learner'),
      ),
      el('td', {}, r?.role ?? '–'),
      el('td', {}, r === null ? '–' : r.term),
      el('td', { class: 'num' }, count(r?.commitIndex)),
      el('td', { class: 'num' }, count(r?.appliedIndex)),
      el('td', { class: 'num' }, m.lagEntries === null ? '–' : count(m.lagEntries)),
      el(
        'td',
        {},
        el('span', { class: `health health-${m.health}`, title: m.error ?? '' }, m.health),
        m.error === null ? null : el('span', { class: 'muted small' }, ` ${m.error}`),
      ),
      el('td', { class: 'muted small' }, m.url),
    );
  });
  replace(tbody(view.members), ...rows);
  replace(
    view.membersNote,
    `Each member's own report, as ${s.observedBy} could reach it at ${clock(s.atMs)}. Lag: the leader's commit index minus the member's applied index; over ${s.lagEntriesMax} entries is lagging.`,
  );
}

// ---- charts ----------------------------------------------------------------

/** @param {Stats} s */
function renderCharts(s) {
  // The newest window is still open: its counts would read as a drop.
  const closedUntil = s.atMs - (s.atMs % s.intervalMs);
  const byWindow = new Map(s.samples.filter((x) => x.atMs < closedUntil).map((x) => [x.atMs, x]));
  const perSecond = 1000 / s.intervalMs;
  const xMaxMs = closedUntil - s.intervalMs;
  // From the oldest window the node has (a young node's charts are not mostly empty), at least a minute.
  const oldest = s.samples[0]?.atMs ?? xMaxMs;
  const spanMs = Math.max(xMaxMs - Math.max(oldest, xMaxMs - (s.windowsMax - 2) * s.intervalMs), CHART_SPAN_MIN_MS);
  const xMinMs = xMaxMs - Math.ceil(spanMs / s.intervalMs) * s.intervalMs; // on the windows' grid
  /** @type {Record<string, import('./charts.js').Point[]>} */
  const pts = { committed: [], aborted: [], entries: [], p50: [], p99: [] };
  for (let at = xMinMs; at <= xMaxMs; at += s.intervalMs) {
    const w = byWindow.get(at);
    const prev = byWindow.get(at - s.intervalMs);
    push(pts, 'committed', at, w === undefined ? null : w.committed * perSecond);
    push(pts, 'aborted', at, w === undefined ? null : w.aborted * perSecond);
    const applied = w?.raft?.appliedIndex;
    const before = prev?.raft?.appliedIndex;
    push(pts, 'entries', at, applied === undefined || before === undefined ? null : Math.max(0, applied - before) * perSecond);
    push(pts, 'p50', at, w?.decisionLatencyMs?.p50 ?? null);
    push(pts, 'p99', at, w?.decisionLatencyMs?.p99 ?? null);
  }
  drawLineChart(view.throughput, {
    xMinMs,
    xMaxMs,
    unit: '/s',
    series: [
      { key: 'committed', label: 'committed', points: pts['committed'] ?? [] },
      { key: 'aborted', label: 'aborted', points: pts['aborted'] ?? [] },
      { key: 'entries', label: 'Raft entries applied', points: pts['entries'] ?? [] },
    ],
  });
  drawLineChart(view.latency, {
    xMinMs,
    xMaxMs,
    unit: 'ms',
    series: [
      { key: 'p50', label: 'p50', points: pts['p50'] ?? [] },
      { key: 'p99', label: 'p99', points: pts['p99'] ?? [] },
    ],
  });
}

/**
 * @param {Record<string, import('./charts.js').Point[]>} pts
 * @param {string} key
 * @param {number} x
 * @param {number | null} y
 */
function push(pts, key, x, y) {
  pts[key]?.push({ x, y });
}

// ---- transactions ----------------------------------------------------------

/** @param {Activity} a */
function renderActivity(a) {
  view.txSection.hidden = false;
  view.troubleSection.hidden = false;
  const states = Object.entries(a.inFlight.byState).filter(([s, n]) => n > 0 && !FINISHED.includes(s));
  replace(
    view.inFlightCounts,
    `${count(a.inFlight.count)} in flight${states.length === 0 ? '' : `: ${states.map(([s, n]) => `${s} ${count(n)}`).join(', ')}`}`,
  );

  replace(view.stuckCount, count(a.stuck.count));
  view.stuckCount.classList.toggle('bad', a.stuck.count > 0);
  replace(view.stuckAfter, duration(a.stuckAfterMs));
  replace(
    tbody(view.stuck),
    ...(a.stuck.oldest.length === 0
      ? [emptyRow(4, 'Nothing is stuck.')]
      : a.stuck.oldest.map(({ ageMs, tx }) =>
          el(
            'tr',
            { 'data-tx': tx.id, 'data-state': tx.state },
            el('td', {}, openButton(tx.id)),
            el('td', {}, stateBadge(tx.state)),
            el('td', { class: 'num' }, duration(ageMs)),
            el('td', {}, waitingOn(tx)),
          ),
        )),
  );

  replace(view.failingCount, count(a.failing.count));
  view.failingCount.classList.toggle('bad', a.failing.count > 0);
  replace(
    tbody(view.failing),
    ...(a.failing.participants.length === 0
      ? [emptyRow(4, 'No participant is failing.')]
      : a.failing.participants.map((f) =>
          el(
            'tr',
            { 'data-participant': f.participant, 'data-tx': f.txId },
            el('td', { title: f.url }, el('strong', {}, f.participant)),
            el('td', {}, openButton(f.txId), ' ', stateBadge(f.txState)),
            el('td', { class: 'num' }, duration(f.failingForMs)),
            el('td', { class: 'error small' }, f.lastError ?? '–'),
          ),
        )),
  );
}

/**
 * Rows for the selected filter: the live view from /v1/activity, or one unfinished
 * state from the transaction API (which filters on the server, oldest first).
 */
async function renderTransactions() {
  const a = state.activity;
  if (a === null) return;
  const filter = view.filter.value;
  /** @type {AgedTx[]} */
  let rows;
  let note;
  if (filter === 'live' || filter === 'in-flight') {
    const recent = filter === 'live' ? a.recent.map((r) => ({ ageMs: ageAt(a.atMs, r.tx), tx: r.tx })) : [];
    const seen = new Set(a.inFlight.oldest.map((r) => r.tx.id));
    rows = [...a.inFlight.oldest, ...recent.filter((r) => !seen.has(r.tx.id))];
    note = `Oldest ${a.inFlight.oldest.length} of ${count(a.inFlight.count)} in flight${filter === 'live' ? `, then the ${a.recent.length} latest decisions, newest first` : ''}; as applied on ${a.nodeId}.`;
  } else if (FINISHED.includes(filter)) {
    rows = a.recent.filter((r) => r.tx.state === filter).map((r) => ({ ageMs: ageAt(a.atMs, r.tx), tx: r.tx }));
    note = `The latest ${filter} transactions among the ${a.recent.length} latest decisions, newest first.`;
  } else {
    const page = await getJson(`v1/transactions?state=${encodeURIComponent(filter)}&limit=${LIST_LIMIT}`);
    /** @type {TxView[]} */
    const txs = page.transactions;
    const now = Date.now();
    rows = txs.map((tx) => ({ ageMs: ageAt(now, tx), tx }));
    note = `GET /v1/transactions?state=${filter}: oldest first, at most ${LIST_LIMIT}${page.nextCursor === null ? '' : ' (more exist)'}.`;
  }
  replace(tbody(view.transactions), ...(rows.length === 0 ? [emptyRow(8, 'No transactions.')] : rows.map(txRow)));
  replace(view.transactionsNote, note);
}

/** @param {AgedTx} row */
function txRow({ ageMs, tx }) {
  const latency = tx.decidedAt === undefined ? null : Date.parse(tx.decidedAt) - Date.parse(tx.createdAt);
  return el(
    'tr',
    { 'data-tx': tx.id, 'data-state': tx.state, class: tx.id === state.detailId ? 'selected' : null },
    el('td', {}, openButton(tx.id)),
    el('td', {}, stateBadge(tx.state)),
    el('td', {}, tx.outcome ?? '–'),
    el('td', {}, tx.protocol),
    el('td', { class: 'num' }, tx.participants.length),
    el('td', {}, clock(tx.createdAt)),
    el('td', { class: 'num' }, duration(ageMs)),
    el('td', { class: 'num' }, duration(latency)),
  );
}

/**
 * @param {number} nowMs
 * @param {TxView} tx
 */
function ageAt(nowMs, tx) {
  return Math.max(0, nowMs - Date.parse(tx.createdAt));
}

/** @param {TxView} tx */
function waitingOn(tx) {
  const names =
    tx.outcome === null
      ? tx.participants.filter((p) => p.vote === null).map((p) => p.name)
      : tx.participants.filter((p) => !p.acknowledged).map((p) => p.name);
  if (tx.state === 'active') return 'the client (commit or abort)';
  if (names.length === 0) return '–';
  return `${tx.outcome === null ? 'votes' : 'acknowledgements'} of ${names.join(', ')}`;
}

// ---- detail view -----------------------------------------------------------

/** @param {string} id */
async function openDetail(id) {
  state.detailId = id;
  if (location.hash !== `#tx=${encodeURIComponent(id)}`) history.replaceState(null, '', `#tx=${encodeURIComponent(id)}`);
  view.detail.hidden = false;
  view.detail.dataset['tx'] = id;
  replace(view.detailId, id);
  for (const row of view.transactions.querySelectorAll('tr[data-tx]')) row.classList.toggle('selected', row.getAttribute('data-tx') === id);
  await refreshDetail(id);
}

function closeDetail() {
  state.detailId = null;
  view.detail.hidden = true;
  delete view.detail.dataset['tx'];
  history.replaceState(null, '', location.pathname + location.search);
  for (const row of view.transactions.querySelectorAll('tr.selected')) row.classList.remove('selected');
}

/** @param {string} id */
async function refreshDetail(id) {
  try {
    /** @type {TxView} */
    const tx = await getJson(`v1/transactions/${encodeURIComponent(id)}`);
    if (state.detailId !== id) return;
    view.detailError.hidden = true;
    renderDetail(tx);
  } catch (err) {
    if (state.detailId !== id) return;
    view.detailError.hidden = false;
    replace(
      view.detailError,
      `Could not read the transaction: ${reason(err)}${view.detail.dataset['state'] === undefined ? '' : '. Showing the last answer.'}`,
    );
  }
}

/** @param {TxView} tx */
function renderDetail(tx) {
  view.detail.dataset['state'] = tx.state;
  const created = Date.parse(tx.createdAt);
  const decided = tx.decidedAt === undefined ? null : Date.parse(tx.decidedAt);
  const completed = tx.completedAt === undefined ? null : Date.parse(tx.completedAt);
  replace(
    view.detailFields,
    ...field('State', stateBadge(tx.state)),
    ...field('Outcome', tx.outcome ?? 'not decided'),
    ...field('Protocol', tx.protocol),
    ...field('Created', clock(tx.createdAt)),
    ...field('Decided', decided === null ? '–' : `${clock(tx.decidedAt)} (+${duration(decided - created)})`),
    ...field(
      'Completed',
      completed === null ? '–' : `${clock(tx.completedAt)} (+${duration(completed - (decided ?? created))} after the decision)`,
    ),
  );
  /** @type {Array<{ at: number, what: string, kind: string }>} */
  const events = [{ at: created, what: `created (${tx.protocol}, ${tx.participants.length} participants)`, kind: 'created' }];
  if (decided !== null) events.push({ at: decided, what: `decision durable: ${tx.outcome}`, kind: 'decided' });
  for (const p of tx.participants) {
    if (p.failingSince !== undefined)
      events.push({
        at: Date.parse(p.failingSince),
        what: `${p.name} failing${p.lastError === undefined ? '' : `: ${p.lastError}`}`,
        kind: 'failing',
      });
  }
  if (completed !== null) events.push({ at: completed, what: 'every participant acknowledged', kind: 'completed' });
  events.sort((a, b) => a.at - b.at);
  const pending =
    completed !== null
      ? null
      : decided === null
        ? `no decision yet: ${tx.state} for ${duration(Date.now() - created)}`
        : `waiting for ${waitingOn(tx)} since ${duration(Date.now() - decided)}`;
  replace(
    view.detailTimeline,
    ...events.map((e) =>
      el('li', { class: `event-${e.kind}` }, el('span', { class: 'when' }, `+${duration(e.at - created)}`), ' ', e.what),
    ),
    pending === null ? null : el('li', { class: 'event-pending' }, el('span', { class: 'when' }, 'now'), ' ', pending),
  );
  replace(
    tbody(view.detailParticipants),
    ...tx.participants.map((p) =>
      el(
        'tr',
        { 'data-participant': p.name, 'data-vote': p.vote ?? 'none', 'data-acknowledged': String(p.acknowledged) },
        el('td', {}, el('strong', {}, p.name), el('div', { class: 'muted small' }, p.url)),
        el('td', {}, p.vote ?? '–'),
        el('td', {}, p.acknowledged ? 'yes' : 'no'),
        el('td', {}, p.failingSince === undefined ? '–' : clock(p.failingSince)),
        el('td', { class: 'error small wide' }, p.lastError ?? '–'),
      ),
    ),
  );
  replace(view.detailJson, JSON.stringify(tx, null, 2));
}

/**
 * @param {string} term
 * @param {Node | string} value
 */
function field(term, value) {
  return [el('dt', {}, term), el('dd', {}, value)];
}

// ---- small pieces ----------------------------------------------------------

/** @param {HTMLTableElement} table */
function tbody(table) {
  const b = table.tBodies[0];
  if (b === undefined) throw new Error(`table #${table.id} has no tbody`);
  return b;
}

/**
 * @param {number} columns
 * @param {string} text
 */
function emptyRow(columns, text) {
  return el('tr', { class: 'empty' }, el('td', { colspan: columns, class: 'muted' }, text));
}

/** @param {string} id */
function openButton(id) {
  return el('button', { type: 'button', class: 'link mono', 'data-open': id, title: id }, shortId(id));
}

/** @param {string} s */
function stateBadge(s) {
  return el('span', { class: `state state-${s}` }, s);
}

document.addEventListener('click', (e) => {
  const target = e.target instanceof Element ? e.target.closest('[data-open]') : null;
  const id = target?.getAttribute('data-open');
  if (id !== null && id !== undefined) void openDetail(id);
});
byId('detail-close', HTMLButtonElement).addEventListener('click', closeDetail);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && state.detailId !== null) closeDetail();
});
view.filter.addEventListener('change', () => {
  renderTransactions().catch((err) => showProblems([`transaction list: ${reason(err)}`]));
});

const linked = /^#tx=(.+)$/.exec(location.hash);
if (linked?.[1] !== undefined) void openDetail(decodeURIComponent(linked[1]));
loop();
