import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../../errors.ts';

/**
 * A model whose first layer is an Embedding over token ids, split at that layer: `embed` maps ids to
 * embeddings [n, seqLen, dim], `rest` runs every later layer on embeddings (perturbed or not) and returns the
 * logits. `embed` then `rest` is the model's own forward pass. The model must be a chain (each layer takes the
 * previous layer's output, as a Sequential model); the split holds no tensors of its own.
 */
export interface EmbeddingSplit {
  /** The Embedding layer. */
  readonly embedding: tf.layers.Layer;
  /** The live embedding matrix [vocab, dim] (the layer's variable: never dispose it). */
  matrix(): tf.Tensor2D;
  /** Token ids [n, seqLen] (float or int) to embeddings [n, seqLen, dim]. */
  embed(ids: tf.Tensor): tf.Tensor3D;
  /** Embeddings [n, seqLen, dim] through the layers after the embedding: the logits [n, classes]. */
  rest(embeddings: tf.Tensor, training: boolean): tf.Tensor2D;
}

interface LayerInternals {
  inboundNodes: { inboundLayers: tf.layers.Layer[] }[];
}

/** Whether the model's first layer (after its input) is an Embedding over token ids. */
export function startsWithEmbedding(model: tf.LayersModel): boolean {
  return model.layers.find((l) => l.getClassName() !== 'InputLayer')?.getClassName() === 'Embedding';
}

/** Splits `model` at its first layer, which must be an Embedding; a clear config error otherwise. */
export function splitAtEmbedding(model: tf.LayersModel): EmbeddingSplit {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const first = layers[0];
  if (!first || first.getClassName() !== 'Embedding') {
    throw new FedtuneError('config', `an embedding-space attack or adversarial training needs a model whose first layer is an Embedding over token ids (this model's first layer is ${first ? first.getClassName() : 'missing'})`);
  }
  for (let i = 1; i < layers.length; i++) {
    const nodes = (layers[i] as unknown as LayerInternals).inboundNodes;
    const inbound = nodes.length === 1 ? nodes[0].inboundLayers : [];
    if (inbound.length !== 1 || inbound[0] !== layers[i - 1]) {
      throw new FedtuneError('config', `an embedding-space attack or adversarial training needs a chain of layers (layer ${i} "${layers[i].getClassName()}" does not take only the previous layer's output)`);
    }
  }
  const after = layers.slice(1);
  return {
    embedding: first,
    matrix: () => first.getWeights()[0] as tf.Tensor2D,
    embed: (ids) => first.apply(ids) as tf.Tensor3D,
    rest: (embeddings, training) => {
      let h: tf.Tensor = embeddings;
      for (const layer of after) h = layer.apply(h, { training }) as tf.Tensor;
      return h as tf.Tensor2D;
    },
  };
}
