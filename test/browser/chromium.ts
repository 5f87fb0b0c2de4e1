// Debian's Chromium for the browser suites, driven by playwright-core (never a browser download),
// with the flags this closed network needs. Required under CI; elsewhere suites skip if it is absent.
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
// @ts-expect-error plain JavaScript module
import { serve } from '../../examples/browser/serve.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM}: CI must install it`);

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * For a describe block: starts the demo server (repository root) and Chromium before its tests and
 * stops both after. The returned object's fields are set once the block's tests run.
 */
export function withBrowser(): { browser: Browser; base: string } {
  const ctx = {} as { browser: Browser; base: string; server?: { close(): void } };
  beforeAll(async () => {
    const { server, url } = await serve(0);
    ctx.server = server;
    ctx.base = url;
    ctx.browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await ctx.browser?.close();
    ctx.server?.close();
  });
  return ctx;
}
