/**
 * The model inspection's measurement as it was before the heap path (commit f9ab7d4's
 * shared/src/policy/inspect-model.ts: `firstLayerStats` and what it calls, unchanged but for the imports and
 * the exports' names; `inspectModel` as it was, on today's findingsOf, whose thresholds did not change), kept as
 * bench/model-inspection.ts's "before" and as the oracle of
 * tests/policy/inspect-model-baseline.test.ts: every stat the new code measures must equal this one's.
 */
import * as tf from '@tensorflow/tfjs';
import { clipText, datasetSize, featureSize, findingsOf, ModelInspectionThresholds, predictAll, SeededRandom, type Dataset, type FirstLayerStats, type ModelInspection, type ModelInspectionThresholdsInput } from '../../shared/src/index.ts';
import { tidyValues } from '../../shared/src/learning/tidy-values.ts';

const INSPECTED_LAYERS = new Set(['Dense', 'Conv1D', 'Conv2D']);
/** Activations whose units are off (zero gradient, or nearly) below zero: the gate the trap constructions use. */
const GATING_ACTIVATIONS = new Set(['relu', 'relu6', 'elu', 'selu', 'hardSigmoid', 'swish', 'mish', 'gelu', 'gelu_new', 'sigmoid', 'softplus', 'tanh']);
const ACTIVATION_LAYERS = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'PReLU']);

/** The old inspectModel: the old measurement, the (unchanged) thresholds of shared's findingsOf. */
export function baselineInspectModel(model: tf.LayersModel, sample: Dataset, options: { batchSize: number; thresholds?: ModelInspectionThresholdsInput }): ModelInspection {
  const thresholds = ModelInspectionThresholds.parse(options.thresholds ?? {});
  let stats: FirstLayerStats | undefined;
  try {
    stats = baselineFirstLayerStats(model, sample, options.batchSize, thresholds);
  } catch (err) {
    const layer = firstInspectedLayer(model);
    return { findings: [{ code: 'inspection_failed', layer: clipText(layer?.name ?? '(none)', 64), detail: `could not run the first layer on this site's data: ${clipText((err as Error)?.message ?? err, 200)}` }] };
  }
  return { findings: stats ? findingsOf(stats, thresholds) : [] };
}

/** The layer the inspection looks at: the model's first Dense, Conv1D or Conv2D layer. */
function firstInspectedLayer(model: tf.LayersModel): tf.layers.Layer | undefined {
  return model.layers.find((l) => INSPECTED_LAYERS.has(l.getClassName()));
}

/** The gate of the layer's output: its own activation, or an activation layer right after it; undefined if linear. */
function gatingActivation(model: tf.LayersModel, layer: tf.layers.Layer): string | undefined {
  const own = String((layer.getConfig() as { activation?: unknown }).activation ?? 'linear');
  if (own !== 'linear') return GATING_ACTIVATIONS.has(own) ? own : undefined;
  const next = model.layers[model.layers.indexOf(layer) + 1];
  if (!next || !ACTIVATION_LAYERS.has(next.getClassName())) return undefined;
  if (next.getClassName() !== 'Activation') return next.getClassName();
  const act = String((next.getConfig() as { activation?: unknown }).activation ?? 'linear');
  return GATING_ACTIVATIONS.has(act) ? act : undefined;
}

/** Measures the first Dense/Conv layer; undefined when the model has none (nothing of this kind to inspect). */
export function baselineFirstLayerStats(model: tf.LayersModel, sample: Dataset, batchSize: number, thresholds: ModelInspectionThresholds): FirstLayerStats | undefined {
  const layer = firstInspectedLayer(model);
  if (!layer) return undefined;
  const className = layer.getClassName();
  const weights = layer.getWeights();
  const kernel = weights[0];
  const bias = weights[1] as tf.Tensor | undefined; // absent when the layer has no bias
  const units = kernel.shape[kernel.shape.length - 1];
  const fanIn = kernel.size / units;
  const n = Math.min(datasetSize(sample), thresholds.maxSampleExamples);
  const batch = Math.max(1, Math.min(batchSize, n));
  const exampleFeatures = featureSize(sample);
  const stats: FirstLayerStats = { layer: layer.name, className, units, fanIn, batch, sampleExamples: n, exampleFeatures };
  if (comparesRows(fanIn, exampleFeatures, thresholds)) stats.duplicateUnits = countDuplicateUnits(kernel, bias, thresholds.duplicate.minCosine);
  if (gatingActivation(model, layer) && batch >= thresholds.sparse.minBatch) Object.assign(stats, sparsity(model, layer, sample, n, batch, units, thresholds.sparse)); // batch ≤ n: n ≥ minBatch too
  return stats;
}

