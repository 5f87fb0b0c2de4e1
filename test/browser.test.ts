// bce-wasm in a real browser: Debian's Chromium driven by playwright-core (never a browser download).
// The demo page, both builds' parity inside the browser (each in its own Worker), a Worker computing
// the seed loss, the inline entry (no .wasm fetched), and a screenshot of the demo checked for content.
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import * as bce from 'bce-wasm';
import './setup.js';
import { available, withBrowser } from './browser/chromium.js';
// @ts-expect-error plain JavaScript module shared with the browser
import { runCases } from './browser/cases.js';


interface Focal {
  gammas: number[];
  logits: number[];
  curves: { gamma: number; loss: number[]; grad: number[] }[];
  tail: { x: number; y: number; torch: number; ours: number; exact: number; ulps: number }[];
}

describe.skipIf(!available)('in headless Chromium', () => {
  const ctx = withBrowser();

  async function open(path: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
    const page = await ctx.browser.newPage({ viewport: { width: 1150, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(ctx.base + path);
    return { page, errors, requests };
  }

  it('the demo page reproduces the seed, draws its plots, runs a Worker and its benchmark', async () => {
    const { page, errors, requests } = await open('examples/browser/');
    await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });
    expect(errors).toEqual([]);
    expect(await page.textContent('#backend')).toMatch(/^simd128/);
    const seed = Number(await page.textContent('#seed-loss'));
    expect(seed).toBe(bce.binaryCrossEntropy(bce.sigmoid([1.9072, 1.1079, 1.4906, -0.6584, -0.0512, 0.7608, -0.0614, 0.6583, 0.1095]), [0, 1, 1, 1, 1, 1, 0, 0, 0]));
    expect(seed.toFixed(4)).toBe('0.8000');
    expect(await page.textContent('#seed-hand')).toMatch(/^0\.80001477/);
    expect(await page.textContent('#seed-sigmoid')).toContain('0.8707');
    // The Worker's own instance gives the same number.
    const demo = await page.evaluate(() => (window as unknown as { __demo: { seedLoss: number; workerLoss: number } }).__demo);
    expect(demo.workerLoss).toBe(demo.seedLoss);
    // Every plot has drawn at least two data curves of hundreds of points (besides reference lines).
    for (const id of ['plot-loss', 'plot-logits', 'plot-grad']) {
      const counts = await page.$$eval(`#${id} polyline.curve`, (ls) => ls.map((l) => l.getAttribute('points')!.split(' ').length));
      expect(counts.filter((c) => c > 100).length, id).toBeGreaterThanOrEqual(2);
    }
    // The focal-loss section: a curve per gamma in both plots, the library's own values (the same as
    // Node's, to the bit), less loss for larger gamma where p_t is high, and the tail table.
    for (const id of ['plot-focal', 'plot-focal-grad']) {
      const counts = await page.$$eval(`#${id} polyline.curve`, (ls) => ls.map((l) => l.getAttribute('points')!.split(' ').length));
      expect(counts.filter((c) => c > 500).length, id).toBe(5);
    }
    const focal = await page.evaluate(() => (window as unknown as { __focal: Focal }).__focal);
    expect(focal.gammas).toEqual([0, 0.5, 1, 2, 5]);
    const ones = new Float32Array(focal.logits.length).fill(1);
    for (const c of focal.curves) {
      const node = bce.sigmoidFocalLossForwardBackward(focal.logits, ones, { gamma: c.gamma, alpha: -1, reduction: 'none' });
      expect(Float32Array.from(c.loss)).toEqual(node.loss);
      expect(Float32Array.from(c.grad)).toEqual(node.grad);
    }
    expect(Float32Array.from(focal.curves[0].loss)).toEqual(bce.binaryCrossEntropyWithLogits(focal.logits, ones, { reduction: 'none' }));
    const high = focal.logits.findIndex((x) => x > Math.log(9)); // p_t > 0.9
    for (let k = 1; k < 5; k++) expect(focal.curves[k].loss[high]).toBeLessThan(focal.curves[k - 1].loss[high]);
    expect(focal.tail.length).toBeGreaterThanOrEqual(5);
    for (const r of focal.tail) expect(r.ulps, `x = ${r.x}, y = ${r.y}`).toBeLessThanOrEqual(4);
    const minus25 = focal.tail.find((r) => r.x === -25 && r.y === 0)!;
    expect(minus25.torch).toBe(0);
    expect(minus25.ours).toBeCloseTo(1.3887943864771144e-11, 18);
    expect(await page.textContent('#tail-table')).toContain('1.3887944e-11');
    // Editing: a target of the wrong length shows the library's RangeError; a fix shows the loss.
    await page.fill('#edit-target', '0, 1');
    expect(await page.textContent('#edit-error')).toMatch(/RangeError: .*target has length 2 but input has length 9/);
    await page.fill('#edit-target', '0, 1, 1, 1, 1, 1, 0, 0, 0');
    expect(Number(await page.textContent('#edit-loss'))).toBeCloseTo(0.8000068, 6);
    // The in-page benchmark: a ratio over the plain JavaScript loop, and agreeing losses.
    const b = await page.waitForFunction(() => (window as unknown as { __bench?: object }).__bench, null, { timeout: 60_000 });
    const bench = (await b.jsonValue()) as { ratio: number; agree: number; wasmMps: number; jsMps: number };
    expect(bench.agree).toBeLessThan(1e-5);
    expect(bench.ratio).toBeGreaterThan(1);
    mkdirSync('test-results', { recursive: true });
    writeFileSync('test-results/browser-bench.json', JSON.stringify(bench, null, 2));
    // No CDN: every request went to the local server.
    expect(requests.every((p) => p.startsWith('/'))).toBe(true);
    expect(requests).toContain('/dist/bce_wasm.wasm');
    // A screenshot, saved and checked for content: many distinct, non-white pixels.
    const png = await page.screenshot({ fullPage: true });
    writeFileSync('test-results/demo-page.png', png);
    const stats = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = 'data:image/png;base64,' + b64;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let ink = 0;
      const colors = new Set<number>();
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) ink++;
        colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      }
      return { ink: ink / (d.length / 4), colors: colors.size, width: c.width, height: c.height };
    }, png.toString('base64'));
    expect(stats.height).toBeGreaterThan(900);
    expect(stats.ink).toBeGreaterThan(0.02);
    expect(stats.colors).toBeGreaterThan(50);
    await page.close();
  }, 120_000);

  it('both builds, each in its own Worker, match Node bit for bit (parity cases)', async () => {
    const { page, errors } = await open('test/browser/parity.html');
    const [simd, scalar] = await page.evaluate(() => (window as unknown as { __parity: Promise<unknown[]> }).__parity) as {
      backend: string;
      results: Record<string, unknown>;
    }[];
    expect(errors).toEqual([]);
    expect(simd.backend).toBe('simd128');
    expect(scalar.backend).toBe('scalar');
    const node = runCases(bce);
    expect(Object.keys(node).length).toBeGreaterThan(100);
    expect(simd.results).toEqual(node);
    expect(scalar.results).toEqual(node);
    expect(node.rangeError).toMatch(/^RangeError: .*input\[5\] = 2/);
    await page.close();
  }, 60_000);

  it('the inline entry runs without fetching any .wasm', async () => {
    const { page, errors, requests } = await open('test/browser/inline.html');
    const r = (await (await page.waitForFunction(() => (window as unknown as { __inline?: object }).__inline)).jsonValue()) as {
      backend: string;
      loss: number;
    };
    expect(errors).toEqual([]);
    expect(r.backend).toBe('simd128');
    expect(r.loss.toFixed(4)).toBe('0.8000');
    expect(requests.filter((p) => p.endsWith('.wasm'))).toEqual([]);
    await page.close();
  }, 60_000);
});
