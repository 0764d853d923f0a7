// The docker CLI, run with a time bound and its stderr in the error. Compose is either
// the v2 plugin (`docker compose`) or the v1 binary (`docker-compose`, which Debian
// bookworm packages); both take the same subcommands used here.
import { execFile } from 'node:child_process';

const DOCKER_TIMEOUT_MS = 120_000;
const OUTPUT_BYTES_MAX = 16 * 1024 * 1024;

export function run(cmd: string, args: readonly string[], timeoutMs = DOCKER_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { timeout: timeoutMs, maxBuffer: OUTPUT_BYTES_MAX }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

export function docker(args: readonly string[], timeoutMs?: number): Promise<string> {
  return run('docker', args, timeoutMs);
}

/** The compose command that works here: ['docker', 'compose'] or ['docker-compose']. */
export async function findCompose(): Promise<readonly string[]> {
  try {
    await run('docker', ['compose', 'version'], 15_000);
    return ['docker', 'compose'];
  } catch {
    try {
      await run('docker-compose', ['version'], 15_000);
      return ['docker-compose'];
    } catch {
      throw new Error('neither `docker compose` nor `docker-compose` is installed');
    }
  }
}

export async function dockerEngineProblem(): Promise<string | null> {
  try {
    await docker(['info', '--format', '{{.ServerVersion}}'], 15_000);
    return null;
  } catch (e) {
    return `no Docker engine answers: ${(e as Error).message.split('\n')[0] ?? ''}`;
  }
}