/** Whether rows of `fanIn` values are compared for duplicates on examples of `exampleFeatures` values. */
function comparesRows(fanIn: number, exampleFeatures: number, thresholds: ModelInspectionThresholds): boolean {
  return fanIn >= thresholds.duplicate.minFanIn && fanIn >= thresholds.duplicate.minShareOfExample * exampleFeatures;
}

/** Dimension of the random projection that picks candidate near-duplicate pairs before the exact check. */
const SKETCH_DIMENSIONS = 32;

/**
 * Units with a near-parallel partner (|cos| ≥ minCosine) whose threshold (bias / ‖w‖) differs (for an
 * anti-parallel partner, the negated one): identical units are redundant, only distinct thresholds bin examples.
 * Candidate pairs come from a seeded 32-dimensional random projection of the rows (a pair at |cos| ≥ 0.99
 * keeps |cos| ≥ 0.9 there with overwhelming probability), then every candidate is checked exactly on the rows
 * scaled to unit norm (each value rounded to float32, the products summed in float64). The projection is one
 * product with the kernel as it is (fan-in × units, on the backend): a row's scale does not change the
 * direction of its projection, which is normalised afterwards. Each unordered pair is projected once.
 */
function countDuplicateUnits(kernel: tf.Tensor, bias: tf.Tensor | undefined, minCosine: number): number {
  const units = kernel.shape[kernel.shape.length - 1];
  const fanIn = kernel.size / units;
  const k = kernel.dataSync(); // [fanIn, units] in row-major order, whatever the kernel's rank
  const b = bias ? bias.dataSync() : new Float32Array(units);
  const squares = new Float64Array(units);
  for (let i = 0; i < fanIn; i++) {
    const row = i * units;
    // Stryker disable next-line EqualityOperator: equivalent: a typed array ignores writes past its end, and what reads there give never reaches another write.
    for (let u = 0; u < units; u++) squares[u] += k[row + u] * k[row + u];
  }
  const norms = squares.map(Math.sqrt);
  const thr = Float64Array.from(b, (bias, u) => bias / norms[u]);
  // A zero row has no direction (and no threshold): it is nobody's duplicate.
  const rows = Array.from({ length: units }, (_, u) => u).filter((u) => norms[u] > 0);
  const sketched = sketchedCosines(kernel, units, fanIn);
  const flagged = new Uint8Array(units);
  const candidateCosine = Math.max(0, 1 - 10 * (1 - minCosine));
  // Stryker disable next-line EqualityOperator: equivalent: a difference exactly at the tolerance has measure zero.
  const differs = (a: number, other: number): boolean => Math.abs(thr[a] - other) > 1e-6 * (1 + Math.abs(thr[a]));
  // Stryker disable next-line EqualityOperator: equivalent: at r = rows.length the inner loop runs no pair.
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r];
    // Stryker disable next-line EqualityOperator,ArithmeticOperator: equivalent: the extra pairs are a unit with itself (cos 1, the same threshold), a pair already compared the other way round (the flags are symmetric), or an undefined unit (NaN cosine and threshold: never flagged).
    for (let q = r + 1; q < rows.length; q++) {
      const j = rows[q];
      // Stryker disable next-line ConditionalExpression: equivalent: a shortcut; comparing the pair again only sets flags already set.
      if (flagged[i] && flagged[j]) continue; // both counted already: nothing this pair can add
      // Stryker disable next-line EqualityOperator: equivalent: a sketched cosine exactly at the cut has measure zero.
      if (Math.abs(sketched[i * units + j]) < candidateCosine) continue;
      let c = 0;
      for (let d = 0; d < fanIn; d++) c += Math.fround(k[d * units + i] / norms[i]) * Math.fround(k[d * units + j] / norms[j]);
      // Stryker disable next-line EqualityOperator: equivalent: a cosine exactly at minCosine has measure zero.
      if (Math.abs(c) < minCosine) continue;
      // Stryker disable next-line EqualityOperator: equivalent: c = 0 cannot pass |c| ≥ minCosine > 0.
      if (differs(i, c > 0 ? thr[j] : -thr[j])) flagged[i] = 1;
      // Stryker disable next-line EqualityOperator: equivalent, as above.
      if (differs(j, c > 0 ? thr[i] : -thr[i])) flagged[j] = 1;
    }
  }
  return flagged.reduce((s, f) => s + f, 0);
}

