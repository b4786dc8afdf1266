import * as tf from '@tensorflow/tfjs';
import { withLogitsOutput } from './logits-output.ts';

/** The two files of the standard TensorFlow.js layers-model format. */
export interface ModelFiles {
  modelJson: Record<string, unknown>;
  weightsBin: Uint8Array;
}

/** Serializes a model into `model.json` + `weights.bin` (the format `tf.loadLayersModel` reads). */
export async function modelToFiles(model: tf.LayersModel, metadata?: Record<string, unknown>): Promise<ModelFiles> {
  let files: ModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const buffers = data === undefined ? [] : Array.isArray(data) ? data : [data];
      const total = buffers.reduce((n, b) => n + b.byteLength, 0);
      const weightsBin = new Uint8Array(total);
      let pos = 0;
      for (const b of buffers) {
        weightsBin.set(new Uint8Array(b), pos);
        pos += b.byteLength;
      }
      files = {
        modelJson: {
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
          convertedBy: null,
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
          ...(metadata ? { userDefinedMetadata: metadata } : {}),
        },
        weightsBin,
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return files!;
}

/** Loads a model from the two files (already read into memory); a final softmax is dropped (logits-output.ts). */
export async function modelFromFiles(files: ModelFiles): Promise<tf.LayersModel> {
  const manifest = files.modelJson.weightsManifest as Array<{ weights: tf.io.WeightsManifestEntry[] }>;
  const weightsBin = files.weightsBin;
  const buffer = weightsBin.buffer.slice(weightsBin.byteOffset, weightsBin.byteOffset + weightsBin.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: withLogitsOutput(files.modelJson.modelTopology as Record<string, unknown>).topology as tf.io.ModelJSON['modelTopology'],
      weightSpecs: manifest.flatMap((m) => m.weights),
      weightData: buffer,
    }),
  );
}
