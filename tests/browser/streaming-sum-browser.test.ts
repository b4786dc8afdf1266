import type { Browser } from 'playwright-core';
import { build, type Rollup } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { StreamingFedAvg } from '../../shared/src/strategies/streaming-fedavg.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';

// The exact streaming sum bundled by vite (as client-web is) and run in headless Chromium: the wasm SIMD
// kernel instantiates synchronously there too, and gives Node's bits.

const mode = browserTestModeWithNotice('tests/browser/streaming-sum-browser.test.ts');

describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('have Chromium to run in', () => {
    throw new Error(`the browser tests must run in CI, but there is ${MISSING_CHROMIUM}`);
  });
});

interface Outcome {
  kind: string;
  state: number[];
  result: number[][];
  refused: string;
  unchanged: boolean;
}

/** Runs in the page (and in Node for comparison): adds the updates, then one with a NaN, and reports. */
function run(S: { StreamingFedAvg: typeof StreamingFedAvg }, lengths: number[], updates: Array<{ w: number[][]; n: number }>): Outcome {
  const s = new S.StreamingFedAvg(lengths, { kernel: 'wasm' });
  for (const u of updates) s.add(u.w.map((a) => Float32Array.from(a)), u.n);
  const before = Array.from(s.toState().sums);
  let refused = '';
  try {
    s.add(lengths.map((n, t) => Float32Array.from({ length: n }, (_, i) => (t === 1 && i === 1 ? Number.NaN : 1))), 3);
  } catch (err) {
    refused = `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
  const after = Array.from(s.toState().sums);
  return { kind: s.kernelKind, state: after, result: s.result().map((a) => Array.from(a)), refused, unchanged: before.every((b, i) => b === after[i]) };
}

describe.runIf(mode === 'run')('exact streaming sum in the browser bundle', () => {
  let browser: Browser;
  let bundle: string;

  beforeAll(async () => {
    const out = (await build({
      configFile: false,
      logLevel: 'silent',
      build: { write: false, minify: false, lib: { entry: 'shared/src/strategies/streaming-fedavg.ts', formats: ['iife'], name: 'FedtuneSum' } },
    })) as Rollup.RollupOutput | Rollup.RollupOutput[];
    bundle = (Array.isArray(out) ? out[0] : out).output[0].code;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('runs the wasm SIMD kernel in Chromium with the bits Node gets', async () => {
    const rng = new SeededRandom(14);
    const lengths = [1001, 5];
    const updates = Array.from({ length: 6 }, (_, k) => ({
      w: lengths.map((n) => Array.from({ length: n }, () => Math.fround(rng.normal() * 10 ** (rng.int(8) - 4)))),
      n: 1 + rng.int(2 ** 29 - 2),
    }));
    updates[0].w[0][0] = 2 ** 24;
    updates[1].w[0][1] = -(2 ** -149);
    const page = await browser.newPage();
    await page.setContent('<!doctype html><title>sum</title>');
    await page.addScriptTag({ content: bundle });
    const inBrowser = await page.evaluate(
      ([fn, l, u]) => (new Function('S', 'l', 'u', `return (${fn})(S, l, u)`) as (S: unknown, l: number[], u: unknown) => Outcome)((globalThis as Record<string, unknown>).FedtuneSum, l, u),
      [run.toString(), lengths, updates] as const,
    );
    const inNode = run({ StreamingFedAvg }, lengths, updates);
    expect(inBrowser.kind).toBe('wasm');
    expect(inBrowser.refused).toBe('non_finite: update has a non-finite value (NaN) in tensor 1 at index 1');
    expect(inBrowser.unchanged).toBe(true);
    expect(inBrowser.state).toEqual(inNode.state);
    expect(inBrowser.result).toEqual(inNode.result);
    await page.close();
  }, 120_000);
});
