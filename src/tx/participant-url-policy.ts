// Which participant URLs the coordinator will call (SSRF protection).
//
// Clients choose participant URLs, and the leader POSTs to them. Without a
// policy that makes the coordinator a proxy into its own network: the cloud's
// metadata service (credentials), internal services, and the cluster itself (a
// participant URL of http://<node>/v1/transactions/<victim> made the leader
// abort the victim, past any gateway in front of the client API).
//
// A URL is checked twice:
//   - when it is enlisted (create or enlist): checkAtEnlist(), 400
//     PARTICIPANT_URL_REFUSED with the reason;
//   - at every call, on the address the connection really goes to:
//     checkUrl() before the request, and connectAddress() when a connection is
//     opened, which resolves the host, checks every address, and hands the
//     checked address itself to the socket (participant-connector.ts), so a DNS
//     answer that changes between the check and the connect (rebinding) cannot
//     send the call elsewhere.
//
// The rules, in order:
//   1. URLs with credentials (http://user:pass@...) are refused: the view shows
//      URLs to every reader.
//   2. Unspecified, link-local, multicast and cloud metadata addresses are
//      refused, always (no allowlist entry admits them).
//   3. The cluster's own members (their peer URLs' host and port, and this
//      node's listen address) are refused, always.
//   4. With participantHostAllowlist set, the URL must match an entry:
//        host        bank-a.internal, 10.0.0.7 (any port)
//        host:port   bank-a.internal:8443, [fd00::7]:80
//        CIDR        10.0.0.0/8, fd00::/8 (the resolved address must fall in it)
//        URL prefix  https://bank-a.internal/ratify/ (scheme, host, port and
//                    a path prefix ending at a "/")
//   5. Loopback (127.0.0.0/8, ::1, localhost) is allowed while this node itself
//      listens on loopback (development clusters, the examples, the tests),
//      or when an allowlist entry matches it; a node that listens beyond
//      loopback refuses it otherwise.
// Everything else is allowed when there is no allowlist; such a node logs a
// warning at start-up when it listens beyond loopback (securityWarnings).
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { RatifyError } from '../errors.js';
import { assertNever } from '../util/assert-never.js';
import { cidrContains, formatIp, parseCidr, parseIp, type Cidr, type IpBytes } from './ip-address.js';

/** The ranges no participant may live in (rule 2). */
const FORBIDDEN_RANGES: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'an unspecified address'],
  ['::/128', 'an unspecified address'],
  ['169.254.0.0/16', 'a link-local or cloud metadata address'],
  ['fe80::/10', 'a link-local address'],
  ['100.100.100.200/32', 'a cloud metadata address'], // Alibaba Cloud
  ['fd00:ec2::254/128', 'a cloud metadata address'], // AWS IMDS over IPv6
  ['168.63.129.16/32', 'a cloud platform address'], // Azure WireServer
  ['224.0.0.0/4', 'a multicast address'],
  ['255.255.255.255/32', 'a broadcast address'],
  ['ff00::/8', 'a multicast address'],
];
const FORBIDDEN = FORBIDDEN_RANGES.map(([text, why]) => ({ cidr: parseCidr(text)!, why }));
const UNSPECIFIED = [parseCidr('0.0.0.0/8')!, parseCidr('::/128')!];
/** Names of metadata services, refused before any lookup (their addresses are refused too). */
const METADATA_NAMES: ReadonlySet<string> = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);
const LOOPBACK = [parseCidr('127.0.0.0/8')!, parseCidr('::1/128')!];
/** How long member and own addresses are kept resolved (connectAddress runs per new connection). */
const SELF_CACHE_MS = 10_000;
/** How long a checkUrl verdict is kept (it runs before every call). */
const VERDICT_CACHE_MS = 5_000;
const VERDICT_CACHE_MAX = 1024;
/** Enlist verdicts kept (a pure function of the URL and the member list, so kept until the list changes). */
const ENLIST_CACHE_MAX = 1024;
export const ALLOWLIST_ENTRIES_MAX = 1024;

