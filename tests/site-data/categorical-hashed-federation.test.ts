import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { categoryBucket, encodeTabularRows, modelToFiles, SeededRandom, type RunReport } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';
import { fedtune, fedtuneCoordinator } from '../helpers/fedtune-cli.ts';

const BUCKETS = 16;

// Two sites whose categorical column has different category sets ({blue, red} and {green, red, yellow}):
// one-hot fitted per site would give them 3 and 4 features. With --category-buckets 16 both encode into the
// same 16 + 1 features, the federation learns, and a third site none of them trained on (the coordinator's
// holdout, encoded the same way) is classified well above chance.
it('a CSV with a categorical column, hashed at each site: `fedtune coordinator` + 2 `fedtune client` learn, above chance on a held-out site', async () => {
  const dir = tempDir();
  const random = new SeededRandom(11);
  expect(new Set(['blue', 'green', 'red', 'yellow'].map((c) => categoryBucket('colour', c, BUCKETS))).size).toBe(4);
  // The label is 1 for red or yellow, else 0; x is noise.
  const rows = (colours: string[], n: number) => Array.from({ length: n }, (_, i) => colours[i % colours.length]).map((c) => `${c === 'red' || c === 'yellow' ? 1 : 0},${c},${random.uniform(0, 1).toFixed(3)}`);
  writeFileSync(join(dir, 'site-1.csv'), `label,colour,x\n${rows(['blue', 'red'], 40).join('\n')}\n`);
  writeFileSync(join(dir, 'site-2.csv'), `label,colour,x\n${rows(['green', 'red', 'yellow'], 42).join('\n')}\n`);
  const heldOut = encodeTabularRows(`label,colour,x\n${rows(['blue', 'green', 'red', 'yellow'], 80).join('\n')}`.split('\n').map((l) => l.split(',')), { labelColumn: 'label', categoryBuckets: BUCKETS });
  const f = heldOut.dataset.featureShape[0];
  expect(f).toBe(BUCKETS + 1);
  const holdout = Array.from(heldOut.dataset.y, (y, r) => [y, ...Array.from(heldOut.dataset.x.subarray(r * f, (r + 1) * f))].join(','));
  writeFileSync(join(dir, 'holdout.csv'), `label,${Array.from({ length: f }, (_, j) => `f${j}`).join(',')}\n${holdout.join('\n')}\n`);
  await selectNodeBackend();
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [f], units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })] });
  const files = await modelToFiles(model);
  model.dispose();
  mkdirSync(join(dir, 'model'), { recursive: true });
  writeFileSync(join(dir, 'model', 'model.json'), JSON.stringify(files.modelJson));
  writeFileSync(join(dir, 'model', 'weights.bin'), files.weightsBin);

  const coordinator = fedtuneCoordinator(['--port', '0', '--host', '127.0.0.1', '--model', join(dir, 'model'), '--holdout', join(dir, 'holdout.csv'), '--rounds', '3', '--min-sites', '2', '--epochs', '3', '--lr', '0.5', '--out', join(dir, 'runs'), '--run-id', 'hashed', '--federated-eval', 'never', '--robustness', 'never']);
  const url = await coordinator.url;
  if (!url) throw new Error(`coordinator exited: ${(await coordinator.done).stderr}`);
  const clients = [1, 2].map((k) => fedtune(['client', '--server', url, '--site', `site-${k}`, '--data', join(dir, `site-${k}.csv`), '--category-buckets', String(BUCKETS)]));
  const results = await Promise.all(clients.map((c) => c.done));
  const c = await coordinator.done;
  expect(c.code, c.stderr + c.stdout).toBe(0);
  for (const r of results) {
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`columns: 2 → ${BUCKETS + 1} features; hashed into ${BUCKETS} buckets each: colour`);
    expect(r.stdout).not.toMatch(/blue|green|red|yellow/);
  }
  const report = JSON.parse(readFileSync(join(dir, 'runs', 'hashed', 'report.json'), 'utf8')) as RunReport;
  expect(report.status).toBe('complete');
  expect(report.final!.accuracy).toBeGreaterThan(0.9);
  expect(report.pretrained!.accuracy).toBeLessThan(report.final!.accuracy);
}, 300_000);
