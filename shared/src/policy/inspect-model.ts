import * as tf from '@tensorflow/tfjs';
import { tidyValues } from '../learning/tidy-values.ts';
import { z } from 'zod';
import { datasetSize, featureSize, type Dataset } from '../data/dataset.ts';
import { clipText } from '../text/clip-text.ts';
import { SeededRandom } from '../random/seeded-random.ts';
import { predictAll } from '../learning/predict-all.ts';
import { heapDenseFires, heapRowStats, heapValues, inspectionHeap, type InspectionHeap } from './inspection-heap-products.ts';

/**
 * Model inspection at the site (docs/site-policy.md, "Model inspection"): before training a global model,
 * the site looks at the model's first Dense/Conv layer for the known constructions that make an update
 * reveal single training examples. Everything stays at the site: the sample is the site's own train split.
 *
 * - 'sparse_activations' — trap weights (Boenisch et al. 2021): units that fire for at most one example of
 *   every batch, so that unit's weight gradient divided by its bias gradient is that example.
 * - 'duplicate_rows' — an imprint / binning module (Fowl et al. 2022): many units share one direction
 *   (|cosine| ≈ 1) with different thresholds, so consecutive bins separate single examples.
 * - 'wide_first_layer' — more units than the site's batch and than a few per input feature: the room both
 *   constructions need (one unit per example of a batch).
 * - 'inspection_failed' — the layer could not be inspected (fail closed: allow it to accept such models).
 */