export type AllowEntry =
  | { readonly kind: 'host'; readonly host: string }
  | { readonly kind: 'hostPort'; readonly host: string; readonly port: number }
  | { readonly kind: 'cidr'; readonly cidr: Cidr }
  | { readonly kind: 'urlPrefix'; readonly protocol: string; readonly host: string; readonly port: number; readonly path: string };

/** Why a URL or an address is refused; its message is safe to show to the client that gave the URL. */
export class ParticipantUrlRefused extends Error {
  constructor(readonly reason: string) {
    super(`refused by the participant URL policy: ${reason}`);
    this.name = 'ParticipantUrlRefused';
  }
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type Lookup = (host: string) => Promise<readonly string[]>;

export interface ParticipantUrlPolicyOptions {
  /** participantHostAllowlist (validated by validateTxConfig). */
  readonly allowlist: readonly string[];
  /** Where this node listens: loopback there allows loopback participants (rule 5). */
  readonly listen: HostPort;
  /** The peer URLs of the cluster's members, read at each check (membership changes). */
  readonly memberUrls: () => readonly string[];
  /** DNS; default dns.lookup (getaddrinfo: /etc/hosts and the system resolver, like any client). */
  readonly lookup?: Lookup;
  readonly now?: () => number;
}

export class ParticipantUrlPolicy {
  readonly allowlist: readonly AllowEntry[];
  readonly loopbackAllowed: boolean;
  private readonly lookup: Lookup;
  private readonly now: () => number;
  private readonly verdicts = new Map<string, { readonly refused: ParticipantUrlRefused | null; readonly at: number }>();
  private self: { readonly key: string; readonly at: number; readonly addresses: Promise<ReadonlySet<string>> } | null = null;
  /**
   * The member URLs last read and the host and port of each (and of the listen
   * address). Every create parses them (rule 3), 2 participants each: new URL()
   * and parseIp() of every member cost about 4% of a leader's CPU at 2,400 tx/s.
   * Kept while memberUrls() answers the same strings, compared one by one.
   */
  private members: { readonly urls: readonly string[]; readonly hostPorts: readonly HostPort[] } | null = null;
  /**
   * URLs that passed the static rules at enlist, and whether the allowlist still
   * has to judge them by address. The rules read only the URL, the fixed
   * configuration and the member list, so an entry holds until the list changes
   * (then all are dropped). Refusals are not kept: they are rare and re-checked.
   */
  private readonly enlistPassed = new Map<string, boolean>();

  constructor(private readonly opts: ParticipantUrlPolicyOptions) {
    const { entries, errors } = parseAllowlist(opts.allowlist);
    if (errors.length > 0) throw new RatifyError('CONFIG_INVALID', errors.join('; '));
    this.allowlist = entries;
    this.loopbackAllowed = isLoopbackHost(opts.listen.host);
    this.lookup = opts.lookup ?? defaultLookup;
    this.now = opts.now ?? Date.now;
  }

  /**
   * At create and enlist: throws PARTICIPANT_URL_REFUSED (400). A host name is
   * resolved here only when the allowlist can judge it by address alone (CIDR
   * entries); otherwise its addresses are checked when it is called.
   */
  async checkAtEnlist(rawUrl: string, participant: string): Promise<void> {
    try {
      if (!this.checkForEnlist(rawUrl)) return;
      const url = new URL(rawUrl);
      const host = hostOf(url);
      await this.resolveChecked(host, portOf(url), url.protocol).catch((err: unknown) => {
        if (err instanceof ParticipantUrlRefused) throw err;
        throw new ParticipantUrlRefused(`host ${host} cannot be resolved, and participantHostAllowlist admits it only by its address`);
      });
    } catch (err) {
      if (!(err instanceof ParticipantUrlRefused)) throw err;
      throw new RatifyError('PARTICIPANT_URL_REFUSED', `participant ${participant}: url ${err.message}`, { details: { participant } });
    }
  }

