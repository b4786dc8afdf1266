/** Model weights as plain Float32Arrays plus a manifest that names and shapes them. */
export type WeightDtype = 'float32';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: WeightDtype;
}

export type WeightsManifest = WeightSpec[];

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
