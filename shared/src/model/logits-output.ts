import { FedtuneError } from '../errors.ts';

/**
 * fedtune's losses, metrics and attacks read a model's output as logits (softmax cross-entropy on logits).
 * A Keras or TensorFlow.js classifier often ends in a softmax instead; trained as if its probabilities
 * were logits it learns badly (loss stuck near log(k) − 1, calibration off). Softmax is monotonic, so
 * dropping it changes no prediction: the model is rewritten to output its logits before anything trains
 * or evaluates it. This works on the topology JSON (`model.toJSON()` / model.json's `modelTopology`), so
 * it applies the same way at the coordinator and at a site, and the weights are untouched.
 */

type Json = Record<string, unknown>;

export interface LogitsRewrite {
  /** The topology to build: the input itself when nothing changed, else a rewritten copy. */
  topology: Json;
  /** What was changed, for a one-line notice; undefined when the model already outputs logits. */
  change?: string;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The layers list and the output layer's name of a Sequential or functional topology. */
function outputLayer(topology: Json): { layers: Json[]; index: number } | undefined {
  // model.json wraps the Keras topology as { class_name, config, keras_version, backend }; some writers nest it once more.
  const config = isObject(topology.config) ? topology.config : undefined;
  const layers = config && Array.isArray(config.layers) ? (config.layers as Json[]) : undefined;
  if (!config || !layers || layers.length === 0) return undefined;
  if (topology.class_name === 'Sequential') return isObject(layers[layers.length - 1]) ? { layers, index: layers.length - 1 } : undefined;
  // Functional: output_layers is [[name, nodeIndex, tensorIndex], …]; only single-output models are classifiers here.
  const outputs = config.output_layers;
  const name = Array.isArray(outputs) && Array.isArray(outputs[0]) ? outputs[0][0] : undefined;
  const index = layers.findIndex((l) => isObject(l) && isObject(l.config) && l.config.name === name);
  return index >= 0 ? { layers, index } : undefined;
}

/** Returns the topology with a final softmax replaced by the identity, and what was changed. */
export function withLogitsOutput(topology: Json): LogitsRewrite {
  const root = isObject(topology.model_config) ? (topology.model_config as Json) : topology;
  const found = outputLayer(root);
  if (!found) return { topology };
  const layer = found.layers[found.index];
  const config = isObject(layer.config) ? layer.config : {};
  const name = typeof config.name === 'string' ? config.name.slice(0, 64) : `layer ${found.index}`;
  const isSoftmaxLayer = layer.class_name === 'Softmax';
  const hasSoftmaxActivation = config.activation === 'softmax';
  if (!isSoftmaxLayer && !hasSoftmaxActivation) return { topology };
  const copy = structuredClone(topology);
  const target = outputLayer(isObject(copy.model_config) ? (copy.model_config as Json) : copy)!;
  const out = target.layers[target.index];
  if (isSoftmaxLayer) {
    const c = isObject(out.config) ? out.config : {};
    target.layers[target.index] = { ...out, class_name: 'Activation', config: { name: c.name, trainable: c.trainable ?? true, dtype: c.dtype ?? 'float32', activation: 'linear' } };
  } else {
    (out.config as Json).activation = 'linear';
  }
  return {
    topology: copy,
    change: `the model's output layer "${name}" applies softmax; fedtune trains and evaluates on logits, so the softmax was removed (predictions are unchanged; apply softmax to the saved model's outputs for probabilities)`,
  };
}

/** The number of classes a classifier outputs (its last dimension); refuses outputs that are not per-class logits. */
export function outputClasses(outputShape: ReadonlyArray<number | null>): number {
  const k = outputShape[outputShape.length - 1];
  if (outputShape.length !== 2 || typeof k !== 'number' || !Number.isInteger(k) || k < 2) {
    throw new FedtuneError('config', `the model's output has shape [${outputShape.map((d) => d ?? 'batch').join(', ')}]; fedtune needs a classifier with one logit per class: shape [batch, classes] with at least 2 classes`);
  }
  return k;
}
