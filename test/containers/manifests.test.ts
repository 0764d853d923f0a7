// Structural checks of the deployment files (no Kubernetes or Docker needed): the fields
// that, when wrong, give a cluster that never forms or forms wrongly. Peer lists must name
// exactly the pods/services that exist, probes must hit the right paths, data must land
// on the volume, and the pods must run as the image's non-root user.
import { readFileSync, readdirSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const clusterDir = new URL('../../cluster/', import.meta.url);
const RUN_UID = 10001;
const NODE_PORT = 7001;

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  expect(typeof v === 'object' && v !== null && !Array.isArray(v), `${what} must be a mapping`).toBe(true);
  return v as Obj;
}

function arr(v: unknown, what: string): unknown[] {
  expect(Array.isArray(v), `${what} must be a list`).toBe(true);
  return v as unknown[];
}

function at(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const key of path.split('.')) {
    cur = obj(cur, path)[key];
  }
  return cur;
}

function readK8s(): Obj[] {
  const dir = new URL('k8s/', clusterDir);
  const docs: Obj[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(new URL(file, dir), 'utf8'))) {
      expect(doc.errors, `${file}: YAML errors`).toEqual([]);
      docs.push(obj(doc.toJS(), file));
    }
  }
  return docs;
}

function byKind(docs: Obj[], kind: string): Obj[] {
  return docs.filter((d) => d['kind'] === kind);
}

function one(docs: Obj[], kind: string): Obj {
  const found = byKind(docs, kind);
  expect(found.length, `exactly one ${kind}`).toBe(1);
  return found[0]!;
}

function envValue(container: Obj, name: string): Obj {
  const entry = arr(container['env'], 'container env')
    .map((e) => obj(e, 'env entry'))
    .find((e) => e['name'] === name);
  expect(entry, `env ${name}`).toBeDefined();
  return entry!;
}

