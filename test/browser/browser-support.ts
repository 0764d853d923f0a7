// Decides, once per test file, whether the browser tests can run here, and says why not.
//
// They drive Debian's Chromium (/usr/bin/chromium, or RATIFY_CHROMIUM) with
// playwright-core, which downloads no browser of its own. Without Chromium they
// skip with the reason printed, unless required: under CI=true (which .ci/run sets,
// after installing chromium) or RATIFY_BROWSER_REQUIRED=1 a missing browser is a
// failure, so a green CI run always means the page was tested in a real browser.
import { accessSync, constants, existsSync } from 'node:fs';

export type BrowserSupport =
  | { readonly kind: 'ready'; readonly executablePath: string }
  | { readonly kind: 'unavailable'; readonly reason: string; readonly required: boolean };

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/**
 * Flags that keep Chromium off the network and quiet: no QUIC, no component or
 * safe-browsing updates, no sync, no first-run UI, no GPU. No sandbox: CI runs as root.
 */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function browserRequired(env: NodeJS.ProcessEnv): boolean {
  return env['CI'] === 'true' || env['RATIFY_BROWSER_REQUIRED'] === '1';
}

export function probeBrowser(env: NodeJS.ProcessEnv = process.env): BrowserSupport {
  const required = browserRequired(env);
  const unavailable = (reason: string): BrowserSupport => ({ kind: 'unavailable', reason, required });
  if (env['RATIFY_SKIP_BROWSER_TESTS'] === '1') return unavailable('RATIFY_SKIP_BROWSER_TESTS=1');
  const executablePath = env['RATIFY_CHROMIUM'] ?? DEFAULT_CHROMIUM;
  if (!existsSync(executablePath)) {
    return unavailable(
      `no Chromium at ${executablePath}: install it with \`apt-get install -y chromium\` (.ci/run does), or point RATIFY_CHROMIUM at one`,
    );
  }
  try {
    accessSync(executablePath, constants.X_OK);
  } catch {
    return unavailable(`${executablePath} is not executable`);
  }
  return { kind: 'ready', executablePath };
}
