// Throwaway CAs and node certificates for TLS tests: scripts/dev-certs.ts, with
// short names for tests.
export { makeCa, makeCert, type DevCa as TestCa, type DevCert as TestCert } from '../../scripts/dev-certs.js';