/**
 * The seeded Gaussian projection for rows of `fanIn` values: the same numbers at every inspection, so the
 * last few fan-ins' are kept (a site inspects the same model shape every round; drawing 32 × fan-in normals
 * cost a sixth of an inspection).
 */
const projections = new Map<number, Float32Array>();
function sketchProjection(fanIn: number): Float32Array {
  let projection = projections.get(fanIn);
  if (!projection) {
    const rng = new SeededRandom(0x5eed);
    projection = new Float32Array(fanIn * SKETCH_DIMENSIONS);
    for (let i = 0; i < projection.length; i++) projection[i] = rng.normal();
    if (projections.size >= 4) projections.delete(projections.keys().next().value!);
    projections.set(fanIn, projection);
  }
  return projection;
}

/**
 * The cosines of the units' rows after projecting each on SKETCH_DIMENSIONS seeded Gaussian directions
 * ([units, units], row-major): the rows of the kernel (fan-in × units) projected, normalised, and their Gram
 * matrix — two products on the backend.
 */
function sketchedCosines(kernel: tf.Tensor, units: number, fanIn: number): Float32Array {
  const projection = sketchProjection(fanIn);
  return tidyValues(() => {
    const s = tf.matMul(kernel.reshape([fanIn, units]) as tf.Tensor2D, tf.tensor2d(projection, [fanIn, SKETCH_DIMENSIONS]), true, false);
    const unit = s.div(s.norm('euclidean', 1, true).maximum(1e-30)) as tf.Tensor2D;
    return tf.matMul(unit, unit, false, true);
  }) as Float32Array;
}

/** Runs the layer's linear part on the sample, batch by batch, and counts which units fire for which examples. */
function sparsity(model: tf.LayersModel, layer: tf.layers.Layer, sample: Dataset, n: number, batch: number, units: number, { maxFiresPerBatch, minBatch }: ModelInspectionThresholds['sparse']): Pick<FirstLayerStats, 'liveUnits' | 'sparseUnits' | 'isolatedExamples'> {
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  const f = featureSize(sample);
  const fired = new Uint32Array(units); // examples each unit fired for, over the sample
  let batches = 0;
  const isolated = new Uint8Array(n);
  // No dispose: the feeder shares the model's layers and weights (it creates no tensors of its own).
  const feeder = layerInputOf(model, layer);
  // One forward pass over the whole sample; the batches are counted from it.
  const firesAll = tidyValues(() => {
    const x = tf.tensor(sample.x.subarray(0, n * f), [n, ...inputShape]);
    return firingUnits(layer, feeder ? predictAll(feeder, x) : x);
  });
  // Stryker disable next-line EqualityOperator: equivalent: at start = n the batch has size 0 and the loop breaks.
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    if (size < minBatch) break; // a last batch too small to judge (see minBatch): not this check's concern
    const fires = firesAll.subarray(start * units, (start + size) * units);
    const counts = new Uint16Array(units);
    const only = new Int32Array(units); // the example, where a unit fired for exactly one
    // Stryker disable next-line EqualityOperator: equivalent: reads past the batch's subarray give undefined, which is skipped.
    for (let e = 0; e < size; e++) {
      // Stryker disable next-line EqualityOperator: equivalent: a typed array ignores writes past its end, and what reads there give never reaches another write.
      for (let u = 0; u < units; u++) {
        if (!fires[e * units + u]) continue;
        counts[u]++;
        only[u] = start + e;
      }
    }
    batches++;
    // Stryker disable next-line EqualityOperator: equivalent: a typed array ignores writes past its end, and what reads there give never reaches another write.
    for (let u = 0; u < units; u++) {
      fired[u] += counts[u];
      if (counts[u] === 1) isolated[only[u]] = 1;
    }
  }
  let liveUnits = 0;
  let sparseUnits = 0;
  for (let u = 0; u < units; u++) {
    if (fired[u] === 0) continue;
    liveUnits++;
    if (fired[u] <= maxFiresPerBatch * batches) sparseUnits++;
  }
  return { liveUnits, sparseUnits, isolatedExamples: isolated.reduce((s, v) => s + v, 0) };
}

