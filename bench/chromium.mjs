// Debian's Chromium (/usr/bin/chromium or CHROMIUM_PATH) driven by playwright-core, for the
// benchmarks that also run in a browser (engines.mjs, options.mjs): a fresh page per measurement, on
// a same-origin document of examples/browser/serve.mjs, so that the page can import the package and
// the bench modules. Never downloads a browser: without one (or without playwright-core) it is null.

import { existsSync } from 'node:fs';

/**
 * Starts Chromium, or returns null if it or playwright-core is missing. `inPage(fn, arg, prepare)`
 * runs `fn(arg)` in a fresh page (after `prepare(page)`, for routes) and returns its result; a
 * crash or 300 s without an answer rejects. `close()` ends the browser and the server.
 */
export async function startChromium() {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path)) return null;
  let playwright;
  try {
    playwright = await import('playwright-core');
  } catch {
    return null;
  }
  const { serve } = await import('../examples/browser/serve.mjs');
  const { server, url } = await serve(0);
  const browser = await playwright.chromium.launch({
    executablePath: path,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    name: `Chromium ${browser.version()}`,
    inPage: async (fn, arg, prepare) => {
      const page = await browser.newPage();
      let timer;
      const failed = new Promise((_, reject) => {
        page.on('crash', () => reject(new Error('Error: the page crashed')));
        timer = setTimeout(() => reject(new Error('Error: timed out after 300 s')), 300_000);
      });
      failed.catch(() => {}); // observed through the race below
      try {
        if (prepare) await prepare(page);
        await page.goto(`${url}bench/data.mjs`);
        return await Promise.race([page.evaluate(fn, arg), failed]);
      } finally {
        clearTimeout(timer);
        await Promise.race([page.close(), new Promise((r) => setTimeout(r, 5000))]);
      }
    },
    close: async () => {
      await browser.close();
      server.close();
    },
  };
}
