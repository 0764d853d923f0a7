// IP addresses as bytes, and address ranges (CIDR), for the participant URL
// policy (participant-url-policy.ts). Text forms are parsed here rather than
// compared as strings, because one address has many spellings: "::ffff:a9fe:a9fe",
// "::ffff:169.254.169.254" and "169.254.169.254" are the same host, and a check
// that compares text is a check an attacker spells around. IPv4-mapped IPv6
// addresses are judged as the IPv4 address they carry.
import { isIPv4, isIPv6 } from 'node:net';

/** 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpBytes = Uint8Array;

export interface Cidr {
  readonly bytes: IpBytes;
  readonly prefixBits: number;
}

/** The address `text` names, or null when it is not an IP address. An IPv4-mapped IPv6 address comes back as IPv4. */
export function parseIp(text: string): IpBytes | null {
  const s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number));
  if (!isIPv6(s)) return null;
  const v6 = parseIpv6(s.replace(/%.*$/, ''));
  if (v6 === null) return null;
  return isMappedIpv4(v6) ? v6.slice(12) : v6;
}

/** "10.0.0.0/8", "fd00::/8", or one address (a /32 or /128). */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const bytes = parseIp(address);
  if (bytes === null) return null;
  if (slash === -1) return { bytes, prefixBits: bytes.length * 8 };
  const lengthText = text.slice(slash + 1);
  const prefixBits = /^\d{1,3}$/.test(lengthText) ? Number(lengthText) : NaN;
  const writtenBits = isIPv6(address.replace(/^\[(.*)\]$/, '$1')) ? 128 : 32;
  if (!Number.isInteger(prefixBits) || prefixBits > writtenBits) return null;
  // A range written in the mapped form (::ffff:10.0.0.0/104) is the IPv4 range it covers.
  const effective = writtenBits === 128 && bytes.length === 4 ? prefixBits - 96 : prefixBits;
  return effective < 0 ? null : { bytes, prefixBits: effective };
}

export function cidrContains(cidr: Cidr, ip: IpBytes): boolean {
  if (cidr.bytes.length !== ip.length) return false;
  let bits = cidr.prefixBits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((cidr.bytes[i] ?? 0) & mask) !== ((ip[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** A canonical text of an address (for map keys and logs). */
export function formatIp(ip: IpBytes): string {
  if (ip.length === 4) return ip.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((ip[i] ?? 0) << 8) | (ip[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

function isMappedIpv4(b: IpBytes): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Full IPv6 text (with "::" and an optional dotted IPv4 tail) to 16 bytes; isIPv6() has vetted the form. */
function parseIpv6(s: string): IpBytes | null {
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = text.slice(lastColon + 1);
    if (!isIPv4(v4)) return null;
    const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    text = `${text.slice(0, lastColon + 1)}0`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = rest === undefined ? [] : groups(rest);
  if (tail.length > 0) (rest === undefined ? front : back).pop();
  const fill = 8 - front.length - back.length - tail.length;
  if (fill < 0 || (rest === undefined && fill !== 0)) return null;
  const all = [...front, ...new Array<number>(fill).fill(0), ...back, ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = (g >> 8) & 0xff;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}
