import { FedtuneError } from '@fedtune/shared';

/** Bytes per value of each weight dtype (and quantization dtype) a layers model's manifest may name. */
const BYTES_PER_VALUE: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/**
 * The bytes a TensorFlow.js weightsManifest describes, or undefined when it cannot tell (not a list of groups
 * of weights with integer shapes and known dtypes, or string weights of no fixed size): the loader's own
 * checks then speak.
 */
export function manifestByteLength(manifest: unknown): number | undefined {
  if (!Array.isArray(manifest)) return undefined;
  let total = 0;
  for (const group of manifest) {
    const weights = (group as { weights?: unknown } | null)?.weights;
    if (!Array.isArray(weights)) return undefined;
    for (const spec of weights) {
      const { shape, dtype, quantization } = (spec ?? {}) as { shape?: unknown; dtype?: unknown; quantization?: { dtype?: unknown } };
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return undefined;
      const stored = quantization === undefined ? dtype : quantization?.dtype;
      const bytes = typeof stored === 'string' && Object.hasOwn(BYTES_PER_VALUE, stored) ? BYTES_PER_VALUE[stored] : undefined;
      // Stryker disable next-line ConditionalExpression: equivalent: an unknown dtype would make the total NaN, which the check below refuses.
      if (bytes === undefined) return undefined;
      total += (shape as number[]).reduce((n, d) => n * d, 1) * bytes;
      if (!Number.isSafeInteger(total)) return undefined;
    }
  }
  return total;
}

/**
 * Refuses (FedtuneError 'config') a weights.bin whose length is not what model.json's manifest describes: a
 * short one cannot fill the weights, a long one is another model's or a file cut and pasted together. Both
 * numbers are named; a manifest whose size it cannot tell is left to the loader.
 */
export function checkWeightsBinLength(manifest: unknown, byteLength: number, modelJsonPath: string): void {
  const expected = manifestByteLength(manifest);
  if (expected === undefined || expected === byteLength) return;
  // Stryker disable next-line EqualityOperator: equivalent: the lengths differ here.
  throw new FedtuneError('config', `weights.bin has ${byteLength} bytes but ${modelJsonPath}'s weightsManifest describes ${expected}: ${byteLength < expected ? 'it is cut short' : 'it holds more than this model\'s weights'} (are they the same model's files?)`);
}
