// Which listen addresses only this machine can reach. A node that listens on
// anything else must authenticate its peers (a cluster secret or mutual TLS):
// validateNodeConfig refuses to start it otherwise. 0.0.0.0 and :: mean every
// interface, so they are not loopback; neither is a host name other than localhost.
import { isIP } from 'node:net';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) !== 6) return false;
  // The URL parser writes IPv6 in its shortest form: ::1, and ::ffff:7f00:1 for ::ffff:127.0.0.1.
  const canonical = new URL(`http://[${h}]/`).hostname;
  return canonical === '[::1]' || canonical.startsWith('[::ffff:7f');
}
