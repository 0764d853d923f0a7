// @ts-check
// The docs page at GET /docs: renders this node's GET openapi.json, operation
// by operation (parameters, request body and answers with their schemas), with
// the error codes, and lets a reader send GET requests from the page. A renderer
// of our own, a few hundred lines, instead of a bundled UI of megabytes: the
// document is small and uses a handful of JSON Schema keywords.
import { append, byId, el, replace } from './format.js';

const SCHEMA_DEPTH_MAX = 8;

/**
 * @typedef {Record<string, any>} Json
 * @typedef {{ name: string, in: string, required?: boolean, description?: string, schema?: Json }} Parameter
 */

/** @type {Json} */
let doc = {};

async function main() {
  const res = await fetch('openapi.json', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET openapi.json answered ${res.status}`);
  doc = await res.json();
  replace(byId('title', HTMLElement), doc['info']?.title ?? 'API');
  replace(byId('version', HTMLElement), `v${doc['info']?.version ?? '?'} · OpenAPI ${doc['openapi']}`);
  replace(byId('description', HTMLElement), doc['info']?.description ?? '');
  renderOperations(byId('operations', HTMLElement));
  renderErrors(byId('errors', HTMLTableElement));
}

/** @param {HTMLElement} container */
function renderOperations(container) {
  /** @type {Map<string, HTMLElement[]>} */
  const byTag = new Map((doc['tags'] ?? []).map((/** @type {Json} */ t) => [t['name'], []]));
  for (const [path, ops] of Object.entries(doc['paths'] ?? {})) {
    for (const [method, op] of Object.entries(/** @type {Json} */ (ops))) {
      const tag = op['tags']?.[0] ?? 'Other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)?.push(operation(method, path, op));
    }
  }
  const tagInfo = new Map((doc['tags'] ?? []).map((/** @type {Json} */ t) => [t['name'], t['description'] ?? '']));
  for (const [tag, ops] of byTag) {
    if (ops.length === 0) continue;
    container.append(
      el('section', { 'data-tag': tag }, el('h2', {}, tag), el('p', { class: 'muted small' }, tagInfo.get(tag) ?? ''), ...ops),
    );
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {Json} op
 */
function operation(method, path, op) {
  const secured = Array.isArray(op['security']) && op['security'].length > 0;
  const body = el('div', {});
  /** @type {Parameter[]} */
  const params = op['parameters'] ?? [];
  if (params.length > 0) {
    body.append(
      el('h3', {}, 'Parameters'),
      el(
        'table',
        { class: 'grid-table' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Name'), el('th', {}, 'In'), el('th', {}, 'Schema'), el('th', {}, 'Description'))),
        el(
          'tbody',
          {},
          ...params.map((p) =>
            el(
              'tr',
              {},
              el('td', {}, el('code', {}, p.name), p.required ? el('span', { class: 'req' }, ' required') : null),
              el('td', {}, p.in),
              el('td', {}, schemaNode(p.schema ?? {}, 0)),
              el('td', {}, p.description ?? p.schema?.['description'] ?? ''),
            ),
          ),
        ),
      ),
    );
  }
  const requestBody = op['requestBody']?.content?.['application/json']?.schema;
  if (requestBody !== undefined)
    body.append(el('h3', {}, `Request body${op['requestBody']?.required ? ' (required)' : ''}`), schemaNode(requestBody, 0));
  body.append(el('h3', {}, 'Answers'));
  for (const [status, response] of Object.entries(op['responses'] ?? {})) {
    const r = /** @type {Json} */ (response);
    const [type, content] = Object.entries(r['content'] ?? {})[0] ?? [];
    append(body, [
      el(
        'div',
        { class: 'prop' },
        el('strong', {}, status),
        ' ',
        r['description'] ?? '',
        type === undefined ? null : el('span', { class: 'muted small' }, ` (${type})`),
      ),
      content?.schema === undefined || type !== 'application/json' ? null : el('div', { class: 'schema' }, schemaNode(content.schema, 0)),
    ]);
  }
  if (method === 'get') body.append(tryIt(path, params));
  return el(
    'details',
    { class: 'op', 'data-op': `${method.toUpperCase()} ${path}` },
    el(
      'summary',
      {},
      el('span', { class: `method method-${method}` }, method.toUpperCase()),
      el('span', { class: 'path mono' }, path),
      el('span', { class: 'muted' }, op['summary'] ?? ''),
      secured ? el('span', { class: 'pill', title: 'needs the cluster secret (x-ratify-secret) when the cluster has one' }, 'admin') : null,
    ),
    body,
  );
}

/**
 * A form that sends the GET from this page and shows the answer.
 * @param {string} path
 * @param {Parameter[]} params
 */
function tryIt(path, params) {
  const inputs = params
    .filter((p) => p.in === 'path' || p.in === 'query')
    .map((p) => ({ p, input: /** @type {HTMLInputElement} */ (el('input', { name: p.name, placeholder: p.name, size: 24 })) }));
  const out = el('pre', { hidden: true });
  const send = el('button', { type: 'button' }, 'Send');
  send.addEventListener('click', async () => {
    let url = path;
    const query = new URLSearchParams();
    for (const { p, input } of inputs) {
      if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(input.value));
      else if (input.value !== '') query.set(p.name, input.value);
    }
    const q = query.toString();
    out.hidden = false;
    try {
      const res = await fetch(`${url.replace(/^\//, '')}${q === '' ? '' : `?${q}`}`, { headers: { accept: 'application/json' } });
      const text = await res.text();
      let shown = text;
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON (metrics, pages): show it as it came
      }
      replace(out, `${res.status} ${res.statusText}\n\n${shown.length > 20_000 ? `${shown.slice(0, 20_000)}\n…` : shown}`);
    } catch (err) {
      replace(out, `failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return el('div', {}, el('h3', {}, 'Try it'), ...inputs.map(({ input }) => input), ' ', send, out);
}

/**
 * A JSON Schema as nested text: type, constraints, enum, then properties or items.
 * @param {Json} schema
 * @param {number} depth
 * @returns {HTMLElement}
 */
function schemaNode(schema, depth) {
  // A named schema (Error) folds away under its name: every error answer points at it.
  if (typeof schema['$ref'] === 'string') {
    const name = schema['$ref'].split('/').pop() ?? '';
    return el('details', { class: 'ref' }, el('summary', {}, el('span', { class: 'type' }, name)), schemaNode(resolve(schema), depth + 1));
  }
  const s = schema;
  if (depth > SCHEMA_DEPTH_MAX) return el('span', { class: 'muted' }, '…');
  // The error codes are listed once, at the end of the page.
  if (Array.isArray(s['x-errors']))
    return el('span', {}, el('span', { class: 'type' }, 'string'), ' ', el('a', { href: '#errors' }, 'one of the error codes'));
  const alternatives = s['anyOf'] ?? s['oneOf'];
  if (Array.isArray(alternatives)) {
    return el(
      'div',
      {},
      el('span', { class: 'type' }, 'one of'),
      ...alternatives.map((a) => el('div', { class: 'schema' }, schemaNode(a, depth + 1))),
    );
  }
  const head = el('span', {}, el('span', { class: 'type' }, typeName(s)), constraints(s));
  const node = el(
    'div',
    {},
    head,
    s['description'] === undefined || depth === 0 ? null : el('div', { class: 'muted small' }, s['description']),
  );
  const props = /** @type {Record<string, Json> | undefined} */ (s['properties']);
  if (props !== undefined) {
    /** @type {string[]} */
    const required = s['required'] ?? [];
    const list = el('div', { class: 'schema' });
    for (const [name, p] of Object.entries(props)) {
      list.append(
        el(
          'div',
          { class: 'prop' },
          el('code', {}, name),
          required.includes(name) ? el('span', { class: 'req' }, ' required') : null,
          ': ',
          schemaNode(p, depth + 1),
        ),
      );
    }
    node.append(list);
  }
  if (s['items'] !== undefined)
    node.append(el('div', { class: 'schema' }, el('span', { class: 'muted small' }, 'items: '), schemaNode(s['items'], depth + 1)));
  return node;
}

/** @param {Json} s */
function typeName(s) {
  const t = s['type'];
  if (Array.isArray(t)) return t.join(' | ');
  if (typeof t === 'string') return t;
  return s['properties'] !== undefined ? 'object' : 'any';
}

/** @param {Json} s */
function constraints(s) {
  const parts = [];
  if (Array.isArray(s['enum'])) parts.push(`one of ${s['enum'].map((v) => JSON.stringify(v)).join(', ')}`);
  for (const k of ['minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'pattern', 'format', 'default']) {
    if (s[k] !== undefined) parts.push(`${k} ${JSON.stringify(s[k])}`);
  }
  return parts.length === 0 ? null : el('span', { class: 'constraint' }, ` (${parts.join('; ')})`);
}

/**
 * Follows a local $ref (#/components/schemas/…).
 * @param {Json} schema
 * @returns {Json}
 */
function resolve(schema) {
  let s = schema;
  for (let hops = 0; typeof s['$ref'] === 'string' && hops < 10; hops++) {
    const path = s['$ref'].replace(/^#\//, '').split('/');
    /** @type {any} */
    let target = doc;
    for (const key of path) target = target?.[key];
    if (target === undefined) return { description: `unresolved ${s['$ref']}` };
    s = target;
  }
  return s;
}

/** @param {HTMLTableElement} table */
function renderErrors(table) {
  /** @type {Array<{ code: string, status: number, description: string }>} */
  const errors = doc['components']?.schemas?.ErrorCode?.['x-errors'] ?? [];
  const body = table.tBodies[0];
  if (body === undefined) return;
  replace(
    body,
    ...errors.map((e) =>
      el('tr', { 'data-code': e.code }, el('td', {}, el('code', {}, e.code)), el('td', {}, e.status), el('td', {}, e.description)),
    ),
  );
}

main().catch((err) => {
  const container = byId('operations', HTMLElement);
  replace(container, el('p', { class: 'error' }, `Could not load openapi.json: ${err instanceof Error ? err.message : String(err)}`));
});
