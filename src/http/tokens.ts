// Client API tokens: who a caller is (its principal) and what it may do (its role).
//
// Tokens come from a file (--tokens-file, RATIFY_TOKENS_FILE) or from the
// environment (RATIFY_TOKENS), never from a command-line value, which every user
// of the machine can read in the process list. One token per line:
//
//   # principal   role     token
//   payments      client   3q2+7w8e9r0t1y2u3i4o5p6a
//   dashboard     reader   sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//   ops           admin    Zm9vYmFyYmF6cXV4cXV1eA
//
// Fields are separated by blanks; `#` starts a comment. In RATIFY_TOKENS, `;`
// also ends an entry. A token written `sha256:<64 hex digits>` is the SHA-256
// of the real token, so the file need not hold the token itself. A principal
// may have several tokens (rotation), all with one role.
//
// Roles, each allowing what the one before allows:
//   reader  GET routes of the client API (transactions, cluster view)
//   client  also create, enlist, commit and abort transactions
//   admin   also membership, leadership and maintenance (the cluster secret,
//           when one is set, still admits admin calls too)
//
// A presented token is hashed and its digest compared with every known digest
// with timingSafeEqual, all of them, always: the time taken depends on how many
// tokens are configured, never on how much of a token is right. Tokens are never
// logged, and no error message repeats one (a bad line is named by its number).
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RatifyError } from '../errors.js';

export type Role = 'reader' | 'client' | 'admin';
/** What each role allows, as a rank: a role allows every call that a lower rank allows. */
export const ROLE_RANK = { reader: 1, client: 2, admin: 3 } as const satisfies Record<Role, number>;

export function isRole(x: unknown): x is Role {
  return typeof x === 'string' && Object.hasOwn(ROLE_RANK, x);
}

/** The authenticated caller of a client or admin route. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

export const TOKENS_ENV = 'RATIFY_TOKENS';
/** Enough for every service and person of a deployment; bounds the per-request comparison work. */
export const TOKENS_MAX = 1024;
/** About 96 bits as base64: shorter tokens can be guessed. */
export const TOKEN_LENGTH_MIN = 16;
export const TOKEN_LENGTH_MAX = 512;
export const PRINCIPAL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;
/** RFC 6750's b64token: what may follow "Bearer " in an Authorization header. */
const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;
const HASHED_PREFIX = 'sha256:';

interface Entry {
  readonly principal: Principal;
  readonly digest: Buffer;
}

export class ClientTokens {
  /** No tokens: the client API is open (and the node says so at start-up). */
  static readonly NONE = new ClientTokens([]);

  private constructor(private readonly entries: readonly Entry[]) {}

  /** Parses a token file's text; throws CONFIG_INVALID naming `source` and every bad line. */
  static parse(text: string, source: string): ClientTokens {
    const errors: string[] = [];
    const entries: Entry[] = [];
    const roleOf = new Map<string, Role>();
    const digests = new Set<string>();
    text.split(/\r?\n|;/).forEach((raw, i) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (line === '') return;
      const where = `${source} entry ${i + 1}`;
      const fields = line.split(/\s+/);
      const [name, role, token] = fields;
      if (fields.length !== 3 || name === undefined || role === undefined || token === undefined) {
        errors.push(`${where} must be "principal role token" (it has ${fields.length} fields)`);
        return;
      }
      if (!PRINCIPAL_PATTERN.test(name)) errors.push(`${where}: principal ${JSON.stringify(name)} must match ${PRINCIPAL_PATTERN.source}`);
      if (!isRole(role)) errors.push(`${where}: role ${JSON.stringify(role)} must be one of ${Object.keys(ROLE_RANK).join(', ')}`);
      const digest = digestOf(token, where, errors);
      if (!isRole(role) || digest === null) return;
      const earlier = roleOf.get(name);
      if (earlier !== undefined && earlier !== role)
        errors.push(`${where}: principal ${name} already has role ${earlier}; one principal has one role`);
      if (digests.has(digest.toString('hex'))) errors.push(`${where}: the same token appears more than once`);
      roleOf.set(name, role);
      digests.add(digest.toString('hex'));
      entries.push({ principal: { name, role }, digest });
    });
    if (entries.length > TOKENS_MAX) errors.push(`${source} holds ${entries.length} tokens, more than TOKENS_MAX (${TOKENS_MAX})`);
    if (errors.length > 0) throw new RatifyError('CONFIG_INVALID', `client tokens: ${errors.join('; ')}`, { details: { errors } });
    return new ClientTokens(entries);
  }

  /** True when tokens are configured: every client route needs one. */
  get enabled(): boolean {
    return this.entries.length > 0;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Distinct principals, for the start-up log line (names only). */
  principals(): string[] {
    return [...new Set(this.entries.map((e) => e.principal.name))];
  }

  /** The principal `presented` belongs to, or null; constant time in the token (see the top of this file). */
  verify(presented: string): Principal | null {
    const digest = sha256(presented);
    let found: Principal | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(e.digest, digest)) found = e.principal;
    }
    return found;
  }
}

/** Loads the tokens of a node: from `file`, or else from `env[RATIFY_TOKENS]`, or none. Both at once is an error. */
export function loadClientTokens(file: string | null, env: Readonly<Record<string, string | undefined>>): ClientTokens {
  const inline = env[TOKENS_ENV];
  const hasInline = inline !== undefined && inline.trim() !== '';
  if (file !== null && hasInline) {
    throw new RatifyError('CONFIG_INVALID', `client tokens come from tokensFile or ${TOKENS_ENV}, not both (one place to rotate them)`);
  }
  if (hasInline) return ClientTokens.parse(inline, TOKENS_ENV);
  if (file === null) return ClientTokens.NONE;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RatifyError('CONFIG_INVALID', `tokensFile ${file} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const tokens = ClientTokens.parse(text, `tokensFile ${file}`);
  if (!tokens.enabled)
    throw new RatifyError('CONFIG_INVALID', `tokensFile ${file} holds no tokens; remove the setting to run without client authentication`);
  return tokens;
}

/** The token of an `Authorization: Bearer <token>` header, or null when the header is absent or not of that form. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  const token = match?.[1];
  return token !== undefined && token.length <= TOKEN_LENGTH_MAX && TOKEN_PATTERN.test(token) ? token : null;
}

function digestOf(token: string, where: string, errors: string[]): Buffer | null {
  if (token.startsWith(HASHED_PREFIX)) {
    const hex = token.slice(HASHED_PREFIX.length);
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      errors.push(`${where}: a hashed token must be ${HASHED_PREFIX} and 64 hex digits`);
      return null;
    }
    return Buffer.from(hex, 'hex');
  }
  if (token.length < TOKEN_LENGTH_MIN || token.length > TOKEN_LENGTH_MAX) {
    errors.push(`${where}: the token (${token.length} characters) must be ${TOKEN_LENGTH_MIN} to ${TOKEN_LENGTH_MAX} characters`);
    return null;
  }
  if (!TOKEN_PATTERN.test(token)) {
    errors.push(
      `${where}: the token must use only letters, digits and - . _ ~ + / (then = padding), as an Authorization header carries it`,
    );
    return null;
  }
  return sha256(token);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
