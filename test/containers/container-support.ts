// Decides, once per test file, whether the container suite can run here, and says why not.
//
// It runs when a Docker engine answers and the project image exists. Otherwise the suite is
// skipped with the reason printed, unless it is required (containersRequired): then a
// missing piece is a failure, not a skip. Under CI=true it is always required, so a CI run
// can never go green with the suite silently off (RATIFY_SKIP_CONTAINER_TESTS included).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getContainerRuntimeClient, ImageName } from 'testcontainers';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const IMAGE = process.env['RATIFY_IMAGE'] ?? 'ratify:local';
const ENGINE_PROBE_TIMEOUT_MS = 15_000;

export type ContainerSupport =
  | { readonly kind: 'ready'; readonly image: string; readonly warnings: readonly string[] }
  | { readonly kind: 'unavailable'; readonly reason: string; readonly required: boolean };

/** Sources the image is built from; the label written by scripts/docker/build-image.sh. */
const FEATURE_SOURCES = ['src/cli.ts', 'examples/bank/bank-service.ts'];

/**
 * Whether a missing engine or image fails the suite instead of skipping it: in CI
 * (CI=true, which .ci/run sets), or when RATIFY_CONTAINERS_REQUIRED=1. Only a local
 * run outside CI may skip, and it says why.
 */
export function containersRequired(env: NodeJS.ProcessEnv): boolean {
  return env['CI'] === 'true' || env['RATIFY_CONTAINERS_REQUIRED'] === '1';
}

export async function probeContainerSupport(env: NodeJS.ProcessEnv = process.env): Promise<ContainerSupport> {
  const required = containersRequired(env);
  const unavailable = (reason: string): ContainerSupport => ({ kind: 'unavailable', reason, required });
  if (env['RATIFY_SKIP_CONTAINER_TESTS'] === '1') return unavailable('RATIFY_SKIP_CONTAINER_TESTS=1');
  const missing = FEATURE_SOURCES.filter((f) => !existsSync(join(REPO_ROOT, f)));
  if (missing.length > 0) return unavailable(`not in this tree yet: ${missing.join(', ')}`);

  let client: Awaited<ReturnType<typeof getContainerRuntimeClient>>;
  try {
    client = await withTimeout(getContainerRuntimeClient(), ENGINE_PROBE_TIMEOUT_MS, 'engine probe');
  } catch (err) {
    return unavailable(`no Docker engine reachable (${firstLine(err)}); scripts/docker/ensure-docker.sh starts one`);
  }
  if (!(await client.image.exists(ImageName.fromString(IMAGE)))) {
    return unavailable(`image ${IMAGE} not found; build it with scripts/docker/build-image.sh`);
  }
  const warnings: string[] = [];
  const info = await client.container.dockerode.getImage(IMAGE).inspect();
  const built = info.Config?.Labels?.['org.ratify.source-hash'];
  const current = sourceHash();
  if (built !== current) {
    warnings.push(
      `image ${IMAGE} was built from other sources (label ${String(built)}, tree ${current}); rebuild with scripts/docker/build-image.sh`,
    );
  }
  return { kind: 'ready', image: IMAGE, warnings };
}

/** The same fingerprint scripts/docker/build-image.sh puts in the image label. */
export function sourceHash(): string {
  const files: string[] = [];
  for (const top of ['src', 'examples', 'scripts']) collectFiles(join(REPO_ROOT, top), files);
  const listed = files
    .map((f) => relative(REPO_ROOT, f))
    .filter((f) => !f.startsWith('scripts/docker/'))
    .concat(['package.json', 'package-lock.json', 'tsconfig.json'])
    .sort();
  const lines = listed
    .map(
      (f) =>
        `${createHash('sha256')
          .update(readFileSync(join(REPO_ROOT, f)))
          .digest('hex')}  ${f}\n`,
    )
    .join('');
  return createHash('sha256').update(lines).digest('hex').slice(0, 16);
}

function collectFiles(dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collectFiles(path, out);
    else out.push(path);
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
