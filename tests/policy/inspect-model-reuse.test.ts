import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { firstLayerStats, ModelInspectionThresholds, SeededRandom, sketchProjection, type Dataset } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head } from '../helpers/federation.ts';
import { trapWeightsMlp } from './trap-models.ts';

/** New Dense layers with `model`'s Dense weights, after `before` (new layers too), as one Sequential model. */
function rebuilt(model: tf.LayersModel, before: tf.layers.Layer[], inputShape: number[]): tf.LayersModel {
  const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
  const copies = dense.map((l, i) =>
    tf.layers.dense({ units: (l.getConfig() as { units: number }).units, activation: (l.getConfig() as { activation: 'relu' | 'linear' }).activation, ...(i === 0 && before.length === 0 ? { inputShape } : {}) }),
  );
  const twin = tf.sequential({ layers: [...before, ...copies] });
  copies.forEach((l, i) => l.setWeights(dense[i]!.getWeights()));
  return twin;
}

function imagesOf(ds: Dataset): Dataset {
  return { ...ds, featureShape: [28, 28, 1] };
}

let digits: Dataset;
beforeAll(async () => {
  await selectNodeBackend();
  digits = head(builtinDigits().holdout, 300);
});

describe('inspection work reused from one inspection to the next (inspect-model.ts)', () => {
  const thresholds = ModelInspectionThresholds.parse({});
  it.each([
    ['an ordinary MLP', () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }), tf.layers.dense({ units: 10 })] }), false],
    ['a trap-weights MLP', (d: Dataset) => trapWeightsMlp(d, { units: 256, batch: 32 }), true],
  ])('%s: its Dense layer behind a Flatten measures exactly what it measures fed flat inputs, every time', (_, build, trap) => {
    const twin = build(digits);
    const model = rebuilt(twin, [tf.layers.flatten({ inputShape: [28, 28, 1] })], [784]);
    const before = tf.memory().numTensors;
    const first = firstLayerStats(model, imagesOf(digits), 32, thresholds)!;
    const reference = firstLayerStats(twin, digits, 32, thresholds)!;
    expect({ ...first, layer: '', className: '' }).toEqual({ ...reference, layer: '', className: '' });
    expect(first.sparseUnits! > 100).toBe(trap);
    // The second inspection (the feeder and the projection kept) measures the same.
    expect(firstLayerStats(model, imagesOf(digits), 32, thresholds)).toEqual(first);
    expect(tf.memory().numTensors).toBe(before);
    // New weights in the same model are measured, not remembered.
    const dense = model.layers.find((l) => l.getClassName() === 'Dense')!;
    dense.setWeights(dense.getWeights().map((w) => tf.tidy(() => w.mul(-1))));
    const flipped = firstLayerStats(model, imagesOf(digits), 32, thresholds)!;
    expect(flipped).not.toEqual(first);
    const fresh = firstLayerStats(rebuilt(model, [tf.layers.flatten({ inputShape: [28, 28, 1] })], [784]), imagesOf(digits), 32, thresholds)!;
    expect({ ...flipped, layer: '' }).toEqual({ ...fresh, layer: '' });
  });

  it('a Dense layer behind a layer that computes is fed through that layer', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }), tf.layers.dense({ units: 10 })] });
    // The first Dense is inspected; a model whose inspected Dense follows a computing layer must run it first.
    const wrapped = rebuilt(model, [tf.layers.activation({ inputShape: [784], activation: 'tanh' })], [784]);
    const a = firstLayerStats(wrapped, digits, 32, thresholds)!;
    const tanhData: Dataset = { ...digits, x: digits.x.map((v) => Math.fround(Math.tanh(v))) };
    const b = firstLayerStats(model, tanhData, 32, thresholds)!;
    expect(a.liveUnits).toBe(b.liveUnits);
    expect(a.sparseUnits).toBe(b.sparseUnits);
  });

  it('the sketch projection is the seeded draw, the same array for a fan-in, and at most 4 fan-ins are kept', () => {
    const rng = new SeededRandom(0x5eed);
    const fresh = Float32Array.from({ length: 10 * 32 }, () => rng.normal());
    const p = sketchProjection(10);
    expect(p).toEqual(fresh);
    expect(sketchProjection(10)).toBe(p);
    for (const f of [11, 12, 13]) sketchProjection(f);
    expect(sketchProjection(10)).toBe(p);
    sketchProjection(14); // the fifth fan-in: the oldest (10) goes
    expect(sketchProjection(10)).not.toBe(p);
    expect(sketchProjection(10)).toEqual(fresh);
  });
});
