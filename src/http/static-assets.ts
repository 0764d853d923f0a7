// The files of the dashboard and the docs page (src/http/assets/), read once when
// the app is built and served from memory.
//
// They are plain files, not TypeScript: tsc does not copy them, so `npm run build`
// does (scripts/copy-assets.ts puts them beside this module in dist/). Pages get
// a strict Content-Security-Policy: scripts, styles and requests from this node
// only, nothing inline, no frames. The pages build their DOM with textContent,
// never innerHTML, so a participant name or error text is never markup.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';

export const ASSET_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Names GET /assets/{name} accepts: lower-case words, one extension. */
export const ASSET_NAME_PATTERN = '^[a-z0-9-]+\\.(js|css)$';

export interface Asset {
  readonly name: string;
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

export class AssetStore {
  private readonly byName = new Map<string, Asset>();

  /** Reads every servable file of `dir`; throws when the directory is missing (a build without the copy step). */
  constructor(dir: string = ASSET_DIR) {
    if (!existsSync(dir)) {
      throw new RatifyError(
        'INTERNAL',
        `the dashboard's files are missing from ${dir}: run \`npm run build\`, which copies src/http/assets there`,
      );
    }
    for (const name of readdirSync(dir)) {
      const contentType = CONTENT_TYPES[extname(name)];
      if (contentType === undefined) continue; // tsconfig.json of the page scripts, and the like
      const body = readFileSync(join(dir, name));
      this.byName.set(name, { name, body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
  }

  /** A file the store must hold (the pages): a missing one is a broken build, caught when the app is built. */
  require(name: string): Asset {
    const a = this.byName.get(name);
    if (a === undefined) throw new RatifyError('INTERNAL', `asset ${name} is missing from ${ASSET_DIR}; run \`npm run build\``);
    return a;
  }

  /** A script or style by the name in the URL; 404 for anything else (pages are served at their own paths). */
  script(name: string): Asset {
    const a = new RegExp(ASSET_NAME_PATTERN).test(name) ? this.byName.get(name) : undefined;
    if (a === undefined) throw new RatifyError('ROUTE_NOT_FOUND', `no asset ${name}`);
    return a;
  }
}

/**
 * Sends an asset with its type, validators and the page policy. Browsers revalidate
 * (no-cache) so a node upgraded in place serves its new scripts at once; an
 * unchanged file costs a 304.
 */
export function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  void reply
    .header('content-type', asset.contentType)
    .header('cache-control', 'no-cache')
    .header('etag', asset.etag)
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', PAGE_CSP)
    .header('referrer-policy', 'no-referrer');
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.send(asset.body);
}
