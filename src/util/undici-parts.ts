// The parts of undici a node uses (Agent, Pool, buildConnector and request),
// loaded without undici's index.
//
// Why: `import ... from 'undici'` runs undici's index.js, which loads all of
// undici: fetch, WebSocket, EventSource, the cache stores, the mock agents and
// every interceptor, about 90 more modules than a node calls. Their source and
// code stayed on every node's heap for its whole life. With these parts alone
// (and without the operator commands in `ratify node`, src/cli.ts, which load
// the SDK and with it the whole of undici), an idle node holds about 2.7 MiB less
// V8 heap and 7 MiB less RSS (run history, "What a node loads").
//
// These are the very module files the index loads, so the classes are the
// index's own: test/util/undici-parts.test.ts checks each against the index's
// export, so an undici upgrade that moves a file fails that test, not a node.
// The node's code imports undici's types from 'undici' as before (type imports
// load nothing).
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

export const Agent = require('undici/lib/dispatcher/agent') as typeof Undici.Agent;
export type Agent = Undici.Agent;
export const Pool = require('undici/lib/dispatcher/pool') as typeof Undici.Pool;
export type Pool = Undici.Pool;
export const buildConnector = require('undici/lib/core/connect') as typeof Undici.buildConnector;

/** undici's request API: request, stream, pipeline, connect and upgrade. */
const api = require('undici/lib/api') as Record<string, unknown>;
const Dispatcher = require('undici/lib/dispatcher/dispatcher') as typeof Undici.Dispatcher;
// What the index does as it loads: every dispatcher (Agent, Pool, Client) gets the
// request API as methods. Without it `pool.request(...)` is undefined whenever the
// index was not loaded too, as in a node.
Object.assign(Dispatcher.prototype, api);

export type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path'>;

/**
 * One request to `url` through `dispatcher`: undici's `request(url, {dispatcher, ...})`
 * for an absolute URL, without its global dispatcher (every caller has its own).
 */
export function request(dispatcher: Undici.Dispatcher, url: string, opts: RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const target = new URL(url);
  return dispatcher.request({ ...opts, origin: target.origin, path: `${target.pathname}${target.search}` });
}
