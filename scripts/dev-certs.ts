// Throwaway TLS material for development, tests and the chaos runner: a CA and one
// certificate per node, made with the system's openssl (Node 20's crypto cannot
// issue X.509 certificates). Each node certificate names its member id as a DNS
// subjectAltName (what mutual TLS checks, see src/transport/peer-tls.ts), plus the
// host names and addresses its peers and clients use, for server and client use.
//
//   node dist/scripts/dev-certs.js --out cluster/certs --node n1 --node n2 --node n3 \
//     [--host n1=n1.example,10.0.0.5 ...]
// writes ca.pem (give it to clients: --tls-ca, NODE_EXTRA_CA_CERTS) and, per node,
// <id>.pem and <id>.key; each names <id>, localhost and 127.0.0.1 besides --host's.
// Not for production: the CA key stays next to the certificates, unprotected.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const OPENSSL = process.env['OPENSSL'] ?? '/usr/bin/openssl';

export interface DevCa {
  readonly dir: string;
  readonly name: string;
  readonly cert: string;
  readonly key: string;
}

export interface DevCert {
  readonly cert: string;
  readonly key: string;
}

function openssl(args: readonly string[]): void {
  execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCa(dir: string, name: string): DevCa {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { dir, name, cert, key };
}

/** A certificate for `id` signed by `ca`, with `names` as subjectAltNames (DNS:x, IP:y); by default the id and 127.0.0.1. */
export function makeCert(
  ca: DevCa,
  id: string,
  names: readonly string[] = [`DNS:${id}`, 'IP:127.0.0.1'],
  file = `${ca.name}-${id}`,
): DevCert {
  const base = join(ca.dir, file);
  const ext = `${base}.ext`;
  writeFileSync(ext, `subjectAltName=${names.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`);
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.csr`,
    '-subj',
    `/CN=${id}`,
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    `${base}.pem`,
    '-days',
    '30',
    '-extfile',
    ext,
  ]);
  return { cert: `${base}.pem`, key: `${base}.key` };
}

/** "ca.pem" plus "<id>.pem"/"<id>.key" per node in `dir`, each naming its id, localhost, 127.0.0.1 and `hosts[id]`. */
export function makeClusterCerts(dir: string, ids: readonly string[], hosts: Readonly<Record<string, readonly string[]>> = {}): DevCa {
  const ca = makeCa(dir, 'ca');
  for (const id of ids) {
    const extra = (hosts[id] ?? []).map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`));
    makeCert(ca, id, [...new Set([`DNS:${id}`, 'DNS:localhost', 'IP:127.0.0.1', ...extra])], id);
  }
  return ca;
}

function main(argv: readonly string[]): void {
  let out = '';
  const ids: string[] = [];
  const hosts: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${String(flag)} needs a value`);
    if (flag === '--out') out = value;
    else if (flag === '--node') ids.push(value);
    else if (flag === '--host') {
      const eq = value.indexOf('=');
      hosts[value.slice(0, eq)] = value.slice(eq + 1).split(',');
    } else throw new Error(`unknown option ${String(flag)} (use --out DIR --node ID ... [--host ID=NAME,ADDR])`);
    i++;
  }
  if (out === '' || ids.length === 0) throw new Error('usage: dev-certs --out DIR --node ID [--node ID ...] [--host ID=NAME,ADDR,...]');
  makeClusterCerts(resolve(out), ids, hosts);
  process.stdout.write(`wrote ${resolve(out)}/ca.pem and ${ids.map((id) => `${id}.pem/.key`).join(', ')}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`dev-certs: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