function parsePeers(peers: string): [string, string][] {
  return peers.split(',').map((p) => {
    const eq = p.indexOf('=');
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

describe('Kubernetes manifests (cluster/k8s)', () => {
  const docs = readK8s();
  const sts = one(docs, 'StatefulSet');
  const stsName = String(at(sts, 'metadata.name'));
  const podSpec = obj(at(sts, 'spec.template.spec'), 'pod spec');
  const container = obj(arr(podSpec['containers'], 'containers')[0], 'container');
  const services = byKind(docs, 'Service');
  const headless = services.find((s) => at(s, 'spec.clusterIP') === 'None');

  it('names no namespace, so they apply into any namespace', () => {
    for (const d of docs) expect(at(d, 'metadata')).not.toHaveProperty('namespace');
  });

  it('kustomization lists every manifest file', () => {
    const kustomization = obj(parse(readFileSync(new URL('k8s/kustomization.yaml', clusterDir), 'utf8')), 'kustomization');
    const files = readdirSync(new URL('k8s/', clusterDir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...arr(kustomization['resources'], 'resources')].sort()).toEqual(files.sort());
  });

  it('runs 3 replicas in parallel behind a headless Service that publishes not-ready pods', () => {
    expect(at(sts, 'spec.replicas')).toBe(3);
    expect(at(sts, 'spec.podManagementPolicy')).toBe('Parallel');
    expect(headless, 'a headless Service').toBeDefined();
    expect(at(sts, 'spec.serviceName')).toBe(at(headless, 'metadata.name'));
    expect(at(headless, 'spec.publishNotReadyAddresses')).toBe(true);
    const labels = obj(at(sts, 'spec.template.metadata.labels'), 'pod labels');
    for (const selector of [at(sts, 'spec.selector.matchLabels'), ...services.map((s) => at(s, 'spec.selector'))]) {
      for (const [k, v] of Object.entries(obj(selector, 'selector'))) expect(labels[k]).toBe(v);
    }
  });

  it('derives RATIFY_ID from the pod name, and the peers are exactly the stable pod DNS names', () => {
    expect(at(envValue(container, 'RATIFY_ID'), 'valueFrom.fieldRef.fieldPath')).toBe('metadata.name');
    const peers = parsePeers(String(envValue(container, 'RATIFY_PEERS')['value']));
    const svc = String(at(headless, 'metadata.name'));
    expect(peers).toEqual([0, 1, 2].map((i) => [`${stsName}-${i}`, `https://${stsName}-${i}.${svc}:${NODE_PORT}`]));
    expect(envValue(container, 'RATIFY_LISTEN')['value']).toBe(`0.0.0.0:${NODE_PORT}`);
  });

  it('keeps data on the per-pod claim', () => {
    const dataDir = String(envValue(container, 'RATIFY_DATA')['value']);
    const claim = String(at(obj(arr(at(sts, 'spec.volumeClaimTemplates'), 'claims')[0], 'claim'), 'metadata.name'));
    expect(mounts().find((m) => m['name'] === claim)?.['mountPath']).toBe(dataDir);
  });

  const mounts = (): Obj[] => arr(container['volumeMounts'], 'volumeMounts').map((m) => obj(m, 'mount'));
  /** The secret volume mounted at a directory that holds `file`, and the Secret's name. */
  function secretVolumeFor(file: string): { secretName: string; optional: unknown } {
    const mount = mounts().find((m) => file.startsWith(`${String(m['mountPath'])}/`));
    expect(mount, `a volume mounted above ${file}`).toBeDefined();
    expect(mount!['readOnly']).toBe(true);
    const volume = arr(podSpec['volumes'], 'volumes')
      .map((v) => obj(v, 'volume'))
      .find((v) => v['name'] === mount!['name']);
    const secret = obj(volume?.['secret'], `secret volume ${String(mount!['name'])}`);
    return { secretName: String(secret['secretName']), optional: secret['optional'] };
  }

  it('ships no placeholder secret: the cluster secret is a file from a Secret the pod cannot start without', () => {
    expect(byKind(docs, 'Secret'), 'a Secret with a value anyone can read in this repository').toEqual([]);
    expect(container['env']).not.toContainEqual(expect.objectContaining({ name: 'RATIFY_CLUSTER_SECRET' }));
    const file = String(envValue(container, 'RATIFY_CLUSTER_SECRET_FILE')['value']);
    expect(secretVolumeFor(file)).toEqual({ secretName: 'ratify-cluster', optional: false });
  });

  it('serves HTTPS with mutual TLS from a mounted Secret, each pod with the certificate of its own id, probed over HTTPS', () => {
    expect(envValue(container, 'RATIFY_TLS_CERT')['value']).toBe('/certs/$(RATIFY_ID).pem');
    expect(envValue(container, 'RATIFY_TLS_KEY')['value']).toBe('/certs/$(RATIFY_ID).key');
    expect(envValue(container, 'RATIFY_TLS_MUTUAL')['value']).toBe('true');
    // $(RATIFY_ID) expands only if RATIFY_ID is defined before it.
    const names = arr(container['env'], 'env').map((e) => obj(e, 'env')['name']);
    expect(names.indexOf('RATIFY_ID')).toBeLessThan(names.indexOf('RATIFY_TLS_CERT'));
    for (const name of ['RATIFY_TLS_CERT', 'RATIFY_TLS_KEY', 'RATIFY_TLS_CA']) {
      expect(secretVolumeFor(String(envValue(container, name)['value']))).toEqual({ secretName: 'ratify-tls', optional: false });
    }
    for (const probe of ['readinessProbe', 'livenessProbe']) expect(at(container, `${probe}.httpGet.scheme`)).toBe('HTTPS');
  });

  it('probes readiness on /readyz and liveness on /healthz at the container port', () => {
    const ports = arr(container['ports'], 'ports').map((p) => obj(p, 'port'));
    const named = ports.find((p) => p['containerPort'] === NODE_PORT);
    expect(named).toBeDefined();
    expect(at(container, 'readinessProbe.httpGet.path')).toBe('/readyz');
    expect(at(container, 'livenessProbe.httpGet.path')).toBe('/healthz');
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      expect([named!['name'], NODE_PORT]).toContain(at(container, `${probe}.httpGet.port`));
    }
  });

  it('runs as the non-root image user with requests and limits', () => {
    expect(at(podSpec, 'securityContext.runAsNonRoot')).toBe(true);
    expect(at(podSpec, 'securityContext.runAsUser')).toBe(RUN_UID);
    expect(at(podSpec, 'securityContext.fsGroup')).toBe(RUN_UID);
    expect(at(container, 'securityContext.allowPrivilegeEscalation')).toBe(false);
    for (const key of ['requests.cpu', 'requests.memory', 'limits.memory']) {
      expect(at(container, `resources.${key}`), key).toBeTruthy();
    }
  });

  it('allows at most one voter down through a PodDisruptionBudget over the same pods', () => {
    const pdb = one(docs, 'PodDisruptionBudget');
    expect(at(pdb, 'spec.maxUnavailable')).toBe(1);
    expect(at(pdb, 'spec.selector.matchLabels')).toEqual(at(sts, 'spec.selector.matchLabels'));
  });
});

describe('docker-compose.yml (cluster/)', () => {
  const compose = obj(parse(readFileSync(new URL('docker-compose.yml', clusterDir), 'utf8'), { merge: true }), 'compose');
  const services = obj(compose['services'], 'services');
  const nodeNames = ['n1', 'n2', 'n3'];

  it('runs three nodes whose ids and peer lists match the service names, each on its own volume', () => {
    const volumes = new Set<string>();
    for (const name of nodeNames) {
      const svc = obj(services[name], name);
      const env = obj(svc['environment'], `${name}.environment`);
      expect(env['RATIFY_ID']).toBe(name);
      expect(parsePeers(String(env['RATIFY_PEERS']))).toEqual(nodeNames.map((n) => [n, `https://${n}:${NODE_PORT}`]));
      const dataDir = String(env['RATIFY_DATA']);
      const volume = arr(svc['volumes'], `${name}.volumes`)
        .map(String)
        .find((v) => v.endsWith(`:${dataDir}`));
      expect(volume, `${name} mounts a volume at ${dataDir}`).toBeDefined();
      volumes.add(volume!.split(':')[0]!);
    }
    expect(volumes.size).toBe(3);
    for (const v of volumes) expect(obj(compose['volumes'], 'volumes')).toHaveProperty(v);
  });

  it('refuses to start without a cluster secret (no default value), and serves HTTPS with mutual TLS from the mounted certificates', () => {
    const raw = readFileSync(new URL('docker-compose.yml', clusterDir), 'utf8');
    expect(raw).toMatch(/RATIFY_CLUSTER_SECRET: \$\{RATIFY_CLUSTER_SECRET:\?[^}]+\}/);
    expect(raw).not.toMatch(/RATIFY_CLUSTER_SECRET:-/);
    for (const name of nodeNames) {
      const svc = obj(services[name], name);
      const env = obj(svc['environment'], `${name}.environment`);
      expect(env['RATIFY_TLS_CERT']).toBe(`/certs/${name}.pem`);
      expect(env['RATIFY_TLS_KEY']).toBe(`/certs/${name}.key`);
      expect(env['RATIFY_TLS_CA']).toBe('/certs/ca.pem');
      expect(env['RATIFY_TLS_MUTUAL']).toBe('true');
      expect(env['RATIFY_HEALTH_URL']).toBe(`https://127.0.0.1:${NODE_PORT}/healthz`);
      expect(env['NODE_EXTRA_CA_CERTS']).toBe('/certs/ca.pem');
      expect(arr(svc['volumes'], `${name}.volumes`)).toContain('./certs:/certs:ro');
    }
    for (const name of ['bank-a', 'bank-b']) {
      const svc = obj(services[name], name);
      expect(arr(svc['volumes'], `${name}.volumes`)).toContain('./certs/ca.pem:/certs/ca.pem:ro');
      expect(at(svc, 'environment.NODE_EXTRA_CA_CERTS')).toBe('/certs/ca.pem');
      const command = arr(svc['command'], 'command').map(String);
      expect(command[command.indexOf('--coordinators') + 1]).toBe(nodeNames.map((n) => `https://${n}:${NODE_PORT}`).join(','));
    }
  });

  it('runs bank A and bank B from the same image, after the nodes are healthy', () => {
    const image = obj(services['n1'], 'n1')['image'];
    for (const name of ['bank-a', 'bank-b']) {
      const svc = obj(services[name], name);
      expect(svc['image']).toBe(image);
      expect(arr(svc['entrypoint'], 'entrypoint').join(' ')).toContain('dist/examples/bank/bank-service.js');
      for (const n of nodeNames) expect(at(svc, `depends_on.${n}.condition`)).toBe('service_healthy');
      const command = arr(svc['command'], 'command').map(String);
      const port = command[command.indexOf('--port') + 1];
      expect(at(svc, 'environment.RATIFY_HEALTH_URL')).toBe(`http://127.0.0.1:${port}/healthz`);
    }
  });
});

describe('Dockerfile (cluster/)', () => {
  const text = readFileSync(new URL('Dockerfile', clusterDir), 'utf8');
  const lines = text.split('\n').filter((l) => !l.startsWith('#') && l.trim() !== '');

  it('takes the base image as a build argument and pulls no BuildKit frontend', () => {
    expect(lines[0]).toMatch(/^ARG BASE_IMAGE=/);
    expect(text).not.toMatch(/^#\s*syntax=/m);
    expect(lines.filter((l) => l.startsWith('FROM ')).every((l) => /^FROM \$\{[A-Z_]+\} AS \w+$/.test(l))).toBe(true);
  });

  it('runs as uid 10001 with a health check, a data volume and the node port', () => {
    expect(text).toMatch(new RegExp(`^USER ${RUN_UID}:${RUN_UID}$`, 'm'));
    expect(text).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(text).toMatch(new RegExp(`^EXPOSE ${NODE_PORT}$`, 'm'));
    expect(text).toMatch(/^HEALTHCHECK .*\n?.*CMD \["node"/m);
  });
});
