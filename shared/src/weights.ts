/** Model weights as plain Float32Arrays plus a manifest that names and shapes them. */
export type WeightDtype = 'float32';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: WeightDtype;
}

export type WeightsManifest = WeightSpec[];

/**
 * Bounds on a manifest that arrives from a peer (weights codec header, 'model' message). Generous for real
 * models (tfjs ops go up to rank 6; large models have a few thousand tensors), small enough that a hostile
 * header cannot make a decoder loop, overflow a size computation or quote megabytes in an error.
 */
export const WEIGHTS_LIMITS = {
  maxTensors: 16_384,
  maxRank: 8,
  /** Largest single dimension (a tensor's element count is bounded by the payload anyway). */
  maxDim: 2 ** 31 - 1,
  maxNameLength: 512,
  maxHeaderBytes: 16 * 1024 * 1024,
} as const;

/** The values of a model's weights, in manifest order. */
export type WeightArrays = Float32Array[];

export interface Weights {
  manifest: WeightsManifest;
  arrays: WeightArrays;
}

export function specSize(spec: WeightSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

export function totalParameters(manifest: WeightsManifest): number {
  return manifest.reduce((n, s) => n + specSize(s), 0);
}

export function cloneArrays(arrays: WeightArrays): WeightArrays {
  return arrays.map((a) => a.slice());
}
