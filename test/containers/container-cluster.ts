// A Ratify cluster in containers: three coordinator nodes and the bank participants on one
// Docker network, plus the faults the chaos scenarios inject (docker kill, pause,
// network disconnect, graceful stop) and the restarts after them.
//
// Containers talk to each other by network alias (n1, bank-a, ...), as in
// cluster/docker-compose.yml. The test process talks to them only through ports published
// on fixed loopback host ports, so a node keeps its URL across kills and reconnects.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from 'dockerode';
import {
  GenericContainer,
  Network,
  Wait,
  getContainerRuntimeClient,
  type StartedNetwork,
  type StartedTestContainer,
} from 'testcontainers';
import { freeLoopbackPorts } from './host-ports.js';

export const NODE_PORT = 7001;
export const TEST_LABEL = 'org.ratify.test';
const STARTUP_TIMEOUT_MS = 60_000;
const CLUSTER_SECRET = 'chaos-suite-secret';

export interface BankSpec {
  /** Participant name used in transactions and the bank's --name. */
  readonly name: string;
  /** Network alias, e.g. bank-a. */
  readonly alias: string;
  readonly port: number;
}

export interface ClusterOptions {
  readonly image: string;
  readonly nodeIds: readonly string[];
  readonly banks: readonly BankSpec[];
  /** Extra RATIFY_* settings for every node (timings, log level). */
  readonly nodeEnv?: Record<string, string>;
  /** Extra arguments for every bank service. */
  readonly bankArgs?: readonly string[];
  readonly runId: string;
}

interface Member {
  readonly id: string;
  readonly alias: string;
  readonly hostPort: number;
  readonly containerPort: number;
  container: StartedTestContainer;
}

export class ContainerCluster {
  private constructor(
    private readonly options: ClusterOptions,
    private readonly network: StartedNetwork,
    private readonly nodes: Map<string, Member>,
    private readonly banks: Map<string, Member>,
  ) {}

