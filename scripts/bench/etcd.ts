// The baseline: a 3-member etcd cluster (Debian's etcd-server, 3.4) on free
// loopback ports with its data in a temporary folder, driven through the v3
// JSON gateway (`POST /v3/kv/put`, base64 key and value).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpClients } from './http.js';
import { sleep } from './load.js';
import { freeLoopbackPorts } from './ports.js';
import type { Supervised, Supervisor } from './supervisor.js';

export const ETCD_INSTALL_HINT =
  'etcd-server is not installed; install it with `apt-get install etcd-server` (Debian/Ubuntu) to get the baseline';

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly proc: Supervised;
}

export interface EtcdCluster {
  readonly version: string;
  readonly members: readonly EtcdMember[];
  /** Client URL of the leader; load goes there, as it goes to Ratify's leader. */
  readonly leaderUrl: string;
  readonly dataDir: string;
}

const MEMBERS = 3;
const READY_TIMEOUT_MS = 30_000;

/** The etcd version string, or null when the binary is not on PATH. */
export function etcdVersion(): string | null {
  const out = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (out.error !== undefined || out.status !== 0) return null;
  const match = /etcd Version:\s*(\S+)/.exec(out.stdout);
  return match?.[1] ?? out.stdout.trim().split('\n')[0] ?? 'unknown';
}

export async function startEtcd(sup: Supervisor, http: HttpClients, version: string): Promise<EtcdCluster> {
  const dataDir = sup.tempDir('ratify-bench-etcd-');
  const ports = await freeLoopbackPorts(MEMBERS * 2);
  const names = Array.from({ length: MEMBERS }, (_, i) => `e${i + 1}`);
  const peerUrl = (i: number): string => `http://127.0.0.1:${ports[MEMBERS + i]}`;
  const clientUrl = (i: number): string => `http://127.0.0.1:${ports[i]}`;
  const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const members = names.map((name, i): EtcdMember => {
    const dir = join(dataDir, name);
    mkdirSync(dir);
    const proc = sup.spawn({
      name: `etcd ${name}`,
      command: 'etcd',
      args: [
        '--name',
        name,
        '--data-dir',
        join(dir, 'data'),
        '--listen-client-urls',
        clientUrl(i),
        '--advertise-client-urls',
        clientUrl(i),
        '--listen-peer-urls',
        peerUrl(i),
        '--initial-advertise-peer-urls',
        peerUrl(i),
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-token',
        `ratify-bench-${process.pid}`,
        '--initial-cluster-state',
        'new',
        '--logger',
        'zap',
        '--log-level',
        'warn',
      ],
      logPath: join(dir, 'etcd.log'),
    });
    return { name, clientUrl: clientUrl(i), proc };
  });
  const leaderUrl = await waitForLeader(http, members, sup);
  return { version, members, leaderUrl, dataDir };
}

export async function stopEtcd(sup: Supervisor, http: HttpClients, cluster: EtcdCluster): Promise<void> {
  await Promise.all(cluster.members.map((m) => http.forget(m.clientUrl)));
  await Promise.all(cluster.members.map((m) => sup.stop(m.proc)));
}

/** One put through the JSON gateway; throws on a non-2xx answer. */
export async function etcdPut(http: HttpClients, origin: string, key: string, value: string): Promise<void> {
  await http.ok(origin, 'POST', '/v3/kv/put', { key: b64(key), value: b64(value) });
}

async function waitForLeader(http: HttpClients, members: readonly EtcdMember[], sup: Supervisor): Promise<string> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const dead = members.find((m) => !sup.isRunning(m.proc));
    if (dead !== undefined) throw new Error(`${dead.proc.name} exited during start-up; see ${dead.proc.logPath}`);
    const leader = await findLeader(http, members);
    if (leader !== null) return leader;
    await sleep(200);
  }
  throw new Error(`etcd had no leader within ${READY_TIMEOUT_MS} ms; see ${members[0]?.proc.logPath ?? 'its log'}`);
}

/** Asks each member's status; the leader is the member whose id equals the leader field. */
async function findLeader(http: HttpClients, members: readonly EtcdMember[]): Promise<string | null> {
  for (const m of members) {
    try {
      const status = (await http.ok(m.clientUrl, 'POST', '/v3/maintenance/status', {})) as {
        header?: { member_id?: string };
        leader?: string;
      };
      const self = status.header?.member_id;
      if (self !== undefined && status.leader !== undefined && status.leader !== '0' && status.leader === self) {
        return m.clientUrl;
      }
    } catch {
      // Not up yet.
    }
  }
  return null;
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}
