// Fixed host ports for published container ports. Fixed, not ephemeral, because a container
// that is killed and started again must come back on the same host port: the workload and the
// observers keep one URL per node for the whole scenario.
import { createServer } from 'node:net';

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  // The kernel may hand out a just-closed port again; ask until we have distinct ones.
  for (let tries = 0; ports.size < count && tries < count * 20; tries++) ports.add(await freeLoopbackPort());
  if (ports.size < count) throw new Error(`could not find ${count} free loopback ports`);
  return [...ports];
}
