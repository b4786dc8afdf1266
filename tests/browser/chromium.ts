import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** The Chromium the browser tests drive (.ci/run installs Debian's); FEDTUNE_CHROMIUM overrides. */
export const CHROMIUM_PATH = process.env.FEDTUNE_CHROMIUM ?? '/usr/bin/chromium';

export type BrowserTestMode = 'run' | 'skip' | 'fail';

/**
 * Whether the browser tests run: with Chromium they run; without it they are skipped locally, but in CI
 * (`CI` set) they must fail rather than pass silently.
 */
export function browserTestMode(env: NodeJS.ProcessEnv = process.env, chromiumPresent = existsSync(CHROMIUM_PATH)): BrowserTestMode {
  if (chromiumPresent) return 'run';
  return env.CI ? 'fail' : 'skip';
}

export const MISSING_CHROMIUM = `no Chromium at ${CHROMIUM_PATH} (install it: apt-get install -y chromium, or set FEDTUNE_CHROMIUM)`;

/** The mode for this process, warning once on the console when the tests are skipped. */
export function browserTestModeWithNotice(file: string): BrowserTestMode {
  const mode = browserTestMode();
  if (mode === 'skip') console.warn(`[${file}] SKIPPED browser tests: ${MISSING_CHROMIUM}. In CI (CI set) they fail instead.`);
  return mode;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`browser tests must run in CI, but there is ${MISSING_CHROMIUM}`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}
