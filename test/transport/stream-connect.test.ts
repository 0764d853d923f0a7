// A Raft stream's TCP connect to a peer that does not answer (a partition): the
// stream gives the attempt up after its connect limit, not after requestTimeoutMs,
// so it reaches a peer soon after the network heals (see PeerStream's header). A
// process test: the silent peer is a stopped child process.
import { spawn } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/types.js';
import { HttpTransport } from '../../src/transport/http-transport.js';
import { CONNECT_TIMEOUT_MAX_MS } from '../../src/transport/peer-stream.js';
import { eventually } from '../helpers/wait.js';

const heartbeat = (leaderCommit: number): Message[] => [{ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, leaderCommit, readSeq: 0 }];

describe('a Raft stream to a peer that does not answer its connect', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('gives the connect up after the connect limit, long before requestTimeoutMs, and tries again', async () => {
    // A listener whose process is stopped and whose accept queue is full: the kernel drops
    // every further SYN, as across a partition (loopback only, no firewall rules needed).
    const held = await silentListener();
    const failures: object[] = [];
    const log = (o: object): void => {
      failures.push(o);
    };
    const t = new HttpTransport({
      clusterId: 'c1',
      nodeId: 'n1',
      secret: 'cluster-secret-0123',
      members: [
        { id: 'n1', url: 'http://127.0.0.1:1', voter: true },
        { id: 'n2', url: held.url, voter: true },
      ],
      maxQueuedMessagesPerPeer: 100,
      maxInflightRequestsPerPeer: 4,
      requestTimeoutMs: 60_000,
      logger: { debug: log, warn: log },
    });
    cleanups.push(() => t.close());
    t.send(heartbeat(0));
    await eventually(() =>
      expect(failures).toContainEqual(
        expect.objectContaining({ peer: 'n2', err: `no answer to the TCP connect within ${CONNECT_TIMEOUT_MAX_MS} ms` }),
      ),
    );
    // Torn down, not left connecting: once the backoff is over, the next send opens a new attempt.
    const before = held.attempts();
    let next = 1;
    await eventually(() => {
      t.send(heartbeat(next++));
      expect(held.attempts()).toBeGreaterThan(before);
    });
  });

  /**
   * A listener in a child process that is stopped, with its accept queue filled: connects to it
   * neither complete nor fail. attempts() counts the client sockets this process opened since
   * (the diagnostics channel of new client sockets): in the test, only the transport's.
   */
  async function silentListener(): Promise<{ url: string; attempts: () => number }> {
    const child = spawn(
      process.execPath,
      [
        '-e',
        "require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},function(){process.stdout.write(this.address().port+'\\n')})",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(async () => {
      child.kill('SIGKILL');
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    });
    child.kill('SIGSTOP');
    const probes: Socket[] = [];
    cleanups.push(async () => {
      for (const s of probes) s.destroy();
    });
    // Connects complete (into the queue) until it is full; the first that hangs proves it is.
    for (let i = 0; ; i++) {
      if (i === 16) throw new Error('the accept queue of the stopped listener never filled');
      const s = connect(port, '127.0.0.1');
      probes.push(s);
      const completed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 300);
        s.once('connect', () => {
          clearTimeout(timer);
          resolve(true);
        });
        s.once('error', () => resolve(true));
      });
      if (!completed) break;
    }
    let attempts = 0;
    const onSocket = (): void => {
      attempts++;
    };
    // Held in a variable: Node 20 keeps channels weakly, and a collected one loses its subscribers.
    const channel = diagnostics.channel('net.client.socket');
    channel.subscribe(onSocket);
    cleanups.push(async () => channel.unsubscribe(onSocket));
    return { url: `http://127.0.0.1:${port}`, attempts: () => attempts };
  }
});