  /** check() of `rawUrl`, remembered while the member list stays the same; throws as check() does. */
  private checkForEnlist(rawUrl: string): boolean {
    this.selfHostPorts(); // drops enlistPassed if the member list changed
    const known = this.enlistPassed.get(rawUrl);
    if (known !== undefined) return known;
    const byAddress = this.check(new URL(rawUrl));
    if (this.enlistPassed.size >= ENLIST_CACHE_MAX) this.enlistPassed.clear();
    this.enlistPassed.set(rawUrl, byAddress);
    return byAddress;
  }

  /** Before a call (cached briefly): null when the URL may be called as far as its text tells; else why not. */
  checkUrl(rawUrl: string): ParticipantUrlRefused | null {
    const now = this.now();
    const cached = this.verdicts.get(rawUrl);
    if (cached !== undefined && now - cached.at < VERDICT_CACHE_MS) return cached.refused;
    let refused: ParticipantUrlRefused | null = null;
    try {
      this.check(new URL(rawUrl));
    } catch (err) {
      refused = err instanceof ParticipantUrlRefused ? err : new ParticipantUrlRefused('the url is not valid');
    }
    if (this.verdicts.size >= VERDICT_CACHE_MAX) this.verdicts.clear();
    this.verdicts.set(rawUrl, { refused, at: now });
    return refused;
  }

  /**
   * When a connection to `host`:`port` is opened: resolves the host, checks
   * every address it has, and returns the one to connect to (IPv4 first).
   * Throws ParticipantUrlRefused, or the lookup's error.
   */
  async connectAddress(host: string, port: number, protocol: string): Promise<string> {
    const addresses = await this.resolveChecked(host, port, protocol);
    const first = addresses.find((a) => a.length === 4) ?? addresses[0];
    if (first === undefined) throw new ParticipantUrlRefused(`host ${host} has no address`);
    return formatIp(first);
  }

  /** The static rules (1-5) on a URL's text. True when the allowlist can only judge it by its resolved address. */
  private check(url: URL): boolean {
    if (url.username !== '' || url.password !== '')
      throw new ParticipantUrlRefused('it carries credentials (user:password@); participants get none from the URL');
    const host = hostOf(url);
    const port = portOf(url);
    const ip = parseIp(host);
    if (ip !== null) forbiddenAddress(ip);
    else if (METADATA_NAMES.has(host)) throw new ParticipantUrlRefused('it names a cloud metadata service');
    if (this.isMemberByName(host, port)) throw new ParticipantUrlRefused('it points at a member of this cluster');
    const match = this.allowlistMatch(url, host, port, ip);
    if (this.allowlist.length > 0 && match === 'no')
      throw new ParticipantUrlRefused(`its host ${host}${url.port === '' ? '' : `:${url.port}`} is not in participantHostAllowlist`);
    const loopback = ip === null ? isLocalhostName(host) : isLoopback(ip);
    if (loopback && !this.loopbackAllowed && match !== 'yes') throw loopbackRefused();
    return match === 'address';
  }

  /** Every address of `host`, each checked (rules 2, 3, 4 by address, 5); any refused one refuses the host. */
  private async resolveChecked(host: string, port: number, protocol: string): Promise<IpBytes[]> {
    const literal = parseIp(host);
    const addresses =
      literal !== null ? [literal] : (await this.lookup(host)).map((a) => parseIp(a)).filter((a): a is IpBytes => a !== null);
    const self = await this.selfAddresses();
    const byName = literal === null && this.allowlist.some((e) => nameMatches(e, host, port, protocol));
    for (const ip of addresses) {
      forbiddenAddress(ip);
      if (self.has(`${formatIp(ip)}|${port}`)) throw new ParticipantUrlRefused('it points at a member of this cluster');
      const byAddress = this.allowlist.some((e) => addressMatches(e, ip, port, protocol));
      if (this.allowlist.length > 0 && !byName && !byAddress)
        throw new ParticipantUrlRefused(`host ${host} resolves outside participantHostAllowlist`);
      if (isLoopback(ip) && !this.loopbackAllowed && !byName && !byAddress) throw loopbackRefused();
    }
    return addresses;
  }

