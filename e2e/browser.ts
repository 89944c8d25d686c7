import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by
 * playwright-core (no browser download), a fresh user-data-dir each time, and every
 * console error, page error and failed request of every page collected, so a test can
 * assert that there were none.
 *
 * @example
 *   const browser = await openBrowser();
 *   try {
 *     const page = await browser.newPage();
 *     await page.goto(url);
 *     expect(browser.problems).toEqual([]);
 *   } finally {
 *     await browser.close();
 *   }
 */
export interface BrowserSession {
  context: BrowserContext;
  newPage(): Promise<Page>;
  /** Console errors, uncaught page errors and failed requests, in order, as text. */
  problems: string[];
  close(): Promise<void>;
}

export const CHROMIUM_PATH = process.env.APPTRACE_CHROMIUM ?? '/usr/bin/chromium';

/** The flags of the project's brief: no sandbox (root in a container), no network chatter. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function openBrowser(options: { width?: number; height?: number } = {}): Promise<BrowserSession> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'apptrace-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: options.width ?? 1400, height: options.height ?? 900 },
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const problems: string[] = [];
  const watch = (page: Page): void => {
    page.on('console', (message) => {
      // For "Failed to load resource" the location is the resource, which says more than the page.
      if (message.type() === 'error')
        problems.push(`console: ${message.text()} (${message.location().url || page.url()})`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message} (${page.url()})`));
    page.on('requestfailed', (request) => {
      // An EventSource torn down by navigation or close is not a failure of the page.
      const reason = request.failure()?.errorText ?? '';
      if (reason === 'net::ERR_ABORTED') return;
      problems.push(`request failed: ${request.url()} ${reason}`);
    });
  };
  context.on('page', watch);
  for (const page of context.pages()) watch(page);
  return {
    context,
    problems,
    newPage: () => context.newPage(),
    async close() {
      try {
        await context.close();
      } finally {
        await rm(userDataDir, { recursive: true, force: true });
      }
    },
  };
}

/** test-results/ at the project root (gitignored): screenshots and other test artefacts. */
export async function artefactPath(name: string): Promise<string> {
  let dir = dirname(fileURLToPath(import.meta.url));
  // From e2e/ or dist/e2e/: the project root is the first parent with a package.json.
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  const out = join(dir, 'test-results');
  await mkdir(out, { recursive: true });
  return join(out, name);
}

/**
 * How many pixels of a canvas are strongly coloured. uPlot draws axes and grid in greys
 * and the series in the colours we give them, so coloured pixels mean data lines were
 * drawn, not just an empty frame.
 */
export async function coloredPixels(page: Page, selector: string): Promise<number> {
  return page.$eval(selector, (canvas) => {
    const c = canvas as HTMLCanvasElement;
    const ctx = c.getContext('2d');
    if (!ctx || c.width === 0 || c.height === 0) return 0;
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let count = 0;
    for (let i = 0; i < px.length; i += 4) {
      const r = px[i]!;
      const g = px[i + 1]!;
      const b = px[i + 2]!;
      if (px[i + 3]! > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) count++;
    }
    return count;
  });
}