/** Layers that only reshape their input (their output holds the input's values in the same order). */
const RESHAPING_LAYERS = new Set(['Flatten', 'Reshape', 'InputLayer']);

/**
 * What feeds the layer: undefined when the layer takes the model's input itself, or when it is a Dense layer
 * fed only reshapes of it (a Sequential's Flatten: Dense's linear part here reshapes its input to rows of
 * fan-in values anyway, in the same order), else a model from the inputs to
 * what the layer receives — made once per layer (it shares the model's layers and live weights, so it stays
 * right when the weights change; a site inspects every round's weights with the same model).
 */
const feeders = new WeakMap<tf.layers.Layer, tf.LayersModel | undefined>();
function layerInputOf(model: tf.LayersModel, layer: tf.layers.Layer): tf.LayersModel | undefined {
  if (feeders.has(layer)) return feeders.get(layer);
  const input = layer.input as tf.SymbolicTensor;
  const before = model.layers.slice(0, model.layers.indexOf(layer));
  const onlyReshapes = layer.getClassName() === 'Dense' && model.inputs.length === 1 && before.every((l) => RESHAPING_LAYERS.has(l.getClassName()));
  const feeder = model.inputs.includes(input) || onlyReshapes ? undefined : tf.model({ inputs: model.inputs, outputs: input });
  feeders.set(layer, feeder);
  return feeder;
}

/**
 * Which units each example fires: [examples, units], 1 where the unit's pre-activation (the layer's kernel and
 * bias applied to x, without its activation) is above zero at any position of the example (Dense on rank-2
 * input: its one position; a convolution: any of its output positions). Computed as the maximum over the
 * positions (one max-pool over all of them) plus the bias, then compared with zero: rounding is monotone, so
 * max(z) + b is the largest of the z + b — the same answer as testing every position, without the
 * [examples, positions, units] comparison and reduction across positions.
 */
function firingUnits(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
  const [kernel, bias] = layer.getWeights();
  const units = kernel.shape[kernel.shape.length - 1] as number;
  const examples = x.shape[0] as number;
  const linear = linearPart(layer, kernel, x);
  const positions = linear.size / (examples * units);
  // Stryker disable next-line ConditionalExpression: equivalent: a max-pool over one position is the identity (the branch saves the op).
  const perExample = positions === 1 ? linear.reshape([examples, units]) : tf.maxPool(linear.reshape([examples, positions, 1, units]) as tf.Tensor4D, [positions, 1], [positions, 1], 'valid').reshape([examples, units]);
  return (bias ? perExample.add(bias) : perExample).greater(0);
}

/** The layer's kernel applied to x (no bias, no activation). */
function linearPart(layer: tf.layers.Layer, kernel: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const config = layer.getConfig() as { strides?: number | number[]; padding?: string; dilation_rate?: number | number[]; dilationRate?: number | number[]; data_format?: string; dataFormat?: string };
  if (layer.getClassName() === 'Dense') return tf.matMul(x.reshape([-1, kernel.shape[0] as number]), kernel as tf.Tensor2D);
  const format = config.dataFormat ?? config.data_format;
  if (format === 'channelsFirst') throw new Error('a channels-first convolution is not inspected');
  const padding = config.padding === 'same' ? 'same' : 'valid';
  const dilation = config.dilationRate ?? config.dilation_rate ?? 1;
  const strides = config.strides ?? 1;
  return layer.getClassName() === 'Conv1D'
    ? tf.conv1d(x as tf.Tensor3D, kernel as tf.Tensor3D, Array.isArray(strides) ? strides[0] : strides, padding, 'NWC', Array.isArray(dilation) ? dilation[0] : dilation)
    : tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, strides as number | [number, number], padding, 'NHWC', dilation as number | [number, number]);
}
