// The KV workload of `--state-machine kv`: `concurrency` workers, each sending one put or
// get at a time to a random node (followers forward puts to the leader and answer gets
// after a ReadIndex round), on a few shared keys so that operations on one key overlap.
// Every put writes a value no other put writes, so a read names the write it saw. Each
// call is recorded with its invocation and response times for the linearizability check;
// a put without a 200 answer is unknown (it may still land), a get without one is dropped
// by the checker. readEverywhere() reads every key on every node, recorded too: after
// healing, and again after the full-cluster restart, a node that lost or never applied a
// write shows up as a stale read.
import type { KvInput, KvOperation, KvOutput } from '../../test/linearizability/kv-model.js';
import { HistoryRecorder } from './history.js';
import { httpJson, isObject, sleep } from './http.js';
import type { Prng } from '../../src/util/random.js';
import type { NodeEndpoint } from './target.js';

export interface KvWorkloadOptions {
  readonly nodes: readonly NodeEndpoint[];
  readonly rng: Prng;
  readonly concurrency: number;
  readonly keys: number;
  /** Keys are `${keyPrefix}-k<i>`. */
  readonly keyPrefix: string;
}

export interface KvCounts {
  readonly puts: number;
  readonly putsOk: number;
  readonly gets: number;
  readonly getsOk: number;
  /** Calls without a usable answer (timeouts, refused connections, 5xx). */
  readonly unknown: number;
  readonly inFlight: number;
}

/** Every call is bounded: a SIGSTOPped node accepts connections and never answers. */
const OP_TIMEOUT_MS = 5_000;
const READ_SHARE = 0.5;
const AFTER_ERROR_PAUSE_MS = 100;

export class KvWorkload {
  readonly keys: readonly string[];
  private readonly recorder: KvRecorder = new HistoryRecorder();
  private stopping = false;
  private workers: Promise<void>[] = [];
  private seq = 0;
  private counts = { puts: 0, putsOk: 0, gets: 0, getsOk: 0, unknown: 0, inFlight: 0 };

  constructor(private readonly o: KvWorkloadOptions) {
    this.keys = Array.from({ length: o.keys }, (_, i) => `${o.keyPrefix}-k${i}`);
  }

  start(): this {
    for (let w = 0; w < this.o.concurrency; w++) this.workers.push(this.worker(`w${w}`));
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  snapshot(): KvCounts {
    return { ...this.counts };
  }

  history(): KvOperation[] {
    return this.recorder.history();
  }

  /** Reads every key on every node (`client` names the round in the history); the number of reads answered. */
  async readEverywhere(client: string): Promise<number> {
    const answers = await Promise.all(this.o.nodes.flatMap((n) => this.keys.map((key) => this.get(`${client}@${n.id}`, n, key))));
    return answers.filter((ok) => ok).length;
  }

  private async worker(name: string): Promise<void> {
    while (!this.stopping) {
      const node = this.o.rng.pick(this.o.nodes);
      const key = this.o.rng.pick(this.keys);
      this.counts.inFlight++;
      const ok = this.o.rng.chance(READ_SHARE) ? await this.get(name, node, key) : await this.put(name, node, key, `${name}-${this.seq++}`);
      this.counts.inFlight--;
      if (!ok) await sleep(AFTER_ERROR_PAUSE_MS);
    }
  }

  private async put(client: string, node: NodeEndpoint, key: string, value: string): Promise<boolean> {
    this.counts.puts++;
    const index = await recordedPut(this.recorder, client, node.url, key, value, OP_TIMEOUT_MS);
    if (index === null) this.counts.unknown++;
    else this.counts.putsOk++;
    return index !== null;
  }

  private async get(client: string, node: NodeEndpoint, key: string): Promise<boolean> {
    this.counts.gets++;
    const value = await recordedGet(this.recorder, client, node.url, key, OP_TIMEOUT_MS);
    if (value === undefined) this.counts.unknown++;
    else this.counts.getsOk++;
    return value !== undefined;
  }
}

export type KvRecorder = HistoryRecorder<KvInput, KvOutput>;

/** PUT /v1/kv/{key} at one node, recorded; the index it landed at, or null when the outcome is unknown. */
export async function recordedPut(
  recorder: KvRecorder,
  client: string,
  nodeUrl: string,
  key: string,
  value: string,
  timeoutMs: number,
): Promise<number | null> {
  const end = recorder.begin(client, { op: 'put', key, value });
  const r = await httpJson('PUT', `${nodeUrl}/v1/kv/${encodeURIComponent(key)}`, { body: { value }, timeoutMs });
  const index =
    r.kind === 'reply' && r.status === 200 && isObject(r.body) && Number.isSafeInteger(r.body['index'])
      ? (r.body['index'] as number)
      : null;
  end(index === null ? null : { op: 'put', index });
  return index;
}

/** GET /v1/kv/{key} at one node, recorded; the value (null: not found), or undefined without an answer. */
export async function recordedGet(
  recorder: KvRecorder,
  client: string,
  nodeUrl: string,
  key: string,
  timeoutMs: number,
): Promise<string | null | undefined> {
  const end = recorder.begin(client, { op: 'get', key });
  const r = await httpJson('GET', `${nodeUrl}/v1/kv/${encodeURIComponent(key)}`, { timeoutMs });
  const body = r.kind === 'reply' && r.status === 200 && isObject(r.body) ? r.body : null;
  const value =
    body === null
      ? undefined
      : body['found'] === true && typeof body['value'] === 'string'
        ? body['value']
        : body['found'] === false
          ? null
          : undefined;
  end(value === undefined ? null : { op: 'get', value });
  return value;
}
