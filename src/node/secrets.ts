// Where the cluster secrets come from, and what makes them acceptable.
//
// Sources, one of: --cluster-secret / RATIFY_CLUSTER_SECRET / "clusterSecret" in the
// config file (visible to `ps` as a flag, so prefer the others), or
// --cluster-secret-file / RATIFY_CLUSTER_SECRET_FILE, a file with one secret per line
// (blank lines and lines starting with # are ignored), as a Kubernetes or Docker
// secret mounts it.
//
// Rotation without downtime: a node accepts every secret listed and signs with the
// first. Restart the nodes one at a time with "old,new" (all still sign with old,
// and now accept new), then with "new,old" (all sign with new, and still accept
// old from those not restarted yet), then with "new". In a flag or variable the
// secrets are separated by commas; in a file, one per line.
import { readFileSync } from 'node:fs';

/** Fewer characters could be guessed offline from one captured MAC (README, Security). */
export const CLUSTER_SECRET_LENGTH_MIN = 16;
/** Secrets accepted at once: the current one and those being rotated in or out. */
export const CLUSTER_SECRETS_MAX = 4;

/** "a,b" -> ["a", "b"]; null or blank -> []. */
export function parseSecretList(raw: string | null): string[] {
  if (raw === null) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Reads a secret file into the comma-separated form of --cluster-secret. Throws an Error naming the file. */
export function readSecretFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`clusterSecretFile ${path} cannot be read: ${(e as Error).message}`);
  }
  const secrets = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (secrets.length === 0) throw new Error(`clusterSecretFile ${path} holds no secret (one per line)`);
  if (secrets.some((s) => s.includes(','))) throw new Error(`clusterSecretFile ${path}: a secret must not contain a comma`);
  return secrets.join(',');
}

/** What is wrong with a resolved list of secrets (never the secrets themselves). */
export function secretErrors(secrets: readonly string[]): string[] {
  const errors: string[] = [];
  if (secrets.length > CLUSTER_SECRETS_MAX)
    errors.push(`clusterSecret lists ${secrets.length} secrets, at most ${CLUSTER_SECRETS_MAX} are accepted`);
  secrets.forEach((s, i) => {
    if (s.length < CLUSTER_SECRET_LENGTH_MIN) {
      errors.push(
        `clusterSecret${secrets.length > 1 ? ` #${i + 1}` : ''} (${s.length} characters) must be at least ${CLUSTER_SECRET_LENGTH_MIN} characters`,
      );
    }
  });
  return errors;
}
