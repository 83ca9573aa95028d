import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { REPO } from '../helpers/stack.js';
import { tmpdir } from 'node:os';

/**
 * What the console's browser tests share: finding Chromium (Debian's /usr/bin/chromium, or
 * $CHROMIUM), a context that can reach only loopback (the console must work offline: any other
 * request is aborted and remembered), screenshots into docs/screenshots, and axe-core.
 */

export const CHROMIUM = process.env.CHROMIUM || ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));

/** The reason to skip the browser suites, or false to run them (in CI, never skipped: the suite fails instead). */
export const SKIP: string | false = CHROMIUM || process.env.CI === 'true' ? false : 'no Chromium found (install Debian\'s chromium or set CHROMIUM=/path/to/chrome): console browser tests skipped';

export const VIEWPORT = { width: 1280, height: 800 };

export interface Offline {
  context: BrowserContext;
  /** Requests to anything but loopback, which were aborted, and the page that made them. */
  foreign: { url: string; from: string }[];
}

const LOOPBACK = /^(?:https?|wss?):\/\/(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?\//;

export async function offlineContext(browser: Browser, opts: Parameters<Browser['newContext']>[0] = {}): Promise<Offline> {
  const context = await browser.newContext({ viewport: VIEWPORT, ...opts });
  const foreign: Offline['foreign'] = [];
  await context.route((url) => !LOOPBACK.test(url.href) && !url.href.startsWith('data:') && !url.href.startsWith('blob:'), (route) => {
    let from = '';
    try {
      from = route.request().frame().url();
    } catch {
      // A request of no frame (a service worker's): unknown origin.
    }
    foreign.push({ url: route.request().url(), from });
    return route.abort();
  });
  return { context, foreign };
}

/**
 * With GATEHOUSE_SCREENSHOTS=1 (how the README's are made): docs/screenshots; otherwise a
 * temporary directory, so that `npm test` takes every screenshot but leaves the checkout as it was.
 */
const SHOTS = process.env.GATEHOUSE_SCREENSHOTS === '1' ? join(REPO, 'docs/screenshots') : join(tmpdir(), 'gatehouse-console-screenshots');

/** console-<name>.png, the viewport only (1280×800, small). */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `console-${name}.png`), animations: 'disabled', caret: 'hide' });
}

export interface AxeViolation { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }

/** axe-core's violations of impact serious or critical on the page as it is (needs a context with bypassCSP). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: createRequire(import.meta.url).resolve('axe-core/axe.min.js') });
  const result = await page.evaluate<{ violations: AxeViolation[] }>('axe.run(document, { resultTypes: ["violations"] })');
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

