import type * as tf from '@tensorflow/tfjs';

/** What tfjs passes every kernel function. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}

/** A kernel's named inputs (tfjs's `...Inputs` types) with every entry present. */
export type Inputs<T> = { [K in keyof T]-?: NonNullable<T[K]> };

export const inputsOf = <T>(args: KernelArgs): Inputs<T> => args.inputs as unknown as Inputs<T>;
export const attrsOf = <T>(args: KernelArgs): T => args.attrs as unknown as T;
