// A TCP forwarder on 127.0.0.1 in front of one cluster node, that a test can
// cut: while cut, new connections are reset at once and open ones are
// destroyed, so whoever talks through it (a participant's cooperative
// termination) reaches no node, exactly as across a network partition, while
// everything else still reaches the node directly.
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpGate {
  private cutOff = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Forwards to `target` (an http://host:port url). */
  static async start(target: string): Promise<TcpGate> {
    const { hostname, port } = new URL(target);
    let gate!: TcpGate;
    const server = createServer((client) => gate.accept(client, hostname, Number(port)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('gate has no TCP address');
    gate = new TcpGate(server, `http://127.0.0.1:${addr.port}`);
    return gate;
  }

  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, host: string, port: number): void {
    if (this.cutOff) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(port, host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
