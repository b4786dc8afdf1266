import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { architectures, nearestNeighbourCandidates, wordSubstitutionAttack } from '@fedtune/shared';
import { BUNDLE_DIR, BUNDLED_COMMANDS, REQUIRED_VIEW_NAMESPACE, TFJS_ES_MODULE_PACKAGES, esModuleEntry, tfjsForBundlesPlugin } from '../../scripts/build-bundles.mjs';

/**
 * The bundles hold ONE tfjs-core (scripts/build-bundles.mjs, TFJS_ES_MODULE_PACKAGES). With tfjs-core's
 * CommonJS build beside the ES modules that register the chained ops and gradients, a bundle held two
 * copies: the tensors were the ES copy's, whose op handler was never set, so `clone()` threw "Cannot read
 * properties of null (reading 'clone')" and the bundled coordinator's word-substitution attack aborted a
 * spam run. tests/text/text-site-cli-federation.test.ts runs that spam run through the real bins.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// The word-substitution attack as the coordinator runs it (shared's sources), on a seeded text-cnn, with
// the failing sequence spelled out first: a fresh tensor's clone(), a chained method, a gradient.
const PROBE = `
import * as tf from '@tensorflow/tfjs';
import { textCnn } from './shared/src/model/architectures/text-cnn.ts';
import { nearestNeighbourCandidates } from './shared/src/robustness/text/candidate-table.ts';
import { wordSubstitutionAttack } from './shared/src/robustness/text/word-substitution-attack.ts';
import { runProbe } from 'probe-body';
(async () => {
  await tf.setBackend('cpu');
  const t = tf.tensor1d([3, 4]);
  const basics = { clone: Array.from(t.clone().dataSync()), norm: t.norm().dataSync()[0], grad: Array.from(tf.grad((x) => tf.sum(tf.square(x)))(t).dataSync()) };
  console.log(JSON.stringify({ basics, attack: runProbe(tf, textCnn, nearestNeighbourCandidates, wordSubstitutionAttack) }));
})().catch((err) => { console.log(JSON.stringify({ error: String(err && err.message) })); });
`;

/** The attack on a seeded model: the same function runs in the bundle and, with the tfjs package, here. */
const PROBE_BODY = `
export function runProbe(tf, textCnn, nearestNeighbourCandidates, wordSubstitutionAttack) {
  const seqLen = 8, vocab = 30, n = 12;
  const model = textCnn.build({ inputShape: [seqLen], numClasses: 2, seed: 7, dropout: 0.25, vocabularySize: vocab });
  const candidates = nearestNeighbourCandidates(model.layers[0].getWeights()[0], 4, 2);
  const ids = Int32Array.from({ length: n * seqLen }, (_, i) => 2 + ((i * 7 + Math.floor(i / seqLen)) % (vocab - 2)));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
  const before = tf.memory().numTensors;
  const r = wordSubstitutionAttack(model, ids, labels, { budget: 3, candidates });
  return { adversarialIds: Array.from(r.adversarialIds), correctBefore: Array.from(r.correctBefore), success: Array.from(r.success), replaced: Array.from(r.replaced), leaked: tf.memory().numTensors - before };
}
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fedtune-one-tfjs-core-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bundleProbe(): Promise<{ file: string; inputs: string[] }> {
  const body = join(dir, 'probe-body.mjs');
  writeFileSync(body, PROBE_BODY);
  const result = await build({
    stdin: { contents: PROBE, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // As scripts/build-bundles.mjs bundles: CommonJS "main" first, and its tfjs plugin.
    mainFields: ['main', 'module'],
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [tfjsForBundlesPlugin(ROOT), { name: 'probe-body', setup: (b) => b.onResolve({ filter: /^probe-body$/ }, () => ({ path: body })) }],
  });
  const file = join(dir, 'probe.cjs');
  writeFileSync(file, result.outputFiles[0].text);
  return { file, inputs: Object.keys(result.metafile.inputs) };
}

/** The tfjs-core files of a bundle's inputs that only a second copy would add. */
function secondCoreCopies(inputs: string[]): string[] {
  const engines = inputs.filter((p) => /@tensorflow\/tfjs-core\/dist\/engine\.js$/.test(p));
  const commonJsBuilds = inputs.filter((p) => /@tensorflow\/tfjs[a-z-]*\/dist\/tf-[a-z-]+\.node\.js$/.test(p));
  return [...engines.slice(1), ...commonJsBuilds];
}

describe('the bundles hold one tfjs-core', () => {
  it('each tfjs package a bundle may take resolves to its ES modules ("module" entry)', () => {
    expect(TFJS_ES_MODULE_PACKAGES).toEqual(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm']);
    for (const pkg of TFJS_ES_MODULE_PACKAGES) expect(esModuleEntry(ROOT, pkg)).toBe(join(ROOT, 'node_modules', pkg, 'dist', 'index.js'));
    expect(() => esModuleEntry(ROOT, 'yaml')).toThrow('yaml has no "module" entry');
  });

  it('the bundled word-substitution attack runs in a fresh process, as the tfjs package runs it here', async () => {
    const { file, inputs } = await bundleProbe();
    expect(inputs.filter((p) => /tfjs-core\/dist\/engine\.js$/.test(p))).toHaveLength(1);
    expect(secondCoreCopies(inputs)).toEqual([]);
    const out = execFileSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const bundled = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(bundled.error).toBeUndefined();
    expect(bundled.basics).toEqual({ clone: [3, 4], norm: 5, grad: [6, 8] });

    // The same attack with the tfjs package, in this process, on the same backend.
    const previous = tf.getBackend();
    await tf.setBackend('cpu');
    try {
      const { runProbe } = await import(join(dir, 'probe-body.mjs'));
      const here = runProbe(tf, architectures['text-cnn'], nearestNeighbourCandidates, wordSubstitutionAttack);
      expect(bundled.attack).toEqual(here);
      expect(here.leaked).toBe(0);
      // The attack did something to compare: some words were replaced.
      expect(here.replaced.some((r: number) => r > 0)).toBe(true);
    } finally {
      if (previous) await tf.setBackend(previous);
    }
  }, 180_000);

  it('a `require` of a tfjs package returns one CommonJS view of it, made once, whatever the number of call sites', async () => {
    // As the compiled code loads tfjs (scripts/build-js.mjs, REQUIRED_CJS_PACKAGES): a plain `require`, at
    // several places; and an `import` of the same package next to it.
    const script = [
      "import * as imported from '@tensorflow/tfjs';",
      "const a = require('@tensorflow/tfjs');",
      "const b = require('@tensorflow/tfjs');",
      "const wasmA = require('@tensorflow/tfjs-backend-wasm');",
      "const wasmB = require('@tensorflow/tfjs-backend-wasm');",
      "console.log(JSON.stringify({ same: a === b, sameWasm: wasmA === wasmB, tensor: typeof a.tensor, sameFunction: a.tensor === imported.tensor, engine: a.engine() === imported.engine(), exports: Object.keys(a).length, importedExports: Object.keys(imported).length, setWasmPaths: typeof wasmA.setWasmPaths }));",
    ].join('\n');
    const result = await build({ stdin: { contents: script, resolveDir: ROOT, loader: 'js' }, bundle: true, platform: 'node', format: 'cjs', mainFields: ['main', 'module'], write: false, metafile: true, logLevel: 'silent', plugins: [tfjsForBundlesPlugin(ROOT)] });
    expect(Object.keys(result.metafile.inputs).filter((p) => p.startsWith(`${REQUIRED_VIEW_NAMESPACE}:`))).toHaveLength(2);
    const file = join(dir, 'views.cjs');
    writeFileSync(file, result.outputFiles[0].text);
    const out = JSON.parse(execFileSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 }).trim().split('\n').at(-1)!);
    expect(out).toMatchObject({ same: true, sameWasm: true, tensor: 'function', sameFunction: true, engine: true, setWasmPaths: 'function' });
    expect(out.exports).toBeGreaterThan(400);
    expect(out.exports).toBe(out.importedExports);
  }, 120_000);

  it.each(Object.keys(BUNDLED_COMMANDS))('the built %s bundle holds one tfjs-core and no CommonJS tfjs build (npm run build:js first)', (command) => {
    const inputsFile = join(ROOT, BUNDLE_DIR, `${command}.inputs.json`);
    if (!existsSync(inputsFile)) throw new Error(`${inputsFile} is missing: run npm run build:js (npm test does)`);
    const inputs = JSON.parse(readFileSync(inputsFile, 'utf8')) as string[];
    expect(inputs.filter((p) => /tfjs-core\/dist\/engine\.js$/.test(p))).toHaveLength(1);
    expect(inputs.some((p) => p.includes('@tensorflow/tfjs-layers/dist/'))).toBe(true);
    expect(secondCoreCopies(inputs)).toEqual([]);
    // And in the bundle's text: tfjs-core's engine is there once (its global, `_tfengine`, as often as in engine.js).
    const count = (text: string) => text.split('_tfengine').length - 1;
    const once = count(readFileSync(esModuleEntry(ROOT, '@tensorflow/tfjs-core').replace(/index\.js$/, 'engine.js'), 'utf8'));
    expect(once).toBeGreaterThan(0);
    const bundle = readFileSync(join(ROOT, BUNDLE_DIR, `${command}.cjs`), 'latin1');
    expect(count(bundle)).toBe(once);
    // tfjs is turned into a CommonJS view once, not at each of its ~50 `require`s.
    expect(bundle.split('__toCommonJS(tfjs_for_bundles_exports').length - 1).toBe(1);
  });
});
