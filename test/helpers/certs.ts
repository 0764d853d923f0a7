// Throwaway certificate authorities and node certificates for TLS tests, made
// with the system's openssl (Node 20's crypto cannot issue X.509 certificates).
// Every node certificate names its member id and 127.0.0.1 as subjectAltNames
// (the id for mutual TLS, the address for the peer URL), for server and client use.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

export interface TestCa {
  readonly dir: string;
  readonly name: string;
  readonly cert: string;
  readonly key: string;
}

export interface TestCert {
  readonly cert: string;
  readonly key: string;
}

function openssl(args: readonly string[]): void {
  execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCa(dir: string, name: string): TestCa {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { dir, name, cert, key };
}

/** A certificate for `id` signed by `ca`, naming `id` (DNS) and 127.0.0.1 unless `names` says otherwise. */
export function makeCert(ca: TestCa, id: string, names: readonly string[] = [`DNS:${id}`, 'IP:127.0.0.1']): TestCert {
  const base = join(ca.dir, `${ca.name}-${id}`);
  const ext = `${base}.ext`;
  writeFileSync(ext, `subjectAltName=${names.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${id}`]);
  openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', `${base}.pem`, '-days', '2', '-extfile', ext]);
  return { cert: `${base}.pem`, key: `${base}.key` };
}
