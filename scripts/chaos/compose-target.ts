// The compose target: the cluster of cluster/docker-compose.yml (services n1..nN, bank-a,
// bank-b), reached through the ports it publishes on 127.0.0.1. Faults go through the
// docker CLI: docker kill / start, pause / unpause, restart, and partitions as
// `docker network disconnect` / `connect` (with the service's aliases, so peers still
// resolve it by name once it is back). A project that is not running is brought up
// (image ratify:local, no build) and taken down again at the end (with its volumes, if
// this run created them); one that was running is left running.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readParticipantRecords, type BankEndpoint } from './bank.js';
import { docker, dockerEngineProblem, findCompose, run } from './docker.js';
import { httpJson, pollUntil, trustCa } from './http.js';
import type { ChaosTarget, NodeEndpoint, RecordsResult } from './target.js';

export interface ComposeTargetOptions {
  readonly composeFile: string;
  readonly project: string;
  readonly nodes: number;
}

/** Service name -> the port it listens on inside its container (as in docker-compose.yml). */
const NODE_PORT = 7001;
const BANK_SERVICES: ReadonlyArray<{ service: string; port: number }> = [
  { service: 'bank-a', port: 8001 },
  { service: 'bank-b', port: 8002 },
];
const START_TIMEOUT_MS = 180_000;
const STOP_GRACE_S = 10;
const BANK_DATA_DIR = '/data';

interface Attachment {
  readonly network: string;
  readonly aliases: readonly string[];
}

export class ComposeTarget implements ChaosTarget {
  readonly kind = 'compose' as const;
  nodes: NodeEndpoint[] = [];
  banks: BankEndpoint[] = [];
  private compose: readonly string[] = [];
  private readonly containers = new Map<string, string>();
  private readonly detached = new Map<string, Attachment[]>();
  private startedProject = false;
  /** The project's volumes did not exist before this run: `down -v` at the end. */
  private createdVolumes = false;
  private banksStopped = false;
  /** Nodes whose graceful stop ran out of grace. */
  private readonly forcedStops: string[] = [];

  constructor(private readonly o: ComposeTargetOptions) {}

  private get services(): string[] {
    return [...Array.from({ length: this.o.nodes }, (_, i) => `n${i + 1}`), ...BANK_SERVICES.map((b) => b.service)];
  }

  async setUp(signal: AbortSignal): Promise<void> {
    const problem = await dockerEngineProblem();
    if (problem !== null) throw new Error(`--target compose: ${problem} (start one, or use --target local)`);
    if (!existsSync(this.o.composeFile))
      throw new Error(`--target compose: no compose file at ${resolve(this.o.composeFile)} (--compose-file)`);
    // The compose file serves HTTPS from certs/ beside it (see its header); the runner trusts that CA.
    const ca = join(dirname(resolve(this.o.composeFile)), 'certs', 'ca.pem');
    if (!existsSync(ca)) throw new Error(`--target compose: no ${ca}; make the certificates first (cluster/README.md, "Docker Compose")`);
    trustCa(readFileSync(ca));
    this.compose = await findCompose();
    if (!(await this.allRunning())) {
      const label = `label=com.docker.compose.project=${this.o.project}`;
      this.createdVolumes = (await docker(['volume', 'ls', '-q', '--filter', label])).trim() === '';
      // Set first: a half-done `up` still has to be taken down.
      this.startedProject = true;
      await this.composeCmd(['up', '-d', '--no-build', ...this.services], START_TIMEOUT_MS);
    }
    for (const s of this.services) this.containers.set(s, await this.containerOf(s));
    for (let i = 1; i <= this.o.nodes; i++) this.nodes.push({ id: `n${i}`, url: await this.publishedUrl(`n${i}`, NODE_PORT) });
    for (const b of BANK_SERVICES) {
      this.banks.push({
        name: b.service,
        url: await this.publishedUrl(b.service, b.port),
        participantUrl: `http://${b.service}:${b.port}/ratify`,
      });
    }
    for (const url of [...this.nodes.map((n) => n.url), ...this.banks.map((b) => b.url)]) {
      const ok = await pollUntil(
        START_TIMEOUT_MS,
        async () => ((await httpJson('GET', `${url}/healthz`, { timeoutMs: 1_000 })).kind === 'reply' ? true : undefined),
        250,
        signal,
      );
      if (ok === null)
        throw new Error(
          `${url}/healthz does not answer; see \`${this.compose.join(' ')} -f ${this.o.composeFile} -p ${this.o.project} logs\``,
        );
    }
  }

  async kill(id: string): Promise<void> {
    await docker(['kill', this.cid(id)]);
  }

  async revive(id: string): Promise<void> {
    // A no-op when the restart policy already brought it back.
    await docker(['start', this.cid(id)]);
  }

  async pause(id: string): Promise<void> {
    await docker(['pause', this.cid(id)]);
  }

  async resume(id: string): Promise<void> {
    await docker(['unpause', this.cid(id)]);
  }