  private isMemberByName(host: string, port: number): boolean {
    return this.selfHostPorts().some((m) => m.host === host && m.port === port);
  }

  /** Host and port of every member's peer URL and of this node's listen address. */
  private selfHostPorts(): readonly HostPort[] {
    const urls = this.opts.memberUrls();
    const known = this.members;
    if (known !== null && sameStrings(known.urls, urls)) return known.hostPorts;
    const out: HostPort[] = [{ host: normalizeHost(this.opts.listen.host), port: this.opts.listen.port }];
    for (const raw of urls) {
      try {
        const u = new URL(raw);
        out.push({ host: hostOf(u), port: portOf(u) });
      } catch {
        // A member URL that does not parse cannot be connected to either.
      }
    }
    // A copy: the caller may hand out an array it changes later.
    this.members = { urls: [...urls], hostPorts: out };
    this.enlistPassed.clear();
    return out;
  }

  /** "ip|port" of every address a member or this node answers on; resolved at most every SELF_CACHE_MS. */
  private selfAddresses(): Promise<ReadonlySet<string>> {
    const targets = this.selfHostPorts();
    const key = targets.map((t) => `${t.host}|${t.port}`).join(',');
    const now = this.now();
    if (this.self !== null && this.self.key === key && now - this.self.at < SELF_CACHE_MS) return this.self.addresses;
    const addresses = resolveSelf(targets, this.opts.listen, this.lookup);
    this.self = { key, at: now, addresses };
    return addresses;
  }

  private allowlistMatch(url: URL, host: string, port: number, ip: IpBytes | null): 'yes' | 'no' | 'address' {
    let byAddressLater = false;
    for (const e of this.allowlist) {
      // A URL prefix judges the whole URL here, path included (nameMatches knows only the origin).
      if (e.kind === 'urlPrefix') {
        if (prefixMatches(e, url)) return 'yes';
        continue;
      }
      if (nameMatches(e, host, port, url.protocol)) return 'yes';
      if (ip !== null && addressMatches(e, ip, port, url.protocol)) return 'yes';
      if (ip === null && e.kind === 'cidr') byAddressLater = true;
    }
    return byAddressLater ? 'address' : 'no';
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Parses participantHostAllowlist; `errors` name each bad entry. */
export function parseAllowlist(raw: readonly unknown[]): { entries: AllowEntry[]; errors: string[] } {
  const entries: AllowEntry[] = [];
  const errors: string[] = [];
  if (raw.length > ALLOWLIST_ENTRIES_MAX)
    errors.push(`participantHostAllowlist (${raw.length} entries) must hold at most ${ALLOWLIST_ENTRIES_MAX}`);
  for (const item of raw) {
    const entry = typeof item === 'string' && item.length > 0 && item.length <= 2048 ? parseEntry(item.trim()) : null;
    if (entry === null)
      errors.push(`participantHostAllowlist entry ${JSON.stringify(item)} must be a host, host:port, CIDR or http(s) URL prefix`);
    else entries.push(entry);
  }
  return { entries, errors };
}

function parseEntry(s: string): AllowEntry | null {
  if (s.includes('://')) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return null;
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '')
      return null;
    return { kind: 'urlPrefix', protocol: u.protocol, host: hostOf(u), port: portOf(u), path: u.pathname };
  }
  if (s.includes('/')) {
    const cidr = parseCidr(s);
    return cidr === null ? null : { kind: 'cidr', cidr };
  }
  if (isIP(s) !== 0) return { kind: 'host', host: normalizeHost(s) };
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s);
  const plain = /^([^:]+):(\d{1,5})$/.exec(s);
  const withPort = bracketed ?? plain;
  if (withPort !== null) {
    const port = Number(withPort[2]);
    const host = withPort[1] ?? '';
    if (port < 1 || port > 65535 || !isHostText(host)) return null;
    return { kind: 'hostPort', host: normalizeHost(host), port };
  }
  return isHostText(s) ? { kind: 'host', host: normalizeHost(s) } : null;
}

