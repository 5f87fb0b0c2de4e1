// The package through Vite and webpack 5 with no plugin and no wasm configuration: each bundles
// test/fixtures/bundle-app (bce-wasm imported by name, init() with no argument), must emit the .wasm
// files as assets, and the bundle must compute the seed loss in headless Chromium.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { available, withBrowser } from './browser/chromium.js';

const app = fileURLToPath(new URL('./fixtures/bundle-app/', import.meta.url));
const out = fileURLToPath(new URL('../test-results/bundles/', import.meta.url));

async function viteBuild(dir: string): Promise<void> {
  const { build } = await import('vite');
  await build({ root: app, base: './', logLevel: 'silent', build: { outDir: dir, emptyOutDir: true } });
}

async function webpackBuild(dir: string): Promise<void> {
  const webpack = (await import('webpack')).default;
  rmSync(dir, { recursive: true, force: true });
  await new Promise<void>((resolve, reject) =>
    webpack({ mode: 'production', entry: app + 'main.js', output: { path: dir, filename: 'main.js' } }, (err, stats) => {
      if (err || stats?.hasErrors()) reject(err ?? new Error(stats!.toString('errors-only')));
      else resolve();
    }),
  );
  writeFileSync(dir + 'index.html', '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script src="./main.js"></script>');
}

const BUNDLERS: [string, (dir: string) => Promise<void>][] = [
  ['vite', viteBuild],
  ['webpack', webpackBuild],
];

describe.each(BUNDLERS)('bundled by %s', (name, bundle) => {
  const dir = `${out}${name}/`;

  it('emits both .wasm builds as assets', async () => {
    mkdirSync(out, { recursive: true });
    await bundle(dir);
    const files = readdirSync(dir, { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.wasm')).length, files.join(', ')).toBe(2);
  }, 120_000);

  describe.skipIf(!available)('in headless Chromium', () => {
    const ctx = withBrowser();

    it('runs: the bundle loads its .wasm and computes the seed loss', async () => {
      const page = await ctx.browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${ctx.base}test-results/bundles/${name}/index.html`);
      const r = (await (await page.waitForFunction(() => (window as unknown as { __bundled?: object }).__bundled, null, { timeout: 30_000 })).jsonValue()) as {
        backend: string;
        loss: number;
      };
      expect(errors).toEqual([]);
      expect(r.backend).toBe('simd128');
      expect(r.loss.toFixed(4)).toBe('0.8000');
    }, 60_000);
  });
});