export const ModelInspectionThresholds = z
  .object({
    /** Examples of the site's train split run through the first layer (the first ones). */
    maxSampleExamples: z.number().int().min(2).max(4096).default(256),
    sparse: z
      .object({
        /** A live unit (firing for ≥ 1 sample example) is sparse when it fires for at most this many examples per batch on average. */
        maxFiresPerBatch: z.number().gt(0).default(1.5),
        /**
         * Batches of fewer examples are not judged: with a handful of examples per batch an ordinary unit fires
         * for one or two of them (an honest model would look like trap weights), and so small a batch's update
         * reveals its examples whatever the model (as a batch of one does).
         */
        minBatch: z.number().int().min(2).default(8),
        /** Flag when at least this share of the live units are sparse … */
        minShare: z.number().gt(0).max(1).default(0.2),
        /** … and at least this many units are (a handful of such units in an ordinary layer leaks little) … */
        minUnits: z.number().int().min(1).default(8),
        /** … and at least this share of the sample's examples is the only one firing some unit in its batch. */
        minIsolatedShare: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .prefault({}),
    duplicate: z
      .object({
        /** Two units are near-duplicates when their weight rows have |cosine| at least this. */
        minCosine: z.number().gt(0).max(1).default(0.99),
        /** Flag when at least this many units have a near-duplicate with a different threshold (bias / ‖w‖). */
        minUnits: z.number().int().min(2).default(4),
        /** Rows shorter than this are not compared (two random 2-vectors are often nearly parallel). */
        minFanIn: z.number().int().min(1).default(8),
        /**
         * Rows covering less than this share of an example's values are not compared: a unit's gradient holds at
         * most its fan-in values of an example, so binning on a small convolution's patches (3×3 or 5×5 of a
         * 28×28 image) reveals patches, not examples — and adversarially trained CNNs learn exactly such
         * thresholding filters (one direction, several biases) in their first convolution. 1/16: a 7×7 kernel on
         * 28×28 digits is compared, 6×6 is not; a Dense layer on the whole input always is.
         */
        minShareOfExample: z.number().min(0).max(1).default(1 / 16),
      })
      .strict()
      .prefault({}),
    wide: z
      .object({
        /** Flag when units > the site's batch (or its examples, if fewer) and units > this × the layer's fan-in. */
        unitsPerFeature: z.number().positive().default(4),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type ModelInspectionThresholds = z.output<typeof ModelInspectionThresholds>;
export type ModelInspectionThresholdsInput = z.input<typeof ModelInspectionThresholds>;

export type ModelFindingCode = 'sparse_activations' | 'duplicate_rows' | 'wide_first_layer' | 'inspection_failed';

export interface ModelFinding {
  code: ModelFindingCode;
  /** The inspected layer's name (clipped: it comes from the coordinator's topology). */
  layer: string;
  detail: string;
}

export interface ModelInspection {
  findings: ModelFinding[];
}

/** What the inspection measured on the first layer (the findings are thresholds over it). */
export interface FirstLayerStats {
  layer: string;
  className: string;
  units: number;
  fanIn: number;
  /** The batch the sparsity was measured with: min(batch size, sample size). */
  batch: number;
  sampleExamples: number;
  /** Units firing (pre-activation > 0) for at least one sample example; undefined without a gating activation. */
  liveUnits?: number;
  /** Live units that fire for at most maxFiresPerBatch examples per batch on average. */
  sparseUnits?: number;
  /** Sample examples that are the only one firing some unit in their batch (each is exactly recoverable). */
  isolatedExamples?: number;
  /** Values per example of the site's data (the share of them a row covers decides whether rows are compared). */
  exampleFeatures?: number;
  /** Units with a near-parallel partner that has a different threshold (undefined: fan-in below minFanIn or below minShareOfExample of an example). */
  duplicateUnits?: number;
}

const INSPECTED_LAYERS = new Set(['Dense', 'Conv1D', 'Conv2D']);
/** Activations whose units are off (zero gradient, or nearly) below zero: the gate the trap constructions use. */
const GATING_ACTIVATIONS = new Set(['relu', 'relu6', 'elu', 'selu', 'hardSigmoid', 'swish', 'mish', 'gelu', 'gelu_new', 'sigmoid', 'softplus', 'tanh']);
const ACTIVATION_LAYERS = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'PReLU']);

/**
 * Inspects the first Dense/Conv layer of `model` for trap-weight and imprint constructions, running it on
 * the first `maxSampleExamples` examples of `sample` in batches of `options.batchSize`. Pure but for that
 * forward pass; disposes every tensor it makes. Never throws: a layer it cannot inspect is a finding.
 */
export function inspectModel(model: tf.LayersModel, sample: Dataset, options: { batchSize: number; thresholds?: ModelInspectionThresholdsInput }): ModelInspection {
  const thresholds = options.thresholds === undefined ? defaultThresholds() : ModelInspectionThresholds.parse(options.thresholds);
  let stats: FirstLayerStats | undefined;
  try {
    stats = firstLayerStats(model, sample, options.batchSize, thresholds);
  } catch (err) {
    const layer = firstInspectedLayer(model);
    return { findings: [{ code: 'inspection_failed', layer: clipText(layer?.name ?? '(none)', 64), detail: `could not run the first layer on this site's data: ${clipText((err as Error)?.message ?? err, 200)}` }] };
  }
  return { findings: stats ? findingsOf(stats, thresholds) : [] };
}

/** The defaults, parsed once (a site inspects every round; the parse cost a twentieth of an inspection). */
let defaults: ModelInspectionThresholds | undefined;
function defaultThresholds(): ModelInspectionThresholds {
  return (defaults ??= deepFreeze(ModelInspectionThresholds.parse({})));
}
function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  return Object.freeze(o);
}

/** The thresholds applied to measured stats (separate so each boundary is testable on exact numbers). */
export function findingsOf(stats: FirstLayerStats, thresholds: ModelInspectionThresholds): ModelFinding[] {
  const findings: ModelFinding[] = [];
  const layer = clipText(stats.layer, 64);
  if (stats.liveUnits !== undefined && stats.sparseUnits !== undefined && stats.liveUnits > 0) {
    const share = stats.sparseUnits / stats.liveUnits;
    const isolatedShare = (stats.isolatedExamples ?? 0) / stats.sampleExamples;
    if (stats.sparseUnits >= thresholds.sparse.minUnits && share >= thresholds.sparse.minShare && isolatedShare >= thresholds.sparse.minIsolatedShare) {
      findings.push({
        code: 'sparse_activations',
        layer,
        detail: `${stats.sparseUnits} of ${stats.liveUnits} live units fire for at most ${thresholds.sparse.maxFiresPerBatch} examples per batch of ${stats.batch} on average (${(100 * share).toFixed(0)}%), isolating ${stats.isolatedExamples ?? 0} of ${stats.sampleExamples} examples: trap weights`,
      });
    }
  }
  if (stats.duplicateUnits !== undefined && stats.duplicateUnits >= thresholds.duplicate.minUnits) {
    findings.push({
      code: 'duplicate_rows',
      layer,
      detail: `${stats.duplicateUnits} of ${stats.units} units have a weight row with |cosine| ≥ ${thresholds.duplicate.minCosine} to another unit's and a different threshold: an imprint (binning) module`,
    });
  }
  if (stats.units > stats.batch && stats.units > thresholds.wide.unitsPerFeature * stats.fanIn) {
    findings.push({
      code: 'wide_first_layer',
      layer,
      detail: `${stats.units} units: more than the batch of ${stats.batch} and more than ${thresholds.wide.unitsPerFeature} × the fan-in of ${stats.fanIn}`,
    });
  }
  return findings;
}

/** The layer the inspection looks at: the model's first Dense, Conv1D or Conv2D layer. */
export function firstInspectedLayer(model: tf.LayersModel): tf.layers.Layer | undefined {
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
export function firstLayerStats(model: tf.LayersModel, sample: Dataset, batchSize: number, thresholds: ModelInspectionThresholds): FirstLayerStats | undefined {
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
  // On the wasm backend the products run on its heap (inspection-heap-products.ts: the same numbers, without the engine).
  const heap = kernel.dtype === 'float32' && (!bias || bias.dtype === 'float32') ? inspectionHeap() : undefined;
  if (comparesRows(fanIn, exampleFeatures, thresholds)) stats.duplicateUnits = countDuplicateUnits(kernel, bias, thresholds.duplicate.minCosine, heap);
  if (gatingActivation(model, layer) && batch >= thresholds.sparse.minBatch) Object.assign(stats, sparsity(model, layer, sample, n, batch, units, thresholds.sparse, heap)); // batch ≤ n: n ≥ minBatch too
  return stats;
}

/** Whether rows of `fanIn` values are compared for duplicates on examples of `exampleFeatures` values. */
export function comparesRows(fanIn: number, exampleFeatures: number, thresholds: ModelInspectionThresholds): boolean {
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
 * product with the kernel as it is (fan-in × units; on the wasm backend on its heap, with the rows' squared
 * norms: inspection-heap-products.ts): a row's scale does not change the direction of its projection, which is
 * normalised afterwards. Each unordered pair is projected once.
 */
function countDuplicateUnits(kernel: tf.Tensor, bias: tf.Tensor | undefined, minCosine: number, heap: InspectionHeap | undefined): number {
  const units = kernel.shape[kernel.shape.length - 1];
  const fanIn = kernel.size / units;
  // [fanIn, units] in row-major order, whatever the kernel's rank; the squared norms and the sketch on the heap
  // when there is one (its values then read in place, after the heap's last allocation), else here.
  let k: ArrayLike<number>;
  let squares: Float64Array;
  let sketched: ArrayLike<number>;
  if (heap) {
    ({ squares, sketched } = heapRowStats(heap, kernel, sketchProjection(fanIn), units, fanIn, SKETCH_DIMENSIONS));
    k = heapValues(heap, kernel);
  } else {
    k = kernel.dataSync();
    squares = columnSquares(k, fanIn, units);
    sketched = sketchedCosines(kernel, units, fanIn);
  }
  const b = bias ? bias.dataSync() : new Float32Array(units);
  const norms = squares.map(Math.sqrt);
  const thr = Float64Array.from(b, (bias, u) => bias / norms[u]);
  // A zero row has no direction (and no threshold): it is nobody's duplicate.
  const rows = Array.from({ length: units }, (_, u) => u).filter((u) => norms[u] > 0);
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

/** Σ_i k[i, u]² per unit u of a kernel [fanIn, units] (row-major), in float64. */
function columnSquares(k: ArrayLike<number>, fanIn: number, units: number): Float64Array {
  const squares = new Float64Array(units);
  for (let i = 0; i < fanIn; i++) {
    const row = i * units;
    // Stryker disable next-line EqualityOperator: equivalent: a typed array ignores writes past its end, and what reads there give never reaches another write.
    for (let u = 0; u < units; u++) squares[u] += k[row + u] * k[row + u];
  }
  return squares;
}

/**
 * The seeded Gaussian projection for rows of `fanIn` values: the same numbers at every inspection, so the
 * last few fan-ins' are kept (a site inspects the same model shape every round; drawing 32 × fan-in normals
 * cost a sixth of an inspection).
 */
const projections = new Map<number, Float32Array>();
export function sketchProjection(fanIn: number): Float32Array {
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
 * The tensor path (backends without a heap) of the sketch: the cosines of the units' rows after projecting each on SKETCH_DIMENSIONS seeded Gaussian directions
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
function sparsity(model: tf.LayersModel, layer: tf.layers.Layer, sample: Dataset, n: number, batch: number, units: number, { maxFiresPerBatch, minBatch }: ModelInspectionThresholds['sparse'], heap: InspectionHeap | undefined): Pick<FirstLayerStats, 'liveUnits' | 'sparseUnits' | 'isolatedExamples'> {
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  const f = featureSize(sample);
  const fired = new Uint32Array(units); // examples each unit fired for, over the sample
  let batches = 0;
  const isolated = new Uint8Array(n);
  // No dispose: the feeder shares the model's layers and weights (it creates no tensors of its own).
  const feeder = layerInputOf(model, layer);
  // One forward pass over the whole sample; the batches are counted from it. A Dense layer fed the examples'
  // values as they are (one position per example) runs on the heap, anything else through tfjs.
  const [kernel, bias] = layer.getWeights();
  const firesAll =
    heap && !feeder && layer.getClassName() === 'Dense' && kernel.shape[0] === f
      ? heapDenseFires(heap, kernel, bias, sample.x, n)
      : tidyValues(() => {
          const x = tf.tensor(sample.x.subarray(0, n * f), [n, ...inputShape]);
          // Fed only reshapes, a convolution takes the sample in its own input shape (Dense reshapes it itself).
          const fed = feeder ? predictAll(feeder, x) : layer.getClassName() === 'Dense' ? x : x.reshape([n, ...((layer.input as tf.SymbolicTensor).shape.slice(1) as number[])]);
          return firingUnits(layer, fed);
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
 * What feeds the layer: undefined when the layer takes the model's input itself, or when it is fed only reshapes
 * of it — a Dense layer behind a Sequential's Flatten (Dense's linear part here reshapes its input to rows of
 * fan-in values anyway, in the same order), a convolution behind a Reshape (the built-in CNN's [784] →
 * [28, 28, 1]: the sample is reshaped to the layer's input shape, the values in the same order) — else a model
 * from the inputs to what the layer receives — made once per layer (it shares the model's layers and live
 * weights, so it stays right when the weights change; a site inspects every round's weights with the same model).
 */
const feeders = new WeakMap<tf.layers.Layer, tf.LayersModel | undefined>();
function layerInputOf(model: tf.LayersModel, layer: tf.layers.Layer): tf.LayersModel | undefined {
  if (feeders.has(layer)) return feeders.get(layer);
  const input = layer.input as tf.SymbolicTensor;
  const before = model.layers.slice(0, model.layers.indexOf(layer));
  const onlyReshapes =
    model.inputs.length === 1 &&
    (layer.getClassName() === 'Dense'
      ? before.every((l) => RESHAPING_LAYERS.has(l.getClassName()))
      : before.every((l) => l.getClassName() === 'InputLayer' || l.getClassName() === 'Reshape') && input.shape.slice(1).every((d) => typeof d === 'number' && d > 0));
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