function isHostText(s: string): boolean {
  return isIP(s) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(s);
}

/** Lower case, no trailing dot, and one spelling per IP address. */
function normalizeHost(host: string): string {
  const ip = parseIp(host);
  return ip === null ? host.toLowerCase().replace(/\.$/, '') : formatIp(ip);
}

/** A URL's host as normalizeHost() spells it (brackets gone). */
function hostOf(url: URL): string {
  return normalizeHost(url.hostname.replace(/^\[(.*)\]$/, '$1'));
}

function portOf(url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

function nameMatches(e: AllowEntry, host: string, port: number, protocol: string): boolean {
  switch (e.kind) {
    case 'host':
      return e.host === host;
    case 'hostPort':
      return e.host === host && e.port === port;
    case 'urlPrefix':
      // At connect time only the origin is known; the path was checked when enlisted and before the call.
      return e.protocol === protocol && e.host === host && e.port === port;
    case 'cidr':
      return false;
    default:
      return assertNever(e);
  }
}

function addressMatches(e: AllowEntry, ip: IpBytes, port: number, protocol: string): boolean {
  switch (e.kind) {
    case 'cidr':
      return cidrContains(e.cidr, ip);
    case 'host':
    case 'hostPort':
    case 'urlPrefix':
      return nameMatches(e, formatIp(ip), port, protocol);
    default:
      return assertNever(e);
  }
}

/** Same origin, and the URL's path is the prefix or continues it at a "/". */
function prefixMatches(e: Extract<AllowEntry, { kind: 'urlPrefix' }>, url: URL): boolean {
  if (url.protocol !== e.protocol || hostOf(url) !== e.host || portOf(url) !== e.port) return false;
  const path = url.pathname;
  if (!path.startsWith(e.path)) return false;
  return e.path.endsWith('/') || path.length === e.path.length || path[e.path.length] === '/';
}

function forbiddenAddress(ip: IpBytes): void {
  for (const f of FORBIDDEN) if (cidrContains(f.cidr, ip)) throw new ParticipantUrlRefused(`it points at ${f.why}`);
}

function isUnspecified(ip: IpBytes): boolean {
  return UNSPECIFIED.some((c) => cidrContains(c, ip));
}

function isLoopback(ip: IpBytes): boolean {
  return LOOPBACK.some((c) => cidrContains(c, ip));
}

/** "localhost" and names under it resolve to loopback (RFC 6761). */
function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

/** True when `host` (a listen address) is on loopback only. */
export function isLoopbackHost(host: string): boolean {
  const ip = parseIp(host);
  return ip === null ? isLocalhostName(host.toLowerCase()) : isLoopback(ip);
}

function loopbackRefused(): ParticipantUrlRefused {
  return new ParticipantUrlRefused(
    'it points at loopback, which is refused while this node listens beyond loopback (allow it in participantHostAllowlist)',
  );
}

async function resolveSelf(targets: readonly HostPort[], listen: HostPort, lookup: Lookup): Promise<ReadonlySet<string>> {
  const out = new Set<string>();
  const add = (address: string, port: number): void => {
    const ip = parseIp(address);
    if (ip !== null) out.add(`${formatIp(ip)}|${port}`);
  };
  for (const t of targets) {
    const ip = parseIp(t.host);
    if (ip !== null && !isUnspecified(ip)) {
      add(t.host, t.port);
      continue;
    }
    if (ip === null) {
      // A member whose name does not resolve now cannot be reached through it either.
      for (const a of await lookup(t.host).catch(() => [])) add(a, t.port);
    }
  }
  // Listening on every interface: each of this machine's addresses reaches this node.
  const wildcard = parseIp(listen.host);
  if (wildcard !== null && isUnspecified(wildcard)) {
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) add(i.address, listen.port);
    add('127.0.0.1', listen.port);
    add('::1', listen.port);
  }
  return out;
}

async function defaultLookup(host: string): Promise<readonly string[]> {
  const results = await dnsLookup(host, { all: true });
  return results.map((r) => r.address);
}
