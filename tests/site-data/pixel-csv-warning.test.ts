import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pixelCsvWarning } from '@fedtune/shared';
import { pretrainedModelDir } from '@fedtune/coordinator';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

const dir = tempDir('fedtune-pixel-csv-');

/** A CSV of `rows` rows: a label and `features` columns from `value(row, column)`. */
function csv(name: string, features: number, value: (r: number, c: number) => number | string, rows = 20): string {
  const path = join(dir, name);
  const lines = [['label', ...Array.from({ length: features }, (_, c) => `f${c}`)].join(',')];
  for (let r = 0; r < rows; r++) lines.push([r % 2, ...Array.from({ length: features }, (_, c) => value(r, c))].join(','));
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const ds = (features: number, values: number[]) => ({ featureShape: [features], x: Float32Array.from(values) });

describe('a CSV of raw 0–255 pixel values is warned about (and read as before)', () => {
  it('pixelCsvWarning: square feature counts of integers in 0–255 with some above 1, nothing else', () => {
    expect(pixelCsvWarning(ds(784, Array.from({ length: 784 }, (_, i) => i % 256)))).toMatch(/^warning: all 784 features are integers in 0–255 \(up to 255\): this looks like 28×28 images of raw pixel values/);
    expect(pixelCsvWarning(ds(64, Array.from({ length: 64 }, (_, i) => i)))).toMatch(/8×8 images/);
    expect(pixelCsvWarning(ds(784, Array.from({ length: 784 }, (_, i) => (i % 256) / 255)))).toBeUndefined(); // scaled already
    expect(pixelCsvWarning(ds(784, Array.from({ length: 784 }, (_, i) => i % 2)))).toBeUndefined(); // binary: nothing to scale
    expect(pixelCsvWarning(ds(785, Array.from({ length: 785 }, (_, i) => i % 256)))).toBeUndefined(); // not a square
    expect(pixelCsvWarning(ds(16, Array.from({ length: 16 }, (_, i) => i)))).toBeUndefined(); // too few to be an image
    expect(pixelCsvWarning(ds(784, Array.from({ length: 784 }, (_, i) => (i === 5 ? 256 : i % 256))))).toBeUndefined();
    expect(pixelCsvWarning(ds(784, Array.from({ length: 784 }, (_, i) => (i === 5 ? 2.5 : i % 256))))).toBeUndefined();
    expect(pixelCsvWarning({ featureShape: [28, 28, 1], x: Float32Array.from({ length: 784 }, (_, i) => i % 256) })).toBeUndefined(); // images
    expect(pixelCsvWarning(ds(784, Array.from({ length: 784 }, (_, i) => i % 256)), { imageFolder: true })).toMatch(/--data DIR --image-size 28x28\)$/);
  });

  it('fedtune client --check-only warns on a 785-column 0–255 CSV, not on ordinary tabular data', async () => {
    const pixels = csv('pixels.csv', 784, (r, c) => (r * 7 + c) % 256);
    const tabular = csv('tabular.csv', 4, (r, c) => (c === 0 ? r * 10 : c === 1 ? (r % 3) + 0.5 : r % 7));
    const [p, t] = await Promise.all([pixels, tabular].map((data) => fedtune(['client', '--site', 's', '--data', data, '--check-only']).done));
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout.split('\n').filter((l) => l.startsWith('warning: all 784 features'))).toHaveLength(1);
    expect(p.stdout).toContain('28×28 images of raw pixel values');
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout + t.stderr).not.toContain('raw pixel values');
  }, 60_000);

  it('fedtune evaluate warns on it too, and evaluates it as before', async () => {
    const pixels = csv('eval-pixels.csv', 784, (r, c) => (r * 3 + c) % 256);
    const exit = await fedtune(['evaluate', '--model', pretrainedModelDir('mlp'), '--data', pixels, '--examples', '10', '--adversarial-examples', '0', '--noise', 'none', '--corruptions', 'none']).done;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr.trim().split('\n').filter((l) => l.includes('raw pixel values'))).toHaveLength(1);
    expect(exit.stdout).toMatch(/^clean: accuracy .* on 10 examples$/m);
  }, 60_000);
});
