// A Ratify cluster in containers: three coordinator nodes and the bank participants on one
// Docker network, plus the faults the chaos scenarios inject (docker kill, pause,
// network disconnect, graceful stop) and the restarts after them.
//
// Each container sits on this one network only (NetworkMode = the network): testcontainers'
// network aliases would also leave it on Docker's default bridge, and then disconnecting it
// from our network would not be a partition. Containers reach each other by container name.
// The test process reaches them only through ports published on fixed loopback host ports,
// so a node keeps its URL across kills and reconnects.
//
// Secured as in production: a cluster secret, and HTTPS with mutual TLS between the
// nodes from a throwaway CA made per run (scripts/dev-certs.ts), copied into each
// container. The banks and the test process trust that CA. The banks serve their
// participant records only to holders of a records token (the test process reaches
// them through docker's port publishing, which is not loopback inside the container).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeClusterCerts } from '../../scripts/dev-certs.js';
import { trustCa } from '../../scripts/chaos/http.js';
import type { Container } from 'dockerode';
import { GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { RECORDS_TOKEN_ENV } from '../../examples/bank/participant-records-route.js';
import { freeLoopbackPorts } from './host-ports.js';

export const NODE_PORT = 7001;
export const TEST_LABEL = 'org.ratify.test';
const STARTUP_TIMEOUT_MS = 60_000;
const CLUSTER_SECRET = 'chaos-suite-secret-0123456789';
/** The banks' BANK_RECORDS_TOKEN (examples/bank/participant-records-route.ts). */
export const BANK_RECORDS_TOKEN = 'chaos-suite-records-token-0123456789';
const CERTS_IN_CONTAINER = '/certs';

export interface BankSpec {
  /** Participant name used in transactions and the bank's --name. */
  readonly name: string;
  /** Short name, e.g. bank-a; the container is named ratify-chaos-<run>-<alias>. */
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
  /** Container name: the host name other containers use. */
  readonly host: string;
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
    /** Host directory with ca.pem and <id>.pem/.key per node. */
    private readonly certsDir: string,
  ) {}

  static async start(options: ClusterOptions): Promise<ContainerCluster> {
    try {
      return await ContainerCluster.startOnce(options);
    } catch (err) {
      // Another test may take a probed free port before docker binds it: try new ports once.
      if (!/port is already allocated|address already in use/i.test(String(err))) throw err;
      return ContainerCluster.startOnce(options);
    }
  }

  private static async startOnce(options: ClusterOptions): Promise<ContainerCluster> {
    const network = await new Network().start();
    const nodes = new Map<string, Member>();
    const banks = new Map<string, Member>();
    const certsDir = mkdtempSync(join(tmpdir(), 'ratify-chaos-certs-'));
    const cluster = new ContainerCluster(options, network, nodes, banks, certsDir);
    // Each certificate names the member id (mutual TLS), the container name (peer URLs) and 127.0.0.1 (the test process).
    const ca = makeClusterCerts(certsDir, options.nodeIds, Object.fromEntries(options.nodeIds.map((id) => [id, [cluster.hostName(id)]])));
    trustCa(readFileSync(ca.cert));
    try {
      const ports = await freeLoopbackPorts(options.nodeIds.length + options.banks.length);
      const peers = options.nodeIds.map((id) => `${id}=https://${cluster.hostName(id)}:${NODE_PORT}`).join(',');
      // All at once: banks need the coordinators only later, for cooperative termination.
      const nodeStarts = options.nodeIds.map(async (id, i) => {
        const hostPort = ports[i]!;
        const container = await cluster.nodeContainer(id, peers, hostPort).start();
        nodes.set(id, { id, host: cluster.hostName(id), hostPort, containerPort: NODE_PORT, container });
      });
      const bankStarts = options.banks.map(async (bank, i) => {
        const hostPort = ports[options.nodeIds.length + i]!;
        const container = await cluster.bankContainer(bank, hostPort).start();
        banks.set(bank.name, { id: bank.name, host: cluster.hostName(bank.alias), hostPort, containerPort: bank.port, container });
      });
      const results = await Promise.allSettled([...nodeStarts, ...bankStarts]);
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  private hostName(shortName: string): string {
    return `ratify-chaos-${this.options.runId}-${shortName}`;
  }

  private labels(role: string): Record<string, string> {
    return { [TEST_LABEL]: 'chaos', 'org.ratify.run': this.options.runId, 'org.ratify.role': role };
  }

  private nodeContainer(id: string, peers: string, hostPort: number): GenericContainer {
    return new GenericContainer(this.options.image)
      .withName(this.hostName(id))
      .withLabels(this.labels('node'))
      .withNetworkMode(this.network.getName())
      .withEnvironment({
        RATIFY_ID: id,
        RATIFY_PEERS: peers,
        RATIFY_LISTEN: `0.0.0.0:${NODE_PORT}`,
        RATIFY_DATA: '/data',
        RATIFY_CLUSTER_SECRET: CLUSTER_SECRET,
        RATIFY_TLS_CERT: `${CERTS_IN_CONTAINER}/node.pem`,
        RATIFY_TLS_KEY: `${CERTS_IN_CONTAINER}/node.key`,
        RATIFY_TLS_CA: `${CERTS_IN_CONTAINER}/ca.pem`,
        RATIFY_TLS_MUTUAL: 'true',
        // The image's health check fetches this; node trusts the CA through NODE_EXTRA_CA_CERTS.
        RATIFY_HEALTH_URL: `https://127.0.0.1:${NODE_PORT}/healthz`,
        NODE_EXTRA_CA_CERTS: `${CERTS_IN_CONTAINER}/ca.pem`,
        ...this.options.nodeEnv,
      })
      .withCopyFilesToContainer([
        { source: join(this.certsDir, `${id}.pem`), target: `${CERTS_IN_CONTAINER}/node.pem`, mode: 0o444 },
        // Readable by the image's user; a throwaway key of a throwaway CA.
        { source: join(this.certsDir, `${id}.key`), target: `${CERTS_IN_CONTAINER}/node.key`, mode: 0o444 },
        { source: join(this.certsDir, 'ca.pem'), target: `${CERTS_IN_CONTAINER}/ca.pem`, mode: 0o444 },
      ])
      .withExposedPorts({ container: NODE_PORT, host: hostPort })
      .withWaitStrategy(Wait.forHttp('/healthz', NODE_PORT).usingTls().allowInsecure().forStatusCode(200))
      .withStartupTimeout(STARTUP_TIMEOUT_MS);
  }

  private bankContainer(bank: BankSpec, hostPort: number): GenericContainer {
    const coordinators = this.options.nodeIds.map((id) => `https://${this.hostName(id)}:${NODE_PORT}`).join(',');
    return (
      new GenericContainer(this.options.image)
        .withName(this.hostName(bank.alias))
        .withLabels(this.labels('bank'))
        .withNetworkMode(this.network.getName())
        .withEntrypoint(['node', 'dist/examples/bank/bank-service.js'])
        .withCommand([
          '--name',
          bank.name,
          '--host',
          '0.0.0.0',
          '--port',
          String(bank.port),
          '--data',
          '/data',
          '--coordinators',
          coordinators,
          ...(this.options.bankArgs ?? []),
        ])
        // Its client SDK asks the coordinators (https) about transactions in doubt.
        .withEnvironment({
          RATIFY_HEALTH_URL: `http://127.0.0.1:${bank.port}/healthz`,
          NODE_EXTRA_CA_CERTS: `${CERTS_IN_CONTAINER}/ca.pem`,
          [RECORDS_TOKEN_ENV]: BANK_RECORDS_TOKEN,
        })
        .withCopyFilesToContainer([{ source: join(this.certsDir, 'ca.pem'), target: `${CERTS_IN_CONTAINER}/ca.pem`, mode: 0o444 }])
        .withExposedPorts({ container: bank.port, host: hostPort })
        .withWaitStrategy(Wait.forHttp('/healthz', bank.port).forStatusCode(200))
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
    );
  }

  get nodeIds(): readonly string[] {
    return this.options.nodeIds;
  }

  /** URL of a node as the test process reaches it (published loopback port). */
  nodeUrl(id: string): string {
    return `https://127.0.0.1:${this.member(this.nodes, id).hostPort}`;
  }

  /** URL of a bank as the test process reaches it. */
  bankUrl(name: string): string {
    return `http://127.0.0.1:${this.member(this.banks, name).hostPort}`;
  }

  /** URL of a bank as the coordinators reach it over the Docker network. */
  bankNetworkUrl(name: string): string {
    const m = this.member(this.banks, name);
    return `http://${m.host}:${m.containerPort}`;
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

  /** docker stop: SIGTERM, then SIGKILL after the grace period. Returns the exit code (137: killed). */
  async stopGracefully(id: string, graceS = 10): Promise<number> {
    const container = await this.docker(id);
    await container.stop({ t: graceS });
    return (await container.inspect()).State.ExitCode;
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
    await net.connect({ Container: this.member(this.nodes, id).container.getId() });
  }

  /** Writes each container's log to dir (for a failed scenario); returns the file paths. */
  async saveLogs(dir: string): Promise<string[]> {
    mkdirSync(dir, { recursive: true });
    const client = await getContainerRuntimeClient();
    const files: string[] = [];
    for (const m of [...this.nodes.values(), ...this.banks.values()]) {
      try {
        const raw = (await client.container
          .getById(m.container.getId())
          .logs({ stdout: true, stderr: true, timestamps: true })) as unknown as Buffer;
        const file = join(dir, `${m.host}.log`);
        writeFileSync(file, demuxDockerLog(raw));
        files.push(file);
      } catch (err) {
        files.push(`${m.host}: ${String(err)}`);
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
          await (await getContainerRuntimeClient()).container
            .getById(m.container.getId())
            .unpause()
            .catch(() => undefined);
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
    trustCa(null);
    rmSync(this.certsDir, { recursive: true, force: true });
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