  static async start(options: ClusterOptions): Promise<ContainerCluster> {
    const network = await new Network().start();
    const nodes = new Map<string, Member>();
    const banks = new Map<string, Member>();
    const cluster = new ContainerCluster(options, network, nodes, banks);
    try {
      const ports = await freeLoopbackPorts(options.nodeIds.length + options.banks.length);
      const peers = options.nodeIds.map((id) => `${id}=http://${id}:${NODE_PORT}`).join(',');
      const startedNodes = await Promise.all(
        options.nodeIds.map(async (id, i) => {
          const hostPort = ports[i]!;
          const container = await cluster.nodeContainer(id, peers, hostPort).start();
          return { id, alias: id, hostPort, containerPort: NODE_PORT, container };
        }),
      );
      for (const m of startedNodes) nodes.set(m.id, m);
      const startedBanks = await Promise.all(
        options.banks.map(async (bank, i) => {
          const hostPort = ports[options.nodeIds.length + i]!;
          const container = await cluster.bankContainer(bank, hostPort).start();
          return { id: bank.name, alias: bank.alias, hostPort, containerPort: bank.port, container };
        }),
      );
      for (const m of startedBanks) banks.set(m.id, m);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  private labels(role: string): Record<string, string> {
    return { [TEST_LABEL]: 'chaos', 'org.ratify.run': this.options.runId, 'org.ratify.role': role };
  }

  private nodeContainer(id: string, peers: string, hostPort: number): GenericContainer {
    return new GenericContainer(this.options.image)
      .withName(`ratify-chaos-${this.options.runId}-${id}`)
      .withLabels(this.labels('node'))
      .withNetwork(this.network)
      .withNetworkAliases(id)
      .withEnvironment({
        RATIFY_ID: id,
        RATIFY_PEERS: peers,
        RATIFY_LISTEN: `0.0.0.0:${NODE_PORT}`,
        RATIFY_DATA: '/data',
        RATIFY_CLUSTER_SECRET: CLUSTER_SECRET,
        ...this.options.nodeEnv,
      })
      .withExposedPorts({ container: NODE_PORT, host: hostPort })
      .withWaitStrategy(Wait.forHttp('/healthz', NODE_PORT).forStatusCode(200))
      .withStartupTimeout(STARTUP_TIMEOUT_MS);
  }

  private bankContainer(bank: BankSpec, hostPort: number): GenericContainer {
    const coordinators = this.options.nodeIds.map((id) => `http://${id}:${NODE_PORT}`).join(',');
    return new GenericContainer(this.options.image)
      .withName(`ratify-chaos-${this.options.runId}-${bank.alias}`)
      .withLabels(this.labels('bank'))
      .withNetwork(this.network)
      .withNetworkAliases(bank.alias)
      .withEntrypoint(['node', 'dist/examples/bank/bank-service.js'])
      .withCommand([
        '--name', bank.name,
        '--host', '0.0.0.0',
        '--port', String(bank.port),
        '--data', '/data',
        '--coordinators', coordinators,
        ...(this.options.bankArgs ?? []),
      ])
      .withEnvironment({ RATIFY_HEALTH_URL: `http://127.0.0.1:${bank.port}/healthz` })
      .withExposedPorts({ container: bank.port, host: hostPort })
      .withWaitStrategy(Wait.forHttp('/healthz', bank.port).forStatusCode(200))
      .withStartupTimeout(STARTUP_TIMEOUT_MS);
  }

  get nodeIds(): readonly string[] {
    return this.options.nodeIds;
  }

  /** URL of a node as the test process reaches it (published loopback port). */
  nodeUrl(id: string): string {
    return `http://127.0.0.1:${this.member(this.nodes, id).hostPort}`;
  }

  /** URL of a bank as the test process reaches it. */
  bankUrl(name: string): string {
    return `http://127.0.0.1:${this.member(this.banks, name).hostPort}`;
  }

  /** URL of a bank as the coordinators reach it over the Docker network. */
  bankNetworkUrl(name: string): string {
    const m = this.member(this.banks, name);
    return `http://${m.alias}:${m.containerPort}`;
  }

  private member(map: Map<string, Member>, id: string): Member {
    const m = map.get(id);
    if (m === undefined) throw new Error(`no cluster member ${id}`);
    return m;
  }

  private async docker(id: string): Promise<Container> {
    const client = await getContainerRuntimeClient();
    return client.container.getById(this.member(this.nodes, id).container.getId());
  }

  /** docker kill: SIGKILL, no chance to flush or say goodbye. */
  async kill(id: string): Promise<void> {
    await (await this.docker(id)).kill({ signal: 'SIGKILL' });
  }

  /** docker stop: SIGTERM, then SIGKILL after the grace period. */
  async stopGracefully(id: string, graceS = 10): Promise<void> {
    await (await this.docker(id)).stop({ t: graceS });
  }

  /** Starts a killed or stopped node again, with its data, and waits for /healthz. */
  async restart(id: string): Promise<void> {
    await this.member(this.nodes, id).container.restart({ timeout: 0 });
  }

  /** docker pause: freezes every process of the node (SIGSTOP through the freezer cgroup). */
  async pause(id: string): Promise<void> {
    await (await this.docker(id)).pause();
  }

  async unpause(id: string): Promise<void> {
    await (await this.docker(id)).unpause();
  }

  /** A real partition: the node leaves the network and reaches nobody, nor is reached. */
  async disconnect(id: string): Promise<void> {
    const client = await getContainerRuntimeClient();
    const net = client.network.getById(this.network.getId());
    await net.disconnect({ Container: this.member(this.nodes, id).container.getId(), Force: true });
  }

  async reconnect(id: string): Promise<void> {
    const client = await getContainerRuntimeClient();
    const net = client.network.getById(this.network.getId());
    const m = this.member(this.nodes, id);
    await net.connect({ Container: m.container.getId(), EndpointConfig: { Aliases: [m.alias] } });
  }

  /** Writes each container's log to dir (for a failed scenario); returns the file paths. */
  async saveLogs(dir: string): Promise<string[]> {
    mkdirSync(dir, { recursive: true });
    const client = await getContainerRuntimeClient();
    const files: string[] = [];
    for (const m of [...this.nodes.values(), ...this.banks.values()]) {
      try {
        const raw = (await client.container.getById(m.container.getId()).logs({ stdout: true, stderr: true, timestamps: true })) as unknown as Buffer;
        const file = join(dir, `${m.alias}.log`);
        writeFileSync(file, demuxDockerLog(raw));
        files.push(file);
      } catch (err) {
        files.push(`${m.alias}: ${String(err)}`);
      }
    }
    return files;
  }

  /** Removes every container (with its volumes) and the network; never throws. */
  async stop(): Promise<void> {
    const all = [...this.nodes.values(), ...this.banks.values()];
    await Promise.all(
      all.map(async (m) => {
        try {
          // A paused container cannot be stopped; unpausing a running one fails harmlessly.
          await (await getContainerRuntimeClient()).container.getById(m.container.getId()).unpause().catch(() => undefined);
          await m.container.stop({ timeout: 0, remove: true, removeVolumes: true });
        } catch {
          // Already gone: nothing to clean.
        }
      }),
    );
    try {
      await this.network.stop();
    } catch {
      // Already gone, or a container still attached that docker will drop with it.
    }
  }
}

/** Docker multiplexes stdout/stderr of a non-TTY container with an 8-byte frame header. */
function demuxDockerLog(raw: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const size = raw.readUInt32BE(at + 4);
    parts.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}
