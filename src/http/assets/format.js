// @ts-check
// DOM and text helpers shared by the dashboard and the docs page. Everything a
// node or a participant sent becomes text (textContent), never markup.

/**
 * Creates an element. `attrs` keys starting with "data-" or known attributes are set
 * as attributes; `class` sets the class list; children are nodes or text.
 * @param {string} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attrs]
 * @param {...(Node | string | number | null | undefined)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

/**
 * @param {Element} parent
 * @param {ReadonlyArray<Node | string | number | null | undefined>} children
 */
export function append(parent, children) {
  for (const c of children) {
    if (c === null || c === undefined) continue;
    parent.append(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/**
 * Replaces the children of `parent`.
 * @param {Element} parent
 * @param {...(Node | string | null | undefined)} children
 */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * The element with this id; a page without it is a bug of the page.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
export function byId(id, type) {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return e;
}

/**
 * A duration for people: 850 ms, 2.3 s, 4 m 10 s, 3 h 2 m, 2 d 5 h.
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} m`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/**
 * Local wall-clock time of an ISO 8601 instant or epoch ms, with milliseconds.
 * @param {string | number | null | undefined} t
 * @returns {string}
 */
export function clock(t) {
  if (t === null || t === undefined) return '–';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return `${d.toLocaleTimeString(undefined, { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * The first 8 characters of an id (UUIDs are unique enough there for a table).
 * @param {string} id
 * @returns {string}
 */
export function shortId(id) {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/**
 * A number with thousands separators.
 * @param {number | null | undefined} n
 * @returns {string}
 */
export function count(n) {
  return n === null || n === undefined ? '–' : n.toLocaleString('en-US');
}
