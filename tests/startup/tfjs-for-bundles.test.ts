import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as tfjs from '@tensorflow/tfjs';
import * as tfjsCore from '@tensorflow/tfjs-core';
import { BUNDLE_DIR, tfjsForBundlesPlugin } from '../../scripts/build-bundles.mjs';
// @ts-expect-error: a plain ES module of the build, without declarations
import * as forBundles from '../../scripts/tfjs-for-bundles.mjs';

/**
 * The bundled `fedtune client` and `fedtune coordinator` import `@tensorflow/tfjs` as
 * scripts/tfjs-for-bundles.mjs: tfjs-core, tfjs-layers and the CPU backend, without the WebGL backend,
 * tfjs-data and the converter (docs/performance.md, fast start). What is left out must be exactly those, and
 * none of fedtune's Node sources may use them: a name used but left out would be `undefined` only in the bundle.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE_SOURCES = ['shared/src', 'coordinator/src', 'client-node/src', 'cli/src'];
const LEFT_OUT_PACKAGES = ['@tensorflow/tfjs-backend-webgl', '@tensorflow/tfjs-data', '@tensorflow/tfjs-converter'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.ts$/.test(name) ? [path] : [];
  });
}

const leftOut = Object.keys(tfjs).filter((name) => !(name in forBundles));

describe('the bundles\' @tensorflow/tfjs', () => {
  it('registers the gradients and the chained tensor methods as the package does (bundled alone, in a fresh process)', async () => {
    // In this process @tensorflow/tfjs is imported above and has registered both already: bundle a script that
    // imports only this file, as scripts/build-bundles.mjs does, and run it in a fresh Node.
    const script = [
      "import * as tf from './scripts/tfjs-for-bundles.mjs';",
      "(async () => {",
      "await tf.setBackend('cpu');",
      "const t = tf.tensor1d([3, 4]);",
      "const norm = typeof t.norm === 'function' ? t.norm().dataSync()[0] : 'no t.norm';",
      "const grad = tf.grad((x) => tf.sum(tf.square(x)))(t).dataSync();",
      "console.log(JSON.stringify({ norm, grad: Array.from(grad) }));",
      "})();",
    ].join('\n');
    const bundled = await build({ stdin: { contents: script, resolveDir: ROOT, loader: 'js' }, bundle: true, platform: 'node', format: 'cjs', mainFields: ['main', 'module'], write: false, logLevel: 'silent', plugins: [tfjsForBundlesPlugin(ROOT)] });
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-tfjs-bundle-'));
    const file = join(dir, 'probe.cjs');
    writeFileSync(file, bundled.outputFiles[0].text);
    let out: string;
    try {
      out = execFileSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ norm: 5, grad: [6, 8] });
  }, 120_000);

  it('leaves out only the WebGL backend, tfjs-data, the converter and the package\'s version', async () => {
    const fromLeftOutPackages = new Set<string>(['version', 'data']);
    for (const pkg of LEFT_OUT_PACKAGES) for (const name of Object.keys(await import(pkg))) fromLeftOutPackages.add(name);
    expect(leftOut.length).toBeGreaterThan(0);
    expect(leftOut.filter((name) => !fromLeftOutPackages.has(name))).toEqual([]);
    // The core API is all there, from the same engine as tfjs-core's.
    for (const name of ['tensor', 'tidy', 'dispose', 'setBackend', 'train', 'io', 'sequential', 'layers', 'loadLayersModel', 'version_core', 'version_layers']) expect(name in forBundles, name).toBe(true);
    expect((forBundles as typeof tfjs).engine()).toBe(tfjsCore.engine());
  });

  it('nothing it leaves out is used by fedtune\'s Node sources', () => {
    const uses: string[] = [];
    for (const dir of NODE_SOURCES) {
      for (const file of sourceFiles(join(ROOT, dir))) {
        const text = readFileSync(file, 'utf8');
        for (const name of leftOut) if (new RegExp(`\\btf\\.${name}\\b`).test(text)) uses.push(`${file.slice(ROOT.length)}: tf.${name}`);
        for (const pkg of LEFT_OUT_PACKAGES) if (text.includes(`'${pkg}'`)) uses.push(`${file.slice(ROOT.length)}: ${pkg}`);
      }
    }
    expect(uses).toEqual([]);
  });

  it('the built client bundle holds none of the left-out packages, nor the package\'s own Node build (npm run build:js first)', () => {
    const inputs = JSON.parse(readFileSync(join(ROOT, BUNDLE_DIR, 'client.inputs.json'), 'utf8')) as string[];
    expect(inputs.some((p: string) => p.includes('@tensorflow/tfjs-layers/'))).toBe(true);
    expect(inputs.filter((p: string) => LEFT_OUT_PACKAGES.some((pkg) => p.includes(`${pkg}/`)) || p.includes('@tensorflow/tfjs/'))).toEqual([]);
  });
});
