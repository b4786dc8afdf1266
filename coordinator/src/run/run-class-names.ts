import type * as tf from '@tensorflow/tfjs';
import { FedtuneError, RunClassNames } from '@fedtune/shared';

/**
 * The class names a run carries (docs/data.md#class-names): the operator's `classNames` (`--class-names`),
 * else the pretrained model's metadata `classNames` when valid (the spam task's ham/spam), else none (sites
 * keep their own numbering: integer labels as they are). The list must name exactly the model's classes.
 */
export function runClassNamesOf(configured: readonly string[] | undefined, model: tf.LayersModel): string[] | undefined {
  const fromModel = RunClassNames.safeParse((model.getUserDefinedMetadata() as { classNames?: unknown } | undefined)?.classNames);
  const names = configured ? [...configured] : fromModel.success ? fromModel.data : undefined;
  if (!names) return undefined;
  const outputs = model.outputs[0]?.shape.at(-1);
  if (typeof outputs === 'number' && outputs !== names.length) {
    throw new FedtuneError('config', `${configured ? 'classNames (--class-names)' : "the model's metadata classNames"} names ${names.length} classes but the model outputs ${outputs}`);
  }
  return names;
}
