import { readModelJsonMetadata } from './model-json-metadata.ts';

/**
 * The built-in held-out sets a run can evaluate on, by the name a saved model records in its model.json
 * (`userDefinedMetadata.holdout`, written by the run that saved it) and `fedtune evaluate --data` takes:
 * `true` where the digits are rendered by the sites' scanners (the built-in task), `false` for clean digits
 * (`fedtune simulate --no-feature-shift`).
 */
export const BUILTIN_DIGITS_HOLDOUTS = { 'digits-holdout-scanned': true, 'digits-holdout-clean': false } as const;
export type BuiltinDigitsHoldout = keyof typeof BUILTIN_DIGITS_HOLDOUTS;

/**
 * The built-in holdout the model in `dir` was evaluated on by its run, or undefined when its model.json names
 * none (a pretrained checkpoint, a model of a run before the field, a CSV holdout) or one this version does not
 * know. Never throws on the metadata: a model.json that is not JSON is refused later by the model loader.
 */
export function readSavedHoldout(dir: string): BuiltinDigitsHoldout | undefined {
  try {
    const name = readModelJsonMetadata(dir)?.holdout;
    return typeof name === 'string' && Object.hasOwn(BUILTIN_DIGITS_HOLDOUTS, name) ? (name as BuiltinDigitsHoldout) : undefined;
  } catch {
    return undefined;
  }
}