  async restart(id: string): Promise<void> {
    const t0 = Date.now();
    await docker(['stop', '-t', String(STOP_GRACE_S), this.cid(id)]);
    // docker stop SIGKILLs silently once the grace period is over; the time tells.
    if (Date.now() - t0 >= STOP_GRACE_S * 1000) this.forcedStops.push(id);
    await docker(['start', this.cid(id)]);
  }

  notes(): string[] {
    if (this.forcedStops.length === 0) return [];
    return [
      `${this.forcedStops.length} graceful restarts (${this.forcedStops.join(',')}) took the whole ${STOP_GRACE_S} s grace of docker stop (SIGKILLed)`,
    ];
  }

  async wipe(id: string): Promise<void> {
    throw new Error(`the compose target cannot churn ${id}: wiping a service's volume is not supported`);
  }

  async rejoin(id: string): Promise<void> {
    await this.wipe(id);
  }

  async disconnect(id: string): Promise<void> {
    const cid = this.cid(id);
    const attachments = await this.attachments(cid);
    this.detached.set(id, attachments);
    for (const a of attachments) await docker(['network', 'disconnect', a.network, cid]);
  }

  async reconnect(id: string): Promise<void> {
    const cid = this.cid(id);
    for (const a of this.detached.get(id) ?? []) {
      await docker(['network', 'connect', ...a.aliases.flatMap((al) => ['--alias', al]), a.network, cid]);
    }
    this.detached.delete(id);
  }

  /** Stops each bank container and copies its participant store out (docker cp works on a stopped container). */
  async readParticipantRecords(sinceMs: number): Promise<Map<string, RecordsResult>> {
    const out = new Map<string, RecordsResult>();
    const tmp = await mkdtemp(join(tmpdir(), 'ratify-chaos-records-'));
    try {
      this.banksStopped = true;
      for (const b of BANK_SERVICES) {
        const cid = this.cid(b.service);
        try {
          await docker(['stop', '-t', String(STOP_GRACE_S), cid]);
          await docker(['cp', `${cid}:${BANK_DATA_DIR}/participant`, join(tmp, b.service)]);
          out.set(b.service, { kind: 'records', records: await readParticipantRecords(join(tmp, b.service), sinceMs) });
        } catch (e) {
          out.set(b.service, { kind: 'unavailable', reason: (e as Error).message });
        }
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return out;
  }

  logsHint(): string {
    return `${this.compose.join(' ') || 'docker compose'} -f ${this.o.composeFile} -p ${this.o.project} logs`;
  }

  async tearDown(): Promise<void> {
    // Whatever the faults left behind: reconnected, unpaused, started.
    for (const id of [...this.detached.keys()]) await this.reconnect(id).catch(() => undefined);
    for (const [service, cid] of this.containers) {
      if (this.banksStopped && !this.startedProject && BANK_SERVICES.some((b) => b.service === service)) {
        await docker(['start', cid]).catch(() => undefined);
        continue;
      }
      if (this.nodes.some((n) => n.id === service)) {
        await docker(['unpause', cid]).catch(() => undefined);
        await docker(['start', cid]).catch(() => undefined);
      }
    }
    // Volumes that held data before this run stay; those it created go.
    if (this.startedProject)
      await this.composeCmd(['down', ...(this.createdVolumes ? ['-v'] : [])], START_TIMEOUT_MS).catch(() => undefined);
  }

  private cid(service: string): string {
    const c = this.containers.get(service);
    if (c === undefined) throw new Error(`no container for service ${service}`);
    return c;
  }

  private composeCmd(args: readonly string[], timeoutMs?: number): Promise<string> {
    const [cmd, ...pre] = this.compose;
    return run(cmd!, [...pre, '-f', this.o.composeFile, '-p', this.o.project, ...args], timeoutMs);
  }

  private async allRunning(): Promise<boolean> {
    for (const s of this.services) {
      const id = (await this.composeCmd(['ps', '-q', s]).catch(() => '')).trim();
      if (id === '') return false;
      const state = (await docker(['inspect', '--format', '{{.State.Running}}', id]).catch(() => 'false')).trim();
      if (state !== 'true') return false;
    }
    return true;
  }

  private async containerOf(service: string): Promise<string> {
    const id = (await this.composeCmd(['ps', '-q', service])).trim().split('\n')[0] ?? '';
    if (id === '') throw new Error(`compose project ${this.o.project} has no container for ${service}`);
    return id;
  }

  private async publishedUrl(service: string, port: number): Promise<string> {
    const out = (await this.composeCmd(['port', service, String(port)])).trim();
    const m = /:(\d+)$/.exec(out);
    if (m === null) throw new Error(`${service} does not publish port ${port} (compose port said "${out}")`);
    // Published on 127.0.0.1 by docker-compose.yml; loopback either way.
    return `${service.startsWith('bank') ? 'http' : 'https'}://127.0.0.1:${m[1]!}`;
  }

  private async attachments(cid: string): Promise<Attachment[]> {
    const json = await docker(['inspect', '--format', '{{json .NetworkSettings.Networks}}', cid]);
    const nets = JSON.parse(json) as Record<string, { Aliases?: string[] | null }>;
    return Object.entries(nets).map(([network, v]) => ({ network, aliases: (v.Aliases ?? []).filter((a) => !cid.startsWith(a)) }));
  }
}
