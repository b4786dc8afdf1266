import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { modelToFiles, SeededRandom, type RunReport } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';
import { fedtune, fedtuneCoordinator } from '../helpers/fedtune-cli.ts';

async function saveModel(dir: string, layers: tf.layers.Layer[]): Promise<void> {
  await selectNodeBackend();
  const model = tf.sequential({ layers });
  const files = await modelToFiles(model);
  model.dispose();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify(files.modelJson));
  writeFileSync(join(dir, 'weights.bin'), files.weightsBin);
}

/** `fedtune coordinator` with the model and holdout, and two `fedtune client --data …` processes. */
async function federation(dir: string, runId: string, sites: Array<string[]>, lr = '0.05'): Promise<{ report: RunReport; clients: string[] }> {
  const coordinator = fedtuneCoordinator(['--port', '0', '--host', '127.0.0.1', '--model', join(dir, 'model'), '--holdout', join(dir, 'holdout.csv'), '--rounds', '2', '--min-sites', String(sites.length), '--epochs', '3', '--lr', lr, '--out', join(dir, 'runs'), '--run-id', runId, '--federated-eval', 'never', '--robustness', 'never']);
  const url = await coordinator.url;
  if (!url) throw new Error(`coordinator exited: ${(await coordinator.done).stderr}`);
  const clients = sites.map((args, k) => fedtune(['client', '--server', url, '--site', `site-${k + 1}`, ...args]));
  const results = await Promise.all(clients.map((c) => c.done));
  const c = await coordinator.done;
  expect(c.code, c.stderr + c.stdout).toBe(0);
  for (const r of results) expect(r.code, r.stderr + r.stdout).toBe(0);
  return { report: JSON.parse(readFileSync(join(dir, 'runs', runId, 'report.json'), 'utf8')) as RunReport, clients: results.map((r) => r.stdout) };
}

describe('data from disk runs a federation from the CLI', () => {
  it('image folders: two sites with PNG class folders, an 8×8 grayscale model', async () => {
    const dir = tempDir();
    const random = new SeededRandom(5);
    // Class "dark" has a dark left half, class "light" a dark right half.
    const pixel = (cls: number, x: number) => ((x < 4) === (cls === 0) ? 30 : 220) + Math.round(random.uniform(-20, 20));
    for (const site of [1, 2]) {
      for (const [cls, name] of ['dark', 'light'].entries()) {
        mkdirSync(join(dir, `site-${site}`, name), { recursive: true });
        for (let i = 0; i < 20; i++) {
          const image = new pngjs.PNG({ width: 8, height: 8 });
          for (let p = 0; p < 64; p++) {
            const v = pixel(cls, p % 8);
            image.data.set([v, v, v, 255], 4 * p);
          }
          writeFileSync(join(dir, `site-${site}`, name, `${i}.png`), pngjs.PNG.sync.write(image));
        }
      }
    }
    const rows = Array.from({ length: 100 }, (_, i) => [i % 2, ...Array.from({ length: 64 }, (_, p) => (pixel(i % 2, p % 8) / 255).toFixed(4))].join(','));
    writeFileSync(join(dir, 'holdout.csv'), `label,${Array.from({ length: 64 }, (_, p) => `p${p}`).join(',')}\n${rows.join('\n')}\n`);
    await saveModel(join(dir, 'model'), [tf.layers.flatten({ inputShape: [8, 8, 1] }), tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })]);
    const { report, clients } = await federation(dir, 'images', [1, 2].map((k) => ['--data', join(dir, `site-${k}`), '--image-size', '8x8']));
    expect(report.status).toBe('complete');
    expect(report.final!.accuracy).toBeGreaterThan(0.9);
    for (const out of clients) {
      expect(out).toContain('classes (sorted folder names): 0=dark, 1=light');
      expect(out).toContain('data check: 40 examples, 64 features per example (shape [8, 8, 1])');
    }
  }, 300_000);

  it('a CSV with a categorical column: one-hot fitted on each site, 4 features for the model', async () => {
    const dir = tempDir();
    const random = new SeededRandom(9);
    const colours = ['blue', 'green', 'red'];
    // The label is 1 for red, else 0; the numeric column is noise.
    const row = (i: number) => {
      const c = colours[i % 3];
      return { c, x: random.uniform(0, 1).toFixed(3), y: c === 'red' ? 1 : 0 };
    };
    for (const site of [1, 2]) {
      const lines = Array.from({ length: 40 }, (_, i) => row(i + site)).map((r) => `${r.y},${r.c},${r.x}`);
      writeFileSync(join(dir, `site-${site}.csv`), `label,colour,x\n${lines.join('\n')}\n`);
    }
    const holdout = Array.from({ length: 90 }, (_, i) => row(i)).map((r) => [r.y, ...colours.map((c) => (c === r.c ? 1 : 0)), r.x].join(','));
    writeFileSync(join(dir, 'holdout.csv'), `label,blue,green,red,x\n${holdout.join('\n')}\n`);
    await saveModel(join(dir, 'model'), [tf.layers.dense({ inputShape: [4], units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })]);
    const { report, clients } = await federation(dir, 'categorical', [1, 2].map((k) => ['--data', join(dir, `site-${k}.csv`)]), '0.5');
    expect(report.status).toBe('complete');
    expect(report.final!.accuracy).toBeGreaterThan(0.9);
    for (const out of clients) {
      expect(out).toContain('columns: 2 → 4 features; one-hot: colour (3 categories)');
      // The data check names no category (raw values stay on the site).
      const check = out.split('\n').filter((l) => l.startsWith('data check') || l.startsWith('  '));
      expect(check.join('\n')).not.toMatch(/red|green|blue/);
    }
  }, 300_000);
});
